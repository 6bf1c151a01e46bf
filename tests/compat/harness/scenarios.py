"""The scenarios: one per client, Kafka's command-line tools, and restarts.

A scenario gets a started broker and a work directory and returns a list of
Outcome values (one per codec for the client scenarios); it raises nothing
for a failed check: a failure is an Outcome with ok=False and the reason.
"""

import collections
import json
import random
import re
import secrets
import threading
import time

from . import brokers, clients, java, procs, records, wire

CODECS = ("gzip", "snappy", "lz4", "zstd")
PARTITIONS = 6


class Outcome:
    def __init__(self, scenario, part, ok, detail="", seconds=0.0, notes=()):
        self.scenario = scenario
        self.part = part
        self.ok = ok
        self.detail = detail
        self.seconds = seconds
        self.notes = list(notes)

    @property
    def name(self):
        return f"{self.scenario}/{self.part}" if self.part else self.scenario


def _token():
    return secrets.token_hex(3)


_records_file_lock = threading.Lock()


def records_file(work, count):
    """The shared input file of `count` records (key TAB value per line).
    Lanes run concurrently and share it: it is written once, under a lock,
    and appears under its name only when complete."""
    path = work / f"records-{count}.txt"
    with _records_file_lock:
        if not path.exists():
            partial = path.with_suffix(".partial")
            records.write_input(partial, count)
            partial.rename(path)
    return path


def codec_mismatch_allowed(client, broker):
    """Known cases where a client may send other than the codec it was given.

    Debian's librdkafka 2.0.2 (kcat) decides which codecs a broker supports
    from the Produce versions the broker advertises; it is the client's
    choice, so against Apache Kafka it is reported, not failed. Floe must
    make it compress.
    """
    return client.name == "kcat" and broker.kind == "kafka"


def run_client_codec(client, broker, codec, count, work, groups=False):
    """One client, one codec: create, produce, read back (in a group when
    `groups`, else by explicit assignment; see clients.py), check."""
    topic = f"compat-{client.name}-{codec}-{_token()}"
    group = f"{topic}-group" if groups else None
    input_path = records_file(work, count)
    output_path = work / f"{topic}.consumed.tsv"
    timings = {}
    notes = []
    step = "create topic"
    started = time.monotonic()
    try:
        client.create_topic(broker, topic, PARTITIONS)
        timings["create"] = time.monotonic() - started
        step = "produce"
        mark = time.monotonic()
        client.produce(broker, topic, codec, input_path, count, work)
        timings["produce"] = time.monotonic() - mark
        step = "consume"
        mark = time.monotonic()
        client.consume(broker, topic, group, output_path, work)
        timings["consume"] = time.monotonic() - mark
    except (clients.StepError, RuntimeError, OSError) as error:
        return Outcome(client.name, codec, False, f"{step} failed: {error}",
                       time.monotonic() - started)
    step = "verify"
    consumed = records.read_consumed(output_path)
    report = records.verify(consumed, count, client.name, client.headers_mode)
    seconds = time.monotonic() - started
    timing = " ".join(f"{name} {value:.1f}s" for name, value in timings.items())
    if not report:
        return Outcome(client.name, codec, False,
                       f"{len(consumed)} records read back, {report.count} problems "
                       f"(consumed records in {output_path}):\n  {report.summary()}", seconds)
    try:
        stored = wire.stored_codecs(broker.port, topic, range(PARTITIONS))
    except (OSError, ValueError) as error:
        return Outcome(client.name, codec, False, f"Fetch v4 of the stored batches: {error}",
                       seconds)
    seen = sorted(set(stored.values()))
    if seen != [codec]:
        message = f"asked for {codec}, the stored batches carry {', '.join(seen) or 'nothing'}"
        if not codec_mismatch_allowed(client, broker):
            return Outcome(client.name, codec, False, message, seconds)
        notes.append(message + " (known librdkafka 2.0.2 behaviour with this broker; "
                               "not failed)")
    output_path.unlink()
    how = "read without a group" if client.name == "kcat" else \
        "read in a group, commit checked" if groups else "read by assignment"
    return Outcome(client.name, codec, True, f"{count} records ok ({how}); {timing}; "
                   f"stored codec {'/'.join(seen)}", seconds, notes)


# ---------------------------------------------------------------- kafka-tools

class _ToolFailure(Exception):
    pass


def _tool(main_class, args, *, expect_exit=0, input_bytes=None, timeout=180):
    code, out, err = java.run_tool(main_class, [str(arg) for arg in args], timeout=timeout,
                                   input_bytes=input_bytes)
    if code != expect_exit:
        short = main_class.rsplit(".", 1)[-1]
        outcome = "timed out" if code is None else f"exit {code}"
        tail = "\n".join((out + err).strip().splitlines()[-20:])
        raise _ToolFailure(f"{short} {' '.join(map(str, args))}: {outcome}\n{tail}")
    return out


def _expect(condition, message):
    if not condition:
        raise _ToolFailure(message)


def _offsets(text, topic):
    """GetOffsetShell output `topic:partition:offset` lines as {partition: offset}."""
    found = {}
    for line in text.splitlines():
        match = re.fullmatch(rf"{re.escape(topic)}:(\d+):(-?\d+)", line.strip())
        if match:
            found[int(match.group(1))] = int(match.group(2))
    return found


TOPICS = "org.apache.kafka.tools.TopicCommand"
CONFIGS = "kafka.admin.ConfigCommand"
PRODUCER = "org.apache.kafka.tools.ConsoleProducer"
CONSUMER = "org.apache.kafka.tools.consumer.ConsoleConsumer"
GET_OFFSETS = "org.apache.kafka.tools.GetOffsetShell"
DELETE_RECORDS = "org.apache.kafka.tools.DeleteRecordsCommand"
PERF = "org.apache.kafka.tools.ProducerPerformance"


def run_kafka_tools(broker, count, work, groups=False):
    """Kafka's command-line tools, each through its main class, output checked.

    The console consumer reads without a group (one run per partition,
    --partition/--offset earliest) unless `groups`: then one run in a group
    (--group, --from-beginning)."""
    outcomes = []
    bootstrap = ["--bootstrap-server", broker.bootstrap]
    topic = f"compat-tools-{_token()}"
    lines = min(count, 5000)

    def step(part, action):
        started = time.monotonic()
        try:
            detail = action() or ""
            outcomes.append(Outcome("kafka-tools", part, True, detail,
                                    time.monotonic() - started))
            return True
        except (_ToolFailure, OSError, ValueError) as error:
            outcomes.append(Outcome("kafka-tools", part, False, str(error),
                                    time.monotonic() - started))
            return False

    def create():
        out = _tool(TOPICS, [*bootstrap, "--create", "--topic", topic, "--partitions", 3,
                             "--replication-factor", 1])
        _expect(f"Created topic {topic}." in out, f"--create printed {out!r}")

    def describe(partitions):
        out = _tool(TOPICS, [*bootstrap, "--describe", "--topic", topic])
        _expect(re.search(rf"Topic: {re.escape(topic)}\s.*PartitionCount: {partitions}\s", out),
                f"--describe does not show PartitionCount: {partitions}:\n{out}")
        rows = re.findall(rf"Topic: {re.escape(topic)}\s+Partition: (\d+)\s+Leader: (\d+)", out)
        _expect(sorted(int(p) for p, _ in rows) == list(range(partitions)),
                f"--describe partition rows {rows}, expected 0..{partitions - 1}:\n{out}")
        return f"PartitionCount {partitions}, leaders {sorted(set(l for _, l in rows))}"

    def alter():
        _tool(TOPICS, [*bootstrap, "--alter", "--topic", topic, "--partitions", 6])
        deadline = time.monotonic() + 30
        while True:
            try:
                return describe(6)
            except _ToolFailure:
                if time.monotonic() > deadline:
                    raise
                time.sleep(1)

    sent = [f"key-{i % 50:02d}:value-{i:06d}" for i in range(lines)]

    def console_produce():
        text = "\n".join(sent) + "\n"
        _tool(PRODUCER, [*bootstrap, "--topic", topic, "--compression-codec", "zstd",
                         "--property", "parse.key=true",
                         "--property", "key.separator=:",
                         "--producer-property", "acks=all"], input_bytes=text.encode())
        stored = wire.stored_codecs(broker.port, topic, range(6))
        _expect(set(stored.values()) == {"zstd"},
                f"--compression-codec zstd, stored batches carry {stored}")
        return f"{lines} records, stored as zstd"

    consumer_format = ["--property", "print.key=true", "--property", "key.separator=:",
                       "--property", "print.partition=true", "--property", "print.offset=true"]

    def parse_console(out):
        """`Partition:P<sep>Offset:O<sep>key:value` lines as (partition, offset, line)."""
        read = []
        for line in out.splitlines():
            if not line.strip():
                continue
            match = re.fullmatch(r"Partition:(\d+)[\t:]Offset:(\d+)[\t:](key-\d+:value-\d+)",
                                 line.strip())
            _expect(match, f"console consumer printed {line[:200]!r}")
            read.append((int(match.group(1)), int(match.group(2)), match.group(3)))
        return read

    def console_consume():
        if groups:
            # One consumer in a group, subscribed to the topic.
            read = parse_console(_tool(CONSUMER, [
                *bootstrap, "--topic", topic, "--from-beginning", "--max-messages", lines,
                "--timeout-ms", 60000, "--group", f"{topic}-group", *consumer_format],
                timeout=240))
            how = f"one consumer in group {topic}-group"
        else:
            # No group: one consumer per partition (--partition assigns it),
            # from the earliest offset, as many records as GetOffsetShell's
            # latest offset says the partition holds.
            read = []
            for partition, latest in sorted(state["latest"].items()):
                if latest == 0:
                    continue
                got = parse_console(_tool(CONSUMER, [
                    *bootstrap, "--topic", topic, "--partition", partition, "--offset",
                    "earliest", "--max-messages", latest, "--timeout-ms", 60000,
                    *consumer_format], timeout=240))
                _expect(all(p == partition for p, _, _ in got),
                        f"--partition {partition} printed records of partitions "
                        f"{sorted(set(p for p, _, _ in got))}")
                read.extend(got)
            how = "one consumer per partition, no group"
        _expect(len(read) == lines, f"console consumer printed {len(read)} records, "
                                    f"expected {lines}")
        got = [line for _, _, line in read]
        _expect(sorted(got) == sorted(sent), "console consumer output differs from what the "
                                             "console producer sent")
        # Per partition, offsets in read order contiguous from 0 to the end.
        report = records.Report()
        records.check_offsets([records.Consumed(p, o, "", "", "") for p, o, _ in read], report,
                              end_offsets=state["latest"])
        _expect(report, f"console consumer offsets: {report.summary()}")
        # Per key: one partition, and the producing order.
        by_key = collections.defaultdict(list)
        partition_of = {}
        for partition, _, line in read:
            key, value = line.split(":", 1)
            by_key[key].append(value)
            _expect(partition_of.setdefault(key, partition) == partition,
                    f"console consumer: {key} read from partitions {partition_of[key]} and "
                    f"{partition}")
        _expect(all(values == sorted(values) for values in by_key.values()),
                "console consumer: a key's records out of producing order")
        return f"{lines} records read back ({how}), offsets contiguous, per-key order kept"

    def get_offsets():
        latest = _offsets(_tool(GET_OFFSETS, [*bootstrap, "--topic", topic]), topic)
        _expect(sorted(latest) == list(range(6)), f"GetOffsetShell partitions {sorted(latest)}")
        _expect(sum(latest.values()) == lines,
                f"latest offsets {latest} add up to {sum(latest.values())}, not {lines}")
        earliest = _offsets(_tool(GET_OFFSETS, [*bootstrap, "--topic", topic, "--time", -2]),
                            topic)
        _expect(earliest == {p: 0 for p in range(6)}, f"earliest offsets {earliest}")
        state["latest"] = latest
        return f"latest {latest}"

    def delete_records():
        partition = max(state["latest"], key=state["latest"].get)
        cut = state["latest"][partition] // 2
        spec = work / f"{topic}-delete.json"
        spec.write_text(json.dumps({"version": 1, "partitions": [
            {"topic": topic, "partition": partition, "offset": cut}]}))
        out = _tool(DELETE_RECORDS, [*bootstrap, "--offset-json-file", spec])
        _expect(re.search(rf"partition: {re.escape(topic)}-{partition}\s+low_watermark: {cut}\b",
                          out), f"DeleteRecordsCommand printed {out!r}")
        earliest = _offsets(_tool(GET_OFFSETS, [*bootstrap, "--topic", topic, "--time", -2]),
                            topic)
        _expect(earliest.get(partition) == cut,
                f"after deleting below {cut} on partition {partition}, earliest {earliest}")
        return f"partition {partition} low watermark {cut}"

    def configs():
        entity = ["--entity-type", "topics", "--entity-name", topic]
        out = _tool(CONFIGS, [*bootstrap, *entity, "--alter", "--add-config",
                              "retention.ms=3600000"])
        _expect(f"Completed updating config for topic {topic}." in out,
                f"ConfigCommand --alter printed {out!r}")
        out = _tool(CONFIGS, [*bootstrap, *entity, "--describe"])
        _expect("retention.ms=3600000" in out, f"ConfigCommand --describe printed {out!r}")
        _tool(CONFIGS, [*bootstrap, *entity, "--alter", "--delete-config", "retention.ms"])
        out = _tool(CONFIGS, [*bootstrap, *entity, "--describe"])
        _expect("retention.ms=3600000" not in out,
                f"retention.ms still set after --delete-config: {out!r}")
        return "retention.ms set, described, removed"

    def perf():
        perf_topic = f"{topic}-perf"
        perf_records = max(1000, count // 2)
        create_out = _tool(TOPICS, [*bootstrap, "--create", "--topic", perf_topic,
                                    "--partitions", 6, "--replication-factor", 1])
        _expect(f"Created topic {perf_topic}." in create_out, f"--create printed {create_out!r}")
        out = _tool(PERF, ["--topic", perf_topic, "--num-records", perf_records,
                           "--record-size", 100, "--throughput", -1, "--producer-props",
                           f"bootstrap.servers={broker.bootstrap}", "acks=all",
                           "enable.idempotence=true", "linger.ms=10", "batch.size=131072"],
                    timeout=300)
        match = re.search(rf"^{perf_records} records sent, .* records/sec .*", out, re.M)
        _expect(match, f"ProducerPerformance summary missing:\n{out[-2000:]}")
        latest = _offsets(_tool(GET_OFFSETS, [*bootstrap, "--topic", perf_topic]), perf_topic)
        _expect(sum(latest.values()) == perf_records,
                f"after ProducerPerformance the latest offsets add up to "
                f"{sum(latest.values())}, not {perf_records}")
        return match.group(0)

    def delete():
        out = _tool(TOPICS, [*bootstrap, "--delete", "--topic", topic])
        _expect("rror" not in out, f"--delete printed {out!r}")
        deadline = time.monotonic() + 60
        while True:
            listed = _tool(TOPICS, [*bootstrap, "--list"]).split()
            if topic not in listed:
                return f"{topic} gone from --list"
            if time.monotonic() > deadline:
                raise _ToolFailure(f"{topic} still listed 60 s after --delete")
            time.sleep(1)

    state = {}
    # Later steps need earlier ones; after a failure the rest are not run.
    plan = [("topics-create", create), ("topics-describe", lambda: describe(3)),
            ("topics-alter-partitions", alter), ("console-producer", console_produce),
            ("get-offsets", get_offsets), ("console-consumer", console_consume),
            ("delete-records", delete_records), ("configs", configs),
            ("producer-performance", perf), ("topics-delete", delete)]
    for part, action in plan:
        if not step(part, action):
            skipped = [name for name, _ in plan[len(outcomes):]]
            if skipped:
                outcomes.append(Outcome("kafka-tools", "skipped", False,
                                        f"not run after the failure: {', '.join(skipped)}"))
            break
    return outcomes


# -------------------------------------------------------------------- restart

def _ack_lines(path):
    """Complete lines of the producer's acknowledgement log."""
    try:
        text = path.read_text()
    except FileNotFoundError:
        return []
    return text.splitlines()[:text.count("\n")]


def run_restart(broker, count, work, kills=2, seed=None, groups=False):
    """An idempotent producer through broker crashes: nothing acked lost, nothing twice.

    The Java client's paced-produce writes `count` records at a rate that
    spreads them over about 20 s of broker uptime and logs every outcome.
    Meanwhile the broker is SIGKILLed `kills` times, each at a random point
    of progress, and restarted at once on the same data directory. Then the
    whole topic is read back and checked: every acknowledged record is
    present, at the partition and offset its acknowledgement gave; no record
    is present twice; offsets contiguous. The read-back assigns every
    partition and reads from the beginning, without a group; with `groups`
    it runs in a consumer group instead, and commits and checks the end
    offsets (after the restarts).
    """
    rng = random.Random(seed)
    started = time.monotonic()
    topic = f"compat-restart-{_token()}"
    input_path = records_file(work, count)
    ack_log = work / f"{topic}.acks.tsv"
    dump_path = work / f"{topic}.consumed.tsv"
    producer_log = work / f"{topic}.producer.log"
    notes = []
    try:
        code, out, err = procs.run(java.client_argv("create-topic", broker.bootstrap, topic,
                                                    PARTITIONS), timeout=180)
        if code != 0:
            raise clients.StepError(f"create-topic: exit {code}\n{(out + err).decode()[-2000:]}")
    except (clients.StepError, RuntimeError) as error:
        return [Outcome("restart", "", False, str(error), time.monotonic() - started)]

    rate = max(500, count // 20)
    # Kill points: fractions of the records acknowledged, spread out, random.
    points = sorted(rng.uniform(0.1 + i * 0.8 / kills, 0.1 + (i + 0.75) * 0.8 / kills)
                    for i in range(kills))
    with open(producer_log, "wb") as log:
        producer = procs.spawn(java.client_argv("paced-produce", broker.bootstrap, topic,
                                                input_path, rate, ack_log),
                               stdout=log, stderr=log)
    failure = None
    try:
        deadline = time.monotonic() + 900
        for number, point in enumerate(points, 1):
            target = int(point * count)
            while len(_ack_lines(ack_log)) < target:
                if producer.poll() is not None:
                    failure = (f"producer exited (code {producer.returncode}) before kill "
                               f"#{number} at {target} acknowledgements")
                    break
                if time.monotonic() > deadline:
                    failure = f"kill #{number}: {target} acknowledgements not reached in time"
                    break
                time.sleep(0.05)
            if failure:
                break
            time.sleep(rng.uniform(0.0, 0.5))
            acked_before = len(_ack_lines(ack_log))
            broker.kill()
            down = time.monotonic()
            broker.start()
            notes.append(f"kill #{number} after {acked_before} acks, back in "
                         f"{time.monotonic() - down:.1f}s")
        if not failure:
            try:
                producer.wait(timeout=max(1.0, deadline - time.monotonic()))
            except Exception:  # subprocess.TimeoutExpired
                failure = "producer did not finish in time"
            else:
                if producer.returncode != 0:
                    failure = f"producer exit {producer.returncode}"
    except brokers.BrokerError as error:
        failure = f"broker restart failed: {error}"
    finally:
        if producer.poll() is None:
            procs.kill(producer)
    if failure:
        return [Outcome("restart", "", False, f"{failure}; producer log {producer_log}:\n"
                        f"{brokers.log_tail(producer_log, 20)}", time.monotonic() - started,
                        notes)]

    acked = {}
    not_acked = 0
    for line in _ack_lines(ack_log):
        seq, partition, offset = line.split("\t", 2)
        if partition == "ERR":
            not_acked += 1
        else:
            acked[int(seq)] = (int(partition), int(offset))
    if groups:
        reader = java.client_argv("consume", broker.bootstrap, topic, f"{topic}-group", dump_path)
    else:
        reader = java.client_argv("dump", broker.bootstrap, topic, dump_path)
    code, out, err = procs.run(reader, timeout=700)
    if code != 0:
        return [Outcome("restart", "", False, f"reading the topic back: exit {code}\n"
                        f"{(out + err).decode(errors='replace')[-2000:]}",
                        time.monotonic() - started, notes)]
    consumed = records.read_consumed(dump_path)
    report = records.Report()
    seen = {}
    for record in consumed:
        seq = records.seq_of(record.value)
        where = f"seq {seq} (partition {record.partition} offset {record.offset})"
        if seq in seen:
            report.add(f"{where}: duplicate of partition {seen[seq][0]} offset {seen[seq][1]}")
            continue
        seen[seq] = (record.partition, record.offset)
        if record.key != records.key_of(seq) or record.value != records.value_of(seq):
            report.add(f"{where}: key or value differs")
        if seq in acked and acked[seq] != (record.partition, record.offset):
            report.add(f"{where}: acknowledged at partition {acked[seq][0]} "
                       f"offset {acked[seq][1]}")
    lost = [seq for seq in sorted(acked) if seq not in seen]
    if lost:
        report.add(f"{len(lost)} acknowledged records missing (first: {lost[:10]})")
    records.check_offsets(consumed, report)
    seconds = time.monotonic() - started
    summary = (f"{len(acked)} acknowledged, {not_acked} not, {len(consumed)} read back "
               f"({'in a group, commit checked' if groups else 'by assignment'}), {kills} kills")
    if not report:
        return [Outcome("restart", "", False, f"{summary}; {report.count} problems:\n  "
                        f"{report.summary()}", seconds, notes)]
    if len(notes) < kills:
        return [Outcome("restart", "", False, f"only {len(notes)} of {kills} kills happened",
                        seconds, notes)]
    return [Outcome("restart", "", True, summary, seconds, notes)]
