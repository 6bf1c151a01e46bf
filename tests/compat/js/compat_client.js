// The KafkaJS side of Floe's compatibility tests (tests/compat), driven by
// the Python harness; the same subcommands and file formats as
// ../java/src/FloeCompatClient.java:
//
//   create-topic BOOTSTRAP TOPIC PARTITIONS
//   produce      BOOTSTRAP TOPIC CODEC INPUT CLIENT
//   consume      BOOTSTRAP TOPIC GROUP OUTPUT   (consumer group, commit checked)
//   dump         BOOTSTRAP TOPIC OUTPUT         (no group: every partition fetched)
//
// KafkaJS's consumer always joins a group (it has no assign()), so `dump`
// reads through KafkaJS's own cluster and broker layer instead: the
// connection, Metadata, ListOffsets and Fetch requests and record-batch
// decoding (codecs included) that its consumer uses, and the consumer's own
// Batch class to drop records before the fetch offset, without the group.
//
// KafkaJS itself compresses only with gzip; snappy, lz4 and zstd are
// registered below from npm packages that need no compiler (pinned in
// package-lock.json, installed into .deps/node by scripts/install-clients.sh).
'use strict'

const fs = require('fs')
const readline = require('readline')
const { Kafka, CompressionTypes, CompressionCodecs, Partitioners, logLevel } = require('kafkajs')
const Batch = require('kafkajs/src/consumer/batch')
const SnappyCodec = require('kafkajs-snappy')
const lz4 = require('lz4js')
const lz4xxh32 = require('lz4js/xxh32')
const zstd = require('@mongodb-js/zstd')

// Kafka's lz4 is the LZ4 frame format with independent blocks (Kafka rejects
// a frame whose descriptor lacks the block-independence flag, which lz4js's
// own frame writer leaves out). So frames are written here from lz4js's
// block compressor: 64 KiB blocks, each with a fresh hash table; lz4js reads
// any frame.
const LZ4_BLOCK = 65536
function lz4Frame (input) {
  const header = Buffer.alloc(7)
  header.writeUInt32LE(0x184D2204, 0)
  header[4] = 0x60 // version 01, independent blocks, no checksums, no content size
  header[5] = 0x40 // largest block 64 KiB
  header[6] = (lz4xxh32.hash(0, header, 4, 2) >> 8) & 0xff
  const parts = [header]
  for (let start = 0; start < input.length; start += LZ4_BLOCK) {
    const block = input.subarray(start, Math.min(start + LZ4_BLOCK, input.length))
    const packed = Buffer.alloc(lz4.compressBound(block.length))
    const size = lz4.compressBlock(block, packed, 0, block.length, new Uint32Array(1 << 16))
    const length = Buffer.alloc(4)
    if (size === 0 || size >= block.length) {
      length.writeUInt32LE((0x80000000 | block.length) >>> 0, 0)
      parts.push(length, block)
    } else {
      length.writeUInt32LE(size, 0)
      parts.push(length, packed.subarray(0, size))
    }
  }
  parts.push(Buffer.alloc(4)) // end mark
  return Buffer.concat(parts)
}
CompressionCodecs[CompressionTypes.LZ4] = () => ({
  async compress (encoder) { return lz4Frame(encoder.buffer) },
  async decompress (buffer) { return Buffer.from(lz4.decompress(buffer)) }
})
CompressionCodecs[CompressionTypes.ZSTD] = () => ({
  async compress (encoder) { return zstd.compress(encoder.buffer, 3) },
  async decompress (buffer) { return zstd.decompress(buffer) }
})
CompressionCodecs[CompressionTypes.Snappy] = SnappyCodec

const CODECS = {
  none: CompressionTypes.None,
  gzip: CompressionTypes.GZIP,
  snappy: CompressionTypes.Snappy,
  lz4: CompressionTypes.LZ4,
  zstd: CompressionTypes.ZSTD
}
const DEADLINE_MS = 600000
const CHUNK = 2000

function fail (message) {
  process.stderr.write(`compat_client.js: ${message}\n`)
  process.exit(2)
}

function client (bootstrap) {
  return new Kafka({
    clientId: 'floe-compat-kafkajs',
    brokers: [bootstrap],
    logLevel: logLevel.WARN,
    retry: { retries: 10 }
  })
}

async function createTopic (bootstrap, topic, partitions) {
  const admin = client(bootstrap).admin()
  await admin.connect()
  try {
    const created = await admin.createTopics({
      topics: [{ topic, numPartitions: partitions, replicationFactor: 1 }],
      waitForLeaders: true
    })
    if (!created) fail(`topic ${topic} already existed`)
    const metadata = await admin.fetchTopicMetadata({ topics: [topic] })
    const got = metadata.topics[0].partitions.length
    if (got !== partitions) fail(`created ${topic} with ${partitions} partitions, metadata shows ${got}`)
    console.log(`created ${topic} partitions=${partitions}`)
  } finally {
    await admin.disconnect()
  }
}

async function readInput (path) {
  const records = []
  const lines = readline.createInterface({ input: fs.createReadStream(path), crlfDelay: Infinity })
  for await (const line of lines) {
    const tab = line.indexOf('\t')
    records.push([line.slice(0, tab), line.slice(tab + 1)])
  }
  return records
}

async function produce (bootstrap, topic, codec, input, clientName) {
  if (!(codec in CODECS)) fail(`unknown codec ${codec}`)
  const records = await readInput(input)
  const producer = client(bootstrap).producer({
    idempotent: true,
    maxInFlightRequests: 1,
    createPartitioner: Partitioners.DefaultPartitioner
  })
  await producer.connect()
  try {
    for (let start = 0; start < records.length; start += CHUNK) {
      const messages = []
      for (let seq = start; seq < Math.min(start + CHUNK, records.length); seq++) {
        messages.push({
          key: records[seq][0],
          value: records[seq][1],
          headers: { 'floe-seq': String(seq), 'floe-client': clientName }
        })
      }
      await producer.send({ topic, messages, acks: -1, compression: CODECS[codec] })
    }
  } finally {
    await producer.disconnect()
  }
  console.log(`produced ${records.length}`)
}

function headersText (headers) {
  return Object.entries(headers || {})
    .map(([name, value]) => `${name}=${value === null || value === undefined ? '' : value.toString()}`)
    .join(',')
}

// Reads the whole topic in a consumer group up to the end offsets seen when it
// starts, commits them and checks that the commit reads back.
async function consume (bootstrap, topic, group, output) {
  const kafka = client(bootstrap)
  const admin = kafka.admin()
  await admin.connect()
  const end = new Map()
  for (const { partition, high } of await admin.fetchTopicOffsets(topic)) {
    end.set(partition, Number(high))
  }
  const next = new Map([...end.keys()].map(p => [p, 0]))
  const done = () => [...end.entries()].every(([p, high]) => next.get(p) >= high)
  const out = fs.createWriteStream(output)
  let count = 0
  const consumer = kafka.consumer({
    groupId: group,
    maxBytes: 52428800,
    maxBytesPerPartition: 8388608,
    maxWaitTimeInMs: 500
  })
  await consumer.connect()
  await consumer.subscribe({ topics: [topic], fromBeginning: true })
  let finished
  const allRead = new Promise(resolve => { finished = resolve })
  if (done()) finished()
  await consumer.run({
    autoCommit: false,
    eachBatch: async ({ batch }) => {
      const lines = []
      for (const message of batch.messages) {
        lines.push(`${batch.partition}\t${message.offset}\t${message.key === null ? '' : message.key.toString()}\t` +
          `${message.value === null ? '' : message.value.toString()}\t${headersText(message.headers)}\n`)
        next.set(batch.partition, Number(message.offset) + 1)
      }
      count += lines.length
      if (!out.write(lines.join(''))) await new Promise(resolve => out.once('drain', resolve))
      if (done()) finished()
    }
  })
  const timer = setTimeout(() => fail(`consumed ${count} records, end offsets ${JSON.stringify([...end])} not reached`), DEADLINE_MS)
  await allRead
  clearTimeout(timer)
  await consumer.commitOffsets([...end.entries()].map(([partition, high]) => ({ topic, partition, offset: String(high) })))
  await consumer.disconnect()
  await new Promise(resolve => out.end(resolve))
  const committed = await admin.fetchOffsets({ groupId: group, topics: [topic] })
  for (const { partition, offset } of committed[0].partitions) {
    if (Number(offset) !== end.get(partition)) fail(`committed offset of partition ${partition} reads back as ${offset}, expected ${end.get(partition)}`)
  }
  await admin.disconnect()
  console.log(`consumed ${count}`)
}

const READ_COMMITTED = 1 // isolation level, as KafkaJS's consumer asks by default

// KafkaJS's cluster layer (what its consumer runs on), from the Kafka
// object's private factory: KafkaJS exports no consumer without a group.
function cluster (kafka) {
  const factory = Object.getOwnPropertySymbols(kafka)
    .find(symbol => symbol.description === 'private:Kafka:createCluster')
  if (!factory) fail('this KafkaJS has no private:Kafka:createCluster (expected 2.2.x)')
  return kafka[factory]({ allowAutoTopicCreation: false, isolationLevel: READ_COMMITTED })
}

// Reads the whole topic without a group: every partition from its earliest
// offset up to the end offset ListOffsets gave at the start, in Fetch
// requests to each partition's leader like KafkaJS's consumer sends them.
async function dump (bootstrap, topic, output) {
  const kafkaCluster = cluster(client(bootstrap))
  await kafkaCluster.connect()
  await kafkaCluster.addTargetTopic(topic)
  const partitions = kafkaCluster.findTopicPartitionMetadata(topic).map(p => p.partitionId)
  const offsets = async fromBeginning => {
    const [result] = await kafkaCluster.fetchTopicsOffset([
      { topic, fromBeginning, partitions: partitions.map(partition => ({ partition })) }])
    return new Map(result.partitions.map(({ partition, offset }) => [partition, Number(offset)]))
  }
  const end = await offsets(false)
  const next = await offsets(true)
  const out = fs.createWriteStream(output)
  let count = 0
  const deadline = Date.now() + DEADLINE_MS
  for (;;) {
    const pending = partitions.filter(p => next.get(p) < end.get(p))
    if (!pending.length) break
    if (Date.now() > deadline) fail(`read ${count} records, end offsets ${JSON.stringify([...end])} not reached`)
    const byLeader = kafkaCluster.findLeaderForPartitions(topic, pending)
    for (const [nodeId, leaderPartitions] of Object.entries(byLeader)) {
      const broker = await kafkaCluster.findBroker({ nodeId })
      const { responses } = await broker.fetch({
        maxWaitTime: 500,
        minBytes: 1,
        maxBytes: 52428800,
        isolationLevel: READ_COMMITTED,
        topics: [{
          topic,
          partitions: leaderPartitions.map(partition => ({
            partition, fetchOffset: String(next.get(partition)), maxBytes: 8388608
          }))
        }]
      })
      for (const { topicName, partitions: fetched } of responses) {
        for (const partitionData of fetched) {
          const fetchedOffset = next.get(partitionData.partition)
          const batch = new Batch(topicName, String(fetchedOffset), partitionData)
          const lines = []
          for (const message of batch.messages) {
            lines.push(`${batch.partition}\t${message.offset}\t${message.key === null ? '' : message.key.toString()}\t` +
              `${message.value === null ? '' : message.value.toString()}\t${headersText(message.headers)}\n`)
          }
          if (!batch.isEmptyIncludingFiltered()) {
            next.set(batch.partition, Number(batch.lastOffset()) + 1)
          }
          count += lines.length
          if (lines.length && !out.write(lines.join(''))) await new Promise(resolve => out.once('drain', resolve))
        }
      }
    }
  }
  await new Promise(resolve => out.end(resolve))
  await kafkaCluster.disconnect()
  console.log(`read ${count}`)
}

async function main () {
  const [command, ...args] = process.argv.slice(2)
  if (command === 'create-topic') await createTopic(args[0], args[1], Number(args[2]))
  else if (command === 'produce') await produce(...args)
  else if (command === 'consume') await consume(...args)
  else if (command === 'dump') await dump(...args)
  else fail(`unknown subcommand ${command}`)
}

main().then(() => process.exit(0), error => fail(error && error.stack ? error.stack : String(error)))
