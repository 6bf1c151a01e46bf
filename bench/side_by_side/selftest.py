#!/usr/bin/env python3
"""Failure paths of bench/side_by_side/run.py (about a minute).

    .deps/venv/bin/python bench/side_by_side/selftest.py --floe-bin build-release/floe

Each case runs the driver (quick mode, Floe only, no fio) in a scratch
directory and checks that it exits non-zero with a message naming the
figure and the reason, and that nothing it started is still running:

  missing-binary     --floe-bin points nowhere
  broker-exits       the "broker" exits with code 3 at once
  tool-fails         ProducerPerformance fails (SIDE_BY_SIDE_BREAK_TOOL)
  rejected-produce   Floe rejects the probe's 1 KiB record (message too large)
  interrupted        SIGINT while the "broker" (a shell that never answers,
                     with a child of its own) is starting: exit 130 and both
                     processes gone

Prints one line per case and "N passed, N failed" at the end; exits non-zero
if any case failed.
"""

import argparse
import os
import pathlib
import signal
import subprocess
import sys
import tempfile
import time

HERE = pathlib.Path(__file__).resolve().parent
RUN = HERE / "run.py"


def processes_mentioning(text):
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                cmdline = f.read().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if text in cmdline:
            found.append((int(entry), cmdline.strip()))
    return found


def alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie is gone for our purposes.
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def driver(scratch, floe_bin, env=None):
    work = scratch / "work"
    work.mkdir(exist_ok=True)
    argv = [sys.executable, str(RUN), "--floe-bin", str(floe_bin), "--quick", "--configs",
            "floe", "--half-rate", "1000", "--no-fio", "--work-dir", str(work),
            "--out", str(scratch / "out.json"), "--plots", str(scratch / "plots"),
            "--docs", "no"]
    return argv, dict(os.environ, **(env or {}))


def script(path, body):
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(0o755)
    return path


def check_common(scratch, code, err, want_code=None):
    problems = []
    if code == 0:
        problems.append("exit code 0")
    if want_code is not None and code != want_code:
        problems.append(f"exit code {code}, expected {want_code}")
    if (scratch / "out.json").exists():
        problems.append("results were written")
    leftovers = processes_mentioning(str(scratch))
    if leftovers:
        problems.append(f"still running: {leftovers}")
    # After a failure only logs and configs may stay (for the post-mortem).
    left = [p for p in (scratch / "work").rglob("*")
            if p.is_file() and not p.name.endswith((".log", ".properties"))]
    if left:
        problems.append(f"data left behind: {left[:5]}")
    return problems


def run_case(name, scratch, floe_bin, expect, env=None, interrupt_when=None):
    argv, environ = driver(scratch, floe_bin, env)
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=environ,
                            start_new_session=True)
    if interrupt_when is not None:
        deadline = time.monotonic() + 60
        while not interrupt_when() and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.1)
        time.sleep(0.5)
        proc.send_signal(signal.SIGINT)
    try:
        out, err = proc.communicate(timeout=300)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        return [f"driver did not exit within 300 s"]
    err = err.decode(errors="replace")
    problems = check_common(scratch, proc.returncode, err,
                            130 if interrupt_when is not None else None)
    for text in expect:
        if text not in err:
            problems.append(f"stderr lacks {text!r}: {err[-800:]!r}")
    first = next((line for line in err.splitlines() if "side_by_side:" in line), "(nothing)")
    print(f"     {name}: exit {proc.returncode}: {first[:160]}")
    return problems


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--floe-bin", required=True, type=pathlib.Path)
    args = parser.parse_args()
    floe_bin = args.floe_bin.resolve()
    passed = failed = 0
    with tempfile.TemporaryDirectory(prefix="sbs-selftest-") as top:
        top = pathlib.Path(top)

        def case(name, **kwargs):
            nonlocal passed, failed
            scratch = top / name
            scratch.mkdir()
            extra = kwargs.pop("setup", None)
            if extra:
                kwargs.update(extra(scratch))
            began = time.monotonic()
            problems = run_case(name, scratch, **kwargs)
            took = time.monotonic() - began
            if problems:
                failed += 1
                print(f"FAIL {name} ({took:.1f} s): " + "; ".join(problems))
            else:
                passed += 1
                print(f"ok   {name} ({took:.1f} s)")

        case("missing-binary", floe_bin=top / "no-such-floe",
             expect=["FAILED", "setup", "missing or not executable"])
        case("broker-exits", setup=lambda s: {
                 "floe_bin": script(s / "floe", "echo 'floe: cannot start' >&2\nexit 3\n")},
             expect=["FAILED", "cold start", "exited with code 3"])
        case("tool-fails", floe_bin=floe_bin, env={"SIDE_BY_SIDE_BREAK_TOOL": "ProducerPerformance"},
             expect=["FAILED", "max producer throughput (warm-up)",
                     "ProducerPerformance exited with code"])
        case("rejected-produce", setup=lambda s: {
                 "floe_bin": script(s / "floe", f'exec "{floe_bin}" "$@" --message-max-bytes 512\n')},
             expect=["FAILED", "cold start", "rejected"])

        def interrupted(scratch):
            pids = scratch / "pids"
            fake = script(scratch / "floe",
                          f"sleep 300 &\necho $$ $! > {pids}.tmp\nmv {pids}.tmp {pids}\n"
                          "wait\n")
            return {"floe_bin": fake, "interrupt_when": pids.exists, "_pids": pids}

        scratch = top / "interrupted"
        scratch.mkdir()
        settings = interrupted(scratch)
        pids_path = settings.pop("_pids")
        began = time.monotonic()
        problems = run_case("interrupted", scratch, expect=["interrupted by signal 2"],
                            **settings)
        if pids_path.exists():
            for pid in map(int, pids_path.read_text().split()):
                if alive(pid):
                    problems.append(f"process {pid} of the fake broker still alive")
        else:
            problems.append("the fake broker never started")
        took = time.monotonic() - began
        if problems:
            failed += 1
            print(f"FAIL interrupted ({took:.1f} s): " + "; ".join(problems))
        else:
            passed += 1
            print(f"ok   interrupted ({took:.1f} s)")
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
