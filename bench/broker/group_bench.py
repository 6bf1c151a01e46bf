#!/usr/bin/env python3
"""Consumer-group benchmark: rebalance times and offset commits, Floe and Kafka.

    .deps/venv/bin/python bench/broker/group_bench.py --floe-bin build-release/floe
    .deps/venv/bin/python bench/broker/group_bench.py --floe-bin build-release/floe --broker floe
    .deps/venv/bin/python bench/broker/group_bench.py --broker kafka

`--broker both` (the default) runs Floe (`FLOE serve` on a fresh data
directory) and then Apache Kafka (tests/compat/kafka_as_floe.py, the same
command line), one after the other on the same machine, loopback only, and
writes bench/results/broker_groups.json. A full run takes about 8 minutes
(4 per broker).

Clients: confluent-kafka (librdkafka), one OS process per group member, so a
member can be SIGKILLed. Every member reports each change of its assignment
over its stdout pipe, stamped with CLOCK_MONOTONIC (time.monotonic(), the
same clock in every process): the time of the on_assign/on_revoke callback
that caused it. A group is *stable* when every live member has reported an
assignment, the union of the assignments covers every partition of the
topic exactly once, the members' partition counts differ by at most one,
and no member reports a change for --settle-s seconds (the settle window is
not part of the figure: the figure ends at the change that completed the
cover).

  join   10 members (separate processes) are started, each creates its
         Consumer and fetches the topic's metadata (connections are up), then
         all are released at once and call subscribe(). Time from the 10th
         member's subscribe() call (the latest of the ten, all within a few ms
         of each other) until the group is stable.
  crash  in a stable group of 10, one member is SIGKILLed; time from the
         kill until the 9 survivors are stable. Dominated by the session
         timeout: the client default (45 s, librdkafka's session.timeout.ms
         for classic; the broker's group.consumer.session.timeout.ms, 45 s by
         default, for the consumer protocol) and a short one (6 s: the client
         setting for classic, the broker setting for consumer).
  commit one member, then --committers members of one group, each committing
         synchronously in a loop (commit(offsets=[one partition],
         asynchronous=False)), rotating over its assigned partitions with an
         offset that grows by one per commit, for --commit-seconds;
         commits/s (summed over members) and p50/p99 latency of one commit.

Each broker is run twice on the same data directory ("phases"):
  A: group.initial.rebalance.delay.ms = 0, consumer session timeout 45 s:
     classic join x (--reps + 2), consumer join x 1, then the default-timeout crash
     of both (one classic and one consumer group, killed at the same moment),
     then the commit runs;
  B: group.initial.rebalance.delay.ms = 3000 (Kafka's and Floe's default),
     consumer session timeout 6 s: classic join+crash x --reps (client
     session.timeout.ms 6000), consumer join+crash x --reps.
Floe gets these as options (--group-initial-rebalance-delay-ms,
--group-consumer-session-timeout-ms); Kafka, which kafka_as_floe.py starts with
group.initial.rebalance.delay.ms=0, gets them by editing the server.properties
the launcher wrote into the data directory and starting it again (the
launcher formats the storage only the first time).

Before the first measurement of each phase one OffsetFetch creates (or
loads) __consumer_offsets, which a join should not include. Each kill comes
after a random (seeded, --seed) pause of 0-5 s, so that it does not land at
the same point of the heartbeat cycles every time.

Figures are medians of the repetitions; the JSON keeps every sample. Fails
loudly (non-zero exit naming the step, with the members' last assignments)
when a group does not stabilise within its bound; it never reports a figure
it did not measure.
"""
import argparse
import datetime
import json
import os
import queue
import random
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
KAFKA_LAUNCHER = os.path.join(REPO, "tests", "compat", "kafka_as_floe.py")

PROTOCOLS = ("classic", "consumer")


class BenchError(RuntimeError):
    pass


# --------------------------------------------------------------------------
# Member process (group_bench.py member ...): one Consumer, driven over stdin,
# reporting over stdout as JSON lines.
# --------------------------------------------------------------------------

def member_main(argv):
    ap = argparse.ArgumentParser(prog="group_bench.py member")
    ap.add_argument("--bootstrap", required=True)
    ap.add_argument("--group", required=True)
    ap.add_argument("--topic", required=True)
    ap.add_argument("--protocol", choices=PROTOCOLS, required=True)
    ap.add_argument("--session-timeout-ms", type=int, default=0)
    ap.add_argument("--name", required=True)
    ap.add_argument("--debug", default="")
    a = ap.parse_args(argv)
    from confluent_kafka import Consumer, KafkaException, TopicPartition

    out_lock = threading.Lock()

    def emit(ev, t=None, **kw):
        kw["ev"] = ev
        kw["t"] = time.monotonic() if t is None else t
        line = json.dumps(kw) + "\n"
        with out_lock:
            sys.stdout.write(line)
            sys.stdout.flush()

    conf = {
        "bootstrap.servers": a.bootstrap,
        "group.id": a.group,
        "client.id": a.name,
        "group.protocol": a.protocol,
        "enable.auto.commit": False,
        "auto.offset.reset": "earliest",
        "error_cb": lambda err: emit("error", msg=str(err)),
    }
    if a.debug:
        conf["debug"] = a.debug  # librdkafka's log goes to the member's stderr (log file)
    if a.protocol == "classic" and a.session_timeout_ms:
        conf["session.timeout.ms"] = a.session_timeout_ms
    consumer = Consumer(conf)
    md = consumer.list_topics(a.topic, timeout=30)
    tmd = md.topics.get(a.topic)
    if tmd is None or tmd.error is not None or not tmd.partitions:
        emit("fatal", msg=f"topic {a.topic} not in metadata: {tmd and tmd.error}")
        return 2

    commands = queue.Queue()

    def read_stdin():
        for line in sys.stdin:
            commands.put(line.split())
        commands.put(["stop"])  # parent gone

    threading.Thread(target=read_stdin, daemon=True).start()
    emit("ready")
    try:
        cmd = commands.get(timeout=120)
    except queue.Empty:
        emit("fatal", msg="no go within 120 s")
        return 2
    if cmd[0] != "go":
        consumer.close()
        return 0

    callback_t = [None]

    def on_assign(c, parts):
        callback_t[0] = time.monotonic()

    def on_revoke(c, parts):
        callback_t[0] = time.monotonic()

    t_sub = time.monotonic()
    consumer.subscribe([a.topic], on_assign=on_assign, on_revoke=on_revoke, on_lost=on_revoke)
    emit("subscribed", t=t_sub)
    last = None
    while True:
        msg = consumer.poll(0.05)
        if msg is not None and msg.error() is not None:
            emit("error", msg=str(msg.error()))
        try:
            cur = sorted(tp.partition for tp in consumer.assignment())
        except KafkaException as e:
            emit("error", msg=f"assignment(): {e}")
            cur = last
        if cur != last:
            t = callback_t[0] if callback_t[0] is not None else time.monotonic()
            emit("assignment", t=t, parts=cur)
            last = cur
        callback_t[0] = None
        try:
            cmd = commands.get_nowait()
        except queue.Empty:
            continue
        if cmd[0] == "stop":
            break
        if cmd[0] == "commit":
            seconds = float(cmd[1])
            parts = list(last or [])
            if not parts:
                emit("fatal", msg="commit asked with an empty assignment")
                continue
            lat = []
            errors = []
            i = 0
            start = time.perf_counter()
            end = start + seconds
            while True:
                now = time.perf_counter()
                if now >= end:
                    break
                i += 1
                tp = TopicPartition(a.topic, parts[i % len(parts)], i)
                try:
                    res = consumer.commit(offsets=[tp], asynchronous=False)
                    done = time.perf_counter()
                    bad = [r for r in (res or []) if r.error is not None]
                    if bad:
                        errors.append(str(bad[0].error))
                    else:
                        lat.append(round((done - now) * 1e6))
                except KafkaException as e:
                    errors.append(str(e))
                    if len(errors) > 1000:
                        break
            elapsed = time.perf_counter() - start
            emit("commits", seconds=elapsed, lat_us=lat, errors=errors[:20],
                 error_count=len(errors))
    t_close = time.monotonic()
    consumer.close()
    emit("closed", close_ms=round(1000 * (time.monotonic() - t_close), 1))
    return 0


# --------------------------------------------------------------------------
# Parent side.
# --------------------------------------------------------------------------

def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def median(xs):
    return round(statistics.median(xs), 1) if xs else None


def pct(sorted_xs, p):
    if not sorted_xs:
        return None
    k = min(len(sorted_xs) - 1, max(0, int(round(p / 100 * len(sorted_xs) + 0.5)) - 1))
    return sorted_xs[k]


def log(msg):
    print(f"[group_bench {time.strftime('%H:%M:%S')}] {msg}", flush=True)


class Broker:
    """`BIN serve --listen 127.0.0.1:PORT --data-dir DIR [extra]`, Floe or
    Kafka behind kafka_as_floe.py."""

    def __init__(self, kind, floe_bin, work, topic, partitions):
        self.kind = kind
        self.floe_bin = floe_bin
        self.work = work
        self.data = os.path.join(work, "data")
        self.port = free_port()
        self.proc = None
        self.log_path = os.path.join(work, "broker.log")
        self.starts = 0
        self.topic = topic
        self.partitions = partitions

    @property
    def bootstrap(self):
        return f"127.0.0.1:{self.port}"

    def start(self, initial_delay_ms, consumer_session_ms):
        if self.kind == "floe":
            argv = [self.floe_bin, "serve", "--listen", self.bootstrap, "--data-dir", self.data,
                    "--group-initial-rebalance-delay-ms", str(initial_delay_ms),
                    "--group-consumer-session-timeout-ms", str(consumer_session_ms)]
        else:
            props = os.path.join(self.data, "server.properties")
            if os.path.exists(props):
                self._edit_kafka_config(props, {
                    "group.initial.rebalance.delay.ms": str(initial_delay_ms),
                    "group.consumer.session.timeout.ms": str(consumer_session_ms),
                    "group.consumer.min.session.timeout.ms":
                        str(min(consumer_session_ms, 45000)),
                })
            elif (initial_delay_ms, consumer_session_ms) != (0, 45000):
                raise BenchError("kafka: the first start must use kafka_as_floe.py's own "
                                 "settings (delay 0, consumer session 45000)")
            argv = [sys.executable, KAFKA_LAUNCHER, "serve", "--listen", self.bootstrap,
                    "--data-dir", self.data]
        self.starts += 1
        with open(self.log_path, "a") as f:
            f.write(f"\n===== group_bench: start #{self.starts}: {' '.join(argv)}\n")
        logf = open(self.log_path, "a")
        t0 = time.monotonic()
        self.proc = subprocess.Popen(argv, stdout=logf, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, start_new_session=True)
        logf.close()
        self._wait_ready(t0, 180 if self.kind == "kafka" else 30)
        return round(time.monotonic() - t0, 1)

    @staticmethod
    def _edit_kafka_config(path, settings):
        lines = [l for l in open(path).read().splitlines()
                 if l.split("=", 1)[0].strip() not in settings]
        lines += [f"{k}={v}" for k, v in settings.items()]
        with open(path, "w") as f:
            f.write("\n".join(lines) + "\n")

    def _wait_ready(self, t0, bound):
        from confluent_kafka.admin import AdminClient
        deadline = t0 + bound
        while True:
            if self.proc.poll() is not None:
                raise BenchError(f"{self.kind} broker exited with {self.proc.returncode} at "
                                 f"start-up:\n{self.log_tail()}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise BenchError(f"{self.kind} broker not listening after {bound} s:\n"
                                 f"{self.log_tail()}")
            time.sleep(0.05)
        # Ready once it answers CreateTopics (creating the bench topic).
        from confluent_kafka import KafkaError
        from confluent_kafka.admin import NewTopic
        admin = AdminClient({"bootstrap.servers": self.bootstrap})
        last = None
        while True:
            try:
                fut = admin.create_topics([NewTopic(self.topic, self.partitions, 1)],
                                          operation_timeout=30, request_timeout=10)
                fut[self.topic].result(timeout=15)
                return
            except Exception as e:  # noqa: BLE001 - retried until the bound
                err = e.args[0] if e.args and isinstance(e.args[0], KafkaError) else None
                if err is not None and err.code() == KafkaError.TOPIC_ALREADY_EXISTS:
                    return
                last = e
            if time.monotonic() > deadline:
                raise BenchError(f"{self.kind} broker does not create topic {self.topic} "
                                 f"after {bound} s ({last}):\n{self.log_tail()}")
            time.sleep(0.2)

    def wait_topic(self, topic, partitions):
        from confluent_kafka.admin import AdminClient
        admin = AdminClient({"bootstrap.servers": self.bootstrap})
        deadline = time.monotonic() + 60
        while True:
            md = admin.list_topics(topic, timeout=10)
            t = md.topics.get(topic)
            if t is not None and t.error is None and len(t.partitions) == partitions and all(
                    p.leader >= 0 for p in t.partitions.values()):
                return
            if time.monotonic() > deadline:
                raise BenchError(f"topic {topic}: {partitions} partitions with leaders not in "
                                 f"metadata after 60 s ({t and t.error}, "
                                 f"{t and len(t.partitions)})")
            time.sleep(0.2)

    def stop(self):
        if self.proc is None or self.proc.poll() is not None:
            return self.proc and self.proc.returncode
        os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(60)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)
        return self.proc.returncode

    def check_alive(self, step):
        if self.proc.poll() is not None:
            raise BenchError(f"{self.kind} broker exited ({self.proc.returncode}) during "
                             f"{step}:\n{self.log_tail()}")

    def log_tail(self, n=40):
        try:
            with open(self.log_path, errors="replace") as f:
                return "".join(f.readlines()[-n:])
        except OSError:
            return "(no log)"


class Member:
    def __init__(self, group, index, queue_):
        self.group = group
        self.index = index
        self.name = f"{group.group_id}-m{index}"
        self.log_path = os.path.join(group.bench.work, f"{self.name}.log")
        argv = [sys.executable, os.path.abspath(__file__), "member",
                "--bootstrap", group.bench.broker.bootstrap, "--group", group.group_id,
                "--topic", group.topic, "--protocol", group.protocol, "--name", self.name]
        if group.session_timeout_ms:
            argv += ["--session-timeout-ms", str(group.session_timeout_ms)]
        if group.bench.args.client_debug:
            argv += ["--debug", group.bench.args.client_debug]
        self.logf = open(self.log_path, "w")
        self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=self.logf, text=True, bufsize=1)
        self.killed = False
        self.thread = threading.Thread(target=self._read, args=(queue_,), daemon=True)
        self.thread.start()

    def _read(self, q):
        for line in self.proc.stdout:
            try:
                ev = json.loads(line)
            except ValueError:
                ev = {"ev": "garbage", "t": time.monotonic(), "line": line[:200]}
            q.put((self.index, ev))
        q.put((self.index, {"ev": "exit", "t": time.monotonic()}))

    def send(self, line):
        try:
            self.proc.stdin.write(line + "\n")
            self.proc.stdin.flush()
        except (BrokenPipeError, OSError):
            pass

    def kill(self):
        self.killed = True
        self.proc.send_signal(signal.SIGKILL)


class Group:
    def __init__(self, bench, protocol, size, session_timeout_ms=0, label=""):
        bench.group_seq += 1
        self.bench = bench
        self.protocol = protocol
        self.size = size
        self.session_timeout_ms = session_timeout_ms
        self.topic = bench.topic
        self.partitions = bench.partitions
        self.group_id = f"gb{bench.group_seq}-{protocol}{label}"
        self.q = queue.Queue()
        self.members = []
        self.assign = {}
        self.subscribed = {}
        self.ready = set()
        self.exited = set()
        self.errors = []
        self.commit_results = {}
        self.closed = {}
        self.changes = 0
        self.last_change_t = 0.0
        self.cover_t = None

    # -- events
    def pump(self, timeout=0.0):
        try:
            idx, ev = self.q.get(timeout=timeout)
        except queue.Empty:
            return False
        self._handle(idx, ev)
        while True:
            try:
                idx, ev = self.q.get_nowait()
            except queue.Empty:
                return True
            self._handle(idx, ev)

    def _handle(self, idx, ev):
        kind = ev["ev"]
        if kind == "ready":
            self.ready.add(idx)
        elif kind == "subscribed":
            self.subscribed[idx] = ev["t"]
        elif kind == "assignment":
            self.assign[idx] = ev["parts"]
            self.changes += 1
            self.last_change_t = ev["t"]
            self._update_cover(ev["t"])
        elif kind == "error":
            self.errors.append(f"{self.members[idx].name}: {ev['msg']}")
        elif kind == "fatal":
            raise BenchError(f"{self.members[idx].name}: {ev['msg']}")
        elif kind == "commits":
            self.commit_results[idx] = ev
        elif kind == "closed":
            self.closed[idx] = ev["close_ms"]
        elif kind == "exit":
            self.exited.add(idx)
            self.assign.pop(idx, None)
            if not self.members[idx].killed and idx not in self.closed:
                raise BenchError(f"{self.members[idx].name} exited unexpectedly (code "
                                 f"{self.members[idx].proc.wait()}); its log "
                                 f"{self.members[idx].log_path}:\n{self._member_log(idx)}")
        elif kind == "garbage":
            raise BenchError(f"{self.members[idx].name} wrote {ev['line']!r}")

    def _member_log(self, idx):
        try:
            with open(self.members[idx].log_path, errors="replace") as f:
                return "".join(f.readlines()[-20:])
        except OSError:
            return ""

    def alive(self):
        return [m.index for m in self.members if not m.killed and m.index not in self.exited]

    def _balanced_cover(self):
        alive = self.alive()
        if not alive or any(i not in self.assign for i in alive):
            return False
        seen = []
        counts = []
        for i in alive:
            seen += self.assign[i]
            counts.append(len(self.assign[i]))
        return sorted(seen) == list(range(self.partitions)) and max(counts) - min(counts) <= 1

    def _update_cover(self, t):
        if self._balanced_cover():
            if self.cover_t is None:
                self.cover_t = t
        else:
            self.cover_t = None

    def describe(self):
        rows = []
        for m in self.members:
            state = "killed" if m.killed else ("exited" if m.index in self.exited else "alive")
            rows.append(f"  {m.name} ({state}): {self.assign.get(m.index, 'no assignment yet')}")
        errs = self.errors[-10:]
        return "\n".join(rows) + ("\n  client errors (last 10):\n    " + "\n    ".join(errs)
                                  if errs else "")

    # -- steps
    def spawn(self, bound=90):
        self.members = [Member(self, i, self.q) for i in range(self.size)]
        deadline = time.monotonic() + bound
        while len(self.ready) < self.size:
            self.bench.broker.check_alive(f"start of {self.group_id}")
            if time.monotonic() > deadline:
                raise BenchError(f"{self.group_id}: only {len(self.ready)}/{self.size} members "
                                 f"ready (consumer created, metadata fetched) after {bound} s")
            self.pump(0.1)

    def go(self, bound=30):
        for m in self.members:
            m.send("go")
        deadline = time.monotonic() + bound
        while len(self.subscribed) < self.size:
            if time.monotonic() > deadline:
                raise BenchError(f"{self.group_id}: only {len(self.subscribed)} members "
                                 f"subscribed after {bound} s")
            self.pump(0.1)
        return max(self.subscribed.values()), min(self.subscribed.values())

    def stable(self, settle_s):
        """cover_t once the balanced cover has held for settle_s, else None."""
        if self.cover_t is not None and time.monotonic() - self.last_change_t >= settle_s:
            return self.cover_t
        return None

    def stop(self, bound=30):
        for m in self.members:
            if not m.killed and m.index not in self.exited:
                m.send("stop")
        deadline = time.monotonic() + bound
        for m in self.members:
            try:
                m.proc.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                m.kill()
                m.proc.wait(10)
                self.errors.append(f"{m.name}: did not close within {bound} s, killed")
            m.logf.close()
        while self.pump(0.0):
            pass
        close_ms = list(self.closed.values())
        return max(close_ms) if close_ms else None


def wait_stable(groups, since, bound, settle_s, what):
    """Waits until every group in `groups` is stable; returns each group's
    (cover time - since) in ms."""
    deadline = time.monotonic() + bound
    result = {}
    while True:
        for g in groups:
            g.pump(0.0)
        for g in groups:
            if g.group_id not in result:
                t = g.stable(settle_s)
                if t is not None:
                    result[g.group_id] = round(1000 * (t - since), 1)
        if len(result) == len(groups):
            return [result[g.group_id] for g in groups]
        groups[0].bench.broker.check_alive(what)
        if time.monotonic() > deadline:
            bad = [g for g in groups if g.group_id not in result]
            raise BenchError(f"{what}: group(s) {[g.group_id for g in bad]} not stable after "
                             f"{bound} s (need every live member to report, an exact and "
                             f"balanced cover of {bad[0].partitions} partitions, no change "
                             f"for {settle_s} s):\n" + "\n".join(g.describe() for g in bad))
        time.sleep(0.02)


class Bench:
    def __init__(self, args, kind, work):
        self.args = args
        self.kind = kind
        self.work = work
        self.topic = "group-bench"
        self.broker = Broker(kind, args.floe_bin, work, self.topic, args.partitions)
        self.partitions = args.partitions
        self.group_seq = 0
        self.out = {"errors": [], "anomalies": []}
        # The kill lands at a random point of the heartbeat cycles (classic
        # 3 s, consumer 5 s): a fixed pause after the join would phase-lock
        # it and bias the crash figure.
        self.rng = random.Random(args.seed)

    def warm_up(self):
        """One FindCoordinator + OffsetFetch before any measurement: the first
        one creates __consumer_offsets (Floe and Kafka), which is not what a
        join should measure."""
        from confluent_kafka import Consumer, TopicPartition
        c = Consumer({"bootstrap.servers": self.broker.bootstrap, "group.id": "gb-warm-up",
                      "enable.auto.commit": False})
        t0 = time.monotonic()
        last = None
        try:
            while time.monotonic() - t0 < 60:
                try:
                    c.committed([TopicPartition(self.topic, 0)], timeout=10)
                    return round(1000 * (time.monotonic() - t0), 1)
                except Exception as e:  # noqa: BLE001 - retried until the bound
                    last = e
                    time.sleep(0.2)
        finally:
            c.close()
        raise BenchError(f"warm-up: no OffsetFetch answer within 60 s ({last}):\n"
                         f"{self.broker.log_tail()}")

    def pause_before_kill(self):
        pause = round(self.rng.uniform(0.0, 5.0), 2)
        time.sleep(pause)
        return pause

    def note_errors(self, g, step):
        if g.errors:
            self.out["errors"].append({"step": step, "group": g.group_id,
                                       "count": len(g.errors), "first": g.errors[:5]})

    def join(self, protocol, session_ms=0, label=""):
        g = Group(self, protocol, self.args.members, session_ms, label)
        g.spawn()
        last_sub, first_sub = g.go()
        join_ms, = wait_stable([g], last_sub, self.args.join_bound, self.args.settle_s,
                               f"join of {g.group_id}")
        changes = g.changes
        log(f"{self.kind} {protocol} join: {join_ms} ms (subscribe spread "
            f"{round(1000 * (last_sub - first_sub), 1)} ms, {changes} assignment changes)")
        return g, {"join_ms": join_ms, "subscribe_spread_ms": round(1000 * (last_sub - first_sub), 1),
                   "assignment_changes": changes}

    def crash(self, groups, bound, step):
        """SIGKILLs the last member of every group at the same moment."""
        for g in groups:
            g.pump(0.0)
            if g.stable(0.0) is None:
                raise BenchError(f"{step}: {g.group_id} not stable before the kill:\n"
                                 f"{g.describe()}")
        t_kill = time.monotonic()
        for g in groups:
            g.members[-1].kill()
            g.cover_t = None
        for g in groups:
            g.members[-1].proc.wait(10)
        res = wait_stable(groups, t_kill, bound, self.args.settle_s, step)
        for g, ms in zip(groups, res):
            log(f"{self.kind} {g.protocol} crash ({step}): {ms} ms")
        return res

    def commits(self, protocol, members):
        g = Group(self, protocol, members, 0, f"-commit{members}")
        g.spawn()
        last_sub, _ = g.go()
        wait_stable([g], last_sub, self.args.join_bound, self.args.settle_s,
                    f"join of {g.group_id}")
        for m in g.members:
            m.send(f"commit {self.args.commit_seconds}")
        deadline = time.monotonic() + self.args.commit_seconds + 60
        while len(g.commit_results) < members:
            self.broker.check_alive("commits")
            if time.monotonic() > deadline:
                raise BenchError(f"{g.group_id}: {len(g.commit_results)}/{members} committers "
                                 f"reported within {self.args.commit_seconds + 60} s")
            g.pump(0.1)
        g.stop()
        self.note_errors(g, f"commit {protocol} x{members}")
        lat = sorted(x for r in g.commit_results.values() for x in r["lat_us"])
        rate = sum(len(r["lat_us"]) / r["seconds"] for r in g.commit_results.values())
        errs = sum(r["error_count"] for r in g.commit_results.values())
        if errs:
            first = [e for r in g.commit_results.values() for e in r["errors"]][:5]
            self.out["anomalies"].append(f"commit {protocol} x{members}: {errs} failed "
                                         f"commits, e.g. {first}")
        if not lat:
            raise BenchError(f"commit {protocol} x{members}: no successful commit")
        res = {"members": members, "commits": len(lat), "failed": errs,
               "commits_per_s": round(rate), "mean_us": round(sum(lat) / len(lat)),
               "p50_us": pct(lat, 50), "p90_us": pct(lat, 90), "p99_us": pct(lat, 99),
               "max_us": lat[-1]}
        log(f"{self.kind} commits {protocol} x{members}: {res['commits_per_s']}/s, "
            f"p50 {res['p50_us']} us, p99 {res['p99_us']} us, {errs} failed")
        return res

    def phase_a(self):
        """delay 0, consumer session 45 s."""
        a = self.args
        r = {"initial_rebalance_delay_ms": 0, "consumer_session_timeout_ms": 45000}
        r["broker_start_s"] = self.broker.start(0, 45000)
        self.broker.wait_topic(self.topic, self.partitions)
        r["warm_up_ms"] = self.warm_up()
        classic = []
        keep_classic = None
        # Joins without the initial delay are cheap and vary most: two more.
        reps = a.reps + 2
        for rep in range(reps):
            g, j = self.join("classic", 0, f"-a{rep}")
            classic.append(j)
            if rep == reps - 1:
                keep_classic = g
            else:
                self.note_errors(g, "join classic (A)")
                j["close_ms"] = g.stop()
        g_cons, j_cons = self.join("consumer", 0, "-a0")
        r["classic_join"] = classic
        r["consumer_join"] = [j_cons]
        pause = self.pause_before_kill()
        bound = 45 + 60
        ms_classic, ms_cons = self.crash([keep_classic, g_cons], bound, "crash, default timeouts")
        r["pause_before_kill_s"] = pause
        r["classic_crash_default"] = {"session_timeout_ms": 45000, "crash_ms": [ms_classic],
                                      "note": "librdkafka default session.timeout.ms"}
        r["consumer_crash_default"] = {"session_timeout_ms": 45000, "crash_ms": [ms_cons],
                                       "note": "broker group.consumer.session.timeout.ms"}
        for g in (keep_classic, g_cons):
            self.note_errors(g, "join+crash default (A)")
            g.stop()
        r["commits"] = []
        for protocol in a.commit_protocols:
            for members in (1, a.committers):
                r["commits"].append(dict(self.commits(protocol, members), protocol=protocol))
        return r

    def phase_b(self):
        """delay 3000, consumer session 6 s, classic client session 6 s."""
        a = self.args
        r = {"initial_rebalance_delay_ms": 3000, "consumer_session_timeout_ms": a.short_session_ms,
             "classic_session_timeout_ms": a.short_session_ms}
        r["broker_start_s"] = self.broker.start(3000, a.short_session_ms)
        self.broker.wait_topic(self.topic, self.partitions)
        r["warm_up_ms"] = self.warm_up()
        for protocol in PROTOCOLS:
            samples = []
            for rep in range(a.reps):
                session = a.short_session_ms if protocol == "classic" else 0
                g, j = self.join(protocol, session, f"-b{rep}")
                j["pause_before_kill_s"] = self.pause_before_kill()
                j["crash_ms"], = self.crash([g], a.short_session_ms / 1000 + 60,
                                            f"crash, {a.short_session_ms} ms session")
                self.note_errors(g, f"join+crash {protocol} (B)")
                j["close_ms"] = g.stop()
                samples.append(j)
            r[protocol] = samples
        return r

    def run(self):
        t0 = time.monotonic()
        self.out["loadavg_start"] = os.getloadavg()
        try:
            self.out["A"] = self.phase_a()
            code = self.broker.stop()
            self.out["A"]["broker_exit_code"] = code
            self.out["B"] = self.phase_b()
        finally:
            code = self.broker.stop()
        self.out["B"]["broker_exit_code"] = code
        self.out["loadavg_end"] = os.getloadavg()
        self.out["wall_s"] = round(time.monotonic() - t0, 1)
        if self.kind == "floe" and code != 0:
            self.out["anomalies"].append(f"floe exited with {code} on SIGTERM")
        self.out["summary"] = summarize(self.out)
        return self.out


def summarize(o):
    A, B = o["A"], o["B"]
    s = {
        "classic_join_ms_delay0": median([j["join_ms"] for j in A["classic_join"]]),
        "classic_join_ms_delay3000": median([j["join_ms"] for j in B["classic"]]),
        "consumer_join_ms": median([j["join_ms"] for j in A["consumer_join"] + B["consumer"]]),
        "classic_crash_ms_session45000": median(A["classic_crash_default"]["crash_ms"]),
        "consumer_crash_ms_session45000": median(A["consumer_crash_default"]["crash_ms"]),
        "classic_crash_ms_short": median([j["crash_ms"] for j in B["classic"]]),
        "consumer_crash_ms_short": median([j["crash_ms"] for j in B["consumer"]]),
    }
    s["samples"] = {
        "classic_join_ms_delay0": [j["join_ms"] for j in A["classic_join"]],
        "classic_join_ms_delay3000": [j["join_ms"] for j in B["classic"]],
        "consumer_join_ms": [j["join_ms"] for j in A["consumer_join"] + B["consumer"]],
        "classic_crash_ms_short": [j["crash_ms"] for j in B["classic"]],
        "consumer_crash_ms_short": [j["crash_ms"] for j in B["consumer"]],
    }
    for c in A["commits"]:
        s[f"commits_{c['protocol']}_x{c['members']}"] = {
            k: c[k] for k in ("commits_per_s", "mean_us", "p50_us", "p99_us", "failed")}
    return s


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "member":
        sys.exit(member_main(sys.argv[2:]))
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--floe-bin", default=os.path.join(REPO, "build-release", "floe"))
    ap.add_argument("--broker", choices=("floe", "kafka", "both"), default="both")
    ap.add_argument("--members", type=int, default=10)
    ap.add_argument("--partitions", type=int, default=30)
    ap.add_argument("--reps", type=int, default=3, help="repetitions of the cheap runs")
    ap.add_argument("--short-session-ms", type=int, default=6000)
    ap.add_argument("--settle-s", type=float, default=2.0)
    ap.add_argument("--join-bound", type=float, default=60.0, help="bound of one join, s")
    ap.add_argument("--commit-seconds", type=float, default=5.0)
    ap.add_argument("--committers", type=int, default=4)
    ap.add_argument("--commit-protocols", default="classic,consumer")
    ap.add_argument("--seed", type=int, default=1, help="seed of the pauses before the kills")
    ap.add_argument("--out", default=os.path.join(REPO, "bench", "results", "broker_groups.json"))
    ap.add_argument("--keep", action="store_true", help="keep the work directory (logs)")
    ap.add_argument("--client-debug", default="",
                    help="librdkafka debug contexts for the members (e.g. cgrp), into "
                         "each member's log in the work directory; implies --keep")
    args = ap.parse_args()
    args.keep = args.keep or bool(args.client_debug)
    args.commit_protocols = [p for p in args.commit_protocols.split(",") if p]
    kinds = ["floe", "kafka"] if args.broker == "both" else [args.broker]
    if "floe" in kinds and not os.access(args.floe_bin, os.X_OK):
        sys.exit(f"group_bench: {args.floe_bin} is not an executable (build it first)")
    from confluent_kafka import libversion, version
    results = {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "host_cpus": os.cpu_count(),
        "client": f"confluent-kafka {version() if isinstance(version(), str) else version()[0]}, "
                  f"librdkafka {libversion()[0]}",
        "settings": {k: v for k, v in vars(args).items() if k != "out"},
        "brokers": {},
    }
    if os.path.exists(args.out) and args.broker != "both":
        # A single-broker run keeps the other broker's last figures.
        try:
            with open(args.out) as f:
                old = json.load(f)
            for k, v in old.get("brokers", {}).items():
                if k not in kinds:
                    results["brokers"][k] = v
        except (OSError, ValueError):
            pass
    failed = None
    for kind in kinds:
        work = tempfile.mkdtemp(prefix=f"floe-group-bench-{kind}-")
        log(f"== {kind} (work dir {work})")
        bench = Bench(args, kind, work)
        try:
            results["brokers"][kind] = bench.run()
            if kind == "floe":
                results["brokers"][kind]["binary"] = os.path.abspath(args.floe_bin)
        except BenchError as e:
            failed = f"group_bench: {kind}: {e}\n(work dir kept: {work}, broker log " \
                     f"{bench.broker.log_path})"
            print(failed, file=sys.stderr)
            bench.broker.stop()
            break
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    if failed:
        sys.exit(1)
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w") as f:
        json.dump(results, f, indent=1)
    print()
    keys = list(next(iter(results["brokers"].values()))["summary"].keys())
    names = list(results["brokers"])
    print(f"{'':34s}" + "".join(f"{n:>34s}" for n in names))
    for k in keys:
        if k == "samples":
            continue
        vals = [results["brokers"][n]["summary"].get(k) for n in names]
        shown = [f"{v['commits_per_s']}/s p50 {v['p50_us']} p99 {v['p99_us']} us"
                 if isinstance(v, dict) else json.dumps(v) for v in vals]
        print(f"{k:34s}" + "".join(f"{v:>34s}" for v in shown))
    for n in names:
        b = results["brokers"][n]
        for k, v in b["summary"]["samples"].items():
            print(f"{n} {k} samples: {v}")
        for a in b["anomalies"]:
            print(f"{n}: ANOMALY: {a}")
        for e in b["errors"]:
            print(f"{n}: client errors in {e['step']} ({e['count']}): {e['first'][:2]}")
    print(f"results in {args.out}")


if __name__ == "__main__":
    main()
