#!/usr/bin/env python3
"""Fake single-node Kafka broker that records every request frame it receives.

Used to capture golden request bytes from real Kafka clients (kcat/librdkafka,
the Apache Kafka Java client). It speaks just enough of the protocol, encoded
by hand below, for a producer to get through ApiVersions -> Metadata ->
InitProducerId -> Produce, for a consumer to get through ListOffsets/Fetch and
the classic group protocol (FindCoordinator, JoinGroup, SyncGroup, OffsetFetch,
OffsetCommit, Heartbeat, LeaveGroup), and for an admin client to get through
CreateTopics and DescribeTopicPartitions.

Every received frame, without its 4-byte size prefix, is written to
    <out>/<client>/<NN>_<api_name>_v<version>.bin
where NN counts frames received by this server process (all connections).
Repetitive APIs are capped at --max-per-key frames per (client id, api,
version) so idle polling does not flood the golden directory; Produce frames
are always kept.

State (topics, a partition log of the record batches produced, committed
offsets) lives in memory. Every topic has one partition, led by node 0 = this
server. A request for an API it does not answer is recorded and then the
connection is closed, which makes the client fail fast.

Python 3 standard library only. Usage:
    capture_server.py --port 19092 --out DIR --client kcat [--max-seconds N]
"""

import argparse
import hashlib
import os
import socket
import struct
import sys
import threading
import time

# api key -> (snake_case name, min advertised, max advertised, first flexible version)
# Max versions are those of the message specs the Floe codec is generated from;
# min versions are Kafka 4.0's (the removed pre-2.1 versions are not offered)
# unless --legacy-min-versions is given.
APIS = {
    0: ("produce", 3, 11, 9),
    1: ("fetch", 4, 17, 12),
    2: ("list_offsets", 1, 10, 6),
    3: ("metadata", 0, 12, 9),
    8: ("offset_commit", 2, 9, 8),
    9: ("offset_fetch", 1, 9, 6),
    10: ("find_coordinator", 0, 6, 3),
    11: ("join_group", 0, 9, 6),
    12: ("heartbeat", 0, 4, 4),
    13: ("leave_group", 0, 5, 4),
    14: ("sync_group", 0, 5, 4),
    18: ("api_versions", 0, 4, 3),
    19: ("create_topics", 2, 7, 5),
    22: ("init_producer_id", 0, 5, 2),
    75: ("describe_topic_partitions", 0, 0, 0),
}

# Names (and first flexible versions) of APIs that are recorded but not answered.
OTHER_APIS = {
    4: ("leader_and_isr", 4), 5: ("stop_replica", 2), 6: ("update_metadata", 6),
    7: ("controlled_shutdown", 3), 15: ("describe_groups", 5), 16: ("list_groups", 3),
    17: ("sasl_handshake", 99), 20: ("delete_topics", 4), 21: ("delete_records", 2),
    23: ("offset_for_leader_epoch", 4), 24: ("add_partitions_to_txn", 3),
    25: ("add_offsets_to_txn", 3), 26: ("end_txn", 3), 27: ("write_txn_markers", 1),
    28: ("txn_offset_commit", 3), 29: ("describe_acls", 2), 30: ("create_acls", 2),
    31: ("delete_acls", 2), 32: ("describe_configs", 4), 33: ("alter_configs", 2),
    35: ("describe_log_dirs", 2), 36: ("sasl_authenticate", 2), 37: ("create_partitions", 2),
    42: ("delete_groups", 2), 44: ("incremental_alter_configs", 1),
    60: ("describe_cluster", 0), 61: ("describe_producers", 0),
    68: ("consumer_group_heartbeat", 0), 71: ("get_telemetry_subscriptions", 0),
    72: ("push_telemetry", 0),
}

NODE_ID = 0
CLUSTER_ID = "floe-golden-capture"
ERR_NONE = 0
ERR_UNKNOWN_TOPIC_OR_PARTITION = 3
ERR_UNSUPPORTED_VERSION = 35
ERR_UNKNOWN_TOPIC_ID = 100


def api_name(key):
    if key in APIS:
        return APIS[key][0]
    if key in OTHER_APIS:
        return OTHER_APIS[key][0]
    return "api%d" % key


def is_flexible(key, version):
    if key in APIS:
        return version >= APIS[key][3]
    if key in OTHER_APIS:
        return version >= OTHER_APIS[key][1]
    return False


def request_header_version(key, version):
    # ApiVersions is the exception to the header rules only on the response
    # side; its request header follows the flexible-version rule (v3+ -> 2).
    return 2 if is_flexible(key, version) else 1


def response_header_version(key, version):
    if key == 18:  # ApiVersions responses always use header v0
        return 0
    return 1 if is_flexible(key, version) else 0


def topic_id_for(name):
    return hashlib.md5(name.encode()).digest()


# ---------------------------------------------------------------------------
# Encoding / decoding primitives


class Writer:
    def __init__(self, flexible):
        self.flex = flexible
        self.buf = bytearray()

    def int8(self, v):
        self.buf += struct.pack(">b", v)

    def int16(self, v):
        self.buf += struct.pack(">h", v)

    def int32(self, v):
        self.buf += struct.pack(">i", v)

    def int64(self, v):
        self.buf += struct.pack(">q", v)

    def boolean(self, v):
        self.buf += b"\x01" if v else b"\x00"

    def uuid(self, v):
        assert len(v) == 16
        self.buf += v

    def uvarint(self, v):
        while v >= 0x80:
            self.buf.append((v & 0x7F) | 0x80)
            v >>= 7
        self.buf.append(v)

    def string(self, s):
        if s is None:
            if self.flex:
                self.uvarint(0)
            else:
                self.int16(-1)
            return
        data = s.encode()
        if self.flex:
            self.uvarint(len(data) + 1)
        else:
            self.int16(len(data))
        self.buf += data

    def bytes_(self, b):
        if b is None:
            if self.flex:
                self.uvarint(0)
            else:
                self.int32(-1)
            return
        if self.flex:
            self.uvarint(len(b) + 1)
        else:
            self.int32(len(b))
        self.buf += b

    def array(self, items, each):
        if items is None:
            if self.flex:
                self.uvarint(0)
            else:
                self.int32(-1)
            return
        if self.flex:
            self.uvarint(len(items) + 1)
        else:
            self.int32(len(items))
        for item in items:
            each(item)

    def tags(self):
        """Empty tagged-field section (flexible versions only)."""
        if self.flex:
            self.uvarint(0)


class Reader:
    def __init__(self, data, flexible, pos=0):
        self.data = data
        self.pos = pos
        self.flex = flexible

    def _take(self, n):
        if self.pos + n > len(self.data):
            raise ValueError("truncated at %d (+%d of %d)" % (self.pos, n, len(self.data)))
        out = self.data[self.pos:self.pos + n]
        self.pos += n
        return out

    def int8(self):
        return struct.unpack(">b", self._take(1))[0]

    def int16(self):
        return struct.unpack(">h", self._take(2))[0]

    def int32(self):
        return struct.unpack(">i", self._take(4))[0]

    def int64(self):
        return struct.unpack(">q", self._take(8))[0]

    def boolean(self):
        return self._take(1) != b"\x00"

    def uuid(self):
        return bytes(self._take(16))

    def uvarint(self):
        shift = 0
        out = 0
        while True:
            b = self._take(1)[0]
            out |= (b & 0x7F) << shift
            if not b & 0x80:
                return out
            shift += 7

    def string(self):
        if self.flex:
            n = self.uvarint() - 1
        else:
            n = self.int16()
        if n < 0:
            return None
        return bytes(self._take(n)).decode()

    def legacy_string(self):
        """int16-length nullable string regardless of flexibility (client_id)."""
        n = self.int16()
        if n < 0:
            return None
        return bytes(self._take(n)).decode()

    def bytes_(self):
        if self.flex:
            n = self.uvarint() - 1
        else:
            n = self.int32()
        if n < 0:
            return None
        return bytes(self._take(n))

    def array(self, each):
        if self.flex:
            n = self.uvarint() - 1
        else:
            n = self.int32()
        if n < 0:
            return None
        return [each() for _ in range(n)]

    def tags(self):
        if not self.flex:
            return
        for _ in range(self.uvarint()):
            self.uvarint()  # tag
            self._take(self.uvarint())


# ---------------------------------------------------------------------------
# Broker state


class State:
    def __init__(self, host, port):
        self.host = host
        self.port = port
        self.lock = threading.Lock()
        self.topics = {}  # name -> partition count
        self.ids = {}  # topic id -> name
        self.logs = {}  # (topic, partition) -> list of (base_offset, last_offset, batch bytes)
        self.commits = {}  # (group, topic, partition) -> offset
        self.next_producer_id = 1000
        self.members = 0

    def ensure_topic(self, name, partitions=1):
        with self.lock:
            if name not in self.topics:
                self.topics[name] = max(partitions, 1)
                self.ids[topic_id_for(name)] = name
            return self.topics[name]

    def end_offset(self, topic, partition):
        log = self.logs.get((topic, partition), [])
        return log[-1][1] + 1 if log else 0

    def append(self, topic, partition, records):
        """Appends every v2 batch in `records`; returns the base offset of the first."""
        with self.lock:
            log = self.logs.setdefault((topic, partition), [])
            first = self.end_offset(topic, partition)
            pos = 0
            data = bytes(records or b"")
            while pos + 61 <= len(data):
                batch_len = struct.unpack_from(">i", data, pos + 8)[0]
                end = pos + 12 + batch_len
                batch = bytearray(data[pos:end])
                last_delta = struct.unpack_from(">i", batch, 23)[0]
                base = self.end_offset(topic, partition)
                # Base offset and partition leader epoch lie outside the CRC.
                struct.pack_into(">q", batch, 0, base)
                struct.pack_into(">i", batch, 12, 0)
                log.append((base, base + last_delta, bytes(batch)))
                pos = end
            return first

    def read(self, topic, partition, offset, max_bytes):
        with self.lock:
            out = bytearray()
            for base, last, batch in self.logs.get((topic, partition), []):
                if last < offset:
                    continue
                if out and len(out) + len(batch) > max_bytes:
                    break
                out += batch
            return bytes(out), self.end_offset(topic, partition)


# ---------------------------------------------------------------------------
# Request handlers: each takes (state, version, reader, client_id) and returns
# a Writer with the response body, or None for "no response" (acks=0 produce).


def handle_api_versions(st, v, r, client_id):
    if v > APIS[18][2]:
        # Unknown version: answer in v0 layout with UNSUPPORTED_VERSION.
        w = Writer(False)
        w.int16(ERR_UNSUPPORTED_VERSION)
        w.array([(18, 0, APIS[18][2])], lambda a: (w.int16(a[0]), w.int16(a[1]), w.int16(a[2])))
        return w
    w = Writer(v >= 3)

    def api(item):
        key, (_, lo, hi, _) = item
        w.int16(key)
        w.int16(lo)
        w.int16(hi)
        w.tags()

    w.int16(ERR_NONE)
    w.array(sorted(APIS.items()), api)
    if v >= 1:
        w.int32(0)
    w.tags()
    return w


def write_int32_array(w, values):
    w.array(values, w.int32)


def handle_metadata(st, v, r, client_id):
    flex = v >= 9

    def topic():
        tid = r.uuid() if v >= 10 else None
        name = r.string()
        r.tags()
        return tid, name

    topics = r.array(topic)
    allow_create = r.boolean() if v >= 4 else True
    if 8 <= v <= 10:
        r.boolean()
    if v >= 8:
        r.boolean()
    r.tags()

    results = []  # (error, name, topic id, partitions)
    if topics is None or (v == 0 and not topics):
        with st.lock:
            names = sorted(st.topics)
        for name in names:
            results.append((ERR_NONE, name, topic_id_for(name), st.topics[name]))
    else:
        for tid, name in topics:
            if name is None:
                name = st.ids.get(tid)
                if name is None:
                    results.append((ERR_UNKNOWN_TOPIC_ID, None, tid, 0))
                    continue
            if name not in st.topics and not allow_create:
                results.append((ERR_UNKNOWN_TOPIC_OR_PARTITION, name, bytes(16), 0))
                continue
            count = st.ensure_topic(name)
            results.append((ERR_NONE, name, topic_id_for(name), count))

    w = Writer(flex)
    if v >= 3:
        w.int32(0)

    def broker(_):
        w.int32(NODE_ID)
        w.string(st.host)
        w.int32(st.port)
        if v >= 1:
            w.string(None)
        w.tags()

    w.array([NODE_ID], broker)
    if v >= 2:
        w.string(CLUSTER_ID)
    if v >= 1:
        w.int32(NODE_ID)

    def partition(index):
        w.int16(ERR_NONE)
        w.int32(index)
        w.int32(NODE_ID)
        if v >= 7:
            w.int32(0)
        write_int32_array(w, [NODE_ID])
        write_int32_array(w, [NODE_ID])
        if v >= 5:
            write_int32_array(w, [])
        w.tags()

    def topic_out(t):
        error, name, tid, count = t
        w.int16(error)
        w.string(name)
        if v >= 10:
            w.uuid(tid)
        if v >= 1:
            w.boolean(False)
        w.array(list(range(count)), partition)
        if v >= 8:
            w.int32(-2147483648)
        w.tags()

    w.array(results, topic_out)
    if 8 <= v <= 10:
        w.int32(-2147483648)
    w.tags()
    return w


def handle_produce(st, v, r, client_id):
    flex = v >= 9
    if v >= 3:
        r.string()  # transactional id
    acks = r.int16()
    r.int32()  # timeout

    def partition():
        index = r.int32()
        records = r.bytes_()
        r.tags()
        return index, records

    def topic():
        name = r.string()
        parts = r.array(partition)
        r.tags()
        return name, parts

    topics = r.array(topic)
    r.tags()
    results = []
    for name, parts in topics:
        out = []
        for index, records in parts:
            if name not in st.topics or index >= st.topics[name]:
                out.append((index, ERR_UNKNOWN_TOPIC_OR_PARTITION, -1))
            else:
                out.append((index, ERR_NONE, st.append(name, index, records)))
        results.append((name, out))
    if acks == 0:
        return None

    w = Writer(flex)

    def partition_out(p):
        index, error, base = p
        w.int32(index)
        w.int16(error)
        w.int64(base)
        if v >= 2:
            w.int64(-1)
        if v >= 5:
            w.int64(0)
        if v >= 8:
            w.array([], None)
            w.string(None)
        w.tags()

    def topic_out(t):
        w.string(t[0])
        w.array(t[1], partition_out)
        w.tags()

    w.array(results, topic_out)
    if v >= 1:
        w.int32(0)
    w.tags()
    return w


def handle_init_producer_id(st, v, r, client_id):
    w = Writer(v >= 2)
    with st.lock:
        pid = st.next_producer_id
        st.next_producer_id += 1
    w.int32(0)
    w.int16(ERR_NONE)
    w.int64(pid)
    w.int16(0)
    w.tags()
    return w


def handle_find_coordinator(st, v, r, client_id):
    flex = v >= 3
    keys = []
    if v <= 3:
        keys.append(r.string())
    if v >= 1:
        r.int8()
    if v >= 4:
        keys = r.array(r.string)
    r.tags()
    w = Writer(flex)
    if v >= 1:
        w.int32(0)
    if v <= 3:
        w.int16(ERR_NONE)
        if v >= 1:
            w.string(None)
        w.int32(NODE_ID)
        w.string(st.host)
        w.int32(st.port)
    else:
        def coordinator(key):
            w.string(key)
            w.int32(NODE_ID)
            w.string(st.host)
            w.int32(st.port)
            w.int16(ERR_NONE)
            w.string(None)
            w.tags()
        w.array(keys, coordinator)
    w.tags()
    return w


def handle_join_group(st, v, r, client_id):
    flex = v >= 6
    r.string()  # group id
    r.int32()  # session timeout
    if v >= 1:
        r.int32()  # rebalance timeout
    member_id = r.string()
    instance_id = r.string() if v >= 5 else None
    protocol_type = r.string()

    def protocol():
        name = r.string()
        metadata = r.bytes_()
        r.tags()
        return name, metadata

    protocols = r.array(protocol)
    if v >= 8:
        r.string()
    r.tags()
    if not member_id:
        with st.lock:
            st.members += 1
            member_id = "%s-%d" % (client_id or "member", st.members)
    name, metadata = protocols[0]
    w = Writer(flex)
    if v >= 2:
        w.int32(0)
    w.int16(ERR_NONE)
    w.int32(1)  # generation
    if v >= 7:
        w.string(protocol_type)
    w.string(name)
    w.string(member_id)  # leader
    if v >= 9:
        w.boolean(False)
    w.string(member_id)

    def member(_):
        w.string(member_id)
        if v >= 5:
            w.string(instance_id)
        w.bytes_(metadata)
        w.tags()

    w.array([0], member)
    w.tags()
    return w


def handle_sync_group(st, v, r, client_id):
    flex = v >= 4
    r.string()
    r.int32()
    member_id = r.string()
    if v >= 3:
        r.string()
    protocol_type = protocol_name = None
    if v >= 5:
        protocol_type = r.string()
        protocol_name = r.string()

    def assignment():
        m = r.string()
        a = r.bytes_()
        r.tags()
        return m, a

    assignments = dict(r.array(assignment))
    r.tags()
    w = Writer(flex)
    if v >= 1:
        w.int32(0)
    w.int16(ERR_NONE)
    if v >= 5:
        w.string(protocol_type)
        w.string(protocol_name)
    w.bytes_(assignments.get(member_id, b""))
    w.tags()
    return w


def handle_heartbeat(st, v, r, client_id):
    w = Writer(v >= 4)
    if v >= 1:
        w.int32(0)
    w.int16(ERR_NONE)
    w.tags()
    return w


def handle_leave_group(st, v, r, client_id):
    flex = v >= 4
    r.string()
    members = []
    if v <= 2:
        members.append((r.string(), None))
    else:
        def member():
            m = r.string()
            i = r.string()
            if v >= 5:
                r.string()
            r.tags()
            return m, i
        members = r.array(member)
    r.tags()
    w = Writer(flex)
    if v >= 1:
        w.int32(0)
    w.int16(ERR_NONE)
    if v >= 3:
        def member_out(m):
            w.string(m[0])
            w.string(m[1])
            w.int16(ERR_NONE)
            w.tags()
        w.array(members, member_out)
    w.tags()
    return w


def handle_offset_fetch(st, v, r, client_id):
    flex = v >= 6

    def topic():
        name = r.string()
        parts = r.array(r.int32)
        r.tags()
        return name, parts

    groups = []  # (group id, topics or None)
    if v <= 7:
        group = r.string()
        groups.append((group, r.array(topic)))
    else:
        def group():
            gid = r.string()
            if v >= 9:
                r.string()
                r.int32()
            topics = r.array(topic)
            r.tags()
            return gid, topics
        groups = r.array(group)
    if v >= 7:
        r.boolean()
    r.tags()

    def committed(gid, topics):
        out = []
        with st.lock:
            if topics is None:
                keys = sorted({(t, p) for (g, t, p) in st.commits if g == gid})
                topics = {}
                for t, p in keys:
                    topics.setdefault(t, []).append(p)
                topics = sorted(topics.items())
            for name, parts in topics:
                out.append((name, [(p, st.commits.get((gid, name, p), -1)) for p in parts]))
        return out

    w = Writer(flex)
    if v >= 3:
        w.int32(0)

    def partition_out(p):
        w.int32(p[0])
        w.int64(p[1])
        if v >= 5:
            w.int32(-1)
        w.string("")
        w.int16(ERR_NONE)
        w.tags()

    def topic_out(t):
        w.string(t[0])
        w.array(t[1], partition_out)
        w.tags()

    if v <= 7:
        gid, topics = groups[0]
        w.array(committed(gid, topics), topic_out)
        if v >= 2:
            w.int16(ERR_NONE)
    else:
        def group_out(g):
            w.string(g[0])
            w.array(committed(g[0], g[1]), topic_out)
            w.int16(ERR_NONE)
            w.tags()
        w.array(groups, group_out)
    w.tags()
    return w


def handle_offset_commit(st, v, r, client_id):
    flex = v >= 8
    group = r.string()
    if v >= 1:
        r.int32()
        r.string()
    if v >= 7:
        r.string()
    if 2 <= v <= 4:
        r.int64()

    def partition():
        index = r.int32()
        offset = r.int64()
        if v >= 6:
            r.int32()
        if v == 1:
            r.int64()
        r.string()
        r.tags()
        return index, offset

    def topic():
        name = r.string()
        parts = r.array(partition)
        r.tags()
        return name, parts

    topics = r.array(topic)
    r.tags()
    with st.lock:
        for name, parts in topics:
            for index, offset in parts:
                st.commits[(group, name, index)] = offset
    w = Writer(flex)
    if v >= 3:
        w.int32(0)

    def partition_out(p):
        w.int32(p[0])
        w.int16(ERR_NONE)
        w.tags()

    def topic_out(t):
        w.string(t[0])
        w.array(t[1], partition_out)
        w.tags()

    w.array(topics, topic_out)
    w.tags()
    return w


def handle_list_offsets(st, v, r, client_id):
    flex = v >= 6
    r.int32()  # replica id
    if v >= 2:
        r.int8()

    def partition():
        index = r.int32()
        if v >= 4:
            r.int32()
        timestamp = r.int64()
        if v == 0:
            r.int32()
        r.tags()
        return index, timestamp

    def topic():
        name = r.string()
        parts = r.array(partition)
        r.tags()
        return name, parts

    topics = r.array(topic)
    if v >= 10:
        r.int32()
    r.tags()
    w = Writer(flex)
    if v >= 2:
        w.int32(0)

    def topic_out(t):
        name, parts = t
        w.string(name)

        def partition_out(p):
            index, timestamp = p
            known = name in st.topics and index < st.topics[name]
            with st.lock:
                end = st.end_offset(name, index)
            offset = 0 if timestamp == -2 else end if timestamp in (-1, -3) else 0
            w.int32(index)
            w.int16(ERR_NONE if known else ERR_UNKNOWN_TOPIC_OR_PARTITION)
            if v == 0:
                w.array([offset], w.int64)
            else:
                w.int64(-1)
                w.int64(offset if known else -1)
            if v >= 4:
                w.int32(0)
            w.tags()

        w.array(parts, partition_out)
        w.tags()

    w.array(topics, topic_out)
    w.tags()
    return w


def handle_fetch(st, v, r, client_id):
    flex = v >= 12
    if v <= 14:
        r.int32()  # replica id
    max_wait_ms = r.int32()
    r.int32()  # min bytes
    max_bytes = r.int32() if v >= 3 else 0x7FFFFFFF
    if v >= 4:
        r.int8()
    if v >= 7:
        r.int32()
        r.int32()

    def partition():
        index = r.int32()
        if v >= 9:
            r.int32()
        offset = r.int64()
        if v >= 12:
            r.int32()
        if v >= 5:
            r.int64()
        part_max = r.int32()
        r.tags()
        return index, offset, part_max

    def topic():
        if v >= 13:
            tid = r.uuid()
            name = st.ids.get(tid)
        else:
            name = r.string()
            tid = topic_id_for(name)
        parts = r.array(partition)
        r.tags()
        return name, tid, parts

    topics = r.array(topic)
    if v >= 7:
        def forgotten():
            if v >= 13:
                r.uuid()
            else:
                r.string()
            r.array(r.int32)
            r.tags()
        r.array(forgotten)
    if v >= 11:
        r.string()
    r.tags()

    results = []
    have_data = False
    for name, tid, parts in topics:
        out = []
        for index, offset, part_max in parts:
            if name is None:
                out.append((index, ERR_UNKNOWN_TOPIC_ID, -1, b""))
                continue
            if name not in st.topics or index >= st.topics[name]:
                out.append((index, ERR_UNKNOWN_TOPIC_OR_PARTITION, -1, b""))
                continue
            data, end = st.read(name, index, offset, min(part_max, max_bytes))
            have_data = have_data or bool(data)
            out.append((index, ERR_NONE, end, data))
        results.append((name, tid, out))
    if not have_data:
        time.sleep(min(max(max_wait_ms, 0), 300) / 1000.0)

    w = Writer(flex)
    if v >= 1:
        w.int32(0)
    if v >= 7:
        w.int16(ERR_NONE)
        w.int32(0)  # session id 0: no incremental fetch session

    def partition_out(p):
        index, error, end, data = p
        w.int32(index)
        w.int16(error)
        w.int64(end)
        if v >= 4:
            w.int64(end)
        if v >= 5:
            w.int64(0 if end >= 0 else -1)
        if v >= 4:
            w.array(None, None)
        if v >= 11:
            w.int32(-1)
        w.bytes_(data)
        w.tags()

    def topic_out(t):
        name, tid, parts = t
        if v >= 13:
            w.uuid(tid)
        else:
            w.string(name)
        w.array(parts, partition_out)
        w.tags()

    w.array(results, topic_out)
    w.tags()
    return w


def handle_create_topics(st, v, r, client_id):
    flex = v >= 5

    def assignment():
        r.int32()
        r.array(r.int32)
        r.tags()

    def config():
        r.string()
        r.string()
        r.tags()

    def topic():
        name = r.string()
        partitions = r.int32()
        replication = r.int16()
        r.array(assignment)
        r.array(config)
        r.tags()
        return name, partitions, replication

    topics = r.array(topic)
    r.int32()
    if v >= 1:
        r.boolean()
    r.tags()
    w = Writer(flex)
    if v >= 2:
        w.int32(0)

    def topic_out(t):
        name, partitions, replication = t
        count = st.ensure_topic(name, partitions if partitions > 0 else 1)
        w.string(name)
        if v >= 7:
            w.uuid(topic_id_for(name))
        w.int16(ERR_NONE)
        if v >= 1:
            w.string(None)
        if v >= 5:
            w.int32(count)
            w.int16(1)
            w.array([], None)
        w.tags()

    w.array(topics, topic_out)
    w.tags()
    return w


def handle_describe_topic_partitions(st, v, r, client_id):
    def topic():
        name = r.string()
        r.tags()
        return name

    names = r.array(topic)
    r.int32()
    if r.int8() >= 0:  # cursor present
        r.string()
        r.int32()
        r.tags()
    r.tags()
    if not names:
        with st.lock:
            names = sorted(st.topics)
    w = Writer(True)
    w.int32(0)

    def partition(index):
        w.int16(ERR_NONE)
        w.int32(index)
        w.int32(NODE_ID)
        w.int32(0)
        write_int32_array(w, [NODE_ID])
        write_int32_array(w, [NODE_ID])
        # Nullable in the spec, but the Java admin client dereferences them.
        write_int32_array(w, [])
        write_int32_array(w, [])
        write_int32_array(w, [])
        w.tags()

    def topic_out(name):
        known = name in st.topics
        w.int16(ERR_NONE if known else ERR_UNKNOWN_TOPIC_OR_PARTITION)
        w.string(name)
        w.uuid(topic_id_for(name) if known else bytes(16))
        w.boolean(False)
        w.array(list(range(st.topics.get(name, 0))), partition)
        w.int32(-2147483648)
        w.tags()

    w.array(names, topic_out)
    w.int8(-1)  # next cursor: null
    w.tags()
    return w


HANDLERS = {
    0: handle_produce,
    1: handle_fetch,
    2: handle_list_offsets,
    3: handle_metadata,
    8: handle_offset_commit,
    9: handle_offset_fetch,
    10: handle_find_coordinator,
    11: handle_join_group,
    12: handle_heartbeat,
    13: handle_leave_group,
    14: handle_sync_group,
    18: handle_api_versions,
    19: handle_create_topics,
    22: handle_init_producer_id,
    75: handle_describe_topic_partitions,
}

# APIs whose frames are always recorded; others are capped by --max-per-key.
ALWAYS_RECORD = {0, 19, 22, 75}


# ---------------------------------------------------------------------------
# Server


class Recorder:
    def __init__(self, directory, max_per_key):
        self.dir = directory
        self.max_per_key = max_per_key
        self.lock = threading.Lock()
        self.counter = 0
        self.seen = {}
        os.makedirs(directory, exist_ok=True)

    def record(self, key, version, client_id, frame):
        with self.lock:
            k = (client_id, key, version)
            self.seen[k] = self.seen.get(k, 0) + 1
            if key not in ALWAYS_RECORD and self.seen[k] > self.max_per_key:
                return None
            name = "%02d_%s_v%d.bin" % (self.counter, api_name(key), version)
            self.counter += 1
            with open(os.path.join(self.dir, name), "wb") as f:
                f.write(frame)
            return name


def recv_exact(sock, n):
    buf = bytearray()
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            return None
        buf += chunk
    return bytes(buf)


def serve_connection(sock, st, recorder, verbose):
    try:
        while True:
            size = recv_exact(sock, 4)
            if size is None:
                return
            frame = recv_exact(sock, struct.unpack(">i", size)[0])
            if frame is None:
                return
            key, version, correlation = struct.unpack_from(">hhi", frame, 0)
            hr = Reader(frame, False, 8)
            client_id = hr.legacy_string()
            if request_header_version(key, version) >= 2:
                hr.flex = True
                hr.tags()
            name = recorder.record(key, version, client_id, frame)
            handler = HANDLERS.get(key)
            if verbose:
                print("capture: %-24s %s v%d corr=%d -> %s%s" % (
                    client_id, api_name(key), version, correlation, name or "(not kept)",
                    "" if handler else " [unanswered, closing]"), file=sys.stderr, flush=True)
            if handler is None or (key != 18 and not (APIS[key][1] <= version <= APIS[key][2])):
                return
            body = Reader(frame, is_flexible(key, version), hr.pos)
            try:
                w = handler(st, version, body, client_id)
            except Exception as e:  # a parse bug here must not hang the client
                print("capture: error handling %s v%d: %r" % (api_name(key), version, e),
                      file=sys.stderr, flush=True)
                return
            if w is None:
                continue
            header = struct.pack(">i", correlation)
            if response_header_version(key, version) >= 1:
                header += b"\x00"
            payload = header + bytes(w.buf)
            sock.sendall(struct.pack(">i", len(payload)) + payload)
    except (ConnectionError, OSError):
        return
    finally:
        sock.close()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--out", required=True, help="output root directory")
    ap.add_argument("--client", required=True, help="subdirectory name for this client")
    ap.add_argument("--topic", action="append", default=[],
                    help="pre-created topic NAME[:PARTITIONS] (repeatable)")
    ap.add_argument("--max-per-key", type=int, default=2,
                    help="frames kept per (client id, api, version); Produce etc. always kept")
    ap.add_argument("--max-seconds", type=float, default=0, help="exit after this long")
    ap.add_argument("--legacy-min-versions", action="store_true",
                    help="advertise every API from v0, as Kafka 3.x did (see README: "
                         "librdkafka < 2.10 will not compress gzip/snappy/lz4 without it)")
    ap.add_argument("--quiet", action="store_true")
    args = ap.parse_args()

    if args.legacy_min_versions:
        for key, (name, _, hi, flex) in list(APIS.items()):
            APIS[key] = (name, 0, hi, flex)
    st = State(args.host, args.port)
    for spec in args.topic:
        name, _, count = spec.partition(":")
        st.ensure_topic(name, int(count or 1))
    recorder = Recorder(os.path.join(args.out, args.client), args.max_per_key)

    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind((args.host, args.port))
    listener.listen(16)
    print("capture: listening on %s:%d, writing %s" % (args.host, args.port, recorder.dir),
          file=sys.stderr, flush=True)
    if args.max_seconds > 0:
        threading.Timer(args.max_seconds, lambda: os._exit(0)).start()
    while True:
        conn, _ = listener.accept()
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        threading.Thread(target=serve_connection, args=(conn, st, recorder, not args.quiet),
                         daemon=True).start()


if __name__ == "__main__":
    main()
