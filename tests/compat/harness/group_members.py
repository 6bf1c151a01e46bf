"""Consumer-group members as processes, what they report, and the broker's view.

A member is one process of one client kind (KINDS), in a group, subscribed
to one topic. Java, confluent-kafka and KafkaJS members are the programs
java/src/FloeGroupMember.java, harness/group_member.py and
js/group_member.js, which share one command line and one status-file format
(FloeGroupMember.java's header): an "assigned" event after every change of
the member's partitions, commit events, and every record processed. kcat
(-G, librdkafka 2.0.2's balanced consumer) prints its rebalances on stderr,
which is parsed into the same events.

The broker's view comes from confluent-kafka's AdminClient in the harness's
own process: describe_consumer_groups (DescribeGroups, or
ConsumerGroupDescribe for KIP-848 groups when the broker has it) and
list_consumer_group_offsets (OffsetFetch).
"""

import json
import os
import re
import signal
import subprocess
import sys
import time

from . import group_wire, java, paths, procs

# kind -> (program, group.protocol, client-side assignor or None for the
# client's default: range for Java and librdkafka, eager rebalancing)
KINDS = {
    "java-classic": ("java", "classic", None),
    "java-cooperative": ("java", "classic", "cooperative-sticky"),
    "java-consumer": ("java", "consumer", None),
    "python-classic": ("python", "classic", None),
    "python-cooperative": ("python", "classic", "cooperative-sticky"),
    "python-consumer": ("python", "consumer", None),
    "kafkajs": ("kafkajs", "classic", None),
    "kcat": ("kcat", "classic", None),
}


class GroupFailure(Exception):
    """A group check failed; the message says which and why."""


def protocol_of(kind):
    return KINDS[kind][1]


class Member:
    """One member process. `session_ms` is its session timeout (classic
    protocol only; with the consumer protocol the broker sets it)."""

    def __init__(self, kind, name, bootstrap, topic, group, work, session_ms=10000,
                 commit_every=0, rate=0, finish=False):
        if kind not in KINDS:
            raise ValueError(f"unknown member kind {kind!r}")
        self.kind = kind
        self.program, self.protocol, assignor = KINDS[kind]
        self.name = name
        self.bootstrap = bootstrap
        self.topic = topic
        self.group = group
        self.session_ms = session_ms
        self.options = {"protocol": self.protocol, "session": session_ms,
                        "commit-every": commit_every, "rate": rate,
                        "finish": "true" if finish else "false"}
        if assignor:
            self.options["assignor"] = assignor
        self.status_path = work / f"{group}.{name}.status"
        self.log_path = work / f"{group}.{name}.log"
        self.records_path = work / f"{group}.{name}.records"  # kcat's stdout
        self.proc = None
        self.started_at = None
        # confluent-kafka 2.16 sends a commit's metadata string with its
        # terminating NUL byte: the broker stores "m\0" (its own committed()
        # strips it again; other clients see it).
        self.stored_metadata_suffix = "\0" if self.program == "python" else ""

    def _argv(self):
        common = [self.bootstrap, self.topic, self.group, self.name, str(self.status_path),
                  *[f"{key}={value}" for key, value in self.options.items()]]
        if self.program == "java":
            return java.group_member_argv(*common), None
        if self.program == "python":
            return [sys.executable, str(paths.COMPAT_DIR / "harness" / "group_member.py"),
                    *map(str, common)], None
        if self.program == "kafkajs":
            if not paths.NODE_MODULES.joinpath("kafkajs").is_dir():
                raise GroupFailure(f"{paths.NODE_MODULES} has no kafkajs: run "
                                   f"scripts/install-deps.sh")
            return ([paths.require_program("node"), str(paths.JS_DIR / "group_member.js"),
                     *map(str, common)], dict(os.environ, NODE_PATH=str(paths.NODE_MODULES)))
        # kcat -G: librdkafka's balanced consumer; rebalances go to stderr.
        return ([paths.require_program("kcat"), "-b", self.bootstrap, "-G", self.group,
                 self.topic, "-X", f"client.id={self.name}",
                 "-X", f"session.timeout.ms={self.session_ms}",
                 "-X", "heartbeat.interval.ms=1000", "-o", "beginning",
                 "-f", "%p\t%o\n"], None)

    def start(self):
        argv, env = self._argv()
        if self.program == "kcat":
            out = open(self.records_path, "wb")
            err = open(self.status_path, "wb")
        else:
            out = err = open(self.log_path, "wb")
        with out, err:
            self.proc = procs.spawn(argv, stdout=out, stderr=err, stdin=subprocess.PIPE,
                                    env=env)
        self.started_at = time.monotonic()
        return self

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def command(self, text):
        """Sends a stdin command ("pause", "stop") to a Java, Python or JS member."""
        try:
            self.proc.stdin.write(text.encode() + b"\n")
            self.proc.stdin.flush()
        except (BrokenPipeError, OSError):
            pass

    def stop(self, timeout=45.0):
        """Graceful stop: the client closes its consumer (LeaveGroup, or the
        consumer protocol's leave heartbeat) and exits. Returns the exit code;
        raises GroupFailure when it does not exit in time."""
        if self.program == "kcat":
            procs.signal_group(self.proc, signal.SIGTERM)  # kcat closes and leaves
        else:
            self.command("stop")
        try:
            code = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            procs.kill(self.proc)
            raise GroupFailure(f"member {self.name} ({self.kind}) did not exit within "
                               f"{timeout:.0f} s of being asked to stop; log "
                               f"{self.log_path}:\n{self.log_tail()}")
        procs.stop(self.proc, grace_seconds=0.1)  # forget it, reap leftovers
        return code

    def kill(self):
        """SIGKILL: a crash, the group only notices when the session expires."""
        procs.kill(self.proc)

    def log_tail(self, lines=15):
        path = self.status_path if self.program == "kcat" else self.log_path
        try:
            text = path.read_text(errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])

    # ---------------------------------------------------------------- status

    def read(self):
        """(events, lines): events as dicts in order; lines is the ordered
        list of ("E", event) and ("R", partition, offset, key, value, headers)."""
        try:
            text = self.status_path.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return [], []
        complete = text[:text.rfind("\n") + 1]  # a line still being written waits
        if self.program == "kcat":
            return _kcat_events(complete)
        events, lines = [], []
        for line in complete.splitlines():
            if line.startswith("E "):
                try:
                    event = json.loads(line[2:])
                except ValueError:
                    continue
                events.append(event)
                lines.append(("E", event))
            elif line.startswith("R\t"):
                fields = line.split("\t")
                while len(fields) < 6:
                    fields.append("")
                lines.append(("R", int(fields[1]), int(fields[2]), fields[3], fields[4],
                              fields[5]))
        return events, lines

    def events(self, kind=None):
        return [e for e in self.read()[0] if kind is None or e["ev"] == kind]

    def assignment(self):
        """(member id, frozenset of partitions) last reported, or None."""
        assigned = self.events("assigned")
        if not assigned:
            return None
        return assigned[-1].get("member"), frozenset(assigned[-1]["partitions"])

    def processed(self):
        return sum(1 for line in self.read()[1] if line[0] == "R")


_KCAT_REBALANCE = re.compile(
    r"^% Group (\S+) rebalanced \(memberid ([^)]*)\): (assigned|revoked): ?(.*)$")


def _kcat_events(text):
    owned = set()
    events = []
    for line in text.splitlines():
        match = _KCAT_REBALANCE.match(line)
        if not match:
            continue
        partitions = {int(p) for p in re.findall(r"\[(\d+)\]", match.group(4))}
        if match.group(3) == "assigned":
            owned |= partitions
        else:
            owned -= partitions
        events.append({"ev": "assigned", "member": match.group(2), "partitions": sorted(owned)})
    return events, [("E", event) for event in events]


# ------------------------------------------------------------ broker's view

class BrokerView:
    """The group as the broker describes it, through confluent-kafka's admin."""

    def __init__(self, bootstrap):
        from confluent_kafka.admin import AdminClient
        self.bootstrap = bootstrap
        self.admin = AdminClient({"bootstrap.servers": bootstrap})

    def describe(self, group):
        """{"state", "type", "assignor", "members": {client id: (member id,
        frozenset of partitions)}}; raises GroupFailure when the call fails."""
        try:
            description = self.admin.describe_consumer_groups(
                [group], request_timeout=15)[group].result(timeout=20)
        except Exception as error:  # KafkaException, timeouts
            raise GroupFailure(f"describe_consumer_groups({group}): {error}") from error
        members = {}
        for member in description.members:
            partitions = frozenset(tp.partition for tp in
                                   (member.assignment.topic_partitions if member.assignment
                                    else []))
            if member.client_id in members:
                raise GroupFailure(f"the broker lists client id {member.client_id} twice in "
                                   f"{group}")
            members[member.client_id] = (member.member_id, partitions)
        return {"state": _enum_name(description.state), "type": _enum_name(description.type),
                "assignor": description.partition_assignor, "members": members}

    def committed(self, group, topic, partitions):
        """{partition: (offset, metadata)} by OffsetFetch v5 on the wire (offset
        -1 when none; a null metadata reads as ""). Not through the admin
        client: confluent-kafka 2.16's list_consumer_group_offsets returns
        undecodable bytes for the metadata of offsets the Java client
        committed."""
        port = int(self.bootstrap.rsplit(":", 1)[1])
        deadline = time.monotonic() + 60.0
        while True:
            try:
                error, found = group_wire.offset_fetch(port, group, topic, partitions)
            except (OSError, ValueError) as failure:
                raise GroupFailure(f"OffsetFetch of {group}: {failure}") from failure
            # Coordinator loading (14), not available (15), not coordinator (16):
            # a broker just restarted; clients retry these too.
            if error not in (14, 15, 16) or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        if error:
            raise GroupFailure(f"OffsetFetch of {group}: error {group_wire.error_name(error)}")
        bad = {p: e for p, (_, _, e) in found.items() if e}
        if bad:
            raise GroupFailure(f"OffsetFetch of {group}: partition errors {bad}")
        return {p: (offset, metadata or "") for p, (offset, metadata, _) in found.items()}

    def end_offsets(self, topic, partitions):
        """{partition: latest offset} from ListOffsets."""
        from confluent_kafka import TopicPartition
        from confluent_kafka.admin import OffsetSpec
        try:
            futures = self.admin.list_offsets({TopicPartition(topic, p): OffsetSpec.latest()
                                               for p in partitions}, request_timeout=15)
            return {tp.partition: future.result(timeout=20).offset
                    for tp, future in futures.items()}
        except Exception as error:
            raise GroupFailure(f"list_offsets({topic}): {error}") from error


def _enum_name(value):
    return getattr(value, "name", str(value)).upper()


def wait_balanced(view, group, live, partitions, expect_type, timeout, what):
    """Waits until the live members' reported assignments cover every
    partition exactly once, each member holding at least one (when there are
    at least as many partitions as members), and the broker describes the
    group as Stable, of the expected type, with exactly these members (by
    client id) holding exactly what they report. Seen twice in a row, 0.3 s
    apart. Returns a one-line summary; raises GroupFailure with the last
    differences when `timeout` seconds pass."""
    started = time.monotonic()
    deadline = started + timeout
    confirmed = 0
    problems = ["not checked yet"]
    while True:
        problems = _balance_problems(view, group, live, partitions, expect_type)
        if not problems:
            confirmed += 1
            if confirmed >= 2:
                owners = " ".join(f"{m.name}{sorted(m.assignment()[1])}" for m in live)
                return f"{what}: balanced after {time.monotonic() - started:.1f}s ({owners})"
        else:
            confirmed = 0
        if time.monotonic() > deadline:
            raise GroupFailure(f"{what}: not balanced within {timeout:.0f} s: "
                               + "; ".join(problems))
        for member in live:
            if not member.alive():
                raise GroupFailure(f"{what}: member {member.name} ({member.kind}) exited "
                                   f"(code {member.proc.returncode}); log:\n"
                                   f"{member.log_tail()}")
        time.sleep(0.3)


def _balance_problems(view, group, live, partitions, expect_type):
    problems = []
    owner = {}
    reported = {}
    for member in live:
        got = member.assignment()
        if got is None:
            problems.append(f"{member.name} reported no assignment yet")
            continue
        reported[member.name] = got
        if not got[1] and len(live) <= len(partitions):
            problems.append(f"{member.name} owns nothing")
        for partition in got[1]:
            if partition in owner:
                problems.append(f"partition {partition} owned by {owner[partition]} and "
                                f"{member.name}")
            owner[partition] = member.name
    missing = sorted(set(partitions) - set(owner))
    if missing:
        problems.append(f"partitions {missing} owned by no live member")
    extra = sorted(set(owner) - set(partitions))
    if extra:
        problems.append(f"unknown partitions {extra} reported")
    if problems:
        return problems
    try:
        described = view.describe(group)
    except GroupFailure as error:
        return [str(error)]
    if described["state"] != "STABLE":
        problems.append(f"broker says state {described['state']}")
    if expect_type and described["type"] not in (expect_type, "UNKNOWN"):
        problems.append(f"broker says group type {described['type']}, expected {expect_type}")
    names = {member.name for member in live}
    if set(described["members"]) != names:
        problems.append(f"broker lists members {sorted(described['members'])}, live are "
                        f"{sorted(names)}")
    for name, (member_id, owned) in described["members"].items():
        if name not in reported:
            continue
        if owned != reported[name][1]:
            problems.append(f"broker assigns {sorted(owned)} to {name}, which reports "
                            f"{sorted(reported[name][1])}")
        if reported[name][0] and member_id != reported[name][0]:
            problems.append(f"broker's member id of {name} is {member_id}, it reports "
                            f"{reported[name][0]}")
    return problems


def wait_for(condition, timeout, what, interval=0.2, members=()):
    """Polls condition() until it returns a true value (returned), raising
    GroupFailure(what) after timeout seconds or when a member exits."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise GroupFailure(f"{what} (waited {timeout:.0f} s)")
        for member in members:
            if not member.alive():
                raise GroupFailure(f"{what}: member {member.name} ({member.kind}) exited "
                                   f"(code {member.proc.returncode}); log:\n"
                                   f"{member.log_tail()}")
        time.sleep(interval)
