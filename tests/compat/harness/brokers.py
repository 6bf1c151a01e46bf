"""The broker under test, behind one interface: Floe, or Apache Kafka.

Both run as child processes on a free loopback port, with their data in a
directory owned by the test, and support:

  start()    start (or start again on the same data directory) and wait until
             the broker answers ApiVersions on its port
  kill()     SIGKILL the broker's whole process group (a crash)
  restart()  kill() then start(), same port, same data directory
  stop()     clean shutdown (SIGTERM, SIGKILL after a grace period)

A broker that does not come up within its startup timeout raises
BrokerError with the tail of its log. The log of every run of the broker is
appended to one file, `log_path`.
"""

import base64
import os
import pathlib
import time
import uuid

from . import paths, procs, wire


class BrokerError(RuntimeError):
    pass


def log_tail(path, lines=60):
    try:
        text = pathlib.Path(path).read_text(errors="replace")
    except OSError:
        return "(no log)"
    return "\n".join(text.splitlines()[-lines:])


class Broker:
    kind = "?"

    def __init__(self, work_dir, startup_timeout):
        self.work_dir = pathlib.Path(work_dir)
        self.work_dir.mkdir(parents=True, exist_ok=True)
        self.port = wire.free_port()
        self.startup_timeout = startup_timeout
        self.log_path = self.work_dir / "broker.log"
        self.proc = None
        self.starts = 0

    @property
    def bootstrap(self):
        return f"127.0.0.1:{self.port}"

    def _argv(self):
        raise NotImplementedError

    def _prepare(self):
        """One-time setup before the first start (config, storage format)."""

    def _env(self):
        return None

    def start(self, wait_ready=True):
        """wait_ready=False returns right after spawning (the caller then
        calls wait_ready() or probes the broker itself); `spawned_at` is the
        time.monotonic() of the spawn, `prepare_seconds` how long the
        one-time setup took (Kafka: formatting the storage)."""
        if self.proc is not None and self.proc.poll() is None:
            raise BrokerError(f"{self.kind} broker already running")
        if self.starts == 0:
            began = time.monotonic()
            self._prepare()
            self.prepare_seconds = time.monotonic() - began
        self.starts += 1
        with open(self.log_path, "ab") as log:
            log.write(f"\n===== compat: start #{self.starts} of the {self.kind} broker "
                      f"on {self.bootstrap} =====\n".encode())
            log.flush()
            self.spawned_at = time.monotonic()
            self.proc = procs.spawn(self._argv(), stdout=log, stderr=log, env=self._env())
        if wait_ready:
            self._wait_ready()

    def wait_ready(self):
        """Waits until the broker answers ApiVersions (BrokerError if not)."""
        self._wait_ready()

    def _wait_ready(self):
        started = time.monotonic()
        deadline = started + self.startup_timeout
        last_error = "port not open"
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise BrokerError(
                    f"{self.kind} broker exited with code {self.proc.returncode} while starting; "
                    f"log {self.log_path}:\n{log_tail(self.log_path)}")
            if wire.port_accepts(self.port, timeout=0.5):
                try:
                    wire.api_versions(self.port, timeout=2.0)
                    self.ready_seconds = time.monotonic() - started
                    return
                except (OSError, ValueError) as error:
                    last_error = f"ApiVersions failed: {error}"
            time.sleep(0.2)
        procs.kill(self.proc)
        raise BrokerError(
            f"{self.kind} broker not ready on {self.bootstrap} after {self.startup_timeout:.0f} s "
            f"({last_error}); log {self.log_path}:\n{log_tail(self.log_path)}")

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def kill(self):
        if self.proc is not None:
            procs.kill(self.proc)

    def restart(self):
        self.kill()
        self.start()

    def stop(self):
        if self.proc is not None:
            procs.stop(self.proc, grace_seconds=30.0)
            self.proc = None


class FloeBroker(Broker):
    """`<binary> serve --listen 127.0.0.1:PORT --data-dir DIR [extra args]`."""

    kind = "floe"

    def __init__(self, work_dir, binary, extra_args=(), startup_timeout=30.0, env=None):
        super().__init__(work_dir, startup_timeout)
        self.binary = str(pathlib.Path(binary).resolve())
        self.extra_args = list(extra_args)
        self.extra_env = dict(env or {})
        self.data_dir = self.work_dir / "data"

    def _env(self):
        return dict(os.environ, **self.extra_env) if self.extra_env else None

    def _prepare(self):
        if not os.access(self.binary, os.X_OK):
            raise BrokerError(f"Floe binary {self.binary} is missing or not executable")
        self.data_dir.mkdir(parents=True, exist_ok=True)

    def _argv(self):
        return [self.binary, "serve", "--listen", self.bootstrap,
                "--data-dir", str(self.data_dir), *self.extra_args]


def jvm_log_config(level):
    """Log4j 2 configuration file (console, stderr/stdout) for one level."""
    return paths.JAVA_DIR / f"log4j2-{level}.properties"


class KafkaBroker(Broker):
    """Apache Kafka, one KRaft node that is both broker and controller."""

    kind = "kafka"

    def __init__(self, work_dir, heap="512m", startup_timeout=90.0, extra_config=None,
                 log_requests=False):
        super().__init__(work_dir, startup_timeout)
        self.log_config = jvm_log_config("broker-requests" if log_requests else "broker")
        self.controller_port = wire.free_port()
        while self.controller_port == self.port:
            self.controller_port = wire.free_port()
        self.heap = heap
        self.extra_config = dict(extra_config or {})
        self.data_dir = self.work_dir / "kafka-logs"
        self.config_path = self.work_dir / "server.properties"

    def _config(self):
        config = {
            "process.roles": "broker,controller",
            "node.id": "1",
            "controller.quorum.voters": f"1@127.0.0.1:{self.controller_port}",
            "listeners": f"PLAINTEXT://127.0.0.1:{self.port},"
                         f"CONTROLLER://127.0.0.1:{self.controller_port}",
            "advertised.listeners": f"PLAINTEXT://127.0.0.1:{self.port}",
            "controller.listener.names": "CONTROLLER",
            "inter.broker.listener.name": "PLAINTEXT",
            "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
            "log.dirs": str(self.data_dir),
            "num.partitions": "1",
            # One node: every internal topic with one replica.
            "offsets.topic.replication.factor": "1",
            "offsets.topic.num.partitions": "4",
            "transaction.state.log.replication.factor": "1",
            "transaction.state.log.min.isr": "1",
            "transaction.state.log.num.partitions": "4",
            "share.coordinator.state.topic.replication.factor": "1",
            "share.coordinator.state.topic.min.isr": "1",
            "group.initial.rebalance.delay.ms": "0",
            # A restarted node re-registers only once its previous incarnation's
            # session has expired (9 s by default); the restart tests kill often.
            "broker.session.timeout.ms": "2000",
            "broker.heartbeat.interval.ms": "500",
            # Few threads: the test machine has two cores.
            "num.network.threads": "2",
            "num.io.threads": "4",
            "num.recovery.threads.per.data.dir": "1",
            "log.retention.check.interval.ms": "300000",
        }
        config.update(self.extra_config)
        return "".join(f"{key}={value}\n" for key, value in config.items())

    def _jvm(self, main_class, *args, heap):
        return ["java", f"-Xmx{heap}", "-Xms64m", "-XX:+UseG1GC", "-Djava.awt.headless=true",
                f"-Dlog4j2.configurationFile={self.log_config}",
                "-cp", paths.kafka_classpath(), main_class, *args]

    def _prepare(self):
        paths.require_program("java")
        self.config_path.write_text(self._config())
        # Like Kafka's Uuid.randomUuid(): never starting with "-", which the
        # storage tool would take for an option (1 id in 64 otherwise).
        cluster_id = "-"
        while cluster_id.startswith("-"):
            cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        argv = self._jvm("kafka.tools.StorageTool", "format", "-t", cluster_id,
                         "-c", str(self.config_path), heap="256m")
        code, out, err = procs.run(argv, timeout=120)
        if code != 0:
            raise BrokerError(f"kafka storage format failed (exit {code}):\n"
                              f"{out.decode(errors='replace')}{err.decode(errors='replace')}")

    def _argv(self):
        return self._jvm("kafka.Kafka", str(self.config_path), heap=self.heap)


def make_broker(kind, work_dir, floe_bin=None, floe_args=(), startup_timeout=None,
                log_requests=False, kafka_config=None, floe_env=None):
    """kafka_config: extra server.properties settings (Kafka only); floe_env:
    extra environment of the floe process (FLOE_* settings; kafka_as_floe.py
    maps the group ones to Kafka's)."""
    if kind == "floe":
        if not floe_bin:
            raise BrokerError("--broker floe needs --floe-bin")
        return FloeBroker(work_dir, floe_bin, floe_args, startup_timeout or 30.0, env=floe_env)
    if kind == "kafka":
        return KafkaBroker(work_dir, startup_timeout=startup_timeout or 90.0,
                           extra_config=kafka_config, log_requests=log_requests)
    raise BrokerError(f"unknown broker kind {kind!r}")
