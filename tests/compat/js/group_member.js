// One consumer-group member with KafkaJS, as a process (tests/compat,
// harness/groups.py):
//
//   node group_member.js BOOTSTRAP TOPIC GROUP NAME STATUS_FILE [key=value ...]
//
// The command line, options, stdin commands ("pause", "stop") and status-file
// format are those of ../java/src/FloeGroupMember.java (read its header),
// except: KafkaJS speaks only the classic protocol (protocol=consumer is
// refused), and it reassigns eagerly, so every "assigned" event carries
// "fresh": true (every partition, kept or not, restarts from its committed
// offset; KafkaJS has no revocation callback). Its "start" event is read with
// the admin client after the join, so it may come after the first records.
'use strict'

const fs = require('fs')
const { Kafka, logLevel } = require('kafkajs')

const [bootstrap, topic, group, name, statusPath, ...rest] = process.argv.slice(2)
const options = Object.fromEntries(rest.map(arg => [arg.slice(0, arg.indexOf('=')), arg.slice(arg.indexOf('=') + 1)]))
if ((options.protocol || 'classic') !== 'classic') {
  process.stderr.write('group_member.js: KafkaJS has only the classic group protocol\n')
  process.exit(2)
}
const commitEvery = Number(options['commit-every'] || 0)
const rate = Number(options.rate || 0)
const finish = options.finish === 'true'

const status = fs.openSync(statusPath, 'w')
const write = text => fs.writeSync(status, text)
const event = (ev, fields = {}) => write('E ' + JSON.stringify({ ev, t: Date.now(), ...fields }) + '\n')

const kafka = new Kafka({ clientId: name, brokers: [bootstrap], logLevel: logLevel.ERROR, retry: { retries: 20 } })
const consumer = kafka.consumer({
  groupId: group,
  sessionTimeout: Number(options.session || 10000),
  heartbeatInterval: 1000,
  rebalanceTimeout: 20000,
  maxWaitTimeInMs: 200,
  retry: { retries: 20 }
})
const admin = kafka.admin()

let owned = new Set()
let processed = new Map() // partition -> next offset, from records processed
let position = new Map() // partition -> next offset, committed or processed
let commits = 0
let count = 0
let pauseRequested = false
let stopRequested = false
let paused = false
const started = Date.now()
const sleep = ms => new Promise(resolve => setTimeout(resolve, ms))

async function committedView (partitions) {
  const [fetched] = await admin.fetchOffsets({ groupId: group, topics: [topic] })
  const view = {}
  for (const { partition, offset, metadata } of fetched.partitions) {
    if (partitions.includes(partition)) view[partition] = Number(offset) < 0 ? null : [Number(offset), metadata]
  }
  return view
}

async function commit () {
  commits++
  const metadata = `${name}#${commits}`
  const offsets = {}
  for (const partition of [...owned].sort((a, b) => a - b)) {
    if (processed.has(partition)) offsets[partition] = processed.get(partition)
  }
  if (!Object.keys(offsets).length) return true
  event('committing', { offsets, metadata })
  try {
    await consumer.commitOffsets(Object.entries(offsets).map(([partition, offset]) =>
      ({ topic, partition: Number(partition), offset: String(offset), metadata })))
  } catch (error) {
    event('commit-failed', { error: String(error), metadata })
    return false
  }
  event('committed', { offsets, metadata })
  return true
}

async function stop (code) {
  stopRequested = true
  try {
    await consumer.disconnect() // LeaveGroup
    event('closed')
    await admin.disconnect()
  } finally {
    process.exit(code)
  }
}

async function main () {
  await admin.connect()
  const end = new Map()
  if (finish) {
    for (const { partition, high } of await admin.fetchTopicOffsets(topic)) end.set(partition, Number(high))
  }
  consumer.on(consumer.events.GROUP_JOIN, ({ payload }) => {
    owned = new Set(payload.memberAssignment[topic] || [])
    processed = new Map()
    position = new Map()
    event('assigned', { member: payload.memberId, fresh: true, partitions: [...owned].sort((a, b) => a - b) })
    if (pauseRequested) consumer.pause([{ topic }])
    if ((commitEvery > 0 || finish) && owned.size) {
      const partitions = [...owned]
      committedView(partitions).then(view => {
        event('start', { offsets: view })
        for (const partition of partitions) {
          if (!position.has(partition)) position.set(partition, view[partition] ? view[partition][0] : 0)
        }
      }, error => event('error', { error: String(error) }))
    }
  })
  await consumer.connect()
  await consumer.subscribe({ topics: [topic], fromBeginning: true })
  // finish: once every partition is owned and read up to its end offset,
  // commit the end offsets, read them back, leave and exit.
  let finishing = false
  let finished = false
  const maybeFinish = async () => {
    if (!finish || finishing || !end.size) return
    if (![...end.keys()].every(p => owned.has(p) && (position.get(p) ?? -1) >= end.get(p))) return
    finishing = true
    for (const [partition, offset] of end) processed.set(partition, offset)
    if (await commit()) {
      event('final', { offsets: await committedView([...end.keys()]) })
      finished = true // the loop below leaves: disconnect() waits for eachBatch
    } else {
      finishing = false
    }
  }
  await consumer.run({
    autoCommit: false,
    eachBatchAutoResolve: false,
    eachBatch: async ({ batch, resolveOffset, heartbeat, isRunning, isStale }) => {
      for (const message of batch.messages) {
        if (pauseRequested || stopRequested || finishing || !isRunning() || isStale()) break
        if (!owned.has(batch.partition)) break
        if (rate > 0) {
          const wait = started + count * 1000 / rate - Date.now()
          if (wait > 0) await sleep(wait)
        }
        const headers = Object.entries(message.headers || {}).map(([k, v]) => `${k}=${v === null || v === undefined ? '' : v.toString()}`).join(',')
        write(`R\t${batch.partition}\t${message.offset}\t${message.key === null ? '' : message.key.toString()}\t` +
          `${message.value === null ? '' : message.value.toString()}\t${headers}\n`)
        processed.set(batch.partition, Number(message.offset) + 1)
        position.set(batch.partition, Number(message.offset) + 1)
        resolveOffset(message.offset) // KafkaJS fetches on from the last resolved offset
        count++
        if (commitEvery > 0 && count % commitEvery === 0) await commit()
        await heartbeat()
      }
      await maybeFinish()
    }
  })
  // A finishing member may own partitions that hold nothing more to read:
  // eachBatch never runs for them, so the end is also checked here.
  for (;;) {
    await sleep(200)
    if (pauseRequested && !paused) {
      paused = true
      consumer.pause([{ topic }])
      event('paused', { processed: count })
    }
    await maybeFinish()
    if (finished) await stop(0)
  }
}

let input = ''
process.stdin.on('data', chunk => {
  input += chunk.toString()
  let newline
  while ((newline = input.indexOf('\n')) >= 0) {
    const command = input.slice(0, newline).trim()
    input = input.slice(newline + 1)
    if (command === 'pause') pauseRequested = true
    else if (command === 'stop') stop(0)
  }
})
process.stdin.on('end', () => stop(0))

main().catch(error => {
  event('error', { error: String(error && error.stack ? error.stack : error) })
  process.stderr.write(`group_member.js: ${error && error.stack ? error.stack : error}\n`)
  process.exit(2)
})
