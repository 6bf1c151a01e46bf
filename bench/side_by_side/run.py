#!/usr/bin/env python3
"""Floe and Apache Kafka side by side, driven by Kafka's own tools.

    .deps/venv/bin/python bench/side_by_side/run.py --floe-bin build-release/floe [--quick]

Runs, one after the other, three brokers on fresh data directories on the
same disk, loopback only, with identical workloads:

  kafka-default  Apache Kafka 4.1.1 (KRaft, one node; tests/compat/harness's
                 configuration), its default durability: no fsync before ack
  kafka-flush    the same with log.flush.interval.messages=1: every append is
                 fsynced before it is acknowledged (Floe's durability)
  floe           `floe serve` (WAL and local object store under its data dir)

and measures, with org.apache.kafka.tools.ProducerPerformance,
EndToEndLatency and ConsumerPerformance (1 KiB records; producers acks=all,
enable.idempotence=true, linger.ms=5, batch.size=65536):

  cold start     process start to the first acknowledged produce (acks=all)
                 on an empty data dir (a librdkafka probe, the same for all)
  idle RSS       VmRSS a few seconds after that produce
  max            producer throughput, 6 partitions, --throughput -1, sized by
                 a warm-up run to about --max-seconds; VmRSS sampled during
                 it (peak) and utime+stime of the broker over it (CPU s/GB)
  fixed rates    p50/p99/p99.9 produce latency at 10 MiB/s and at 50% of
                 kafka-default's maximum
  end-to-end     EndToEndLatency (1 partition, acks=all) p50/p99
  catch-up       after a clean stop, page cache of the data files dropped
                 (posix_fadvise DONTNEED) and a restart, ConsumerPerformance
                 from offset 0 (Floe: data only in objects)

plus the device's limits on the same file system (fio: 4 KiB write +
fdatasync latency, 1 MiB O_DIRECT sequential write bandwidth).

Writes raw results as JSON, PNG plots, a Markdown table (stdout and, for a
full run, the generated block of docs/benchmarks.md). Every process started
is stopped on any exit (including SIGINT/SIGTERM); any tool error or broker
failure ends the run with a non-zero exit naming the figure and the reason.
No figure is reported that was not measured in this run.
"""

import argparse
import contextlib
import datetime
import json
import logging
import os
import pathlib
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import traceback

HERE = pathlib.Path(__file__).resolve().parent
REPO = HERE.parent.parent
sys.path.insert(0, str(REPO / "tests" / "compat"))
sys.path.insert(0, str(REPO / "bench"))

from harness import brokers, java, paths, procs  # noqa: E402
import kafka_perf  # noqa: E402
import report  # noqa: E402  (bench/side_by_side/report.py)

RECORD_BYTES = 1024
PARTITIONS = 6
PERF_TOPIC = "perf"
E2E_TOPIC = "e2e"
COLD_TOPIC = "coldstart"
PRODUCER_PROPS = ["acks=all", "enable.idempotence=true", "linger.ms=5", "batch.size=65536"]
FIXED_RATE_MIB = 10  # MiB/s of 1 KiB records: 10,240 records/s
KAFKA_HEAP = "1g"    # kafka-server-start.sh's default -Xmx

CONFIGS = {
    "kafka-default": {"kind": "kafka", "kafka_config": {}},
    "kafka-flush": {"kind": "kafka", "kafka_config": {"log.flush.interval.messages": "1"}},
    "floe": {"kind": "floe"},
}

# Durations. Full: about 8-10 minutes on 2 cores. Quick: for development.
PROFILES = {
    "full": {"idle_seconds": 5, "warmup_records": 300_000, "max_seconds": 30,
             "latency_seconds": 20, "e2e_messages": 5000, "catchup_records": 2_000_000,
             "fio_seconds": 15},
    "quick": {"idle_seconds": 1, "warmup_records": 30_000, "max_seconds": 5,
              "latency_seconds": 4, "e2e_messages": 300, "catchup_records": 100_000,
              "fio_seconds": 3},
}


class BenchError(RuntimeError):
    """A figure that could not be measured, and why."""

    def __init__(self, figure, reason):
        super().__init__(f"{figure}: {reason}")
        self.figure = figure
        self.reason = reason


# What is being measured now (for messages on failure or interruption).
_current = {"config": "-", "figure": "setup"}
_work_root = {"path": None, "keep": False}


def step(config, figure):
    _current["config"] = config
    _current["figure"] = figure
    print(f"[{time.strftime('%H:%M:%S')}] {config}: {figure}", flush=True)


def _remove_work_root(failed=False):
    """Removes the work directory; after a failure only the data (logs and
    broker configs stay for the post-mortem, their path printed)."""
    path = _work_root["path"]
    if not path or _work_root["keep"]:
        return
    if not failed:
        shutil.rmtree(path, ignore_errors=True)
        return
    for entry in pathlib.Path(path).rglob("*"):
        if entry.is_file() and not entry.name.endswith((".log", ".properties")):
            entry.unlink(missing_ok=True)
    for entry in sorted(pathlib.Path(path).rglob("*"), key=lambda p: -len(p.parts)):
        if entry.is_dir() and not any(entry.iterdir()):
            entry.rmdir()
    if any(pathlib.Path(path).iterdir()):
        sys.stderr.write(f"side_by_side: broker logs kept in {path}\n")
    else:
        pathlib.Path(path).rmdir()


def _on_signal(signum, _frame):
    procs.stop_all()
    _remove_work_root(failed=True)
    sys.stderr.write(f"side_by_side: interrupted by signal {signum} while measuring "
                     f"{_current['config']}: {_current['figure']}; every started process "
                     f"stopped, no results written\n")
    os._exit(128 + signum)


def install_cleanup():
    atexit_cleanup = procs.stop_all
    import atexit
    atexit.register(atexit_cleanup)
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, _on_signal)


def log_tail(path, lines=30):
    return brokers.log_tail(path, lines)


# ----------------------------------------------------------------- tools


def run_kafka_tool(figure, main_class, args, timeout, broker=None):
    """Runs one of Kafka's tools (C2 JIT, 512 MiB heap) to completion; its
    stdout text. BenchError if it fails, times out or the broker dies."""
    if os.environ.get("SIDE_BY_SIDE_BREAK_TOOL") == main_class.rsplit(".", 1)[-1]:
        args = [*args, "--no-such-option"]  # selftest.py: this tool must fail
    argv = java.argv(main_class, args, heap="512m")
    code, out, err = procs.run(argv, timeout=timeout)
    out_text = out.decode(errors="replace")
    err_text = err.decode(errors="replace")
    short = main_class.rsplit(".", 1)[-1]
    if broker is not None and not broker.alive():
        raise BenchError(figure, f"the broker exited (code {broker.proc.returncode}) during "
                                 f"{short}; log {broker.log_path}:\n{log_tail(broker.log_path)}")
    if code is None:
        raise BenchError(figure, f"{short} did not finish within {timeout:.0f} s; its output:\n"
                                 f"{out_text[-1500:]}{err_text[-1500:]}")
    if code != 0:
        raise BenchError(figure, f"{short} exited with code {code}:\n"
                                 f"{out_text[-1500:]}{err_text[-2500:]}")
    return out_text, err_text


def parse_or_fail(figure, parser, text):
    try:
        return parser(text)
    except kafka_perf.ToolOutputError as error:
        raise BenchError(figure, str(error)) from None


def producer_perf(figure, broker, records, throughput, timeout):
    out, err = run_kafka_tool(figure, "org.apache.kafka.tools.ProducerPerformance", [
        "--topic", PERF_TOPIC, "--num-records", records, "--record-size", RECORD_BYTES,
        "--throughput", throughput, "--producer-props",
        f"bootstrap.servers={broker.bootstrap}", *PRODUCER_PROPS], timeout, broker)
    summary = parse_or_fail(figure, kafka_perf.parse_producer_summary, out)
    if summary["records"] != records:
        raise BenchError(figure, f"only {summary['records']} of {records} records were "
                                 f"acknowledged; the tool's errors:\n{err[-2500:]}")
    summary["windows"] = kafka_perf.parse_producer_windows(out)
    return summary


class Sampler(threading.Thread):
    """VmRSS (MiB) and CPU seconds of one process every `interval` seconds."""

    def __init__(self, pid, interval=0.25):
        super().__init__(daemon=True)
        self.pid = pid
        self.interval = interval
        self.samples = []  # (seconds since start, rss MiB, cpu seconds)
        self._stop_event = threading.Event()
        self._began = time.monotonic()

    def run(self):
        while True:
            try:
                self.samples.append((round(time.monotonic() - self._began, 3),
                                     round(kafka_perf.rss_kib(self.pid) / 1024, 1),
                                     kafka_perf.cpu_seconds(self.pid)))
            except (OSError, RuntimeError):
                return
            if self._stop_event.wait(self.interval):
                return

    def stop(self):
        self._stop_event.set()
        self.join(5)


@contextlib.contextmanager
def perf_record(profile_dir, name, pid):
    """perf record -g on pid while the block runs (nothing when profile_dir is None)."""
    if profile_dir is None:
        yield
        return
    perf = paths.require_program("perf")
    data = profile_dir / f"{name}.perf.data"
    log = open(profile_dir / f"{name}.perf.log", "wb")
    proc = procs.spawn([perf, "record", "-F", "499", "-g", "-p", str(pid), "-o", str(data)],
                       stdout=log, stderr=log)
    try:
        yield
    finally:
        procs.signal_group(proc, signal.SIGINT)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            pass
        procs.stop(proc, grace_seconds=1)
        log.close()
        code, out, _ = procs.run([perf, "report", "--stdio", "--no-children", "-i", str(data),
                                  "--sort", "dso,symbol", "--percent-limit", "0.7", "-g", "none"],
                                 timeout=300)
        (profile_dir / f"{name}.perf.txt").write_bytes(out)


# ----------------------------------------------------------------- device


def fio_limits(directory, seconds):
    fio = shutil.which("fio")
    if fio is None:
        raise BenchError("device limits (fio)", "fio is not on PATH: run scripts/install-deps.sh")
    common = ["--directory", str(directory), "--runtime", str(seconds), "--time_based",
              "--output-format=json"]
    jobs = {
        "fdatasync": ["--name=fdatasync-4k", "--rw=write", "--bs=4k", "--size=256m",
                      "--fdatasync=1", "--ioengine=sync"],
        "sequential": ["--name=seqwrite-1m", "--rw=write", "--bs=1m", "--size=2g", "--direct=1",
                       "--ioengine=libaio", "--iodepth=4"],
    }
    results = {}
    for name, job in jobs.items():
        step("device", f"fio {name}")
        argv = [fio, *job, *common]
        code, out, err = procs.run(argv, timeout=seconds + 120)
        if code != 0:
            raise BenchError(f"device limits (fio {name})",
                             f"fio exited with {code}: {err.decode(errors='replace')[-1500:]}")
        try:
            job_result = json.loads(out)["jobs"][0]
        except (ValueError, KeyError, IndexError) as error:
            raise BenchError(f"device limits (fio {name})", f"unreadable fio JSON: {error}")
        if job_result.get("error"):
            raise BenchError(f"device limits (fio {name})", f"fio job error {job_result['error']}")
        results[name] = job_result
        for leftover in directory.glob(f"{job[0].split('=', 1)[1]}*"):
            leftover.unlink()
    sync = results["fdatasync"]["sync"]["lat_ns"]
    write = results["sequential"]["write"]
    percentiles = sync["percentile"]
    return {
        "fdatasync_4k": {
            "p50_ms": percentiles["50.000000"] / 1e6, "p99_ms": percentiles["99.000000"] / 1e6,
            "p999_ms": percentiles["99.900000"] / 1e6, "mean_ms": sync["mean"] / 1e6,
            "syncs_per_s": sync["N"] / seconds,
            "command": " ".join(["fio", *jobs["fdatasync"], *common[2:]]),
        },
        "sequential_write_1m": {
            "mib_per_s": write["bw_bytes"] / 2**20,
            "command": " ".join(["fio", *jobs["sequential"], *common[2:]]),
        },
    }


# ----------------------------------------------------------------- brokers


def make_broker(name, work, floe_bin, floe_args=()):
    spec = CONFIGS[name]
    if spec["kind"] == "kafka":
        return brokers.KafkaBroker(work, heap=KAFKA_HEAP, startup_timeout=120.0,
                                   extra_config=spec["kafka_config"])
    # The harness's Kafka configuration sets group.initial.rebalance.delay.ms=0;
    # Floe gets the same so that ConsumerPerformance's group join costs alike.
    return brokers.FloeBroker(work, floe_bin, ["--group-initial-rebalance-delay-ms", "0",
                                               *floe_args], startup_timeout=30.0)


def cold_start(name, broker, timeout):
    """Seconds from spawning the broker to the first acknowledged produce
    (acks=all) of a librdkafka probe that was connecting all along."""
    from confluent_kafka import Producer
    quiet = logging.getLogger("side_by_side.probe")
    quiet.addHandler(logging.NullHandler())
    quiet.propagate = False
    producer = Producer({
        "bootstrap.servers": broker.bootstrap, "acks": "all", "linger.ms": 0,
        "enable.idempotence": False, "message.timeout.ms": 10000,
        "reconnect.backoff.ms": 5, "reconnect.backoff.max.ms": 20,
        "retry.backoff.ms": 5, "retry.backoff.max.ms": 20,
        "topic.metadata.refresh.fast.interval.ms": 10,
    }, logger=quiet)
    outcome = {}

    def delivered(error, _message):
        outcome["at"] = time.monotonic()
        outcome["error"] = error

    try:
        broker.start(wait_ready=False)
    except brokers.BrokerError as error:
        raise BenchError("cold start", str(error)) from None
    began = broker.spawned_at
    producer.produce(COLD_TOPIC, b"x" * RECORD_BYTES, on_delivery=delivered)
    last_error = None
    while True:
        producer.poll(0.002)
        if "at" in outcome:
            if outcome["error"] is None:
                return outcome["at"] - began, broker.prepare_seconds
            last_error = outcome["error"]
            # A broker's error code (> 0) that is not retriable fails at
            # once; local errors (< 0: timeouts, transport) are retried.
            if last_error.code() > 0 and not last_error.retriable():
                raise BenchError("cold start", f"the probe's produce was rejected: {last_error}")
            outcome.clear()
            producer.produce(COLD_TOPIC, b"x" * RECORD_BYTES, on_delivery=delivered)
        if not broker.alive():
            raise BenchError("cold start", f"the {name} broker exited with code "
                                           f"{broker.proc.returncode} while starting; log "
                                           f"{broker.log_path}:\n{log_tail(broker.log_path)}")
        if time.monotonic() - began > timeout:
            raise BenchError("cold start", f"no acknowledged produce within {timeout:.0f} s "
                                           f"(last error: {last_error}); log {broker.log_path}:\n"
                                           f"{log_tail(broker.log_path)}")


def kafka_topic_flush_messages(broker):
    """The perf topic's effective flush.messages, as Kafka's ConfigCommand
    describes it."""
    out, _ = run_kafka_tool("setup (flush.messages)", "kafka.admin.ConfigCommand", [
        "--bootstrap-server", broker.bootstrap, "--entity-type", "topics", "--entity-name",
        PERF_TOPIC, "--describe", "--all"], 120, broker)
    for line in out.splitlines():
        line = line.strip()
        if line.startswith("flush.messages="):
            return line.split()[0].split("=", 1)[1]
    raise BenchError("setup (flush.messages)", f"ConfigCommand did not list flush.messages:\n"
                                               f"{out[-1500:]}")


def stop_broker(broker):
    """Clean stop (SIGTERM, SIGKILL after 60 s); the broker's exit code."""
    proc = broker.proc
    code = procs.stop(proc, grace_seconds=60.0)
    broker.proc = None
    return code


def drop_page_cache(root):
    """fsync + posix_fadvise(DONTNEED) every file under root: the guest page
    cache no longer holds them (the VM's host may). Returns the bytes still
    cached afterwards according to fincore (None if fincore is missing)."""
    files = [p for p in pathlib.Path(root).rglob("*") if p.is_file()]
    for path in files:
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        finally:
            os.close(fd)
    fincore = shutil.which("fincore")
    if fincore is None or not files:
        return None
    cached = 0
    for start in range(0, len(files), 200):
        code, out, _ = procs.run([fincore, "--bytes", "--noheadings", "--raw", "--output", "RES",
                                  *map(str, files[start:start + 200])], timeout=60)
        if code != 0:
            return None
        cached += sum(int(line) for line in out.decode().split() if line.strip().isdigit())
    return cached


def directory_bytes(root):
    return sum(p.stat().st_size for p in pathlib.Path(root).rglob("*") if p.is_file())


def measure_config(name, args, profile, work_root, half_rate, profile_dir):
    """Every figure of one broker configuration; a dict for the JSON."""
    result = {"loadavg_before": os.getloadavg()}
    work = work_root / name
    broker = make_broker(name, work, args.floe_bin, args.floe_arg)
    tool_timeout = 120 + 6 * max(profile["max_seconds"], profile["latency_seconds"])

    step(name, "cold start")
    cold, prepare = cold_start(name, broker, 120.0 if CONFIGS[name]["kind"] == "kafka" else 30.0)
    result["cold_start_s"] = round(cold, 4)
    result["prepare_s"] = round(prepare, 3)  # Kafka: storage format, before the process start
    pid = broker.proc.pid

    step(name, "idle RSS")
    time.sleep(profile["idle_seconds"])
    result["idle_rss_mib"] = round(kafka_perf.rss_kib(pid) / 1024, 1)

    step(name, "create topic")
    run_kafka_tool("create topic", "org.apache.kafka.tools.TopicCommand", [
        "--bootstrap-server", broker.bootstrap, "--create", "--topic", PERF_TOPIC,
        "--partitions", PARTITIONS, "--replication-factor", "1"], 120, broker)

    if CONFIGS[name]["kind"] == "kafka":
        step(name, "check the topic's flush.messages")
        result["topic_flush_messages"] = kafka_topic_flush_messages(broker)
        want = CONFIGS[name]["kafka_config"].get("log.flush.interval.messages",
                                                 str(2**63 - 1))
        if result["topic_flush_messages"] != want:
            raise BenchError("setup", f"topic {PERF_TOPIC} has flush.messages="
                                      f"{result['topic_flush_messages']}, expected {want}")

    step(name, "warm-up (sizes the max run)")
    warmup = producer_perf("max producer throughput (warm-up)", broker,
                           profile["warmup_records"], -1, tool_timeout)
    result["warmup"] = warmup
    records = max(profile["warmup_records"],
                  int(warmup["records_per_s"] * profile["max_seconds"]))

    step(name, f"max producer throughput ({records} records)")
    sampler = Sampler(pid)
    cpu_before = kafka_perf.cpu_seconds(pid)
    sampler.start()
    with perf_record(profile_dir, f"{name}-max", pid):
        peak = producer_perf("max producer throughput", broker, records, -1, tool_timeout)
    cpu_after = kafka_perf.cpu_seconds(pid)
    sampler.stop()
    gigabytes = records * RECORD_BYTES / 1e9
    rss = [sample[1] for sample in sampler.samples]
    if not rss:
        raise BenchError("RSS under load", "no VmRSS sample during the max run")
    peak.update({
        "cpu_seconds": round(cpu_after - cpu_before, 2),
        "cpu_seconds_per_gb": round((cpu_after - cpu_before) / gigabytes, 2),
        "peak_rss_mib": max(rss), "mean_rss_mib": round(sum(rss) / len(rss), 1),
        "samples": sampler.samples,
    })
    result["max"] = peak
    produced = profile["warmup_records"] + records
    if half_rate is None:
        half_rate = int(peak["records_per_s"] / 2)  # this is kafka-default

    result["fixed_rate"] = {}
    for key, rate in (("10mib", FIXED_RATE_MIB * 2**20 // RECORD_BYTES), ("half", half_rate)):
        # Above this configuration's own maximum the run would take longer
        # than latency_seconds; it is then sized by the maximum instead (and
        # marked saturated).
        saturated = rate > peak["records_per_s"]
        count = int(min(rate, peak["records_per_s"]) * profile["latency_seconds"])
        step(name, f"produce latency at {rate} records/s ({count} records)")
        with perf_record(profile_dir if key == "half" else None, f"{name}-half", pid):
            latency = producer_perf(f"produce latency at {rate} records/s", broker, count,
                                    rate, tool_timeout)
        latency.update({"target_records_per_s": rate, "saturated": saturated})
        result["fixed_rate"][key] = latency
        produced += count

    step(name, "end-to-end latency")
    out, _ = run_kafka_tool("end-to-end latency", "org.apache.kafka.tools.EndToEndLatency", [
        broker.bootstrap, E2E_TOPIC, profile["e2e_messages"], "all", RECORD_BYTES],
        120 + profile["e2e_messages"] * 0.1, broker)
    result["e2e"] = parse_or_fail("end-to-end latency", kafka_perf.parse_end_to_end, out)
    result["e2e"]["messages"] = profile["e2e_messages"]

    step(name, "catch-up: clean stop, drop page cache, restart")
    code = stop_broker(broker)
    result["first_stop_exit_code"] = code
    if CONFIGS[name]["kind"] == "floe" and code != 0:
        raise BenchError("catch-up consumer throughput",
                         f"floe exited with {code} on SIGTERM (final upload not confirmed); "
                         f"log {broker.log_path}:\n{log_tail(broker.log_path)}")
    catchup_records = min(profile["catchup_records"], produced)
    if CONFIGS[name]["kind"] == "floe":
        objects_dir = broker.data_dir / "objects"
        if "--object-store-dir" in args.floe_arg:  # an experiment's own place
            objects_dir = pathlib.Path(args.floe_arg[args.floe_arg.index("--object-store-dir") + 1])
        objects = directory_bytes(objects_dir)
        result["object_store_bytes"] = objects
        if objects < catchup_records * RECORD_BYTES:
            raise BenchError("catch-up consumer throughput",
                             f"the object store holds {objects} bytes, fewer than the "
                             f"{catchup_records * RECORD_BYTES} to read: not uploaded")
    result["page_cache_bytes_after_drop"] = drop_page_cache(broker.data_dir)
    try:
        broker.start()
    except brokers.BrokerError as error:
        raise BenchError("catch-up consumer throughput", f"restart failed: {error}") from None
    step(name, f"catch-up consumer throughput ({catchup_records} records from offset 0)")
    out, _ = run_kafka_tool("catch-up consumer throughput",
                            "org.apache.kafka.tools.ConsumerPerformance", [
                                "--bootstrap-server", broker.bootstrap, "--topic", PERF_TOPIC,
                                "--messages", catchup_records, "--timeout", "30000",
                                "--group", f"catchup-{name}"], tool_timeout, broker)
    catchup = parse_or_fail("catch-up consumer throughput", kafka_perf.parse_consumer_summary,
                            out)
    if catchup["records"] < catchup_records:
        raise BenchError("catch-up consumer throughput",
                         f"read {catchup['records']} of {catchup_records} records")
    result["catchup"] = catchup

    step(name, "stop")
    result["final_exit_code"] = stop_broker(broker)
    result["loadavg_after"] = os.getloadavg()
    result["half_rate"] = half_rate
    return result


# ----------------------------------------------------------------- main


def machine_facts(floe_bin):
    def output(argv):
        try:
            return subprocess.run(argv, capture_output=True, text=True, timeout=30,
                                  cwd=REPO).stdout.strip()
        except (OSError, subprocess.TimeoutExpired):
            return None
    java_version = subprocess.run(["java", "-version"], capture_output=True, text=True,
                                  timeout=30).stderr.splitlines()
    return {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "cpus": os.cpu_count(), "kernel": platform.release(),
        "loadavg_at_start": os.getloadavg(),
        "git_head": output(["git", "rev-parse", "--short", "HEAD"]),
        "kafka_version": paths.kafka_version(),
        "java": java_version[0] if java_version else None,
        "floe_bin": str(floe_bin),
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--floe-bin", required=True, type=pathlib.Path)
    parser.add_argument("--quick", action="store_true",
                        help="seconds per workload (development); no docs update")
    parser.add_argument("--configs", default=",".join(CONFIGS),
                        help="comma-separated subset of " + ",".join(CONFIGS))
    parser.add_argument("--half-rate", type=int,
                        help="records/s for the 50%% run when kafka-default is not measured")
    parser.add_argument("--work-dir", type=pathlib.Path,
                        help="parent of the temporary data directories (default /tmp)")
    parser.add_argument("--keep", action="store_true", help="keep data directories and logs")
    parser.add_argument("--no-fio", action="store_true", help="skip the device limits")
    parser.add_argument("--profile", type=pathlib.Path,
                        help="perf record each broker's max and 50%% runs into this directory")
    parser.add_argument("--floe-arg", action="append", default=[],
                        help="extra argument of floe serve (repeat; for experiments, e.g. "
                             "--floe-arg=--wal-dir --floe-arg=/dev/shm/wal)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=N",
                        help="override one duration of the profile, e.g. --set max_seconds=10")
    parser.add_argument("--out", type=pathlib.Path, help="JSON results path")
    parser.add_argument("--plots", type=pathlib.Path, help="directory for the PNG plots")
    parser.add_argument("--docs", choices=["auto", "yes", "no"], default="auto",
                        help="rewrite the generated block of docs/benchmarks.md "
                             "(auto: full runs of all three configurations only)")
    args = parser.parse_args()

    mode = "quick" if args.quick else "full"
    profile = dict(PROFILES[mode])
    for setting in args.set:
        key, _, value = setting.partition("=")
        if key not in profile or not value.isdigit():
            parser.error(f"--set {setting}: expected one of {', '.join(profile)} = a number")
        profile[key] = int(value)
    configs = [name.strip() for name in args.configs.split(",") if name.strip()]
    for name in configs:
        if name not in CONFIGS:
            parser.error(f"unknown configuration {name!r}")
    if "kafka-default" in configs and configs[0] != "kafka-default":
        configs.remove("kafka-default")
        configs.insert(0, "kafka-default")  # the 50% rate comes from its maximum
    if "kafka-default" not in configs and args.half_rate is None:
        parser.error("--half-rate is needed when kafka-default is not measured")
    suffix = "" if mode == "full" else "_quick"
    out_path = args.out or REPO / "bench" / "results" / f"side_by_side{suffix}.json"
    plots_dir = args.plots or (REPO / "docs" / "bench" if mode == "full"
                               else REPO / "bench" / "results" / "side_by_side_quick")
    write_docs = args.docs == "yes" or (args.docs == "auto" and mode == "full"
                                        and configs == list(CONFIGS) and not args.set
                                        and not args.floe_arg and not args.profile)

    install_cleanup()
    started = time.monotonic()
    parent = args.work_dir or pathlib.Path(tempfile.gettempdir())
    work_root = pathlib.Path(tempfile.mkdtemp(prefix="floe-side-by-side-", dir=parent))
    _work_root["path"] = work_root
    _work_root["keep"] = args.keep
    profile_dir = None
    if args.profile:
        profile_dir = args.profile.resolve()
        profile_dir.mkdir(parents=True, exist_ok=True)
    print(f"side_by_side: {mode} run of {', '.join(configs)}; work directory {work_root}",
          flush=True)
    results = {"mode": mode, "profile": profile, "configs": {}, "floe_args": args.floe_arg,
               "record_bytes": RECORD_BYTES, "partitions": PARTITIONS,
               "producer_props": PRODUCER_PROPS, "kafka_heap": KAFKA_HEAP}
    try:
        if "floe" in configs and not os.access(args.floe_bin, os.X_OK):
            raise BenchError("setup", f"Floe binary {args.floe_bin} is missing or not "
                                      f"executable (build it: make release)")
        results["machine"] = machine_facts(args.floe_bin.resolve())
        results["work_device"] = os.stat(work_root).st_dev
        if not args.no_fio:
            results["device"] = fio_limits(work_root, profile["fio_seconds"])
        half_rate = args.half_rate
        for name in configs:
            config_started = time.monotonic()
            results["configs"][name] = measure_config(name, args, profile, work_root,
                                                      half_rate, profile_dir)
            results["configs"][name]["seconds"] = round(time.monotonic() - config_started, 1)
            if name == "kafka-default":
                half_rate = results["configs"][name]["half_rate"]
            shutil.rmtree(work_root / name / "data", ignore_errors=True)
            shutil.rmtree(work_root / name / "kafka-logs", ignore_errors=True)
    except BenchError as error:
        procs.stop_all()
        sys.stderr.write(f"side_by_side: FAILED measuring {_current['config']}: "
                         f"{error.figure}: {error.reason}\n")
        _remove_work_root(failed=True)
        return 1
    except Exception:  # any other failure: loud, with the figure being measured
        procs.stop_all()
        sys.stderr.write(f"side_by_side: FAILED measuring {_current['config']}: "
                         f"{_current['figure']}:\n{traceback.format_exc()}")
        _remove_work_root(failed=True)
        return 1
    procs.stop_all()
    _remove_work_root()
    results["total_seconds"] = round(time.monotonic() - started, 1)
    results["commands"] = report.commands(results, args)

    out_path.parent.mkdir(parents=True, exist_ok=True)
    out_path.write_text(json.dumps(results, indent=1) + "\n")
    if write_docs:  # bench/results/ is not versioned; the docs' figures are
        docs_json = REPO / "docs" / "bench" / "side_by_side.json"
        docs_json.parent.mkdir(parents=True, exist_ok=True)
        docs_json.write_text(json.dumps(results, indent=1) + "\n")
    plots = report.plots(results, plots_dir)
    table = report.markdown(results, plots, REPO)
    print(table)
    if write_docs:
        report.update_docs(REPO / "docs" / "benchmarks.md", table)
        print("side_by_side: docs/benchmarks.md updated")
    print(f"side_by_side: results in {out_path}; plots in {plots_dir}; "
          f"{results['total_seconds']:.0f} s in all")
    if mode == "full" and results["total_seconds"] > 15 * 60:
        print("side_by_side: WARNING: the run took longer than 15 minutes", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
