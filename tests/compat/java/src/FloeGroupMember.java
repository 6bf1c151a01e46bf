// One consumer-group member for Floe's group scenarios (tests/compat,
// harness/groups.py), as a process of its own so that it can be SIGKILLed.
// The same command line and status format as ../../harness/group_member.py
// (confluent-kafka) and ../../js/group_member.js (KafkaJS):
//
//   FloeGroupMember BOOTSTRAP TOPIC GROUP NAME STATUS_FILE [key=value ...]
//
//   protocol=classic|consumer  group.protocol (default classic)
//   assignor=cooperative-sticky  the CooperativeStickyAssignor (classic
//                              protocol, incremental rebalances; default:
//                              the client's, range)
//   session=MS                 session.timeout.ms (classic only: with the
//                              consumer protocol the broker decides)
//   commit-every=K             commit after every K records processed
//                              (0: never; default 0)
//   rate=R                     process at most R records per second (0: no limit)
//   finish=true                when every partition of the topic is owned and
//                              read up to the end offsets seen at the start:
//                              commit them, read them back, close, exit 0
//
// The client id is NAME. STATUS_FILE gets one line per event, in order,
// flushed at once:
//   E <json>   {"ev":"assigned","member":ID,"partitions":[...]} after every
//              change of the member's partitions (the full current set),
//              {"ev":"start","offsets":{"P":[offset,metadata]|null}} committed
//              offsets of newly assigned partitions, read in the callback,
//              {"ev":"committing"|"committed","offsets":{"P":offset},"metadata":M},
//              {"ev":"commit-failed","error":E}, {"ev":"paused"},
//              {"ev":"final","offsets":{"P":[offset,metadata]}}, {"ev":"closed"}
//   R <partition> <offset> <key> <value> <headers>   (tab-separated) a record
//              processed; written and flushed before any commit covering it.
// Every E line also has "t" (epoch ms). Commands on stdin, one per line:
// "pause" (stop processing at once, pause every partition, keep the
// membership) and "stop" (close the consumer, which leaves the group, and exit).

import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.BufferedReader;
import java.io.BufferedWriter;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Paths;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRebalanceListener;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.common.PartitionInfo;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.WakeupException;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.serialization.StringDeserializer;

public final class FloeGroupMember {
  private static final ObjectMapper JSON = new ObjectMapper();

  private final String topic;
  private final String name;
  private final BufferedWriter status;
  private final KafkaConsumer<String, String> consumer;
  private final Set<Integer> owned = new TreeSet<>();
  private final Map<Integer, Long> processed = new HashMap<>();
  private volatile boolean pauseRequested;
  private volatile boolean stopRequested;
  private int commits;

  private FloeGroupMember(String topic, String name, BufferedWriter status,
      KafkaConsumer<String, String> consumer) {
    this.topic = topic;
    this.name = name;
    this.status = status;
    this.consumer = consumer;
  }

  public static void main(String[] args) throws Exception {
    if (args.length < 5) {
      System.err.println("usage: FloeGroupMember BOOTSTRAP TOPIC GROUP NAME STATUS_FILE "
          + "[key=value ...]");
      System.exit(2);
    }
    Map<String, String> options = new HashMap<>();
    for (int i = 5; i < args.length; i++) {
      int eq = args[i].indexOf('=');
      options.put(args[i].substring(0, eq), args[i].substring(eq + 1));
    }
    String protocol = options.getOrDefault("protocol", "classic");
    Properties props = new Properties();
    props.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, args[0]);
    props.put(ConsumerConfig.GROUP_ID_CONFIG, args[2]);
    props.put(ConsumerConfig.CLIENT_ID_CONFIG, args[3]);
    props.put(ConsumerConfig.GROUP_PROTOCOL_CONFIG, protocol);
    props.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class.getName());
    props.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG,
        StringDeserializer.class.getName());
    props.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
    props.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
    props.put(ConsumerConfig.MAX_POLL_RECORDS_CONFIG, "50");
    if ("cooperative-sticky".equals(options.get("assignor"))) {
      props.put(ConsumerConfig.PARTITION_ASSIGNMENT_STRATEGY_CONFIG,
          "org.apache.kafka.clients.consumer.CooperativeStickyAssignor");
    }
    if (protocol.equals("classic")) {
      props.put(ConsumerConfig.SESSION_TIMEOUT_MS_CONFIG, options.getOrDefault("session", "10000"));
      props.put(ConsumerConfig.HEARTBEAT_INTERVAL_MS_CONFIG, "1000");
    }
    int commitEvery = Integer.parseInt(options.getOrDefault("commit-every", "0"));
    double rate = Double.parseDouble(options.getOrDefault("rate", "0"));
    boolean finish = Boolean.parseBoolean(options.getOrDefault("finish", "false"));
    try (BufferedWriter status = Files.newBufferedWriter(Paths.get(args[4]),
        StandardCharsets.UTF_8)) {
      KafkaConsumer<String, String> consumer = new KafkaConsumer<>(props);
      FloeGroupMember member = new FloeGroupMember(args[1], args[3], status, consumer);
      member.run(commitEvery, rate, finish);
    }
  }

  private synchronized void event(String kind, Map<String, Object> fields) {
    Map<String, Object> line = new LinkedHashMap<>();
    line.put("ev", kind);
    line.put("t", System.currentTimeMillis());
    line.putAll(fields);
    try {
      status.write("E " + JSON.writeValueAsString(line) + "\n");
      status.flush();
    } catch (IOException e) {
      throw new RuntimeException(e);
    }
  }

  private void reportAssignment() {
    Map<String, Object> fields = new LinkedHashMap<>();
    fields.put("member", consumer.groupMetadata().memberId());
    fields.put("generation", consumer.groupMetadata().generationId());
    fields.put("partitions", new ArrayList<>(owned));
    event("assigned", fields);
  }

  private static Map<String, Object> committedView(Map<TopicPartition, OffsetAndMetadata> got,
      Collection<TopicPartition> asked) {
    Map<String, Object> offsets = new TreeMap<>();
    for (TopicPartition partition : asked) {
      OffsetAndMetadata offset = got.get(partition);
      offsets.put(Integer.toString(partition.partition()),
          offset == null ? null : List.of(offset.offset(), offset.metadata()));
    }
    return offsets;
  }

  private void startStdinReader() {
    Thread reader = new Thread(() -> {
      try (BufferedReader in = new BufferedReader(new InputStreamReader(System.in,
          StandardCharsets.UTF_8))) {
        String line;
        while ((line = in.readLine()) != null) {
          if (line.trim().equals("pause")) {
            pauseRequested = true;
          } else if (line.trim().equals("stop")) {
            break;
          }
        }
      } catch (IOException ignored) {
        // treated as stop
      }
      stopRequested = true;
      consumer.wakeup();
    }, "stdin");
    reader.setDaemon(true);
    reader.start();
  }

  private boolean commit() {
    Map<TopicPartition, OffsetAndMetadata> offsets = new HashMap<>();
    Map<String, Object> view = new TreeMap<>();
    String metadata = name + "#" + (++commits);
    for (int partition : owned) {
      Long next = processed.get(partition);
      if (next != null) {
        offsets.put(new TopicPartition(topic, partition), new OffsetAndMetadata(next, metadata));
        view.put(Integer.toString(partition), next);
      }
    }
    if (offsets.isEmpty()) {
      return true;
    }
    Map<String, Object> fields = new LinkedHashMap<>();
    fields.put("offsets", view);
    fields.put("metadata", metadata);
    event("committing", fields);
    try {
      consumer.commitSync(offsets, Duration.ofSeconds(30));
      event("committed", fields);
      return true;
    } catch (WakeupException e) {
      throw e;
    } catch (RuntimeException e) {
      event("commit-failed", Map.of("error", e.toString(), "metadata", metadata));
      return false;
    }
  }

  private void run(int commitEvery, double rate, boolean finish) throws IOException {
    startStdinReader();
    Map<Integer, Long> end = new TreeMap<>();
    if (finish) {
      List<TopicPartition> all = new ArrayList<>();
      for (PartitionInfo info : consumer.partitionsFor(topic, Duration.ofSeconds(60))) {
        all.add(new TopicPartition(topic, info.partition()));
      }
      consumer.endOffsets(all, Duration.ofSeconds(60))
          .forEach((partition, offset) -> end.put(partition.partition(), offset));
    }
    consumer.subscribe(List.of(topic), new ConsumerRebalanceListener() {
      @Override
      public void onPartitionsRevoked(Collection<TopicPartition> partitions) {
        if (partitions.isEmpty()) {
          return;
        }
        for (TopicPartition partition : partitions) {
          owned.remove(partition.partition());
          processed.remove(partition.partition());
        }
        reportAssignment();
      }

      @Override
      public void onPartitionsLost(Collection<TopicPartition> partitions) {
        onPartitionsRevoked(partitions);
      }

      @Override
      public void onPartitionsAssigned(Collection<TopicPartition> partitions) {
        for (TopicPartition partition : partitions) {
          owned.add(partition.partition());
        }
        reportAssignment();
        if (!partitions.isEmpty() && commitEvery > 0) {
          Map<String, Object> fields = new LinkedHashMap<>();
          fields.put("offsets", committedView(consumer.committed(Set.copyOf(partitions),
              Duration.ofSeconds(30)), partitions));
          event("start", fields);
        }
        if (pauseRequested) {
          consumer.pause(partitions);
        }
      }
    });
    long processedCount = 0;
    long startNanos = System.nanoTime();
    boolean paused = false;
    try {
      while (!stopRequested) {
        if (pauseRequested && !paused) {
          consumer.pause(consumer.assignment());
          paused = true;
          event("paused", Map.of("processed", processedCount));
        }
        ConsumerRecords<String, String> batch = consumer.poll(Duration.ofMillis(200));
        if (paused) {
          consumer.pause(consumer.assignment());
          continue;
        }
        for (ConsumerRecord<String, String> record : batch) {
          if (pauseRequested || stopRequested) {
            break;  // unprocessed records of this batch are dropped
          }
          if (!owned.contains(record.partition())) {
            continue;
          }
          if (rate > 0) {
            long due = startNanos + (long) (processedCount * 1e9 / rate);
            long wait = due - System.nanoTime();
            if (wait > 0) {
              try {
                Thread.sleep(wait / 1_000_000, (int) (wait % 1_000_000));
              } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
              }
            }
          }
          synchronized (this) {
            status.write("R\t" + record.partition() + "\t" + record.offset() + "\t"
                + record.key() + "\t" + record.value() + "\t" + headersText(record) + "\n");
          }
          processed.put(record.partition(), record.offset() + 1);
          processedCount++;
          if (commitEvery > 0 && processedCount % commitEvery == 0) {
            synchronized (this) {
              status.flush();
            }
            commit();
          }
        }
        synchronized (this) {
          status.flush();
        }
        if (finish && owned.equals(end.keySet())) {
          boolean done = true;
          for (int partition : owned) {
            done &= consumer.position(new TopicPartition(topic, partition)) >= end.get(partition);
          }
          if (done) {
            for (int partition : owned) {
              processed.put(partition, end.get(partition));
            }
            if (commit()) {
              List<TopicPartition> all = new ArrayList<>();
              for (int partition : end.keySet()) {
                all.add(new TopicPartition(topic, partition));
              }
              Map<String, Object> fields = new LinkedHashMap<>();
              fields.put("offsets", committedView(consumer.committed(Set.copyOf(all),
                  Duration.ofSeconds(30)), all));
              event("final", fields);
              break;
            }
          }
        }
      }
    } catch (WakeupException e) {
      // stop requested
    }
    consumer.close(Duration.ofSeconds(30));
    event("closed", Map.of());
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
}
