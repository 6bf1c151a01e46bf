// The Java-client side of Floe's compatibility tests (tests/compat): one
// program with a subcommand per step, driven by the Python harness.
//
//   create-topic BOOTSTRAP TOPIC PARTITIONS
//   produce      BOOTSTRAP TOPIC CODEC INPUT CLIENT
//   consume      BOOTSTRAP TOPIC GROUP OUTPUT   (in a consumer group; commit checked)
//   dump         BOOTSTRAP TOPIC OUTPUT         (no group: assign() of every partition)
//   paced-produce BOOTSTRAP TOPIC INPUT RATE ACK_LOG
//
// INPUT holds one record per line, "key<TAB>value"; the line index is the
// record's sequence number. Consumers write one line per record read:
// "partition<TAB>offset<TAB>key<TAB>value<TAB>name=value,name=value".
// Exit code 0 on success; anything else, with the reason on stderr, fails.

import java.io.BufferedReader;
import java.io.BufferedWriter;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Paths;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.admin.TopicDescription;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.PartitionInfo;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;

public final class FloeCompatClient {
  private static final long DEADLINE_MS = 600_000;

  public static void main(String[] args) throws Exception {
    if (args.length < 1) {
      fail("usage: FloeCompatClient create-topic|produce|consume|dump|paced-produce ...");
    }
    switch (args[0]) {
      case "create-topic" -> createTopic(args[1], args[2], Integer.parseInt(args[3]));
      case "produce" -> produce(args[1], args[2], args[3], args[4], args[5]);
      case "consume" -> consume(args[1], args[2], args[3], args[4]);
      case "dump" -> consume(args[1], args[2], null, args[3]);
      case "paced-produce" -> pacedProduce(args[1], args[2], args[3], Integer.parseInt(args[4]),
          args[5]);
      default -> fail("unknown subcommand " + args[0]);
    }
  }

  private static void fail(String message) {
    System.err.println("FloeCompatClient: " + message);
    System.exit(2);
  }

  private static void createTopic(String bootstrap, String topic, int partitions)
      throws Exception {
    Properties props = new Properties();
    props.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
    try (Admin admin = Admin.create(props)) {
      admin.createTopics(List.of(new NewTopic(topic, partitions, (short) 1)))
          .all().get(60, TimeUnit.SECONDS);
      TopicDescription description = admin.describeTopics(List.of(topic))
          .allTopicNames().get(60, TimeUnit.SECONDS).get(topic);
      if (description.partitions().size() != partitions) {
        fail("created " + topic + " with " + partitions + " partitions, describe shows "
            + description.partitions().size());
      }
      System.out.println("created " + topic + " partitions=" + partitions);
    }
  }

  private static List<String[]> readInput(String path) throws IOException {
    List<String[]> records = new ArrayList<>();
    try (BufferedReader reader = Files.newBufferedReader(Paths.get(path),
        StandardCharsets.UTF_8)) {
      String line;
      while ((line = reader.readLine()) != null) {
        int tab = line.indexOf('\t');
        records.add(new String[] {line.substring(0, tab), line.substring(tab + 1)});
      }
    }
    return records;
  }

  private static Properties producerProps(String bootstrap) {
    Properties props = new Properties();
    props.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
    props.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
    props.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
    props.put(ProducerConfig.ACKS_CONFIG, "all");
    props.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, "true");
    return props;
  }

  private static void produce(String bootstrap, String topic, String codec, String input,
      String client) throws Exception {
    List<String[]> records = readInput(input);
    Properties props = producerProps(bootstrap);
    props.put(ProducerConfig.COMPRESSION_TYPE_CONFIG, codec);
    props.put(ProducerConfig.LINGER_MS_CONFIG, "20");
    props.put(ProducerConfig.BATCH_SIZE_CONFIG, "262144");
    props.put(ProducerConfig.BUFFER_MEMORY_CONFIG, "67108864");
    AtomicLong failed = new AtomicLong();
    StringBuilder firstError = new StringBuilder();
    try (KafkaProducer<String, String> producer = new KafkaProducer<>(props)) {
      for (int seq = 0; seq < records.size(); seq++) {
        ProducerRecord<String, String> record =
            new ProducerRecord<>(topic, records.get(seq)[0], records.get(seq)[1]);
        record.headers().add("floe-seq", Integer.toString(seq).getBytes(StandardCharsets.UTF_8));
        record.headers().add("floe-client", client.getBytes(StandardCharsets.UTF_8));
        producer.send(record, (metadata, error) -> {
          if (error != null && failed.getAndIncrement() == 0) {
            synchronized (firstError) {
              firstError.append(error);
            }
          }
        });
      }
      producer.flush();
    }
    if (failed.get() != 0) {
      synchronized (firstError) {
        fail(failed.get() + " records not acknowledged; first error: " + firstError);
      }
    }
    System.out.println("produced " + records.size());
  }

  private static String headersText(ConsumerRecord<String, String> record) {
    StringBuilder text = new StringBuilder();
    for (Header header : record.headers()) {
      if (text.length() != 0) {
        text.append(',');
      }
      text.append(header.key()).append('=')
          .append(header.value() == null ? "" : new String(header.value(),
              StandardCharsets.UTF_8));
    }
    return text.toString();
  }

  // Reads the whole topic, up to the end offsets seen when it starts. With a
  // group: subscribe (group protocol "classic"), commit, check the commit.
  // Without: assign every partition and read from the beginning.
  private static void consume(String bootstrap, String topic, String group, String output)
      throws Exception {
    Properties props = new Properties();
    props.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
    props.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class.getName());
    props.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG,
        StringDeserializer.class.getName());
    props.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
    props.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
    props.put(ConsumerConfig.MAX_POLL_RECORDS_CONFIG, "5000");
    props.put(ConsumerConfig.FETCH_MAX_BYTES_CONFIG, "52428800");
    props.put(ConsumerConfig.MAX_PARTITION_FETCH_BYTES_CONFIG, "8388608");
    if (group != null) {
      props.put(ConsumerConfig.GROUP_ID_CONFIG, group);
    }
    long deadline = System.currentTimeMillis() + DEADLINE_MS;
    long count = 0;
    try (KafkaConsumer<String, String> consumer = new KafkaConsumer<>(props);
        BufferedWriter out = Files.newBufferedWriter(Paths.get(output),
            StandardCharsets.UTF_8)) {
      List<TopicPartition> partitions = new ArrayList<>();
      for (PartitionInfo info : consumer.partitionsFor(topic, Duration.ofSeconds(60))) {
        partitions.add(new TopicPartition(topic, info.partition()));
      }
      Map<TopicPartition, Long> end = consumer.endOffsets(partitions, Duration.ofSeconds(60));
      if (group != null) {
        consumer.subscribe(List.of(topic));
      } else {
        consumer.assign(partitions);
        consumer.seekToBeginning(partitions);
      }
      while (true) {
        ConsumerRecords<String, String> batch = consumer.poll(Duration.ofMillis(500));
        for (ConsumerRecord<String, String> record : batch) {
          out.write(record.partition() + "\t" + record.offset() + "\t"
              + (record.key() == null ? "" : record.key()) + "\t"
              + (record.value() == null ? "" : record.value()) + "\t"
              + headersText(record) + "\n");
          count++;
        }
        Set<TopicPartition> assigned = consumer.assignment();
        boolean done = assigned.size() == partitions.size();
        for (TopicPartition partition : partitions) {
          if (!done) {
            break;
          }
          done = assigned.contains(partition) && consumer.position(partition) >= end.get(partition);
        }
        if (done) {
          break;
        }
        if (System.currentTimeMillis() > deadline) {
          fail("consumed " + count + " records, end offsets " + end + " not reached in "
              + DEADLINE_MS / 1000 + " s");
        }
      }
      if (group != null) {
        consumer.commitSync(Duration.ofSeconds(60));
        Map<TopicPartition, OffsetAndMetadata> committed =
            consumer.committed(new HashSet<>(partitions), Duration.ofSeconds(60));
        for (TopicPartition partition : partitions) {
          OffsetAndMetadata offset = committed.get(partition);
          if (offset == null || offset.offset() != end.get(partition)) {
            fail("committed offset of " + partition + " reads back as " + offset
                + ", expected " + end.get(partition));
          }
        }
      }
    }
    System.out.println("consumed " + count);
  }

  // Produces INPUT at RATE records/s with an idempotent acks=all producer that
  // keeps retrying through broker restarts, logging to ACK_LOG one line per
  // record as its outcome arrives: "seq<TAB>partition<TAB>offset" when
  // acknowledged, "seq<TAB>ERR<TAB>error" when not. At most RATE/5 records
  // (0.2 s worth) are awaiting their outcome at once, so sending pauses while
  // the broker is down and progress in acknowledgements tracks broker uptime.
  private static void pacedProduce(String bootstrap, String topic, String input, int rate,
      String ackLog) throws Exception {
    List<String[]> records = readInput(input);
    Properties props = producerProps(bootstrap);
    props.put(ProducerConfig.LINGER_MS_CONFIG, "5");
    props.put(ProducerConfig.COMPRESSION_TYPE_CONFIG, "lz4");
    props.put(ProducerConfig.DELIVERY_TIMEOUT_MS_CONFIG, "300000");
    props.put(ProducerConfig.REQUEST_TIMEOUT_MS_CONFIG, "10000");
    props.put(ProducerConfig.MAX_BLOCK_MS_CONFIG, "300000");
    props.put(ProducerConfig.RECONNECT_BACKOFF_MAX_MS_CONFIG, "500");
    props.put(ProducerConfig.RETRY_BACKOFF_MAX_MS_CONFIG, "500");
    AtomicLong acked = new AtomicLong();
    AtomicLong failed = new AtomicLong();
    Semaphore window = new Semaphore(Math.max(100, rate / 5));
    long chunkStart = System.nanoTime();
    try (BufferedWriter log = Files.newBufferedWriter(Paths.get(ackLog), StandardCharsets.UTF_8);
        KafkaProducer<String, String> producer = new KafkaProducer<>(props)) {
      for (int seq = 0; seq < records.size(); seq++) {
        final int sent = seq;
        ProducerRecord<String, String> record =
            new ProducerRecord<>(topic, records.get(seq)[0], records.get(seq)[1]);
        if (!window.tryAcquire(DEADLINE_MS, TimeUnit.MILLISECONDS)) {
          fail("no acknowledgement for " + DEADLINE_MS / 1000 + " s");
        }
        producer.send(record, (metadata, error) -> {
          window.release();
          String line = error == null
              ? sent + "\t" + metadata.partition() + "\t" + metadata.offset() + "\n"
              : sent + "\tERR\t" + error.toString().replace('\t', ' ').replace('\n', ' ') + "\n";
          (error == null ? acked : failed).incrementAndGet();
          synchronized (log) {
            try {
              log.write(line);
            } catch (IOException e) {
              throw new RuntimeException(e);
            }
          }
        });
        if (seq % 100 == 99) {
          synchronized (log) {
            log.flush();
          }
          // Paced per 100 records, never catching up after a pause.
          long due = chunkStart + (long) (100 * 1e9 / rate);
          long wait = due - System.nanoTime();
          if (wait > 0) {
            Thread.sleep(wait / 1_000_000, (int) (wait % 1_000_000));
          }
          chunkStart = Math.max(due, System.nanoTime());
        }
      }
      producer.flush();
      synchronized (log) {
        log.flush();
      }
    }
    System.out.println("sent " + records.size() + " acked " + acked.get() + " failed "
        + failed.get());
  }
}
