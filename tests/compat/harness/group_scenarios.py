"""Consumer-group scenarios with real clients (tests/compat/README.md, "Consumer groups").

  groups-membership  per client kind: members join one by one, one leaves
                     (close), one is SIGKILLed; after each step every
                     partition is owned by exactly one live member, and the
                     broker's description of the group agrees
  groups-resume      per client kind: a paced group commits at known points;
                     a member is SIGKILLed mid-consumption, then the broker;
                     committed offsets survive, a new member resumes exactly
                     at them and every record is consumed
  groups-tool        Kafka's kafka-consumer-groups tool: list, describe (lag),
                     members, state, reset offsets, delete offsets, delete
  groups-wire        bad group requests on the wire (harness/group_wire.py)

Each returns Outcome values like harness/scenarios.py; a failed check is an
Outcome with ok=False, never an exception.
"""

import collections
import concurrent.futures
import time

from . import clients, group_members, records
from .group_members import GroupFailure, Member, protocol_of, wait_balanced, wait_for
from .scenarios import Outcome, _token, records_file

# In this order, so that with lanes the JVM kinds do not all start at once.
MEMBERSHIP_KINDS = ("java-classic", "python-classic", "kcat", "java-consumer",
                    "python-consumer", "kafkajs", "java-cooperative", "python-cooperative")
RESUME_KINDS = ("java-classic", "python-classic", "kafkajs", "java-consumer",
                "python-consumer")

# The brokers' settings for the group scenarios. The initial rebalance delay
# is Kafka's default and Floe's, not the harness's usual 0. The consumer
# protocol's (KIP-848) heartbeat interval and session timeout are cut from
# 5 s / 45 s so that a SIGKILLed member is noticed quickly; against a broker
# with the defaults the waits below still suffice (about a minute more per
# consumer-protocol kind). Kafka gets them in server.properties, Floe in its
# environment (kafka_as_floe.py maps those back to Kafka's settings).
KAFKA_GROUP_CONFIG = {
    "group.initial.rebalance.delay.ms": "3000",
    "group.consumer.heartbeat.interval.ms": "1000",
    "group.consumer.min.heartbeat.interval.ms": "1000",
    "group.consumer.session.timeout.ms": "6000",
    "group.consumer.min.session.timeout.ms": "6000",
}
FLOE_GROUP_ENV = {
    "FLOE_GROUP_INITIAL_REBALANCE_DELAY_MS": "3000",
    "FLOE_GROUP_CONSUMER_HEARTBEAT_INTERVAL_MS": "1000",
    "FLOE_GROUP_CONSUMER_SESSION_TIMEOUT_MS": "6000",
}

MEMBERSHIP_PARTITIONS = 8
JOIN_TIMEOUT = 60.0
# A SIGKILLed member goes when its session expires: 6 s (classic, set by the
# member) or the broker's consumer-protocol session timeout (45 s by default).
CLASSIC_KILLED_SESSION_MS = 6000
CONSUMER_PROTOCOL_EXPIRY_TIMEOUT = 80.0


def expected_type(kind):
    return "CONSUMER" if group_members.protocol_of(kind) == "consumer" else "CLASSIC"


def create_topic(broker, topic, partitions, timeout=60.0):
    """Creates the topic (confluent-kafka's admin) and waits until Metadata
    shows all its partitions with a leader (flows in lanes create topics
    concurrently; Kafka's metadata may lag a creation by a moment)."""
    from confluent_kafka.admin import AdminClient, NewTopic
    admin = AdminClient({"bootstrap.servers": broker.bootstrap})
    try:
        admin.create_topics([NewTopic(topic, num_partitions=partitions, replication_factor=1)],
                            operation_timeout=60)[topic].result(timeout=90)
    except Exception as error:  # KafkaException, timeouts
        raise GroupFailure(f"create_topics({topic}): {error}") from error
    deadline = time.monotonic() + timeout
    while True:
        described = admin.list_topics(topic=topic, timeout=30).topics.get(topic)
        if described is not None and described.error is None \
                and len(described.partitions) == partitions \
                and all(p.leader >= 0 for p in described.partitions.values()):
            return
        if time.monotonic() > deadline:
            raise GroupFailure(f"created {topic} with {partitions} partitions; after "
                               f"{timeout:.0f} s Metadata shows "
                               f"{described.partitions if described else 'no topic'}")
        time.sleep(0.2)


def _stop_all(members):
    for member in members:
        if member.alive():
            member.kill()


# ----------------------------------------------------------------- membership

def in_lanes(function, kinds, lanes):
    """Runs function(kind) for every kind, `lanes` at a time (threads: every
    flow has its own topic, group and member processes), in the given order.
    Returns the results in the order of kinds."""
    lanes = max(1, min(lanes, len(kinds)))
    if lanes == 1:
        return [function(kind) for kind in kinds]
    with concurrent.futures.ThreadPoolExecutor(max_workers=lanes) as pool:
        return list(pool.map(function, kinds))


def run_membership(broker, work, kinds, lanes=3):
    def flow(kind):
        started = time.monotonic()
        steps = []
        members = []
        try:
            view = group_members.BrokerView(broker.bootstrap)
            _membership(broker, work, kind, view, steps, members)
            return Outcome("groups-membership", kind, True, f"{len(steps)} steps balanced",
                           time.monotonic() - started, steps)
        except (GroupFailure, clients.StepError) as error:
            return Outcome("groups-membership", kind, False, str(error),
                           time.monotonic() - started, steps)
        except Exception as error:  # anything else: fail this kind, go on
            return Outcome("groups-membership", kind, False, f"{error!r}",
                           time.monotonic() - started, steps)
        finally:
            _stop_all(members)

    return in_lanes(flow, list(kinds), lanes)


def _membership(broker, work, kind, view, steps, members):
    topic = f"compat-members-{kind}-{_token()}"
    group = f"{topic}-group"
    partitions = list(range(MEMBERSHIP_PARTITIONS))
    create_topic(broker, topic, MEMBERSHIP_PARTITIONS)
    want = expected_type(kind)
    consumer_protocol = group_members.protocol_of(kind) == "consumer"

    def member(name, session_ms=20000):
        m = Member(kind, name, broker.bootstrap, topic, group, work, session_ms=session_ms)
        members.append(m)
        return m.start()

    m1 = member("m1")
    live = [m1]
    steps.append(wait_balanced(view, group, live, partitions, want, JOIN_TIMEOUT, "m1 joined"))
    m2 = member("m2")
    live.append(m2)
    steps.append(wait_balanced(view, group, live, partitions, want, JOIN_TIMEOUT, "m2 joined"))
    m3 = member("m3", session_ms=CLASSIC_KILLED_SESSION_MS)
    live.append(m3)
    steps.append(wait_balanced(view, group, live, partitions, want, JOIN_TIMEOUT, "m3 joined"))

    # Graceful leave: the broker drops the member as soon as its consumer closed.
    code = m2.stop()
    if code != 0:
        raise GroupFailure(f"m2 exited with code {code} when stopped:\n{m2.log_tail()}")
    live.remove(m2)
    stopped = time.monotonic()
    wait_for(lambda: "m2" not in view.describe(group)["members"], 5.0,
             "m2 closed its consumer but the broker still lists it after 5 s (a leaving "
             "member must be removed at once, not when its session expires)")
    steps.append(f"m2 stopped: gone from the broker's description "
                 f"{time.monotonic() - stopped:.1f}s after its exit")
    steps.append(wait_balanced(view, group, live, partitions, want, JOIN_TIMEOUT,
                               "after m2 left"))

    # Crash: still a member until its session expires, then rebalanced away.
    m3.kill()
    killed = time.monotonic()
    if "m3" not in view.describe(group)["members"]:
        raise GroupFailure("m3 was SIGKILLed and the broker dropped it at once; a crashed "
                           "member stays until its session times out")
    live.remove(m3)
    timeout = CONSUMER_PROTOCOL_EXPIRY_TIMEOUT if consumer_protocol \
        else CLASSIC_KILLED_SESSION_MS / 1000 + JOIN_TIMEOUT
    steps.append(wait_balanced(view, group, live, partitions, want, timeout,
                               "after m3 was SIGKILLed") +
                 f", {time.monotonic() - killed:.1f}s after the kill")

    code = m1.stop()
    if code != 0:
        raise GroupFailure(f"m1 exited with code {code} when stopped:\n{m1.log_tail()}")
    described = wait_for(lambda: (lambda d: d if not d["members"] else None)(
        view.describe(group)), 10.0, "the last member closed but the broker still lists "
                                     "members")
    if described["state"] != "EMPTY":
        raise GroupFailure(f"after every member left the broker says state "
                           f"{described['state']}, expected EMPTY")
    steps.append(f"m1 stopped: group {described['state']} ({described['type']})")


# --------------------------------------------------------------------- resume

RESUME_PARTITIONS = 6
COMMIT_EVERY = 50


class _Resume:
    """One client kind's flow through groups-resume."""

    def __init__(self, kind, broker, work, count):
        self.kind = kind
        self.broker = broker
        self.work = work
        self.count = count
        self.topic = f"compat-resume-{kind}-{_token()}"
        self.group = f"{self.topic}-group"
        self.partitions = list(range(RESUME_PARTITIONS))
        self.notes = []
        self.members = []
        self.failure = None
        self.seconds = 0.0
        self.end = {}
        self.summary = ""

    def member(self, name, **options):
        m = Member(self.kind, name, self.broker.bootstrap, self.topic, self.group, self.work,
                   session_ms=CLASSIC_KILLED_SESSION_MS, commit_every=COMMIT_EVERY, **options)
        self.members.append(m)
        return m.start()

    def timed(self, step):
        started = time.monotonic()
        try:
            step()
        except (GroupFailure, clients.StepError) as error:
            self.failure = str(error)
        except Exception as error:  # anything else (a client's odd output): fail, go on
            self.failure = f"{error!r}"
        finally:
            self.seconds += time.monotonic() - started
        return self

    def outcome(self):
        _stop_all(self.members)
        if self.failure:
            return Outcome("groups-resume", self.kind, False, self.failure, self.seconds,
                           self.notes)
        return Outcome("groups-resume", self.kind, True, self.summary, self.seconds, self.notes)

    # Before the broker's SIGKILL: a, b consume paced; b is SIGKILLed, a takes
    # its partitions over, commits, is paused and SIGKILLed.
    def phase1(self):
        view = group_members.BrokerView(self.broker.bootstrap)
        create_topic(self.broker, self.topic, RESUME_PARTITIONS)
        # gzip: the one codec KafkaJS reads without registering another.
        clients.CLIENTS["python"].produce(self.broker, self.topic, "gzip",
                                          records_file(self.work, self.count), self.count,
                                          self.work)
        self.end = view.end_offsets(self.topic, self.partitions)
        if sum(self.end.values()) != self.count:
            raise GroupFailure(f"produced {self.count} records, end offsets {self.end}")
        rate = max(50, self.count // 20)  # per member, records/s
        a = self.member("a", rate=rate)
        wait_for(lambda: a.assignment() and a.assignment()[1], JOIN_TIMEOUT,
                 "a got no partitions", members=[a])
        b = self.member("b", rate=rate)
        want = expected_type(self.kind)
        self.notes.append(wait_balanced(view, self.group, [a, b], self.partitions, want,
                                        JOIN_TIMEOUT, "a and b"))
        wait_for(lambda: b.events("committed") and
                 a.processed() + b.processed() >= self.count * 0.3, 60.0,
                 "b committed nothing, or a and b processed under 30% of the records",
                 members=[a, b])
        b_partitions = b.assignment()[1]
        b.kill()
        killed = time.monotonic()
        self.notes.append(f"b SIGKILLed owning {sorted(b_partitions)} after "
                          f"{a.processed()}+{b.processed()} records processed, "
                          f"{len(b.events('committed'))} commits of b")
        timeout = CONSUMER_PROTOCOL_EXPIRY_TIMEOUT if protocol_of(self.kind) == "consumer" \
            else CLASSIC_KILLED_SESSION_MS / 1000 + JOIN_TIMEOUT
        wait_for(lambda: a.assignment()[1] == frozenset(self.partitions), timeout,
                 "a never took b's partitions over", members=[a])
        self.notes.append(f"a owns every partition {time.monotonic() - killed:.1f}s after "
                          f"the kill")

        def a_committed_taken_over():
            _, lines = a.read()
            taken_over = False
            for line in lines:
                if line[0] != "E":
                    continue
                event = line[1]
                if event["ev"] == "assigned" and set(event["partitions"]) >= set(b_partitions):
                    taken_over = True
                elif taken_over and event["ev"] == "committed" and \
                        {int(p) for p in event["offsets"]} & set(b_partitions):
                    return True
            return False
        wait_for(a_committed_taken_over, 60.0, "a committed nothing of b's partitions after "
                                               "taking them over", members=[a])
        a.command("pause")
        wait_for(lambda: a.events("paused"), 20.0, "a did not pause", members=[a])
        a.kill()
        self.notes.append(f"a paused and SIGKILLed after {a.processed()} records, "
                          f"{len(a.events('committed'))} commits")

    # After the broker's restart: the committed offsets read back, then c
    # consumes the rest, commits the end offsets and reads them back.
    def phase2(self):
        view = group_members.BrokerView(self.broker.bootstrap)
        a, b = self.members[:2]
        commits = _commit_history([a, b], stored=True)
        fetched = view.committed(self.group, self.topic, self.partitions)
        problems = []
        for partition in self.partitions:
            allowed = _allowed_commits(commits.get(partition, []), float("inf"))
            got = fetched[partition]
            if got[0] < 0 and None in allowed:
                continue
            if got not in allowed:
                problems.append(f"partition {partition}: OffsetFetch after the broker restart "
                                f"gives {got}, the last commit was "
                                f"{' or '.join(map(str, sorted(allowed, key=str)))}")
        if problems:
            raise GroupFailure("committed offsets after the broker's SIGKILL and restart:\n  "
                               + "\n  ".join(problems))
        if a.stored_metadata_suffix:
            self.notes.append("confluent-kafka sent each commit's metadata with a trailing "
                              "NUL byte, stored and returned by the broker as such")
        self.notes.append("after the broker restart OffsetFetch returns the last commits "
                          "(offsets and metadata): " +
                          ", ".join(f"{p}:{o}" for p, (o, _) in sorted(fetched.items())))
        c = self.member("c", finish=True)
        timeout = 60.0 + (CONSUMER_PROTOCOL_EXPIRY_TIMEOUT if protocol_of(self.kind) ==
                          "consumer" else CLASSIC_KILLED_SESSION_MS / 1000)
        try:
            code = c.proc.wait(timeout=timeout)
        except Exception:  # subprocess.TimeoutExpired
            raise GroupFailure(f"c did not read to the end and exit within {timeout:.0f} s "
                               f"({c.processed()} records processed); log:\n{c.log_tail()}")
        if code != 0 or not c.events("final"):
            raise GroupFailure(f"c exited with code {code} without its final commit; log:\n"
                               f"{c.log_tail()}")
        final = c.events("final")[-1]["offsets"]
        last = c.events("committed")[-1]
        for partition in self.partitions:
            want = [self.end[partition], last["metadata"]]
            if final.get(str(partition)) != want:
                problems.append(f"partition {partition}: c's final commit reads back (client) "
                                f"as {final.get(str(partition))}, expected {want}")
        fetched = view.committed(self.group, self.topic, self.partitions)
        stored = last["metadata"] + c.stored_metadata_suffix
        for partition in self.partitions:
            if fetched[partition] != (self.end[partition], stored):
                problems.append(f"partition {partition}: OffsetFetch gives {fetched[partition]}"
                                f" after c's final commit of {self.end[partition]}")
        problems.extend(_check_deliveries(self.members, self.end, self.count))
        if problems:
            raise GroupFailure(f"{len(problems)} problems:\n  " + "\n  ".join(problems[:25]))
        self.summary = self.summarize()

    def summarize(self):
        delivered = collections.Counter()
        for member in self.members:
            for line in member.read()[1]:
                if line[0] == "R":
                    delivered[(line[1], line[2])] += 1
        again = sum(n - 1 for n in delivered.values())
        per = ", ".join(f"{m.name} {m.processed()}" for m in self.members)
        return (f"{self.count} records consumed ({per}; {again} delivered again, all after "
                f"the last commit); resumed at the committed offsets after a member and a "
                f"broker SIGKILL")


def _commit_history(members, stored=False):
    """{partition: [[t_intent, t_confirmed or None, offset, metadata]]} over
    members; with `stored`, the metadata as the broker stores it (see
    Member.stored_metadata_suffix) instead of as the client was given it."""
    history = collections.defaultdict(list)
    for member in members:
        suffix = member.stored_metadata_suffix if stored else ""
        for event in member.events():
            if event["ev"] == "committing":
                for partition, offset in event["offsets"].items():
                    history[int(partition)].append([event["t"], None, offset,
                                                    event["metadata"] + suffix])
            elif event["ev"] == "committed":
                for partition, offset in event["offsets"].items():
                    for entry in history[int(partition)]:
                        if entry[3] == event["metadata"] + suffix:
                            entry[1] = event["t"]
    return history


def _allowed_commits(history, before):
    """What a partition's committed offset may be at time `before` (epoch ms):
    the last commit confirmed before it ((offset, metadata); None when there
    was none), or any commit attempted after that one was confirmed (its
    outcome unknown: a member killed while committing)."""
    confirmed = [entry for entry in history if entry[1] is not None and entry[1] <= before]
    last = max(confirmed, key=lambda entry: entry[1]) if confirmed else None
    allowed = {(last[2], last[3]) if last else None}
    for entry in history:
        if entry[0] <= before and (last is None or entry[0] > last[0]) and entry is not last:
            allowed.add((entry[2], entry[3]))
    return allowed


def _check_deliveries(members, end, count):
    """Every record delivered; each member's run on a partition (from the
    assignment that gave it the partition) starts exactly at the committed
    offset and continues without a gap; what a member's "start" event read
    (committed offset and metadata) is where the run started."""
    problems = []
    commits = {}
    history = _commit_history(members)
    for partition, entries in history.items():
        for entry in entries:
            commits[(partition, entry[2], entry[3])] = entry
    first_delivery = {}
    for member in members:
        _, lines = member.read()
        runs = {}  # partition -> [start time, expected start (from "start"), offsets]
        finished = []
        owned = set()
        pending_start = None
        for line in lines:
            if line[0] == "E":
                event = line[1]
                if event["ev"] == "assigned":
                    now = set(event["partitions"])
                    new = now if event.get("fresh") else now - owned
                    for partition in list(runs):
                        if partition not in now or partition in new:
                            finished.append((partition, runs.pop(partition)))
                    for partition in new:
                        runs[partition] = [event["t"], None, []]
                    owned = now
                    pending_start = new
                elif event["ev"] == "start" and pending_start is not None \
                        and member.program != "kafkajs":
                    for partition, value in event["offsets"].items():
                        if int(partition) in runs and int(partition) in pending_start:
                            runs[int(partition)][1] = value
                    pending_start = None
                continue
            _, partition, offset, key, value, headers = line
            if partition not in runs:
                problems.append(f"{member.name} processed partition {partition} offset "
                                f"{offset} without owning it")
                continue
            runs[partition][2].append(offset)
            first_delivery.setdefault((partition, offset), records.Consumed(
                partition, offset, key, value, headers))
        finished.extend(runs.items())
        for partition, (started, start_event, offsets) in finished:
            if not offsets:
                continue
            allowed = _allowed_commits(history.get(partition, []), started)
            starts = {entry[0] if entry else 0 for entry in allowed}
            if offsets[0] not in starts:
                problems.append(f"{member.name} got partition {partition} and read from offset "
                                f"{offsets[0]}, the committed offset was "
                                f"{' or '.join(map(str, sorted(starts)))}")
            if start_event is not None and start_event[0] != offsets[0]:
                problems.append(f"{member.name} read committed offset {start_event} for "
                                f"partition {partition} but its first record was offset "
                                f"{offsets[0]}")
            if start_event is not None and (partition, start_event[0], start_event[1]) \
                    not in commits:
                problems.append(f"{member.name} read committed offset {start_event} for "
                                f"partition {partition}: no member committed that (offset, "
                                f"metadata)")
            for before, after in zip(offsets, offsets[1:]):
                if after != before + 1:
                    problems.append(f"{member.name} partition {partition}: offset {after} "
                                    f"after {before}")
                    break
    report = records.verify(sorted(first_delivery.values()), count, "python",
                            end_offsets=end)
    if not report:
        problems.append(f"records consumed by the group: {report.summary()}")
    return problems


def run_resume(broker, work, kinds, count, lanes=3):
    flows = [_Resume(kind, broker, work, count) for kind in kinds]
    in_lanes(lambda flow: flow.timed(flow.phase1), flows, lanes)
    ready = [flow for flow in flows if not flow.failure]
    if ready:
        started = time.monotonic()
        try:
            broker.kill()
            broker.start()
        except Exception as error:  # BrokerError
            for flow in ready:
                flow.failure = f"broker restart failed: {error}"
            return [flow.outcome() for flow in flows]
        restart = time.monotonic() - started
        for flow in ready:
            flow.notes.append(f"broker SIGKILLed and restarted in {restart:.1f}s")
        in_lanes(lambda flow: flow.timed(flow.phase2), ready, lanes)
    return [flow.outcome() for flow in flows]


# ----------------------------------------------------------------------- tool

GROUPS_TOOL = "org.apache.kafka.tools.consumer.group.ConsumerGroupCommand"
TOOL_PARTITIONS = 4


def _table(text, header):
    """Rows (lists of fields) of the tool's table whose header line starts
    with `header` (a tuple of column names); the tool separates columns by
    spaces and prints "-" for an empty cell."""
    rows = []
    inside = False
    for line in text.splitlines():
        fields = line.split()
        if tuple(fields[:len(header)]) == header:
            inside = True
            continue
        if not fields:
            inside = False
            continue
        if inside:
            rows.append(fields)
    return rows


def run_tool(broker, work):
    """Kafka's consumer-groups tool against a classic group (tc) and a
    consumer-protocol group (tk), each with two confluent-kafka members.

    The topic's partition p holds 10 + 5p records, record i with timestamp
    base + i s (base an hour ago). tc gets offsets committed on the wire
    (OffsetCommit v7 without member: what an admin commit is) before its
    members join; tk after its members left."""
    from . import group_wire
    from .scenarios import _ToolFailure, _tool
    outcomes = []
    view = group_members.BrokerView(broker.bootstrap)
    bootstrap = ["--bootstrap-server", broker.bootstrap]
    topic = f"compat-gtool-{_token()}"
    tc, tk = f"{topic}-tc", f"{topic}-tk"
    partitions = list(range(TOOL_PARTITIONS))
    size = {p: 10 + 5 * p for p in partitions}
    base = (int(time.time()) - 3600) * 1000
    members = []
    state = {}

    def tool(*args):
        return _tool(GROUPS_TOOL, [*bootstrap, *args], timeout=120)

    def expect(condition, message):
        if not condition:
            raise GroupFailure(message)

    def fetched(group):
        return {p: o for p, (o, _) in view.committed(group, topic, partitions).items()}

    def step(part, action):
        started = time.monotonic()
        try:
            detail = action() or ""
            outcomes.append(Outcome("groups-tool", part, True, detail,
                                    time.monotonic() - started))
            return True
        except (GroupFailure, _ToolFailure) as error:
            outcomes.append(Outcome("groups-tool", part, False, str(error),
                                    time.monotonic() - started))
        except Exception as error:  # a broken step (or harness bug): fail, go on
            outcomes.append(Outcome("groups-tool", part, False, f"{error!r}",
                                    time.monotonic() - started))
            return False

    def setup():
        from confluent_kafka import Producer
        create_topic(broker, topic, TOOL_PARTITIONS)
        producer = Producer({"bootstrap.servers": broker.bootstrap, "acks": "all",
                             "enable.idempotence": True})
        for partition in partitions:
            for i in range(size[partition]):
                producer.produce(topic, key=f"k{i}", value=f"p{partition}-{i}",
                                 partition=partition, timestamp=base + i * 1000)
        expect(producer.flush(60) == 0, "records still unacknowledged after 60 s")
        expect(view.end_offsets(topic, partitions) == size, "end offsets differ from what "
                                                            "was produced")
        for group in (tc, tk):
            group_wire.wait_coordinator(broker.port, group)
        state["tc"] = {0: 3, 1: 5, 2: 15}  # partition 3: nothing committed
        errors = group_wire.offset_commit(broker.port, tc, {
            (topic, p): (o, f"tool-{p}") for p, o in state["tc"].items()})
        expect(set(errors.values()) == {0}, f"OffsetCommit to {tc}: {errors}")
        for group, kind in ((tc, "python-classic"), (tk, "python-consumer")):
            live = []
            for name in ("1", "2"):
                member = Member(kind, f"{group[-2:]}{name}", broker.bootstrap, topic, group,
                                work)
                members.append(member)
                live.append(member.start())
            wait_balanced(view, group, live, partitions, expected_type(kind), JOIN_TIMEOUT,
                          group)
        return (f"{topic}: {size} records; {tc} (classic) and {tk} (consumer protocol) "
                f"with two members each")

    def listed():
        out = tool("--list", "--type", "--state")
        rows = {row[0]: row[1:] for row in _table(out, ("GROUP", "TYPE", "STATE"))}
        expect(rows.get(tc) == ["Classic", "Stable"] and rows.get(tk) == ["Consumer", "Stable"],
               f"--list --type --state shows {rows.get(tc)} for {tc} and {rows.get(tk)} for "
               f"{tk}:\n{out}")
        return "both listed, Classic/Consumer, Stable"

    def describe_active():
        described = {group: view.describe(group) for group in (tc, tk)}
        out = tool("--describe", "--group", tc, "--group", tk)
        rows = _table(out, ("GROUP", "TOPIC", "PARTITION", "CURRENT-OFFSET"))
        got = {(row[0], int(row[2])): row[3:] for row in rows if row[1] == topic}
        for group, committed in ((tc, state["tc"]), (tk, {})):
            owner = {p: (member_id, client) for client, (member_id, owned)
                     in described[group]["members"].items() for p in owned}
            for p in partitions:
                current = str(committed[p]) if p in committed else "-"
                lag = str(size[p] - committed[p]) if p in committed else "-"
                want = [current, str(size[p]), lag, owner[p][0], "/127.0.0.1", owner[p][1]]
                expect(got.get((group, p)) == want,
                       f"--describe {group} partition {p}: {got.get((group, p))}, expected "
                       f"{want}:\n{out}")
        out = tool("--describe", "--group", tc, "--group", tk, "--members", "--verbose")
        rows = _table(out, ("GROUP", "CONSUMER-ID", "HOST", "CLIENT-ID", "#PARTITIONS"))
        for group in (tc, tk):
            for client, (member_id, owned) in described[group]["members"].items():
                row = [r for r in rows if r[0] == group and r[1] == member_id]
                expect(row, f"--members --verbose lists no {member_id} in {group}:\n{out}")
                row = row[0]
                assignment = f"{topic}:{','.join(map(str, sorted(owned)))}"
                expect(row[3] == client and row[4] == str(len(owned)) and row[6] == assignment,
                       f"--members --verbose row {row} for {client}, expected {len(owned)} "
                       f"partitions {assignment}:\n{out}")
                if group == tk:  # consumer protocol: epochs and target assignment
                    expect(row[5] != "-" and row[8] == assignment,
                           f"--members --verbose row {row}: no epoch or target assignment")
        out = tool("--describe", "--group", tc, "--group", tk, "--state")
        rows = {row[0]: row for row in _table(out, ("GROUP", "COORDINATOR"))}
        for group, assignor in ((tc, "range"), (tk, "uniform")):
            row = rows.get(group, [])
            expect(row[-3:] == [assignor, "Stable", "2"],
                   f"--describe --state of {group}: {row}, expected {assignor} Stable 2:\n{out}")
            expect(row[1] == broker.bootstrap, f"--state coordinator {row[1]}")
        return ("offsets, lag and owners per partition; members with their assignments; "
                "state Stable, range/uniform, 2 members")

    def refused_while_active():
        out = tool("--reset-offsets", "--group", tc, "--group", tk, "--topic", topic,
                   "--to-earliest", "--execute")
        for group in (tc, tk):
            expect(f"Assignments can only be reset if the group '{group}' is inactive, but "
                   f"the current state is Stable." in out,
                   f"--reset-offsets of the active {group} printed:\n{out}")
        expect(fetched(tc) == {p: state["tc"].get(p, -1) for p in partitions},
               f"offsets of {tc} changed by a refused reset: {fetched(tc)}")
        out = tool("--delete", "--group", tc, "--group", tk)
        for group in (tc, tk):
            expect(f"Group '{group}' could not be deleted due to: "
                   f"org.apache.kafka.common.errors.GroupNotEmptyException" in out,
                   f"--delete of the active {group} printed:\n{out}")
        out = tool("--delete-offsets", "--group", tc, "--topic", topic)
        rows = _table(out, ("TOPIC", "PARTITION", "STATUS"))
        expect(len(rows) == TOOL_PARTITIONS and all(
            "GroupSubscribedToTopicException" in " ".join(row) for row in rows),
            f"--delete-offsets of the topic {tc} is subscribed to printed:\n{out}")
        return ("reset refused (group Stable), delete refused (GroupNotEmpty), "
                "delete-offsets refused (GroupSubscribedToTopic)")

    def leave():
        for member in members:
            code = member.stop()
            expect(code == 0, f"member {member.name} exited with code {code}")
        for group in (tc, tk):
            wait_for(lambda: view.describe(group)["state"] == "EMPTY", 15.0,
                     f"{group} not Empty after its members left")
        state["tk"] = {0: 2, 1: 4, 2: 6, 3: 8}
        errors = group_wire.offset_commit(broker.port, tk, {
            (topic, p): (o, None) for p, o in state["tk"].items()})
        expect(set(errors.values()) == {0}, f"OffsetCommit to the empty {tk}: {errors}")
        return f"members left, both Empty; {tk} offsets committed: {state['tk']}"

    def describe_empty():
        out = tool("--describe", "--group", tc, "--group", tk)
        rows = _table(out, ("GROUP", "TOPIC", "PARTITION", "CURRENT-OFFSET"))
        got = {(row[0], int(row[2])): row[3:] for row in rows if row[1] == topic}
        for group in (tc, tk):
            for p in partitions:
                if p not in state[group[-2:]]:
                    # Without members, partitions without a commit are not listed.
                    expect((group, p) not in got, f"--describe {group} lists partition {p} "
                                                  f"without a commit: {got.get((group, p))}")
                    continue
                committed = state[group[-2:]][p]
                want = [str(committed), str(size[p]), str(size[p] - committed), "-", "-", "-"]
                expect(got.get((group, p)) == want,
                       f"--describe {group} partition {p}: {got.get((group, p))}, expected "
                       f"{want}:\n{out}")
        out = tool("--describe", "--group", tc, "--group", tk, "--state")
        rows = {row[0]: row for row in _table(out, ("GROUP", "COORDINATOR"))}
        for group in (tc, tk):
            expect(rows.get(group, [])[-2:] == ["Empty", "0"],
                   f"--describe --state of {group}: {rows.get(group)}:\n{out}")
        return "CURRENT-OFFSET, LOG-END-OFFSET and LAG as committed; state Empty, 0 members"

    def reset(args, want, label, execute=True):
        """One --reset-offsets for both groups; `want` {partition: offset}
        is what it prints as NEW-OFFSET and, with --execute, what OffsetFetch
        then returns."""
        before = {group: fetched(group) for group in (tc, tk)}
        out = tool("--reset-offsets", "--group", tc, "--group", tk, "--topic", topic, *args,
                   *(["--execute"] if execute else ["--dry-run"]))
        rows = _table(out, ("GROUP", "TOPIC", "PARTITION", "NEW-OFFSET"))
        for group in (tc, tk):
            printed = {int(row[2]): int(row[3]) for row in rows if row[0] == group}
            expect(printed == want, f"{label}: {group} NEW-OFFSET {printed}, expected "
                                    f"{want}:\n{out}")
            now = fetched(group)
            expect(now == (want if execute else before[group]),
                   f"{label}: OffsetFetch of {group} gives {now} afterwards, expected "
                   f"{want if execute else before[group]}")
        return f"{label}: {want}"

    def resets():
        done = [reset(["--to-earliest"], {p: 0 for p in partitions}, "--to-earliest --dry-run",
                      execute=False),
                reset(["--to-earliest"], {p: 0 for p in partitions}, "--to-earliest"),
                reset(["--to-latest"], size, "--to-latest")]
        moment = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(base / 1000 + 5)) + ".500Z"
        done.append(reset(["--to-datetime", moment], {p: 6 for p in partitions},
                          f"--to-datetime {moment} (record 6's timestamp is the first after)"))
        done.append(reset(["--shift-by", "-2"], {p: 4 for p in partitions}, "--shift-by -2"))
        done.append(reset(["--shift-by", "100"], size, "--shift-by 100 (capped at the end)"))
        done.append(reset(["--shift-by", "-1000"], {p: 0 for p in partitions},
                          "--shift-by -1000 (capped at the start)"))
        return "; ".join(done)

    def delete_offsets():
        out = tool("--delete-offsets", "--group", tc, "--topic", f"{topic}:0")
        rows = _table(out, ("TOPIC", "PARTITION", "STATUS"))
        expect(rows == [[topic, "0", "Successful"]], f"--delete-offsets {tc} {topic}:0 "
                                                     f"printed:\n{out}")
        expect(fetched(tc) == {0: -1, 1: 0, 2: 0, 3: 0}, f"after deleting partition 0's "
                                                          f"offset of {tc}: {fetched(tc)}")
        out = tool("--delete-offsets", "--group", tk, "--topic", topic)
        rows = _table(out, ("TOPIC", "PARTITION", "STATUS"))
        expect(sorted(rows) == sorted([topic, str(p), "Successful"] for p in partitions),
               f"--delete-offsets {tk} {topic} printed:\n{out}")
        expect(fetched(tk) == {p: -1 for p in partitions}, f"after deleting {tk}'s offsets: "
                                                             f"{fetched(tk)}")
        return "one partition of tc, the whole topic of tk: OffsetFetch then finds none"

    def delete():
        out = tool("--delete", "--group", tc, "--group", tk)
        expect(f"Deletion of requested consumer groups ('{tc}', '{tk}') was successful." in out
               or f"Deletion of requested consumer groups ('{tk}', '{tc}') was successful."
               in out, f"--delete printed:\n{out}")
        listed = tool("--list").split()
        expect(tc not in listed and tk not in listed, f"--list after --delete: {listed}")
        out = tool("--delete", "--group", tc)
        expect(f"Group '{tc}' could not be deleted due to: "
               f"org.apache.kafka.common.errors.GroupIdNotFoundException" in out,
               f"--delete of the deleted {tc} printed:\n{out}")
        return "both deleted, gone from --list; deleting again: GroupIdNotFound"

    plan = [("setup", setup), ("list", listed), ("describe-active", describe_active),
            ("refused-while-active", refused_while_active), ("leave", leave),
            ("describe-empty", describe_empty), ("reset-offsets", resets),
            ("delete-offsets", delete_offsets), ("delete", delete)]
    try:
        for part, action in plan:
            if not step(part, action):
                skipped = [name for name, _ in plan[len(outcomes):]]
                if skipped:
                    outcomes.append(Outcome("groups-tool", "skipped", False,
                                            f"not run after the failure: {', '.join(skipped)}"))
                break
    finally:
        _stop_all(members)
    return outcomes
