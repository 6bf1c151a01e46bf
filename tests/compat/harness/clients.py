"""One driver per client: create a topic, produce the records, read them back.

Every driver implements the same three steps so that one runner
(scenarios.run_client_scenario) can drive them all:

  create_topic(broker, topic, partitions)   with the client's own admin API
                                            (kcat has none: Kafka's topics tool)
  produce(broker, topic, codec, input, count, work)
  consume(broker, topic, group, output, work)   whole topic, one line a record

consume's group is None by default (run.py without --groups): the client
assigns itself every partition explicitly, reads each from its earliest
offset up to the end offset ListOffsets gave when it started, and uses no
group API (no JoinGroup, SyncGroup, Heartbeat, OffsetCommit, OffsetFetch).
With a group name (run.py --groups) the client subscribes in that consumer
group, reads the same way, then commits the end offsets and checks that the
committed offsets read back as them. kcat always reads without a group.

Each raises StepError with what went wrong; file formats are in records.py.
"""

import os
import time

from . import java, paths, procs, records


class StepError(RuntimeError):
    pass


def _check(step, code, out, err):
    if code != 0:
        outcome = "timed out" if code is None else f"exit {code}"
        if isinstance(out, bytes):
            out = out.decode(errors="replace")
        if isinstance(err, bytes):
            err = err.decode(errors="replace")
        tail = "\n".join((out + err).strip().splitlines()[-25:])
        raise StepError(f"{step}: {outcome}\n{tail}")


def create_topic_with_tool(broker, topic, partitions):
    code, out, err = java.run_tool("org.apache.kafka.tools.TopicCommand", [
        "--bootstrap-server", broker.bootstrap, "--create", "--topic", topic,
        "--partitions", partitions, "--replication-factor", 1])
    _check("kafka-topics --create", code, out, err)
    if f"Created topic {topic}." not in out:
        raise StepError(f"kafka-topics --create printed {out!r}")


class Kcat:
    """Debian's kcat (librdkafka 2.0.2), producing from and consuming to files."""

    name = "kcat"
    headers_mode = "client-only"  # kcat -H sets one header for every record

    def create_topic(self, broker, topic, partitions):
        create_topic_with_tool(broker, topic, partitions)

    def produce(self, broker, topic, codec, input_path, count, work):
        argv = [paths.require_program("kcat"), "-b", broker.bootstrap, "-t", topic, "-P",
                "-K", "\t", "-z", codec, "-H", "floe-client=kcat",
                "-X", "enable.idempotence=true", "-X", "linger.ms=20",
                "-X", "queue.buffering.max.messages=1000000", "-l", str(input_path)]
        code, out, err = procs.run(argv, timeout=600)
        _check("kcat -P", code, out, err)
        # kcat reports failed deliveries on stderr but may still exit 0.
        if b"Delivery failed" in err or b"ERROR" in err:
            _check("kcat -P", 1, out, err)

    def consume(self, broker, topic, group, output_path, work):
        # kcat's simple consumer (no group): every partition, from the
        # beginning, exiting once all have reached their end.
        argv = [paths.require_program("kcat"), "-b", broker.bootstrap, "-t", topic, "-C", "-e",
                "-q", "-o", "beginning", "-f", "%p\t%o\t%k\t%s\t%h\n"]
        with open(output_path, "wb") as out:
            code, _, err = procs.run(argv, timeout=600, stdout=out)
        _check("kcat -C", code, b"", err)


class ConfluentPython:
    """confluent-kafka-python (its bundled librdkafka), in this process."""

    name = "python"
    headers_mode = "per-record"

    def create_topic(self, broker, topic, partitions):
        from confluent_kafka.admin import AdminClient, NewTopic
        admin = AdminClient({"bootstrap.servers": broker.bootstrap})
        futures = admin.create_topics([NewTopic(topic, num_partitions=partitions,
                                                replication_factor=1)], operation_timeout=60)
        try:
            futures[topic].result(timeout=90)
        except Exception as error:  # KafkaException, timeouts: all fail the step
            raise StepError(f"AdminClient.create_topics: {error}") from error
        metadata = admin.list_topics(topic=topic, timeout=30)
        got = len(metadata.topics[topic].partitions)
        if got != partitions:
            raise StepError(f"created {topic} with {partitions} partitions, metadata shows {got}")
        # All topics: librdkafka's Metadata v12 for every topic carries bytes
        # after its body, which Kafka ignores (a broker refusing them drops
        # the connection and this times out).
        try:
            everything = admin.list_topics(timeout=30)
        except Exception as error:
            raise StepError(f"AdminClient.list_topics() (all topics): {error}") from error
        if topic not in everything.topics:
            raise StepError(f"list_topics() of all topics does not show {topic}")

    def produce(self, broker, topic, codec, input_path, count, work):
        from confluent_kafka import Producer
        producer = Producer({"bootstrap.servers": broker.bootstrap, "enable.idempotence": True,
                             "acks": "all", "compression.type": codec, "linger.ms": 20,
                             "queue.buffering.max.messages": 1000000})
        errors = []

        def delivered(error, _message):
            if error is not None:
                errors.append(str(error))

        deadline = time.monotonic() + 600
        sent = 0
        with open(input_path) as source:
            for seq, line in enumerate(source):
                sent += 1
                key, value = line.rstrip("\n").split("\t", 1)
                headers = records.headers_of(seq, self.name)
                while True:
                    try:
                        producer.produce(topic, value=value, key=key, headers=headers,
                                         on_delivery=delivered)
                        break
                    except BufferError:
                        producer.poll(0.1)
                        if time.monotonic() > deadline:
                            raise StepError("producer queue stayed full")
                if seq % 10000 == 0:
                    producer.poll(0)
        if sent != count:
            raise StepError(f"{input_path} holds {sent} records, {count} expected")
        left = producer.flush(max(1.0, deadline - time.monotonic()))
        if left:
            raise StepError(f"{left} records still unacknowledged after flush")
        if errors:
            raise StepError(f"{len(errors)} records not acknowledged; first error: {errors[0]}")

    def consume(self, broker, topic, group, output_path, work):
        from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, TopicPartition
        # confluent-kafka's Consumer cannot be made without a group.id (and
        # librdkafka's assign() needs one). Without --groups the id is only
        # a name: the consumer is assigned its partitions, joins nothing and
        # commits nothing (librdkafka may still look the group's coordinator
        # up in the background, with FindCoordinator).
        consumer = Consumer({"bootstrap.servers": broker.bootstrap,
                             "group.id": group or f"{topic}-assign-only",
                             "auto.offset.reset": "earliest", "enable.auto.commit": False,
                             "enable.partition.eof": True, "fetch.max.bytes": 52428800,
                             "max.partition.fetch.bytes": 8388608})
        try:
            metadata = consumer.list_topics(topic, timeout=30)
            partitions = sorted(metadata.topics[topic].partitions)
            end = {}
            for partition in partitions:
                _, high = consumer.get_watermark_offsets(TopicPartition(topic, partition),
                                                         timeout=30)
                end[partition] = high
            next_offset = {partition: 0 for partition in partitions}
            if group is None:
                consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING)
                                 for p in partitions])
            else:
                consumer.subscribe([topic])
            deadline = time.monotonic() + 600
            count = 0
            with open(output_path, "w") as out:
                while any(next_offset[p] < end[p] for p in partitions):
                    if time.monotonic() > deadline:
                        raise StepError(f"consumed {count} records, end offsets {end} not "
                                        f"reached")
                    for message in consumer.consume(num_messages=10000, timeout=1.0):
                        error = message.error()
                        if error is not None:
                            if error.code() == KafkaError._PARTITION_EOF:
                                continue
                            raise StepError(f"consume: {error}")
                        headers = records.format_headers(
                            (name, (value or b"").decode())
                            for name, value in (message.headers() or []))
                        key = (message.key() or b"").decode()
                        value = (message.value() or b"").decode()
                        out.write(f"{message.partition()}\t{message.offset()}\t{key}\t{value}\t"
                                  f"{headers}\n")
                        next_offset[message.partition()] = message.offset() + 1
                        count += 1
            if group is None:
                return
            wanted = [TopicPartition(topic, p, end[p]) for p in partitions]
            consumer.commit(offsets=wanted, asynchronous=False)
            for committed in consumer.committed([TopicPartition(topic, p) for p in partitions],
                                                timeout=30):
                if committed.offset != end[committed.partition]:
                    raise StepError(f"committed offset of partition {committed.partition} "
                                    f"reads back as {committed.offset}, expected "
                                    f"{end[committed.partition]}")
        finally:
            consumer.close()


class JavaClient:
    """Apache Kafka's Java client (tests/compat/java/src/FloeCompatClient.java)."""

    name = "java"
    headers_mode = "per-record"

    def create_topic(self, broker, topic, partitions):
        code, out, err = procs.run(java.client_argv("create-topic", broker.bootstrap, topic,
                                                    partitions), timeout=180)
        _check("Admin.createTopics", code, out, err)

    def produce(self, broker, topic, codec, input_path, count, work):
        code, out, err = procs.run(java.client_argv("produce", broker.bootstrap, topic, codec,
                                                    input_path, self.name), timeout=600)
        _check("KafkaProducer", code, out, err)

    def consume(self, broker, topic, group, output_path, work):
        if group is None:
            argv = java.client_argv("dump", broker.bootstrap, topic, output_path)
        else:
            argv = java.client_argv("consume", broker.bootstrap, topic, group, output_path)
        code, out, err = procs.run(argv, timeout=700)
        _check("KafkaConsumer", code, out, err)


class KafkaJs:
    """KafkaJS under node (tests/compat/js/compat_client.js)."""

    name = "kafkajs"
    headers_mode = "per-record"

    def _run(self, step, *args, timeout=600):
        if not paths.NODE_MODULES.joinpath("kafkajs").is_dir():
            raise StepError(f"{paths.NODE_MODULES} has no kafkajs: run scripts/install-deps.sh")
        env = dict(os.environ, NODE_PATH=str(paths.NODE_MODULES))
        argv = [paths.require_program("node"), str(paths.JS_DIR / "compat_client.js"),
                *[str(arg) for arg in args]]
        code, out, err = procs.run(argv, timeout=timeout, env=env)
        _check(step, code, out, err)

    def create_topic(self, broker, topic, partitions):
        self._run("admin.createTopics", "create-topic", broker.bootstrap, topic, partitions,
                  timeout=180)

    def produce(self, broker, topic, codec, input_path, count, work):
        self._run("producer.send", "produce", broker.bootstrap, topic, codec, input_path,
                  self.name)

    def consume(self, broker, topic, group, output_path, work):
        if group is None:
            self._run("fetch (no group)", "dump", broker.bootstrap, topic, output_path,
                      timeout=700)
        else:
            self._run("consumer.run", "consume", broker.bootstrap, topic, group, output_path,
                      timeout=700)


CLIENTS = {driver.name: driver for driver in (Kcat(), ConfluentPython(), JavaClient(), KafkaJs())}
