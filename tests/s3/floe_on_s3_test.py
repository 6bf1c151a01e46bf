#!/usr/bin/env python3
"""`floe serve` on S3 instead of the local object store: configuration only.

  .deps/venv/bin/python tests/s3/floe_on_s3_test.py --floe-bin build/floe

Starts moto's S3 server (`python -m moto.server` from .deps/venv) on a free
loopback port, then runs the same broker binary, unchanged, against it with
the S3 settings given each way Floe reads settings, each case with its own
bucket and key prefix:

  toml                      a TOML file (--config): [object_store] type = "s3";
                            [s3] endpoint, bucket, path_style, region, prefix,
                            access_key_id, secret_access_key; [upload]
  env-floe                  Floe's environment variables only (FLOE_OBJECT_STORE_TYPE,
                            FLOE_S3_ENDPOINT, FLOE_S3_PATH_STYLE, FLOE_S3_*, FLOE_UPLOAD_*)
  env-aws                   the standard AWS variables for endpoint, region and
                            credentials (AWS_ENDPOINT_URL_S3, AWS_REGION,
                            AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY), FLOE_* for
                            the type, bucket, prefix and upload settings
  flags-upload-at-shutdown  command-line flags (--object-store-type s3, --s3-...)

In each: an idempotent acks=all producer (confluent-kafka) writes --records
records of known content (binary values, null keys, headers, CreateTime
timestamps) to a topic of 3 partitions, each acknowledgement checked against
the partition and offset it must have.

The first three cases set upload.bytes = 64 KiB and upload.interval_ms = 10
minutes: Floe's objects must appear in the bucket before the broker is
stopped (bounded wait), which shows that upload.bytes was applied. The last
sets both thresholds out of reach: no object may appear within 3 s (the
default interval, 1 s, would upload), and the SIGTERM must upload everything.

Then the broker is stopped with SIGTERM (exit code 0, no failed final upload,
no error logged) and the bucket is checked: every key Floe wrote is
<prefix>/n1/<20-digit id>, every object ends in a valid Floe object footer
(docs/format/object.md) naming that id, the objects hold at least the
produced bytes, an object outside the prefix is untouched and no local
object directory was created. The broker is started again on the same data
directory and everything is read back (assign() of every partition): per
partition, offsets contiguous from 0, every record byte-identical (key,
value, headers, timestamp) and in producing order; moto's request log must
show GETs of Floe's objects during the read-back, i.e. the data came from S3.

Last (case `wrong`), three wrong configurations must stop `floe serve` at
start, before it serves Kafka, with a non-zero exit and an error saying what
is wrong: an endpoint where nothing listens (Floe retries for about 8 s
first), a bucket that does not exist, and an endpoint without a scheme.

Every case also passes --wal-capacity-bytes 64 MiB (not an S3 setting: the
default WAL, 1 GiB, is allocated on disk per data directory). The broker's
environment is scrubbed of every AWS_* and FLOE_* variable, so only what a
case sets is used. Every process started here is stopped at the end, also
on failure or interruption. Exit code 0 when every check passed, 1
otherwise, 2 for a usage error; on failure the work directory (logs, data
directories) is kept and named.
"""

import argparse
import hashlib
import os
import pathlib
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import time

REPO = pathlib.Path(__file__).resolve().parent.parent.parent
sys.path.insert(0, str(REPO / "tests" / "compat"))

from harness import procs, wire  # noqa: E402

PARTITIONS = 3
NODE_ID = 1
ACCESS_KEY = "floe-test-access-key"
SECRET_KEY = "floe-test-secret-key"
REGION = "eu-west-1"
BASE_TIMESTAMP_MS = 1_700_000_000_000

# Object footer (docs/format/object.md): the last 48 bytes of every object.
FOOTER_SIZE = 48
FOOTER_MAGIC = b"FLOEOBJ1"
FOOTER_VERSION = 1


class TestFailure(Exception):
    pass


def log(message):
    print(f"[s3-test {time.strftime('%H:%M:%S')}] {message}", flush=True)


def check(condition, message):
    if not condition:
        raise TestFailure(message)


def tail(path, lines=40):
    try:
        text = pathlib.Path(path).read_text(errors="replace")
    except OSError:
        return "(no log)"
    return "\n".join(text.splitlines()[-lines:])


# Children die with this process even when it is SIGKILLed (util-linux's
# setpriv sets PR_SET_PDEATHSIG, then execs the command: same pid, same group).
DIE_WITH_PARENT = ["setpriv", "--pdeathsig", "KILL", "--"] if shutil.which("setpriv") else []


def spawn(argv, log_file, env):
    """Starts argv in its own process group (procs.spawn: stopped at exit or on a signal)."""
    return procs.spawn(DIE_WITH_PARENT + argv, stdout=log_file, stderr=log_file, env=env)


def child_env(extra=None):
    """This process's environment without any AWS_* or FLOE_* variable, plus extra."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("AWS_") and not k.startswith("FLOE_")}
    env.update(extra or {})
    return env


# ---- records ----------------------------------------------------------------

def expected_record(seq):
    """Record seq: (partition, key, value, headers, timestamp_ms)."""
    partition = seq % PARTITIONS
    key = None if seq % 500 == 3 else f"key-{seq % 101:03d}".encode()
    digest = hashlib.blake2b(seq.to_bytes(8, "big"), digest_size=64).digest()
    length = 1 + (seq * 7919) % 700
    value = (f"{seq:010d}:".encode() + digest * (length // 64 + 1))[:max(length, 11)]
    headers = [("seq", str(seq).encode()), ("bin", bytes([seq % 256, 0, 255 - seq % 256]))]
    return partition, key, value, headers, BASE_TIMESTAMP_MS + seq


def payload_bytes(count):
    return sum(len(r[1] or b"") + len(r[2]) for r in map(expected_record, range(count)))


# ---- moto -------------------------------------------------------------------

class Moto:
    """moto's S3 server, `python -m moto.server`, as a child process."""

    def __init__(self, work_dir, python):
        self.work_dir = work_dir
        self.python = python
        self.proc = None
        self.port = None
        self.log_path = work_dir / "moto.log"

    @property
    def endpoint(self):
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout=60.0):
        for _ in range(3):  # a port taken between free_port() and moto's bind: try another
            self.port = wire.free_port()
            with open(self.log_path, "ab") as out:
                self.proc = spawn([self.python, "-m", "moto.server", "-H", "127.0.0.1",
                                   "-p", str(self.port)], out, child_env())
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline and self.proc.poll() is None:
                if self._answers():
                    return
                time.sleep(0.1)
            if self.proc.poll() is None:
                procs.kill(self.proc)
                raise TestFailure(f"moto did not answer on {self.endpoint} within {timeout:.0f} s;"
                                  f" log {self.log_path}:\n{tail(self.log_path)}")
        raise TestFailure(f"moto exited at start three times; log {self.log_path}:\n"
                          f"{tail(self.log_path)}")

    def _answers(self):
        import urllib.request
        try:
            with urllib.request.urlopen(f"{self.endpoint}/moto-api/", timeout=2) as response:
                return response.status == 200
        except OSError:
            return False

    def log_size(self):
        return self.log_path.stat().st_size

    def log_since(self, position):
        """moto's log from position on, without the terminal colours werkzeug adds."""
        with open(self.log_path, "rb") as f:
            f.seek(position)
            return re.sub(r"\x1b\[[0-9;]*m", "", f.read().decode(errors="replace"))

    def stop(self):
        if self.proc is not None:
            procs.stop(self.proc, grace_seconds=10)
            self.proc = None


def s3_client(endpoint):
    import boto3
    from botocore.config import Config
    return boto3.client("s3", endpoint_url=endpoint, aws_access_key_id=ACCESS_KEY,
                        aws_secret_access_key=SECRET_KEY, region_name="us-east-1",
                        config=Config(s3={"addressing_style": "path"},
                                      retries={"max_attempts": 3}))


def list_keys(s3, bucket):
    """{key: size} of every object in the bucket."""
    found = {}
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        for item in page.get("Contents", []):
            found[item["Key"]] = item["Size"]
    return found


# ---- floe -------------------------------------------------------------------

class Floe:
    """`floe serve --listen 127.0.0.1:PORT --data-dir DIR [args]` with a given environment."""

    def __init__(self, binary, work_dir, args=(), env=None):
        self.binary = binary
        self.data_dir = work_dir / "data"
        self.log_path = work_dir / "floe.log"
        self.port = wire.free_port()
        self.args = list(args)
        self.env = child_env(env)
        self.proc = None
        self.starts = 0

    @property
    def bootstrap(self):
        return f"127.0.0.1:{self.port}"

    def argv(self):
        return [self.binary, "serve", "--listen", self.bootstrap, "--data-dir",
                str(self.data_dir), *self.args]

    def start(self, timeout=30.0):
        self.starts += 1
        with open(self.log_path, "ab") as out:
            out.write(f"\n===== s3-test: start #{self.starts}: {' '.join(self.argv())}\n".encode())
            out.flush()
            self.proc = spawn(self.argv(), out, self.env)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise TestFailure(f"floe exited with code {self.proc.returncode} while starting;"
                                  f" log {self.log_path}:\n{tail(self.log_path)}")
            if wire.port_accepts(self.port, timeout=0.5):
                try:
                    wire.api_versions(self.port, timeout=2.0)
                    return
                except (OSError, ValueError):
                    pass
            time.sleep(0.1)
        procs.kill(self.proc)
        raise TestFailure(f"floe not ready on {self.bootstrap} after {timeout:.0f} s; "
                          f"log {self.log_path}:\n{tail(self.log_path)}")

    def stop(self, grace_seconds=60.0):
        """SIGTERM; the exit code must be 0 and the final upload must not have failed."""
        code = procs.stop(self.proc, grace_seconds=grace_seconds)
        self.proc = None
        text = self.log_path.read_text(errors="replace")
        this_run = text[text.rfind("===== s3-test: start #"):]
        check(code == 0, f"floe exited with code {code} after SIGTERM (expected 0); log "
                         f"{self.log_path}:\n{tail(self.log_path)}")
        check("final upload failed" not in this_run,
              f"floe's final upload failed at shutdown; log {self.log_path}:\n"
              f"{tail(self.log_path)}")
        check(" ERROR " not in this_run,
              f"floe logged an error; log {self.log_path}:\n{tail(self.log_path)}")

    def kill(self):
        if self.proc is not None:
            procs.kill(self.proc)
            self.proc = None


# ---- Kafka clients ----------------------------------------------------------

def create_topic(bootstrap, topic):
    from confluent_kafka.admin import AdminClient, NewTopic
    admin = AdminClient({"bootstrap.servers": bootstrap})
    futures = admin.create_topics([NewTopic(topic, num_partitions=PARTITIONS,
                                            replication_factor=1)], operation_timeout=30)
    futures[topic].result(timeout=60)
    got = len(admin.list_topics(topic=topic, timeout=30).topics[topic].partitions)
    check(got == PARTITIONS, f"created {topic} with {PARTITIONS} partitions, metadata shows {got}")


def produce(bootstrap, topic, count, timeout=300.0):
    from confluent_kafka import Producer
    producer = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True,
                         "acks": "all", "linger.ms": 5, "compression.type": "none",
                         "queue.buffering.max.messages": 1_000_000})
    problems = []
    acked = [0]

    def delivered(error, message, seq):
        partition, *_ = expected_record(seq)
        if error is not None:
            problems.append(f"record {seq}: {error}")
        elif message.partition() != partition or message.offset() != seq // PARTITIONS:
            problems.append(f"record {seq} acknowledged at {message.partition()}/"
                            f"{message.offset()}, expected {partition}/{seq // PARTITIONS}")
        else:
            acked[0] += 1

    deadline = time.monotonic() + timeout
    for seq in range(count):
        partition, key, value, headers, timestamp = expected_record(seq)
        while True:
            try:
                producer.produce(topic, value=value, key=key, partition=partition,
                                 headers=headers, timestamp=timestamp,
                                 on_delivery=lambda e, m, s=seq: delivered(e, m, s))
                break
            except BufferError:
                producer.poll(0.1)
                check(time.monotonic() < deadline, "producer queue stayed full")
        if seq % 1000 == 0:
            producer.poll(0)
    left = producer.flush(max(1.0, deadline - time.monotonic()))
    check(left == 0, f"{left} records still unacknowledged after flush")
    check(not problems, f"{len(problems)} delivery problems; first: {problems[:3]}")
    check(acked[0] == count, f"{acked[0]} of {count} records acknowledged")


def consume_and_verify(bootstrap, topic, count, timeout=300.0):
    from confluent_kafka import (OFFSET_BEGINNING, TIMESTAMP_CREATE_TIME, Consumer, KafkaError,
                                 TopicPartition)
    expected_end = {p: len(range(p, count, PARTITIONS)) for p in range(PARTITIONS)}
    # confluent-kafka needs a group.id even for assign(); the group is never joined.
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"{topic}-assign-only",
                         "enable.auto.commit": False, "enable.partition.eof": True,
                         "auto.offset.reset": "error"})
    try:
        partitions = sorted(consumer.list_topics(topic, timeout=30).topics[topic].partitions)
        check(partitions == list(range(PARTITIONS)),
              f"topic {topic} has partitions {partitions} after the restart")
        for p in partitions:
            low, high = consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=30)
            check((low, high) == (0, expected_end[p]),
                  f"partition {p}: watermarks {low}..{high}, expected 0..{expected_end[p]}")
        consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in partitions])
        next_offset = {p: 0 for p in partitions}
        deadline = time.monotonic() + timeout
        while any(next_offset[p] < expected_end[p] for p in partitions):
            check(time.monotonic() < deadline,
                  f"read back {sum(next_offset.values())} of {count} records in {timeout:.0f} s")
            for message in consumer.consume(num_messages=5000, timeout=1.0):
                error = message.error()
                if error is not None:
                    if error.code() == KafkaError._PARTITION_EOF:
                        continue
                    raise TestFailure(f"consume: {error}")
                p, offset = message.partition(), message.offset()
                check(offset == next_offset[p],
                      f"partition {p}: offset {offset} read where {next_offset[p]} was next")
                seq = offset * PARTITIONS + p
                _, key, value, headers, timestamp = expected_record(seq)
                got_headers = [(name, bytes(v) if v is not None else None)
                               for name, v in (message.headers() or [])]
                check(message.key() == key,
                      f"record {seq} ({p}/{offset}): key {message.key()!r}, expected {key!r}")
                if message.value() != value:
                    got = message.value() or b""
                    at = next((i for i, (a, b) in enumerate(zip(got, value)) if a != b),
                              min(len(got), len(value)))
                    raise TestFailure(f"record {seq} ({p}/{offset}): value differs at byte {at}"
                                      f" ({len(got)} bytes read, {len(value)} expected; there "
                                      f"{got[at:at + 8]!r} instead of {value[at:at + 8]!r})")
                check(got_headers == headers,
                      f"record {seq} ({p}/{offset}): headers {got_headers!r}, expected {headers!r}")
                check(message.timestamp() == (TIMESTAMP_CREATE_TIME, timestamp),
                      f"record {seq} ({p}/{offset}): timestamp {message.timestamp()}, "
                      f"expected CreateTime {timestamp}")
                next_offset[p] = offset + 1
        return sum(next_offset.values())
    finally:
        consumer.close()


# ---- the checks -------------------------------------------------------------

# Upload settings of the three "move data early" cases: the interval is far
# longer than any run, so an object in the bucket before SIGTERM shows that
# upload.bytes was taken from the configuration (the default, 16 MiB, is
# more than the default --records produce: under 8 MiB); what is left below it
# goes at SIGTERM.
EARLY = {"bytes": 65536, "interval_ms": 600_000}
# The shutdown case: neither threshold is reached during the run, so nothing
# may be uploaded before SIGTERM (with upload.interval_ms ignored, the
# default 1 s would upload), and SIGTERM must upload everything.
AT_SHUTDOWN = {"bytes": 1 << 30, "interval_ms": 600_000}
QUIET_SECONDS = 3.0


def toml_case(work, endpoint, bucket, prefix):
    config = work / "floe.toml"
    config.write_text(f"""# S3 instead of the local object store: nothing else differs.
[object_store]
type = "s3"

[s3]
endpoint = "{endpoint}"
bucket = "{bucket}"
path_style = true
region = "{REGION}"
prefix = "{prefix}"
access_key_id = "{ACCESS_KEY}"
secret_access_key = "{SECRET_KEY}"

[upload]
bytes = {EARLY["bytes"]}
interval_ms = {EARLY["interval_ms"]}
""")
    return ["--config", str(config)], {}


def env_floe_case(work, endpoint, bucket, prefix):
    return [], {
        "FLOE_OBJECT_STORE_TYPE": "s3",
        "FLOE_S3_ENDPOINT": endpoint,
        "FLOE_S3_BUCKET": bucket,
        "FLOE_S3_PATH_STYLE": "true",
        "FLOE_S3_REGION": REGION,
        "FLOE_S3_PREFIX": prefix,
        "FLOE_S3_ACCESS_KEY_ID": ACCESS_KEY,
        "FLOE_S3_SECRET_ACCESS_KEY": SECRET_KEY,
        "FLOE_UPLOAD_BYTES": str(EARLY["bytes"]),
        "FLOE_UPLOAD_INTERVAL_MS": str(EARLY["interval_ms"]),
    }


def env_aws_case(work, endpoint, bucket, prefix):
    # A custom AWS endpoint implies path-style requests (s3_config::from_environment).
    return [], {
        "FLOE_OBJECT_STORE_TYPE": "s3",
        "FLOE_S3_BUCKET": bucket,
        "FLOE_S3_PREFIX": prefix,
        "FLOE_UPLOAD_BYTES": str(EARLY["bytes"]),
        "FLOE_UPLOAD_INTERVAL_MS": str(EARLY["interval_ms"]),
        "AWS_ENDPOINT_URL_S3": endpoint,
        "AWS_REGION": REGION,
        "AWS_ACCESS_KEY_ID": ACCESS_KEY,
        "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
    }


def env_mixed_case(work, endpoint, bucket, prefix):
    # Floe's own credential settings with the endpoint and region left to the
    # AWS variables, and no path-style setting: every s3.* setting that is
    # empty falls back to its AWS variable, and a custom endpoint implies
    # path style.
    return [], {
        "FLOE_OBJECT_STORE_TYPE": "s3",
        "FLOE_S3_BUCKET": bucket,
        "FLOE_S3_PREFIX": prefix + "/",
        "FLOE_S3_ACCESS_KEY_ID": ACCESS_KEY,
        "FLOE_S3_SECRET_ACCESS_KEY": SECRET_KEY,
        "FLOE_UPLOAD_BYTES": str(EARLY["bytes"]),
        "FLOE_UPLOAD_INTERVAL_MS": str(EARLY["interval_ms"]),
        "AWS_ENDPOINT_URL_S3": endpoint + "/",
        "AWS_DEFAULT_REGION": REGION,
    }


def flags_case(work, endpoint, bucket, prefix):
    return ["--object-store-type", "s3", "--s3-endpoint", endpoint, "--s3-bucket", bucket,
            "--s3-path-style", "--s3-region", REGION, "--s3-prefix", prefix,
            "--s3-access-key-id", ACCESS_KEY, "--s3-secret-access-key", SECRET_KEY,
            "--upload-bytes", str(AT_SHUTDOWN["bytes"]),
            "--upload-interval-ms", str(AT_SHUTDOWN["interval_ms"])], {}


# name: (how the S3 settings are given, whether objects must appear before SIGTERM)
CASES = {
    "toml": (toml_case, True),
    "env-floe": (env_floe_case, True),
    "env-aws": (env_aws_case, True),
    "env-mixed": (env_mixed_case, True),
    "flags-upload-at-shutdown": (flags_case, False),
}

# Not S3 settings, the same for every case: a 64 MiB WAL instead of the
# default 1 GiB (which is allocated on disk for every data directory).
COMMON_ARGS = ["--wal-capacity-bytes", str(64 << 20)]


def check_bucket(s3, bucket, prefix, decoy_key, min_bytes):
    """Every key but the decoy is a Floe object under <prefix>/n<node>/; returns {key: size}."""
    keys = list_keys(s3, bucket)
    check(decoy_key in keys, f"the object {decoy_key} outside Floe's prefix was deleted")
    floe_keys = {k: v for k, v in keys.items() if k != decoy_key}
    check(floe_keys, f"bucket {bucket} holds no Floe object")
    pattern = re.compile(re.escape(prefix) + f"/n{NODE_ID}/" + r"(\d{20})")
    strays = [k for k in floe_keys if not pattern.fullmatch(k)]
    check(not strays, f"keys not of the form {prefix}/n{NODE_ID}/<20 digits>: {strays[:5]}")
    for key, size in floe_keys.items():
        check(size > FOOTER_SIZE, f"object {key} is only {size} bytes")
        footer = s3.get_object(Bucket=bucket, Key=key,
                               Range=f"bytes={size - FOOTER_SIZE}-{size - 1}")["Body"].read()
        check(len(footer) == FOOTER_SIZE, f"object {key}: read {len(footer)} footer bytes")
        object_id, version = struct.unpack_from(">QH", footer, 24)
        check(footer[40:] == FOOTER_MAGIC, f"object {key}: footer magic {footer[40:]!r}")
        check(version == FOOTER_VERSION, f"object {key}: format version {version}")
        check(object_id == int(pattern.fullmatch(key).group(1)),
              f"object {key}: footer names object id {object_id}")
    total = sum(floe_keys.values())
    check(total >= min_bytes, f"Floe's objects hold {total} bytes, less than the {min_bytes} "
                              f"bytes of keys and values produced (no compression)")
    return floe_keys


def floe_keys_in(s3, bucket, prefix):
    return [k for k in list_keys(s3, bucket) if k.startswith(prefix + "/")]


def run_case(name, moto, s3, floe_bin, records, work_root):
    work = work_root / name
    work.mkdir()
    bucket = f"floe-{name}"
    prefix = f"{name}/cluster-a"
    decoy_key = "not-floe/keep-me"
    topic = f"s3-{name}"
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key=decoy_key, Body=b"not Floe's")
    configure, early = CASES[name]
    floe_args, floe_env = configure(work, moto.endpoint, bucket, prefix)
    floe = Floe(floe_bin, work, COMMON_ARGS + floe_args, floe_env)
    started = time.monotonic()
    try:
        floe.start()
        create_topic(floe.bootstrap, topic)
        produce(floe.bootstrap, topic, records)
        produced = time.monotonic()
        if early:
            deadline = produced + 60
            while not floe_keys_in(s3, bucket, prefix):
                check(time.monotonic() < deadline,
                      f"no object under {prefix}/ in bucket {bucket} 60 s after the last "
                      f"acknowledgement (upload.bytes = {EARLY['bytes']} not applied?)")
                time.sleep(0.2)
            log(f"{name}: {records} records acknowledged; {len(floe_keys_in(s3, bucket, prefix))}"
                f" object(s) in S3 {time.monotonic() - produced:.1f} s after the last "
                f"acknowledgement, before SIGTERM")
        else:
            time.sleep(QUIET_SECONDS)
            uploaded = floe_keys_in(s3, bucket, prefix)
            check(not uploaded, f"{len(uploaded)} object(s) uploaded before SIGTERM although "
                                f"neither upload.bytes nor upload.interval_ms was reached")
            log(f"{name}: {records} records acknowledged; no object in S3 after "
                f"{QUIET_SECONDS:.0f} s, as configured")
        floe.stop()
        local_objects = floe.data_dir / "objects"
        check(not local_objects.exists() or not any(local_objects.iterdir()),
              f"{local_objects} holds files although objects go to S3")
        objects = check_bucket(s3, bucket, prefix, decoy_key, payload_bytes(records))
        log(f"{name}: SIGTERM -> exit 0; bucket {bucket} holds {len(objects)} Floe objects "
            f"({sum(objects.values())} bytes) under {prefix}/n{NODE_ID}/, all with a valid footer")

        moto_mark = moto.log_size()
        floe.start()
        got = consume_and_verify(floe.bootstrap, topic, records)
        gets = re.findall(r'"GET /' + re.escape(f"{bucket}/{prefix}/n{NODE_ID}/") +
                          r'\d{20} HTTP/1\.1" 20[06]', moto.log_since(moto_mark))
        check(gets, "no GET of a Floe object reached moto while the records were read back "
                    "after the restart (read from somewhere else than S3?)")
        floe.stop()
        check_bucket(s3, bucket, prefix, decoy_key, payload_bytes(records))
        log(f"PASS {name}: restarted on the same data dir, {got} records read back "
            f"byte-identical in order ({len(gets)} object GETs from S3), "
            f"{time.monotonic() - started:.1f} s")
    finally:
        floe.kill()


def wrong_configuration(name, floe_bin, work_root, env, expect, timeout=120.0):
    """floe serve must exit non-zero, never serve, and say `expect` in its log."""
    work = work_root / name
    work.mkdir()
    floe = Floe(floe_bin, work, COMMON_ARGS, env)
    started = time.monotonic()
    with open(floe.log_path, "wb") as out:
        proc = spawn(floe.argv(), out, floe.env)
    try:
        code = proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        procs.kill(proc)
        served = wire.port_accepts(floe.port, timeout=0.5)
        raise TestFailure(f"{name}: floe still running after {timeout:.0f} s (serving Kafka: "
                          f"{served}); log:\n{tail(floe.log_path)}")
    finally:
        procs.kill(proc)
    elapsed = time.monotonic() - started
    text = floe.log_path.read_text(errors="replace")
    errors = [line for line in text.splitlines() if " ERROR " in line or line.startswith("floe:")]
    check(code != 0, f"{name}: floe exited with code {code}; log:\n{text}")
    check("serving Kafka" not in text, f"{name}: floe served Kafka before failing; log:\n{text}")
    check(any(expect in line for line in errors),
          f"{name}: exit {code} but no error line mentions {expect!r}; log:\n{text}")
    log(f"PASS {name}: exit {code} after {elapsed:.1f} s: {errors[-1].strip()}")


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--floe-bin", required=True, help="the floe executable")
    parser.add_argument("--records", type=int, default=20000,
                        help="records produced and read back per case (default 20000)")
    parser.add_argument("--case", action="append", choices=[*CASES, "wrong"],
                        help="run only these cases (repeatable; default: all)")
    parser.add_argument("--python", default=str(REPO / ".deps" / "venv" / "bin" / "python"),
                        help="Python with moto[server] for the S3 server "
                             "(default .deps/venv/bin/python)")
    parser.add_argument("--keep", action="store_true",
                        help="keep the work directory (logs, data dirs) even when every "
                             "check passed")
    options = parser.parse_args(argv)
    if not 1 <= options.records <= 100_000:
        parser.error("--records must be in 1..100000 (the WAL is 64 MiB and the upload-at-"
                     "shutdown case keeps everything in it until SIGTERM)")
    floe_bin = str(pathlib.Path(options.floe_bin).resolve())
    if not os.access(floe_bin, os.X_OK):
        print(f"s3-test: {floe_bin} is not an executable", file=sys.stderr)
        return 2
    if not os.access(options.python, os.X_OK):
        print(f"s3-test: {options.python} is not an executable; run scripts/install-deps.sh",
              file=sys.stderr)
        return 2
    try:
        import boto3  # noqa: F401
        import confluent_kafka  # noqa: F401
    except ImportError as error:
        print(f"s3-test: {error}; run with .deps/venv/bin/python", file=sys.stderr)
        return 2
    cases = options.case or [*CASES, "wrong"]
    # boto3 here talks to moto only: no profile, endpoint or credentials from outside.
    for name in [k for k in os.environ if k.startswith("AWS_")]:
        del os.environ[name]

    procs.install_cleanup()
    work_root = pathlib.Path(tempfile.mkdtemp(prefix="floe-s3-test-"))
    started = time.monotonic()
    failures = []
    moto = Moto(work_root, options.python)
    try:
        moto.start()
        log(f"moto S3 server on {moto.endpoint} (pid {moto.proc.pid}); work dir {work_root}")
        s3 = s3_client(moto.endpoint)
        for name in cases:
            try:
                if name == "wrong":
                    run_wrong_configurations(floe_bin, work_root, moto, s3)
                else:
                    run_case(name, moto, s3, floe_bin, options.records, work_root)
            except TestFailure as failure:
                failures.append(name)
                log(f"FAIL {name}: {failure}")
            except Exception as error:  # client exceptions, boto errors: all fail the case
                failures.append(name)
                log(f"FAIL {name}: {type(error).__name__}: {error}")
    except TestFailure as failure:
        failures.append("setup")
        log(f"FAIL setup: {failure}")
    finally:
        moto.stop()
        procs.stop_all()
    elapsed = time.monotonic() - started
    if failures:
        log(f"FAILED ({', '.join(failures)}) in {elapsed:.1f} s; logs kept in {work_root}")
        return 1
    if options.keep:
        log(f"work dir kept: {work_root}")
    else:
        shutil.rmtree(work_root, ignore_errors=True)
    log(f"PASSED: {len(cases)} case(s) in {elapsed:.1f} s")
    return 0


def run_wrong_configurations(floe_bin, work_root, moto, s3):
    closed_port = wire.free_port()  # nothing listens there
    base = {"FLOE_OBJECT_STORE_TYPE": "s3", "FLOE_S3_PATH_STYLE": "true",
            "FLOE_S3_ACCESS_KEY_ID": ACCESS_KEY, "FLOE_S3_SECRET_ACCESS_KEY": SECRET_KEY}
    s3.create_bucket(Bucket="floe-wrong")
    # Connection refused is retried (max_attempts, backoff) before Floe gives up.
    wrong_configuration("wrong-endpoint", floe_bin, work_root,
                        {**base, "FLOE_S3_ENDPOINT": f"http://127.0.0.1:{closed_port}",
                         "FLOE_S3_BUCKET": "floe-wrong"},
                        expect="Couldn't connect")
    wrong_configuration("missing-bucket", floe_bin, work_root,
                        {**base, "FLOE_S3_ENDPOINT": moto.endpoint,
                         "FLOE_S3_BUCKET": "no-such-bucket"},
                        expect="NoSuchBucket")
    wrong_configuration("endpoint-without-scheme", floe_bin, work_root,
                        {**base, "FLOE_S3_ENDPOINT": f"127.0.0.1:{moto.port}",
                         "FLOE_S3_BUCKET": "floe-wrong"},
                        expect="S3 endpoint must start with http:// or https://")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
