// Drives the Apache Kafka Java client against tools/capture/capture_server.py
// so that its request frames can be recorded as golden vectors.
//
// Usage: java -cp <classes>:<jars>/* Capture <bootstrap> <topic>
//
// Steps, each bounded by short client timeouts and independent of the others:
//   1. one idempotent producer per compression type (client.id
//      golden-java-<codec>) sends RECORDS records to <topic> partition 0 in one
//      batch (linger.ms) with fixed timestamps;
//   2. an AdminClient (golden-java-admin) creates topic golden-admin (3
//      partitions) and describes it and <topic>;
//   3. a group consumer (golden-java-consumer, group golden-group) polls the
//      records back and commits.
// The record contents here are the expectations written into
// src/kafka/protocol/tests/golden/expected.json: keep the two in step.

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.admin.TopicDescription;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;

public final class Capture {
    static final String[] CODECS = {"none", "gzip", "snappy", "lz4", "zstd"};
    static final int RECORDS = 3;
    static final long BASE_TIMESTAMP_MS = 1700000000000L;

    // Record i of a batch compressed with `codec`: the same plan as capture-all.sh's kcat runs.
    static String key(int i) {
        return "key-" + i;
    }

    static String value(int i, String codec) {
        return "value-" + i + "-" + codec + "-" + "floe".repeat(8);
    }

    public static void main(String[] args) throws Exception {
        String bootstrap = args.length > 0 ? args[0] : "127.0.0.1:19093";
        String topic = args.length > 1 ? args[1] : "golden";
        for (String codec : CODECS) {
            step("produce " + codec, () -> produce(bootstrap, topic, codec));
        }
        step("admin", () -> admin(bootstrap, topic));
        step("consume", () -> consume(bootstrap, topic));
        System.out.println("capture: done, " + failedSteps + " step(s) failed");
        System.exit(failedSteps == 0 ? 0 : 1);
    }

    static int failedSteps = 0;

    interface Step {
        void run() throws Exception;
    }

    static void step(String name, Step s) {
        try {
            s.run();
            System.out.println("capture: " + name + ": ok");
        } catch (Exception e) {
            System.out.println("capture: " + name + ": " + e);
            failedSteps++;
        }
    }

    static void produce(String bootstrap, String topic, String codec) throws Exception {
        Properties p = new Properties();
        p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        p.put(ProducerConfig.CLIENT_ID_CONFIG, "golden-java-" + codec);
        p.put(ProducerConfig.ACKS_CONFIG, "all");
        p.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, "true");
        p.put(ProducerConfig.COMPRESSION_TYPE_CONFIG, codec);
        p.put(ProducerConfig.LINGER_MS_CONFIG, "200");
        p.put(ProducerConfig.MAX_BLOCK_MS_CONFIG, "5000");
        p.put(ProducerConfig.REQUEST_TIMEOUT_MS_CONFIG, "3000");
        p.put(ProducerConfig.DELIVERY_TIMEOUT_MS_CONFIG, "6000");
        p.put(ProducerConfig.ENABLE_METRICS_PUSH_CONFIG, "false");
        p.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
        p.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
        try (KafkaProducer<String, String> producer = new KafkaProducer<>(p)) {
            List<Future<RecordMetadata>> sent = new ArrayList<>();
            for (int i = 0; i < RECORDS; i++) {
                ProducerRecord<String, String> r = new ProducerRecord<>(
                        topic, 0, BASE_TIMESTAMP_MS + i, key(i), value(i, codec));
                r.headers().add("h1", "v1".getBytes(StandardCharsets.UTF_8));
                r.headers().add("h2", "v2".getBytes(StandardCharsets.UTF_8));
                sent.add(producer.send(r));
            }
            producer.flush();
            for (Future<RecordMetadata> f : sent) {
                f.get(5, TimeUnit.SECONDS);
            }
            producer.close(Duration.ofSeconds(2));
        }
    }

    static void admin(String bootstrap, String topic) throws Exception {
        Properties p = new Properties();
        p.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        p.put(AdminClientConfig.CLIENT_ID_CONFIG, "golden-java-admin");
        p.put(AdminClientConfig.REQUEST_TIMEOUT_MS_CONFIG, "3000");
        p.put(AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, "5000");
        p.put(AdminClientConfig.ENABLE_METRICS_PUSH_CONFIG, "false");
        try (Admin admin = Admin.create(p)) {
            NewTopic created = new NewTopic("golden-admin", 3, (short) 1)
                    .configs(Map.of("retention.ms", "86400000"));
            admin.createTopics(List.of(created)).all().get(5, TimeUnit.SECONDS);
            Map<String, TopicDescription> described = admin.describeTopics(
                    List.of("golden-admin", topic)).allTopicNames().get(5, TimeUnit.SECONDS);
            System.out.println("capture: described " + described.keySet());
            Set<String> names = admin.listTopics().names().get(5, TimeUnit.SECONDS);
            System.out.println("capture: listed " + names);
            admin.close(Duration.ofSeconds(2));
        }
    }

    static void consume(String bootstrap, String topic) throws Exception {
        Properties p = new Properties();
        p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        p.put(ConsumerConfig.CLIENT_ID_CONFIG, "golden-java-consumer");
        p.put(ConsumerConfig.GROUP_ID_CONFIG, "golden-group");
        p.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
        p.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
        p.put(ConsumerConfig.FETCH_MAX_WAIT_MS_CONFIG, "200");
        p.put(ConsumerConfig.HEARTBEAT_INTERVAL_MS_CONFIG, "200");
        p.put(ConsumerConfig.REQUEST_TIMEOUT_MS_CONFIG, "3000");
        p.put(ConsumerConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, "5000");
        p.put(ConsumerConfig.ENABLE_METRICS_PUSH_CONFIG, "false");
        p.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class.getName());
        p.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class.getName());
        try (KafkaConsumer<String, String> consumer = new KafkaConsumer<>(p)) {
            consumer.subscribe(List.of(topic));
            int seen = 0;
            long deadline = System.currentTimeMillis() + 10000;
            while (seen < RECORDS && System.currentTimeMillis() < deadline) {
                ConsumerRecords<String, String> records = consumer.poll(Duration.ofMillis(500));
                for (ConsumerRecord<String, String> r : records) {
                    if (seen++ == 0) {
                        System.out.println("capture: consumed offset " + r.offset() + " key " + r.key());
                    }
                }
            }
            // Stay in the group a little longer so a Heartbeat is sent.
            long linger = System.currentTimeMillis() + 1000;
            while (System.currentTimeMillis() < linger) {
                consumer.poll(Duration.ofMillis(200));
            }
            consumer.commitSync(Duration.ofSeconds(3));
            System.out.println("capture: consumed " + seen + " records");
            consumer.close(Duration.ofSeconds(2));
        }
    }
}
