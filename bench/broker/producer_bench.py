#!/usr/bin/env python3
"""Single-broker benchmark with Kafka's own producer performance tool.

    .deps/venv/bin/python bench/broker/producer_bench.py build-release/floe [--seconds 30]

Measures, against one `floe serve` on a fresh data directory on loopback:
  - start-up: time from exec to accepting connections, on an empty data dir;
  - idle resident memory (VmRSS) two seconds after start;
  - maximum producer throughput: ProducerPerformance (org.apache.kafka.tools),
    1 KiB records, acks=all, enable.idempotence=true, 6 partitions, as fast as
    it can for about --seconds;
  - latency at half of that throughput: p50 / p99 / p99.9 from the same tool
    paced with --throughput;
  - resident memory of the broker at the end of the max-throughput run, and
    its CPU (utime + stime) over that run per GB produced.
Prints a summary and writes bench/results/broker_producer.json. Fails loudly
(non-zero exit naming the step) when a tool or the broker fails; it never
reports a figure it did not measure.
"""
import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.dirname(HERE))

from kafka_perf import ToolOutputError, cpu_seconds, parse_producer_summary, rss_kib  # noqa: E402


def kafka_classpath():
    deps = os.path.join(REPO, ".deps")
    for name in sorted(os.listdir(deps)):
        if name.startswith("kafka-") and os.path.isdir(os.path.join(deps, name, "libs")):
            return os.path.join(deps, name, "libs", "*")
    sys.exit("producer_bench: Kafka jars not installed (run scripts/install-deps.sh)")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_tool(cp, main_class, args, timeout):
    cmd = ["java", "-Xmx512m", "-cp", cp, main_class] + args
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    if p.returncode != 0:
        sys.exit(f"producer_bench: {main_class} failed ({p.returncode}):\n{p.stdout}\n{p.stderr}")
    return p.stdout


def producer_perf(cp, port, topic, records, throughput, timeout):
    out = run_tool(cp, "org.apache.kafka.tools.ProducerPerformance", [
        "--topic", topic, "--num-records", str(records), "--record-size", "1024",
        "--throughput", str(throughput), "--producer-props",
        f"bootstrap.servers=127.0.0.1:{port}", "acks=all", "enable.idempotence=true",
        "linger.ms=5", "batch.size=65536"], timeout)
    try:
        return parse_producer_summary(out)
    except ToolOutputError as error:
        sys.exit(f"producer_bench: {error}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("floe")
    ap.add_argument("--seconds", type=float, default=30)
    ap.add_argument("--out", default=os.path.join(REPO, "bench", "results", "broker_producer.json"))
    args = ap.parse_args()
    cp = kafka_classpath()
    work = tempfile.mkdtemp(prefix="floe-bench-")
    port = free_port()
    log = open(os.path.join(work, "broker.log"), "w")
    t0 = time.monotonic()
    broker = subprocess.Popen([args.floe, "serve", "--listen", f"127.0.0.1:{port}",
                               "--data-dir", os.path.join(work, "data")],
                              stdout=log, stderr=subprocess.STDOUT)
    results = {}
    try:
        deadline = t0 + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.05).close()
                break
            except OSError:
                if broker.poll() is not None or time.monotonic() > deadline:
                    sys.exit(f"producer_bench: broker did not start (log {log.name})")
                time.sleep(0.001)
        results["startup_ms"] = round(1000 * (time.monotonic() - t0), 1)
        time.sleep(2)
        results["idle_rss_mib"] = round(rss_kib(broker.pid) / 1024, 1)
        run_tool(cp, "org.apache.kafka.tools.TopicCommand", [
            "--bootstrap-server", f"127.0.0.1:{port}", "--create", "--topic", "perf",
            "--partitions", "6", "--replication-factor", "1"], 60)
        # A short calibration run sizes the max run to about --seconds.
        calib = producer_perf(cp, port, "perf", 50000, -1, 300)
        records = max(100000, int(calib["records_per_s"] * args.seconds))
        cpu_before = cpu_seconds(broker.pid)
        peak = producer_perf(cp, port, "perf", records, -1, 60 + 4 * args.seconds)
        # Broker CPU per GB produced during the max run (1 KiB records).
        peak["broker_cpu_s"] = round(cpu_seconds(broker.pid) - cpu_before, 2)
        peak["broker_cpu_s_per_gb"] = round(peak["broker_cpu_s"] / (records * 1024 / 1e9), 2)
        results["max"] = peak
        results["rss_after_max_mib"] = round(rss_kib(broker.pid) / 1024, 1)
        half_rate = int(peak["records_per_s"] / 2)
        half = producer_perf(cp, port, "perf", max(50000, int(half_rate * args.seconds)),
                             half_rate, 60 + 4 * args.seconds)
        results["half"] = dict(half, target_records_per_s=half_rate)
        if broker.poll() is not None:
            sys.exit(f"producer_bench: broker exited during the run (log {log.name})")
    finally:
        if broker.poll() is None:
            broker.send_signal(signal.SIGTERM)
            try:
                broker.wait(30)
            except subprocess.TimeoutExpired:
                broker.kill()
    results["broker_exit_code"] = broker.returncode
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w") as f:
        json.dump(results, f, indent=2)
    m, h = results["max"], results["half"]
    print(f"start-up to accepting: {results['startup_ms']} ms; idle RSS {results['idle_rss_mib']} MiB; "
          f"RSS after max run {results['rss_after_max_mib']} MiB")
    print(f"max: {m['records_per_s']:.0f} records/s ({m['mb_per_s']:.1f} MB/s), "
          f"p50 {m['p50_ms']} ms p99 {m['p99_ms']} ms p99.9 {m['p999_ms']} ms; "
          f"broker CPU {m['broker_cpu_s']} s = {m['broker_cpu_s_per_gb']} s/GB")
    print(f"half ({h['target_records_per_s']} records/s): {h['records_per_s']:.0f} records/s, "
          f"p50 {h['p50_ms']} ms p99 {h['p99_ms']} ms p99.9 {h['p999_ms']} ms")
    print(f"SIGTERM exit code {results['broker_exit_code']}; results in {args.out}")
    shutil.rmtree(work, ignore_errors=True)
    if results["broker_exit_code"] != 0:
        sys.exit("producer_bench: broker did not exit cleanly on SIGTERM")


if __name__ == "__main__":
    main()
