"""Kafka's performance tools and per-process statistics, shared by the broker
benchmarks (bench/broker/producer_bench.py, bench/side_by_side/run.py).

Parsers for what Kafka 4.1's own tools print (org.apache.kafka.tools.*):

  ProducerPerformance  a line per 5 s window and one summary line:
      "N records sent, R records/sec (M MB/sec), A ms avg latency, X ms max
       latency[, P ms 50th, ... 99.9th]."
  EndToEndLatency      "Avg latency: A ms" and
                       "Percentiles: 50th = P, 99th = Q, 99.9th = S" (ms)
  ConsumerPerformance  a CSV header and one row (without --show-detailed-stats)

Kafka's tools count MB as 2^20 bytes. Each parser raises ToolOutputError
when the line it needs is missing, so that a figure is never made up.

Process statistics come from /proc: VmRSS (KiB) and utime+stime (seconds,
all threads of the process).
"""

import os
import re

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


class ToolOutputError(RuntimeError):
    pass


_PRODUCER_WINDOW = re.compile(
    r"^(\d+) records sent, ([\d.]+) records/sec \(([\d.]+) MB/sec\), ([\d.]+) ms avg latency, "
    r"([\d.]+) ms max latency\.?$")
_PRODUCER_SUMMARY = re.compile(
    r"(\d+) records sent, ([\d.]+) records/sec \(([\d.]+) MB/sec\), ([\d.]+) ms avg latency, "
    r"([\d.]+) ms max latency, (\d+) ms 50th, (\d+) ms 95th, (\d+) ms 99th, (\d+) ms 99.9th")


def parse_producer_summary(text):
    """The final summary of a ProducerPerformance run (latencies in ms)."""
    matches = [m for m in map(_PRODUCER_SUMMARY.search, text.splitlines()) if m]
    if not matches:
        raise ToolOutputError(f"no summary line from ProducerPerformance:\n{text[-2000:]}")
    m = matches[-1]
    return {
        "records": int(m.group(1)), "records_per_s": float(m.group(2)),
        "mb_per_s": float(m.group(3)), "avg_ms": float(m.group(4)), "max_ms": float(m.group(5)),
        "p50_ms": int(m.group(6)), "p95_ms": int(m.group(7)), "p99_ms": int(m.group(8)),
        "p999_ms": int(m.group(9)),
    }


def parse_producer_windows(text):
    """The tool's 5-second windows, in order: records, records/s, MiB/s."""
    windows = []
    for line in text.splitlines():
        m = _PRODUCER_WINDOW.match(line.strip())
        if m:
            windows.append({"records": int(m.group(1)), "records_per_s": float(m.group(2)),
                            "mb_per_s": float(m.group(3)), "avg_ms": float(m.group(4)),
                            "max_ms": float(m.group(5))})
    return windows


_E2E_AVG = re.compile(r"Avg latency: ([\d.]+) ms")
_E2E_PERCENTILES = re.compile(r"Percentiles: 50th = (\d+), 99th = (\d+), 99\.9th = (\d+)")


def parse_end_to_end(text):
    avg = _E2E_AVG.search(text)
    percentiles = _E2E_PERCENTILES.search(text)
    if not avg or not percentiles:
        raise ToolOutputError(f"no latency lines from EndToEndLatency:\n{text[-2000:]}")
    return {"avg_ms": float(avg.group(1)), "p50_ms": int(percentiles.group(1)),
            "p99_ms": int(percentiles.group(2)), "p999_ms": int(percentiles.group(3))}


def parse_consumer_summary(text):
    """ConsumerPerformance's summary row, keyed by its CSV header."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    for index, line in enumerate(lines):
        if line.startswith("start.time") and index + 1 < len(lines):
            keys = [key.strip() for key in line.split(",")]
            values = [value.strip() for value in lines[index + 1].split(",")]
            if len(values) != len(keys):
                break
            row = dict(zip(keys, values))
            try:
                return {
                    "mb": float(row["data.consumed.in.MB"]), "mb_per_s": float(row["MB.sec"]),
                    "records": int(row["data.consumed.in.nMsg"]),
                    "records_per_s": float(row["nMsg.sec"]),
                    "rebalance_ms": int(row["rebalance.time.ms"]),
                    "fetch_ms": int(row["fetch.time.ms"]),
                    "fetch_mb_per_s": float(row["fetch.MB.sec"]),
                    "fetch_records_per_s": float(row["fetch.nMsg.sec"]),
                }
            except (KeyError, ValueError):
                break
    raise ToolOutputError(f"no summary row from ConsumerPerformance:\n{text[-2000:]}")


def rss_kib(pid):
    """Resident memory of a process (VmRSS), KiB."""
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for process {pid}")


def cpu_seconds(pid):
    """User + system CPU time of a process (all its threads), seconds."""
    with open(f"/proc/{pid}/stat") as stat:
        text = stat.read()
    fields = text[text.rindex(")") + 2:].split()
    # fields[0] is field 3 (state); utime and stime are fields 14 and 15.
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS
