"""Group requests spoken directly, and the groups-wire scenario (bad input).

Requests use non-flexible versions (request header v1, through
wire.request): FindCoordinator v2, JoinGroup v5, SyncGroup v3, Heartbeat v3,
LeaveGroup v3, OffsetCommit v7, OffsetFetch v5. ConsumerGroupHeartbeat
(KIP-848) exists only flexible: v0 is sent with request header v2 and
compact encodings (wire.request_flexible).

run_wire checks what the broker answers to requests a real client does not
send: every expected error code is the one Apache Kafka 4.1 answers.
"""

import struct
import time
import uuid

from . import wire
from .scenarios import Outcome, _token

API_OFFSET_COMMIT = 8
API_OFFSET_FETCH = 9
API_FIND_COORDINATOR = 10
API_JOIN_GROUP = 11
API_HEARTBEAT = 12
API_LEAVE_GROUP = 13
API_SYNC_GROUP = 14
API_CONSUMER_GROUP_HEARTBEAT = 68

ERRORS = {0: "NONE", 3: "UNKNOWN_TOPIC_OR_PARTITION", 12: "OFFSET_METADATA_TOO_LARGE",
          14: "COORDINATOR_LOAD_IN_PROGRESS",
          15: "COORDINATOR_NOT_AVAILABLE", 16: "NOT_COORDINATOR", 22: "ILLEGAL_GENERATION",
          23: "INCONSISTENT_GROUP_PROTOCOL", 24: "INVALID_GROUP_ID", 25: "UNKNOWN_MEMBER_ID",
          26: "INVALID_SESSION_TIMEOUT", 27: "REBALANCE_IN_PROGRESS", 42: "INVALID_REQUEST",
          69: "GROUP_ID_NOT_FOUND", 79: "MEMBER_ID_REQUIRED", 110: "FENCED_MEMBER_EPOCH",
          113: "UNRELEASED_INSTANCE_ID", 114: "UNSUPPORTED_ASSIGNOR"}


def error_name(code):
    return f"{ERRORS.get(code, '?')}({code})"


def _s(value):
    return wire._string(value)


def _ns(value):
    return struct.pack(">h", -1) if value is None else _s(value)


def _bytes(value):
    return struct.pack(">i", len(value)) + value


def _array(items):
    items = list(items)
    return struct.pack(">i", len(items)) + b"".join(items)


def _read_bytes(reader):
    length = reader.take(">i")
    return b"" if length < 0 else reader.raw(length)


def find_coordinator(port, group):
    """FindCoordinator v2: (error, node id, host, port)."""
    reader = wire._Reader(wire.request(port, API_FIND_COORDINATOR, 2,
                                       _s(group) + struct.pack(">b", 0)))
    reader.take(">i")
    error = reader.take(">h")
    reader.string()
    node, host, node_port = reader.take(">i"), reader.string(), reader.take(">i")
    return error, node, host, node_port


def consumer_metadata(topics):
    """The consumer protocol's subscription (version 0): topics, no user data."""
    return struct.pack(">h", 0) + _array(_s(t) for t in topics) + struct.pack(">i", -1)


def join_group(port, group, member_id="", session_ms=10000, rebalance_ms=30000,
               topics=("none",), protocol_type="consumer", timeout=60.0):
    """JoinGroup v5: {"error", "generation", "protocol", "leader", "member_id", "members"}."""
    body = (_s(group) + struct.pack(">ii", session_ms, rebalance_ms) + _s(member_id) +
            _ns(None) + _s(protocol_type) +
            _array([_s("range") + _bytes(consumer_metadata(topics))]))
    reader = wire._Reader(wire.request(port, API_JOIN_GROUP, 5, body, timeout=timeout))
    reader.take(">i")
    result = {"error": reader.take(">h"), "generation": reader.take(">i"),
              "protocol": reader.string(), "leader": reader.string(),
              "member_id": reader.string()}
    members = []
    for _ in range(reader.take(">i")):
        members.append((reader.string(), reader.string(), _read_bytes(reader)))
    result["members"] = members
    return result


def sync_group(port, group, generation, member_id, assignments=()):
    """SyncGroup v3: (error, assignment bytes)."""
    body = (_s(group) + struct.pack(">i", generation) + _s(member_id) + _ns(None) +
            _array(_s(m) + _bytes(a) for m, a in assignments))
    reader = wire._Reader(wire.request(port, API_SYNC_GROUP, 3, body, timeout=30.0))
    reader.take(">i")
    return reader.take(">h"), _read_bytes(reader)


def heartbeat(port, group, generation, member_id):
    """Heartbeat v3: the error code."""
    body = _s(group) + struct.pack(">i", generation) + _s(member_id) + _ns(None)
    reader = wire._Reader(wire.request(port, API_HEARTBEAT, 3, body))
    reader.take(">i")
    return reader.take(">h")


def leave_group(port, group, member_id):
    """LeaveGroup v3: (error, per-member error)."""
    body = _s(group) + _array([_s(member_id) + _ns(None)])
    reader = wire._Reader(wire.request(port, API_LEAVE_GROUP, 3, body))
    reader.take(">i")
    error = reader.take(">h")
    member_errors = []
    for _ in range(reader.take(">i")):
        reader.string()
        reader.string()
        member_errors.append(reader.take(">h"))
    return error, member_errors


def offset_commit(port, group, offsets, generation=-1, member_id=""):
    """OffsetCommit v7. offsets: {(topic, partition): (offset, metadata)}.
    Returns {(topic, partition): error}."""
    by_topic = {}
    for (topic, partition), (offset, metadata) in offsets.items():
        by_topic.setdefault(topic, []).append(
            struct.pack(">iqi", partition, offset, -1) + _ns(metadata))
    body = (_s(group) + struct.pack(">i", generation) + _s(member_id) + _ns(None) +
            _array(_s(topic) + _array(parts) for topic, parts in by_topic.items()))
    reader = wire._Reader(wire.request(port, API_OFFSET_COMMIT, 7, body))
    reader.take(">i")
    errors = {}
    for _ in range(reader.take(">i")):
        topic = reader.string()
        for _ in range(reader.take(">i")):
            partition, error = reader.take(">ih")
            errors[(topic, partition)] = error
    return errors


def offset_fetch(port, group, topic, partitions):
    """OffsetFetch v5: (group error, {partition: (offset, metadata, error)}).
    Offset -1 means nothing committed; metadata None is a null string."""
    body = _s(group) + _array([_s(topic) + _array(struct.pack(">i", p) for p in partitions)])
    reader = wire._Reader(wire.request(port, API_OFFSET_FETCH, 5, body))
    reader.take(">i")
    found = {}
    for _ in range(reader.take(">i")):
        reader.string()
        for _ in range(reader.take(">i")):
            partition, offset, _epoch = reader.take(">iqi")
            metadata = reader.string()
            found[partition] = (offset, metadata, reader.take(">h"))
    return reader.take(">h"), found


# ------------------------------------------------- flexible: KIP-848 heartbeat

def _uvarint(value):
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _cs(value):
    """COMPACT_NULLABLE_STRING."""
    if value is None:
        return b"\x00"
    encoded = value.encode()
    return _uvarint(len(encoded) + 1) + encoded


def _carray(items):
    """COMPACT_NULLABLE_ARRAY (None: null)."""
    if items is None:
        return b"\x00"
    items = list(items)
    return _uvarint(len(items) + 1) + b"".join(items)


def _read_uvarint(reader):
    shift = value = 0
    while True:
        byte = reader.take(">B")
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value
        shift += 7


def _read_cs(reader):
    length = _read_uvarint(reader) - 1
    return None if length < 0 else reader.raw(length).decode()


def consumer_group_heartbeat(port, group, member_id, epoch, topics=None, rebalance_ms=-1):
    """ConsumerGroupHeartbeat v0: {"error", "message", "member_id", "epoch"}."""
    body = (_cs(group) + _cs(member_id) + struct.pack(">i", epoch) + _cs(None) + _cs(None) +
            struct.pack(">i", rebalance_ms) +
            _carray(None if topics is None else [_cs(t) for t in topics]) +
            _cs(None) + _carray(None if topics is None else []) + b"\x00")
    response = wire.request_flexible(port, API_CONSUMER_GROUP_HEARTBEAT, 0, body)
    reader = wire._Reader(response)
    reader.take(">i")
    error = reader.take(">h")
    message = _read_cs(reader)
    member = _read_cs(reader)
    return {"error": error, "message": message, "member_id": member,
            "epoch": reader.take(">i")}


def wait_coordinator(port, group, timeout=60.0):
    """Waits until the broker coordinates `group`: FindCoordinator answers
    and OffsetFetch is not refused as loading / not coordinator (Kafka
    creates __consumer_offsets on the first FindCoordinator and then loads
    its partitions). Returns the seconds waited; raises ValueError."""
    started = time.monotonic()
    last = None
    while time.monotonic() < started + timeout:
        error = find_coordinator(port, group)[0]
        if error == 0:
            error = offset_fetch(port, group, "none", [0])[0]
            if error == 0:
                return time.monotonic() - started
        last = error
        time.sleep(0.2)
    raise ValueError(f"no coordinator for {group} after {timeout:.0f} s (last error "
                     f"{error_name(last)})")


# --------------------------------------------------------------- the scenario

class _Checks:
    def __init__(self):
        self.done = []
        self.problems = []

    def expect(self, what, got, want):
        wants = want if isinstance(want, (tuple, set, frozenset)) else (want,)
        if got in wants:
            self.done.append(f"{what}: {error_name(got)}")
        else:
            self.problems.append(f"{what}: got {error_name(got)}, expected "
                                 f"{' or '.join(error_name(w) for w in wants)}")


def run_wire(broker):
    """Bad group requests; each answer checked against Kafka 4.1's."""
    from . import group_scenarios  # create_topic; imported here to avoid a cycle
    started = time.monotonic()
    port = broker.port
    topic = f"compat-wire-{_token()}"
    group = f"{topic}-group"
    checks = _Checks()
    outcomes = []

    def part(name, action):
        begun = time.monotonic()
        checks.done, checks.problems = [], []
        try:
            action()
        except (OSError, ValueError, struct.error) as error:
            checks.problems.append(f"request failed: {error!r}")
        ok = not checks.problems
        detail = "; ".join(checks.done) if ok else "\n  ".join(checks.problems)
        outcomes.append(Outcome("groups-wire", name, ok, f"{len(checks.done)} answers ok"
                                if ok else f"{len(checks.problems)} wrong answers:\n  "
                                + detail, time.monotonic() - begun,
                                checks.done if ok else ()))

    try:
        group_scenarios.create_topic(broker, topic, 2)
    except Exception as error:  # StepError
        return [Outcome("groups-wire", "setup", False, f"creating {topic}: {error}",
                        time.monotonic() - started)]

    def coordinator():
        waited = wait_coordinator(port, group)
        for name in (f"{group}-none", f"{group}-offsets", f"{group}-never", f"{group}-848"):
            wait_coordinator(port, name)
        checks.done.append(f"coordinator ready after {waited:.1f}s")
        error, node, host, node_port = find_coordinator(port, group)
        checks.expect(f"FindCoordinator v2 for {group}", error, 0)
        if error == 0 and (host, node_port) != ("127.0.0.1", port):
            checks.problems.append(f"FindCoordinator names {host}:{node_port}, the broker "
                                   f"is 127.0.0.1:{port}")

    def classic():
        # A member needs a session timeout within the broker's bounds
        # (group.min.session.timeout.ms 6 s, group.max.session.timeout.ms 30 min).
        for session in (1000, 1800001):
            got = join_group(port, group, session_ms=session)
            checks.expect(f"JoinGroup v5 session timeout {session} ms", got["error"], 26)
        got = join_group(port, "", session_ms=10000)
        checks.expect("JoinGroup v5 with an empty group id", got["error"], 24)
        got = join_group(port, group, protocol_type="")
        checks.expect("JoinGroup v5 with an empty protocol type", got["error"], 23)
        # v4+: a first join without member id is told to come back with the id.
        first = join_group(port, group)
        checks.expect("JoinGroup v5 without member id", first["error"], 79)
        member = first["member_id"]
        if not member:
            checks.problems.append("MEMBER_ID_REQUIRED came without a member id")
            return
        got = join_group(port, group, member_id="floe-compat-made-up-id")
        checks.expect("JoinGroup v5 with a member id the group never gave", got["error"], 25)
        joined = join_group(port, group, member_id=member)  # waits the initial delay
        checks.expect("JoinGroup v5 with the given member id", joined["error"], 0)
        generation = joined["generation"]
        if joined["leader"] != member or len(joined["members"]) != 1:
            checks.problems.append(f"the only member is not the leader, or members "
                                   f"{joined['members']}")
        error, _ = sync_group(port, group, generation + 1, member)
        checks.expect("SyncGroup v3 with the wrong generation", error, 22)
        error, _ = sync_group(port, group, generation, "floe-compat-unknown")
        checks.expect("SyncGroup v3 from an unknown member", error, 25)
        error, _ = sync_group(port, group, generation, member,
                              [(member, b"\x00\x00\x00\x00\x00\x00\xff\xff\xff\xff")])
        checks.expect("SyncGroup v3 by the leader", error, 0)
        checks.expect("Heartbeat v3", heartbeat(port, group, generation, member), 0)
        checks.expect("Heartbeat v3 with the wrong generation",
                      heartbeat(port, group, generation + 1, member), 22)
        checks.expect("Heartbeat v3 from an unknown member",
                      heartbeat(port, group, generation, "floe-compat-unknown"), 25)
        checks.expect("Heartbeat v3 to a group that does not exist",
                      heartbeat(port, f"{group}-none", 1, "floe-compat-unknown"), 25)
        key = (topic, 0)
        errors = offset_commit(port, group, {key: (1, "m")}, generation + 1, member)
        checks.expect("OffsetCommit v7 with the wrong generation", errors.get(key), 22)
        errors = offset_commit(port, group, {key: (1, "m")}, generation, "floe-compat-unknown")
        checks.expect("OffsetCommit v7 from an unknown member", errors.get(key), 25)
        errors = offset_commit(port, group, {key: (1, "m")})
        checks.expect("OffsetCommit v7 without member (an admin commit) to a group with "
                      "members", errors.get(key), 25)
        errors = offset_commit(port, group, {key: (1, "by-member")}, generation, member)
        checks.expect("OffsetCommit v7 by the member", errors.get(key), 0)
        error, found = offset_fetch(port, group, topic, [0, 1])
        checks.expect("OffsetFetch v5", error, 0)
        if found.get(0) != (1, "by-member", 0) or found.get(1) != (-1, "", 0):
            checks.problems.append(f"OffsetFetch v5 returned {found}, expected partition 0 "
                                   f"(1, 'by-member', 0) and partition 1 (-1, '', 0)")
        error, member_errors = leave_group(port, group, "floe-compat-unknown")
        checks.expect("LeaveGroup v3 of an unknown member", error if error else
                      (member_errors or [0])[0], 25)
        error, member_errors = leave_group(port, group, member)
        checks.expect("LeaveGroup v3", error, 0)
        checks.expect("Heartbeat v3 after leaving", heartbeat(port, group, generation, member),
                      25)

    def offsets():
        other = f"{group}-offsets"
        errors = offset_commit(port, other, {(f"{topic}-none", 0): (5, None)})
        checks.expect("OffsetCommit v7 to a topic that does not exist",
                      errors.get((f"{topic}-none", 0)), 3)
        errors = offset_commit(port, other, {(topic, 7): (5, None)})
        checks.expect("OffsetCommit v7 to a partition that does not exist",
                      errors.get((topic, 7)), 3)
        errors = offset_commit(port, other, {(topic, 0): (5, "x" * 4097)})
        checks.expect("OffsetCommit v7 with 4097 bytes of metadata (offset.metadata.max.bytes "
                      "4096)", errors.get((topic, 0)), 12)
        errors = offset_commit(port, other, {(topic, 1): (6, "y" * 4096)})
        checks.expect("OffsetCommit v7 with 4096 bytes of metadata", errors.get((topic, 1)), 0)
        errors = offset_commit(port, other, {(topic, 0): (7, None)})
        checks.expect("OffsetCommit v7 with null metadata", errors.get((topic, 0)), 0)
        error, found = offset_fetch(port, other, topic, [0, 1])
        checks.expect("OffsetFetch v5", error, 0)
        if found.get(1) != (6, "y" * 4096, 0):
            checks.problems.append(f"OffsetFetch: partition 1 {found.get(1)!r:.80}, expected "
                                   f"offset 6 with the 4096-byte metadata")
        # The rejected commit left nothing; the null metadata reads back empty.
        if found.get(0) != (7, "", 0):
            checks.problems.append(f"OffsetFetch: partition 0 {found.get(0)}, expected "
                                   f"(7, '', 0)")
        error, found = offset_fetch(port, f"{group}-never", topic, [0])
        checks.expect("OffsetFetch v5 of a group that does not exist", error, 0)
        if found.get(0) != (-1, "", 0):
            checks.problems.append(f"OffsetFetch of an unknown group: {found}, expected "
                                   f"(-1, '', 0)")

    def consumer_protocol():
        versions = wire.api_versions(port)
        if API_CONSUMER_GROUP_HEARTBEAT not in versions:
            checks.problems.append("the broker does not advertise ConsumerGroupHeartbeat (68)")
            return
        cgroup = f"{group}-848"
        got = consumer_group_heartbeat(port, cgroup, "", 0, topics=[topic], rebalance_ms=30000)
        checks.expect("ConsumerGroupHeartbeat v0 join (epoch 0)", got["error"], 0)
        member, epoch = got["member_id"], got["epoch"]
        if not member or epoch < 1:
            checks.problems.append(f"join gave member id {member!r} epoch {epoch}")
            return
        got = consumer_group_heartbeat(port, cgroup, member, epoch + 5)
        checks.expect("ConsumerGroupHeartbeat v0 with a future epoch", got["error"], 110)
        got = consumer_group_heartbeat(port, cgroup, str(uuid.uuid4()), 1)
        checks.expect("ConsumerGroupHeartbeat v0 from an unknown member", got["error"], 25)
        got = consumer_group_heartbeat(port, cgroup, "", 0)
        checks.expect("ConsumerGroupHeartbeat v0 join without subscription", got["error"], 42)
        got = consumer_group_heartbeat(port, cgroup, member, -1)
        checks.expect("ConsumerGroupHeartbeat v0 leave (epoch -1)", got["error"], 0)
        got = consumer_group_heartbeat(port, cgroup, member, epoch)
        checks.expect("ConsumerGroupHeartbeat v0 after leaving", got["error"], 25)

    part("find-coordinator", coordinator)
    if not outcomes[-1].ok:
        return outcomes
    part("classic", classic)
    part("offset-commit", offsets)
    part("consumer-protocol", consumer_protocol)
    return outcomes
