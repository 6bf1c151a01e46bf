"""Child processes that are always cleaned up.

Every process the harness starts goes through `spawn`, which puts it in its
own process group (so a JVM and anything it forks die together) and records
it. `stop_all` kills every recorded group that is still alive; it runs at
interpreter exit and on SIGINT/SIGTERM/SIGHUP, so an interrupted or failed
run leaves nothing behind.

Only the groups spawned here are ever signalled.
"""

import atexit
import os
import signal
import subprocess
import sys
import threading
import time

_lock = threading.Lock()
_live = []  # subprocess.Popen objects, each the leader of its own group


def spawn(argv, *, stdout=None, stderr=None, stdin=subprocess.DEVNULL, cwd=None, env=None):
    """Starts argv in a new process group and records it for cleanup."""
    proc = subprocess.Popen(argv, stdout=stdout, stderr=stderr, stdin=stdin, cwd=cwd,
                            env=env, start_new_session=True)
    with _lock:
        _live.append(proc)
    return proc


def signal_group(proc, sig):
    """Sends sig to proc's process group; a group already gone is fine."""
    try:
        os.killpg(proc.pid, sig)
    except ProcessLookupError:
        pass


def kill(proc):
    """SIGKILLs proc's whole group and reaps proc."""
    signal_group(proc, signal.SIGKILL)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        pass
    _forget(proc)


def stop(proc, grace_seconds=20.0):
    """SIGTERM, then SIGKILL after grace_seconds. Returns the exit code."""
    if proc.poll() is None:
        signal_group(proc, signal.SIGTERM)
        try:
            proc.wait(timeout=grace_seconds)
        except subprocess.TimeoutExpired:
            pass
    # Children of the leader may outlive it; the group goes in any case.
    signal_group(proc, signal.SIGKILL)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        pass
    _forget(proc)
    return proc.returncode


def run(argv, *, timeout, stdout=None, stderr=None, stdin=subprocess.DEVNULL, input_bytes=None,
        cwd=None, env=None):
    """Runs argv to completion within timeout seconds (killing it past that).

    Returns (returncode, stdout_bytes, stderr_bytes); a stream passed as a file
    goes there and comes back as b"". returncode is None on timeout.
    """
    pipe_out = stdout is None
    pipe_err = stderr is None
    if input_bytes is not None:
        stdin = subprocess.PIPE
    proc = spawn(argv, stdout=subprocess.PIPE if pipe_out else stdout,
                 stderr=subprocess.PIPE if pipe_err else stderr, stdin=stdin, cwd=cwd, env=env)
    try:
        out, err = proc.communicate(input=input_bytes, timeout=timeout)
        code = proc.returncode
    except subprocess.TimeoutExpired:
        signal_group(proc, signal.SIGKILL)
        out, err = proc.communicate()
        code = None
    signal_group(proc, signal.SIGKILL)  # leftovers of the group, if any
    _forget(proc)
    return code, out or b"", err or b""


def _forget(proc):
    with _lock:
        if proc in _live:
            _live.remove(proc)


def stop_all():
    with _lock:
        procs = list(_live)
    for proc in procs:
        if proc.poll() is None:
            signal_group(proc, signal.SIGTERM)
    deadline = time.monotonic() + 5.0
    for proc in procs:
        remaining = max(0.0, deadline - time.monotonic())
        try:
            proc.wait(timeout=remaining)
        except subprocess.TimeoutExpired:
            pass
        signal_group(proc, signal.SIGKILL)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass
    with _lock:
        _live.clear()


def _on_signal(signum, _frame):
    stop_all()
    sys.stderr.write(f"compat: interrupted by signal {signum}; every started process stopped\n")
    os._exit(128 + signum)


def install_cleanup():
    """Registers stop_all for normal exit and for SIGINT, SIGTERM and SIGHUP."""
    atexit.register(stop_all)
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, _on_signal)
