#!/usr/bin/env python3
"""Writes src/kafka/protocol/tests/golden/expected.json from the captured frames.

For each <client>/<NN>_<api>_v<version>.bin it records the request header
(api key, version, header version, client id, correlation id) and the key
body fields, decoded here by a small decoder that shares no code with
capture_server.py. Every frame must decode to its last byte.

Produce frames are checked against the capture plan (what the clients were
told to send: topic, partition, acks, codec, keys, values, headers,
timestamps); the record batches are CRC-checked and decompressed (gzip via
zlib, snappy and LZ4 by the small decoders below, zstd via the `zstandard`
module or the zstd CLI) and their records must equal the plan, so the
expected values do not merely restate what the decoder read.

Usage: make_expected.py GOLDEN_DIR [--client-version NAME=TEXT ...]
"""

import argparse
import json
import os
import re
import shutil
import struct
import subprocess
import sys
import zlib

# --- the capture plan (keep in step with capture-all.sh, java/Capture.java,
# librdkafka_capture.py) ------------------------------------------------------

TOPIC = "golden"
RECORDS = 3
BASE_TIMESTAMP_MS = 1700000000000
HEADERS = [["h1", "v1"], ["h2", "v2"]]
CODEC_IDS = {"none": 0, "gzip": 1, "snappy": 2, "lz4": 3, "zstd": 4}


def plan_value(i, label):
    return "value-%d-%s-%s" % (i, label, "floe" * 8)


# client id -> (codec, value label, idempotent, fixed timestamps)
PRODUCERS = {}
for _codec in CODEC_IDS:
    PRODUCERS["golden-kcat-" + _codec] = (_codec, _codec, False, False)
    PRODUCERS["golden-java-" + _codec] = (_codec, _codec, True, True)
    PRODUCERS["golden-rdkafka-" + _codec] = (_codec, _codec, True, True)
PRODUCERS["golden-kcat-idempotent"] = ("none", "idempotent", True, False)

GROUPS = {
    "golden-java-consumer": "golden-group",
    "golden-rdkafka-consumer": "golden-rdkafka-group",
    "golden-kcat-group-consumer": "golden-kcat-group",
}
CREATED_TOPICS = {  # admin client id -> topic it creates (3 partitions, RF 1)
    "golden-java-admin": "golden-admin",
    "golden-rdkafka-admin": "golden-rdkafka-admin",
}

# api key -> (name, first flexible version)
APIS = {
    0: ("produce", 9), 1: ("fetch", 12), 2: ("list_offsets", 6), 3: ("metadata", 9),
    8: ("offset_commit", 8), 9: ("offset_fetch", 6), 10: ("find_coordinator", 3),
    11: ("join_group", 6), 12: ("heartbeat", 4), 13: ("leave_group", 4),
    14: ("sync_group", 4), 18: ("api_versions", 3), 19: ("create_topics", 5),
    22: ("init_producer_id", 2), 75: ("describe_topic_partitions", 0),
}


class CheckFailed(Exception):
    pass


def check(cond, what):
    if not cond:
        raise CheckFailed(what)


# --- decoding ----------------------------------------------------------------


class Decoder:
    def __init__(self, data, flexible=False, pos=0):
        self.d = data
        self.p = pos
        self.flex = flexible

    def take(self, n):
        check(n >= 0 and self.p + n <= len(self.d), "truncated at %d" % self.p)
        out = self.d[self.p:self.p + n]
        self.p += n
        return out

    def fixed(self, fmt):
        return struct.unpack(">" + fmt, self.take(struct.calcsize(fmt)))[0]

    def i8(self):
        return self.fixed("b")

    def i16(self):
        return self.fixed("h")

    def i32(self):
        return self.fixed("i")

    def i64(self):
        return self.fixed("q")

    def boolean(self):
        return self.take(1) != b"\x00"

    def uuid(self):
        return self.take(16).hex()

    def uvarint(self):
        out = shift = 0
        while True:
            b = self.take(1)[0]
            out |= (b & 0x7F) << shift
            shift += 7
            if not b & 0x80:
                return out

    def varint(self):
        raw = self.uvarint()
        return (raw >> 1) ^ -(raw & 1)

    def length(self, wide):
        if self.flex:
            return self.uvarint() - 1
        return self.i32() if wide else self.i16()

    def string(self):
        n = self.length(False)
        return None if n < 0 else self.take(n).decode()

    def nbytes(self):
        n = self.length(True)
        return None if n < 0 else self.take(n)

    def array(self, each):
        n = self.length(True)
        return None if n < 0 else [each() for _ in range(n)]

    def tags(self):
        """Reads a tagged-field section; returns {tag: raw bytes hex}."""
        if not self.flex:
            return {}
        out = {}
        for _ in range(self.uvarint()):
            tag = self.uvarint()
            out[tag] = self.take(self.uvarint()).hex()
        return out

    def struct_(self, fn):
        out = fn()
        self.tags()
        return out


def crc32c(data, _table=[]):
    if not _table:
        for i in range(256):
            c = i
            for _ in range(8):
                c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
            _table.append(c)
    crc = 0xFFFFFFFF
    for b in data:
        crc = _table[(crc ^ b) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


def snappy_block(data):
    d = Decoder(data)
    size = d.uvarint()
    out = bytearray()
    while d.p < len(data):
        tag = d.take(1)[0]
        kind = tag & 3
        if kind == 0:
            n = tag >> 2
            if n >= 60:
                n = int.from_bytes(d.take(n - 59), "little")
            out += d.take(n + 1)
            continue
        if kind == 1:
            n = ((tag >> 2) & 7) + 4
            offset = ((tag >> 5) << 8) | d.take(1)[0]
        elif kind == 2:
            n = (tag >> 2) + 1
            offset = int.from_bytes(d.take(2), "little")
        else:
            n = (tag >> 2) + 1
            offset = int.from_bytes(d.take(4), "little")
        check(0 < offset <= len(out), "snappy: bad offset")
        for _ in range(n):
            out.append(out[-offset])
    check(len(out) == size, "snappy: size mismatch")
    return bytes(out)


def snappy(data):
    xerial = b"\x82SNAPPY\x00"
    if not data.startswith(xerial):
        return snappy_block(data)
    d = Decoder(data, pos=16)
    out = bytearray()
    while d.p < len(data):
        out += snappy_block(d.take(d.i32()))
    return bytes(out)


def lz4_frame(data):
    d = Decoder(data)
    check(d.take(4) == b"\x04\x22\x4d\x18", "lz4: bad magic")
    flg = d.take(1)[0]
    d.take(1)  # BD
    if flg & 0x08:
        d.take(8)
    if flg & 0x01:
        d.take(4)
    d.take(1)  # header checksum
    out = bytearray()
    while True:
        size = int.from_bytes(d.take(4), "little")
        if size == 0:
            break
        block = d.take(size & 0x7FFFFFFF)
        if size & 0x80000000:
            out += block
        else:
            b = Decoder(block)
            while b.p < len(block):
                token = b.take(1)[0]
                n = token >> 4
                if n == 15:
                    while True:
                        x = b.take(1)[0]
                        n += x
                        if x != 255:
                            break
                out += b.take(n)
                if b.p == len(block):
                    break
                offset = int.from_bytes(b.take(2), "little")
                n = (token & 15) + 4
                if token & 15 == 15:
                    while True:
                        x = b.take(1)[0]
                        n += x
                        if x != 255:
                            break
                check(0 < offset <= len(out), "lz4: bad offset")
                for _ in range(n):
                    out.append(out[-offset])
        if flg & 0x10:
            d.take(4)
    return bytes(out)


def zstd(data):
    try:
        import zstandard  # optional
        return zstandard.ZstdDecompressor().decompressobj().decompress(data)
    except ImportError:
        pass
    if shutil.which("zstd"):
        return subprocess.run(["zstd", "-d", "-c", "-q"], input=data, check=True,
                              stdout=subprocess.PIPE).stdout
    return None


DECOMPRESS = {1: lambda b: zlib.decompress(b, 47), 2: snappy, 3: lz4_frame, 4: zstd}


def decode_records(data, count):
    d = Decoder(data)
    out = []
    for _ in range(count):
        length = d.varint()
        end = d.p + length
        d.i8()  # attributes
        r = {"timestamp_delta": d.varint(), "offset_delta": d.varint()}
        n = d.varint()
        r["key"] = None if n < 0 else d.take(n).decode()
        n = d.varint()
        r["value"] = None if n < 0 else d.take(n).decode()
        headers = []
        for _ in range(d.varint()):
            k = d.take(d.varint()).decode()
            n = d.varint()
            headers.append([k, None if n < 0 else d.take(n).decode()])
        r["headers"] = headers
        check(d.p == end, "record length mismatch")
        out.append(r)
    check(d.p == len(data), "trailing bytes after records")
    return out


def decode_batches(blob):
    batches = []
    d = Decoder(blob)
    while d.p < len(blob):
        start = d.p
        b = {"base_offset": d.i64()}
        batch_length = d.i32()
        b["batch_length"] = batch_length
        b["partition_leader_epoch"] = d.i32()
        b["magic"] = d.i8()
        check(b["magic"] == 2, "not a v2 record batch")
        crc = d.fixed("I")
        check(crc == crc32c(blob[d.p:start + 12 + batch_length]), "batch CRC mismatch")
        b["crc"] = crc
        attributes = d.i16()
        b["attributes"] = attributes
        b["compression"] = attributes & 7
        b["timestamp_type"] = (attributes >> 3) & 1
        b["is_transactional"] = bool(attributes & 0x10)
        b["is_control"] = bool(attributes & 0x20)
        b["last_offset_delta"] = d.i32()
        b["base_timestamp"] = d.i64()
        b["max_timestamp"] = d.i64()
        b["producer_id"] = d.i64()
        b["producer_epoch"] = d.i16()
        b["base_sequence"] = d.i32()
        b["record_count"] = d.i32()
        payload = d.take(start + 12 + batch_length - d.p)
        b["records_payload_length"] = len(payload)
        if b["compression"]:
            payload = DECOMPRESS[b["compression"]](payload)
        b["records"] = None if payload is None else decode_records(payload, b["record_count"])
        batches.append(b)
    return batches


# --- per-API body decoders ---------------------------------------------------


def body_api_versions(d, v):
    if v >= 3:
        return {"client_software_name": d.string(), "client_software_version": d.string()}
    return {}


def body_metadata(d, v):
    def topic():
        t = {}
        if v >= 10:
            t["topic_id"] = d.uuid()
        t["name"] = d.string()
        return t

    out = {"topics": d.array(lambda: d.struct_(topic))}
    if v >= 4:
        out["allow_auto_topic_creation"] = d.boolean()
    if 8 <= v <= 10:
        out["include_cluster_authorized_operations"] = d.boolean()
    if v >= 8:
        out["include_topic_authorized_operations"] = d.boolean()
    return out


def body_produce(d, v):
    out = {"transactional_id": d.string() if v >= 3 else None, "acks": d.i16(),
           "timeout_ms": d.i32()}

    def partition():
        index = d.i32()
        blob = d.nbytes()
        p = {"index": index, "records_length": None if blob is None else len(blob)}
        if blob is not None:
            p["batches"] = decode_batches(blob)
        return p

    def topic():
        return {"name": d.string(), "partitions": d.array(lambda: d.struct_(partition))}

    out["topics"] = d.array(lambda: d.struct_(topic))
    return out


def body_fetch(d, v):
    out = {}
    if v <= 14:
        out["replica_id"] = d.i32()
    out["max_wait_ms"] = d.i32()
    out["min_bytes"] = d.i32()
    if v >= 3:
        out["max_bytes"] = d.i32()
    if v >= 4:
        out["isolation_level"] = d.i8()
    if v >= 7:
        out["session_id"] = d.i32()
        out["session_epoch"] = d.i32()

    def partition():
        p = {"partition": d.i32()}
        if v >= 9:
            p["current_leader_epoch"] = d.i32()
        p["fetch_offset"] = d.i64()
        if v >= 12:
            p["last_fetched_epoch"] = d.i32()
        if v >= 5:
            p["log_start_offset"] = d.i64()
        p["partition_max_bytes"] = d.i32()
        return p

    def topic():
        t = {"topic_id": d.uuid()} if v >= 13 else {"topic": d.string()}
        t["partitions"] = d.array(lambda: d.struct_(partition))
        return t

    out["topics"] = d.array(lambda: d.struct_(topic))
    if v >= 7:
        def forgotten():
            t = {"topic_id": d.uuid()} if v >= 13 else {"topic": d.string()}
            t["partitions"] = d.array(d.i32)
            return t
        out["forgotten_topics_data"] = d.array(lambda: d.struct_(forgotten))
    if v >= 11:
        out["rack_id"] = d.string()
    return out


def body_list_offsets(d, v):
    out = {"replica_id": d.i32()}
    if v >= 2:
        out["isolation_level"] = d.i8()

    def partition():
        p = {"partition_index": d.i32()}
        if v >= 4:
            p["current_leader_epoch"] = d.i32()
        p["timestamp"] = d.i64()
        return p

    def topic():
        return {"name": d.string(), "partitions": d.array(lambda: d.struct_(partition))}

    out["topics"] = d.array(lambda: d.struct_(topic))
    if v >= 10:
        out["timeout_ms"] = d.i32()
    return out


def body_init_producer_id(d, v):
    out = {"transactional_id": d.string(), "transaction_timeout_ms": d.i32()}
    if v >= 3:
        out["producer_id"] = d.i64()
        out["producer_epoch"] = d.i16()
    return out


def body_find_coordinator(d, v):
    out = {}
    if v <= 3:
        out["key"] = d.string()
    if v >= 1:
        out["key_type"] = d.i8()
    if v >= 4:
        out["coordinator_keys"] = d.array(d.string)
    return out


def body_join_group(d, v):
    out = {"group_id": d.string(), "session_timeout_ms": d.i32()}
    if v >= 1:
        out["rebalance_timeout_ms"] = d.i32()
    out["member_id"] = d.string()
    if v >= 5:
        out["group_instance_id"] = d.string()
    out["protocol_type"] = d.string()

    def protocol():
        name = d.string()
        return {"name": name, "metadata_length": len(d.nbytes())}

    out["protocols"] = d.array(lambda: d.struct_(protocol))
    if v >= 8:
        out["reason"] = d.string()
    return out


def body_sync_group(d, v):
    out = {"group_id": d.string(), "generation_id": d.i32(), "member_id": d.string()}
    if v >= 3:
        out["group_instance_id"] = d.string()
    if v >= 5:
        out["protocol_type"] = d.string()
        out["protocol_name"] = d.string()

    def assignment():
        member = d.string()
        return {"member_id": member, "assignment_length": len(d.nbytes())}

    out["assignments"] = d.array(lambda: d.struct_(assignment))
    return out


def body_heartbeat(d, v):
    out = {"group_id": d.string(), "generation_id": d.i32(), "member_id": d.string()}
    if v >= 3:
        out["group_instance_id"] = d.string()
    return out


def body_leave_group(d, v):
    out = {"group_id": d.string()}
    if v <= 2:
        out["member_id"] = d.string()
    else:
        def member():
            m = {"member_id": d.string(), "group_instance_id": d.string()}
            if v >= 5:
                m["reason"] = d.string()
            return m
        out["members"] = d.array(lambda: d.struct_(member))
    return out


def body_offset_fetch(d, v):
    def topic():
        return {"name": d.string(), "partition_indexes": d.array(d.i32)}

    out = {}
    if v <= 7:
        out["group_id"] = d.string()
        out["topics"] = d.array(lambda: d.struct_(topic))
    else:
        def group():
            g = {"group_id": d.string()}
            if v >= 9:
                g["member_id"] = d.string()
                g["member_epoch"] = d.i32()
            g["topics"] = d.array(lambda: d.struct_(topic))
            return g
        out["groups"] = d.array(lambda: d.struct_(group))
    if v >= 7:
        out["require_stable"] = d.boolean()
    return out


def body_offset_commit(d, v):
    out = {"group_id": d.string()}
    if v >= 1:
        out["generation_id_or_member_epoch"] = d.i32()
        out["member_id"] = d.string()
    if v >= 7:
        out["group_instance_id"] = d.string()
    if 2 <= v <= 4:
        out["retention_time_ms"] = d.i64()

    def partition():
        p = {"partition_index": d.i32(), "committed_offset": d.i64()}
        if v >= 6:
            p["committed_leader_epoch"] = d.i32()
        if v == 1:
            p["commit_timestamp"] = d.i64()
        p["committed_metadata"] = d.string()
        return p

    def topic():
        return {"name": d.string(), "partitions": d.array(lambda: d.struct_(partition))}

    out["topics"] = d.array(lambda: d.struct_(topic))
    return out


def body_create_topics(d, v):
    def assignment():
        return {"partition_index": d.i32(), "broker_ids": d.array(d.i32)}

    def config():
        return [d.string(), d.string()]

    def topic():
        return {"name": d.string(), "num_partitions": d.i32(), "replication_factor": d.i16(),
                "assignments": d.array(lambda: d.struct_(assignment)),
                "configs": d.array(lambda: d.struct_(config))}

    out = {"topics": d.array(lambda: d.struct_(topic)), "timeout_ms": d.i32()}
    if v >= 1:
        out["validate_only"] = d.boolean()
    return out


def body_describe_topic_partitions(d, v):
    out = {"topics": d.array(lambda: d.struct_(d.string)),
           "response_partition_limit": d.i32()}
    if d.i8() < 0:
        out["cursor"] = None
    else:
        out["cursor"] = d.struct_(lambda: {"topic_name": d.string(), "partition_index": d.i32()})
    return out


BODIES = {k: globals()["body_" + name] for k, (name, _) in APIS.items()}


# --- checks against the capture plan -------------------------------------------


def check_produce(client_id, body):
    plan = PRODUCERS.get(client_id)
    check(plan is not None, "produce from unplanned client %s" % client_id)
    codec, label, idempotent, fixed_ts = plan
    check(body["acks"] == -1, "acks")
    check(body["transactional_id"] is None, "transactional id")
    check([t["name"] for t in body["topics"]] == [TOPIC], "topics")
    parts = body["topics"][0]["partitions"]
    check([p["index"] for p in parts] == [0], "partitions")
    batches = parts[0]["batches"]
    check(len(batches) == 1, "expected one batch, got %d" % len(batches))
    b = batches[0]
    check(b["compression"] == CODEC_IDS[codec], "codec %d != %s" % (b["compression"], codec))
    check(b["record_count"] == RECORDS and b["last_offset_delta"] == RECORDS - 1, "count")
    check((b["producer_id"] >= 0) == idempotent, "producer id %d" % b["producer_id"])
    if idempotent:
        check(b["base_sequence"] == 0, "base sequence")
    if fixed_ts:
        check(b["base_timestamp"] == BASE_TIMESTAMP_MS, "base timestamp")
        check(b["max_timestamp"] == BASE_TIMESTAMP_MS + RECORDS - 1, "max timestamp")
    want = [{"key": "key-%d" % i, "value": plan_value(i, label), "headers": HEADERS}
            for i in range(RECORDS)]
    if b["records"] is None:
        print("warning: %s: no %s decompressor, records taken from the plan unverified"
              % (client_id, codec), file=sys.stderr)
        b["records"] = want
        b["records_verified"] = False
        return
    got = [{k: r[k] for k in ("key", "value", "headers")} for r in b["records"]]
    check(got == want, "records %r != plan %r" % (got, want))
    check([r["offset_delta"] for r in b["records"]] == list(range(RECORDS)), "offset deltas")
    if fixed_ts:
        check([r["timestamp_delta"] for r in b["records"]] == list(range(RECORDS)), "ts deltas")
    b["records_verified"] = True


def check_plan(api, client_id, body):
    if api == "produce":
        check_produce(client_id, body)
    group = GROUPS.get(client_id)
    if api in ("join_group", "sync_group", "heartbeat", "leave_group", "offset_commit"):
        check(body["group_id"] == group, "group id")
    if api == "offset_fetch":
        ids = [body["group_id"]] if "group_id" in body else [g["group_id"] for g in body["groups"]]
        check(ids == [group], "group id")
    if api == "find_coordinator" and group:
        keys = body.get("coordinator_keys") or [body.get("key")]
        check(keys == [group], "coordinator key")
    if api == "list_offsets":
        check([t["name"] for t in body["topics"]] == [TOPIC], "list_offsets topic")
    if api == "create_topics":
        t = body["topics"][0]
        check(len(body["topics"]) == 1 and t["name"] == CREATED_TOPICS[client_id], "name")
        check(t["num_partitions"] == 3 and t["replication_factor"] == 1, "partitions/RF")
        check(t["configs"] == [["retention.ms", "86400000"]], "configs")


# --- main ----------------------------------------------------------------------


def decode_file(path):
    data = open(path, "rb").read()
    h = Decoder(data)
    key, version, correlation = h.i16(), h.i16(), h.i32()
    n = h.i16()
    client_id = None if n < 0 else h.take(n).decode()
    check(key in APIS, "unexpected api key %d" % key)
    name, first_flexible = APIS[key]
    flexible = version >= first_flexible
    header_version = 2 if flexible else 1
    entry = {"api_key": key, "api_name": name, "api_version": version,
             "header_version": header_version, "client_id": client_id,
             "correlation_id": correlation, "size": len(data)}
    d = Decoder(data, flexible, h.p)
    header_tags = d.tags()
    if header_tags:
        entry["header_tagged_fields"] = header_tags
    entry["body_offset"] = d.p
    body = BODIES[key](d, version)
    tagged = d.tags()
    if tagged:
        body["tagged_fields"] = {str(k): v for k, v in tagged.items()}
    check(d.p == len(data), "%d trailing bytes" % (len(data) - d.p))
    check_plan(name, client_id, body)
    entry["body"] = body
    return entry


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("golden_dir")
    ap.add_argument("--client-version", action="append", default=[],
                    help="DIR=description of the client that produced DIR/")
    args = ap.parse_args()

    clients = dict(cv.split("=", 1) for cv in args.client_version)
    old = os.path.join(args.golden_dir, "expected.json")
    if os.path.exists(old):  # keep descriptions of clients not re-captured this time
        for k, v in json.load(open(old)).get("clients", {}).items():
            clients.setdefault(k, v)

    files = []
    failures = 0
    for sub in sorted(os.listdir(args.golden_dir)):
        directory = os.path.join(args.golden_dir, sub)
        if not os.path.isdir(directory):
            continue
        for name in sorted(os.listdir(directory)):
            if not re.fullmatch(r"\d+_[a-z_]+_v\d+\.bin", name):
                continue
            path = sub + "/" + name
            try:
                entry = decode_file(os.path.join(directory, name))
            except (CheckFailed, UnicodeDecodeError, struct.error) as e:
                print("FAIL %s: %s" % (path, e), file=sys.stderr)
                failures += 1
                continue
            files.append(dict(path=path, **entry))
    # Every planned producer of every captured client family must be present.
    produced = {f["client_id"] for f in files if f["api_name"] == "produce"}
    families = {"kcat": "golden-kcat-", "java": "golden-java-", "librdkafka": "golden-rdkafka-"}
    for directory, prefix in families.items():
        if not os.path.isdir(os.path.join(args.golden_dir, directory)):
            continue
        for client_id in sorted(PRODUCERS):
            if client_id.startswith(prefix) and client_id not in produced:
                print("FAIL %s: no produce frame from %s" % (directory, client_id), file=sys.stderr)
                failures += 1
    doc = {
        "about": "Golden Kafka request frames (without the 4-byte size prefix) captured "
                 "from real clients by tools/capture/capture-all.sh. Written by "
                 "tools/capture/make_expected.py; produce records are checked against the "
                 "capture plan. Record batch 'compression': 0 none, 1 gzip, 2 snappy, "
                 "3 lz4, 4 zstd. body_offset is where the request body starts.",
        "clients": {k: clients[k] for k in sorted(clients)},
        "files": files,
    }
    with open(old, "w") as f:
        json.dump(doc, f, indent=1, sort_keys=False)
        f.write("\n")
    print("make_expected: %d files, %d failures -> %s" % (len(files), failures, old))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
