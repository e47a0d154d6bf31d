"""The node's long-lived processes: started detached (they outlive ``up``), each with a
pid file and a log, so that ``down`` and a later ``up`` can find and stop them.

A pid file holds the pid and the process's start time, so a recycled pid is never
taken for one of ours.
"""

import os
import pathlib
import re
import signal
import subprocess
import time

from egress_testbed.node import layout
from egress_testbed.node.errors import NodeError

STOP_GRACE_SECONDS = 10.0
"""How long a daemon gets to exit after SIGTERM before its process group is killed."""

_WHY = re.compile(r"\b(error|fatal|failed|panic|cannot|unable|refused|denied|in use)\b", re.IGNORECASE)


def log_path(name: str) -> pathlib.Path:
    return layout.LOGS / f"{name}.log"


def _pid_file(name: str) -> pathlib.Path:
    return layout.PIDS / f"{name}.pid"


def start_time(pid: int) -> str | None:
    """The kernel's start time of ``pid`` (field 22 of /proc/pid/stat), None if it is gone."""
    try:
        stat = pathlib.Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    return stat.rsplit(")", 1)[1].split()[19]


def start(name: str, argv: list[str], *, env: dict | None = None) -> int:
    """Start ``argv`` in its own session, logging to logs/<name>.log; returns its pid."""
    layout.LOGS.mkdir(parents=True, exist_ok=True)
    layout.PIDS.mkdir(parents=True, exist_ok=True)
    with open(log_path(name), "ab") as log:
        try:
            popen = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                     env=env, start_new_session=True)
        except FileNotFoundError as err:
            raise NodeError(f"cannot start {name}: {err.filename} not found; run `ci/node up` again") from err
    _pid_file(name).write_text(f"{popen.pid} {start_time(popen.pid)}\n")
    return popen.pid


def pid(name: str) -> int | None:
    """The pid of the running daemon ``name``, or None."""
    try:
        recorded, started = _pid_file(name).read_text().split()
    except (FileNotFoundError, ValueError):
        return None
    alive = start_time(int(recorded))
    return int(recorded) if alive is not None and alive == started and not _zombie(int(recorded)) else None


def _zombie(pid: int) -> bool:
    try:
        stat = pathlib.Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return True
    return stat.rsplit(")", 1)[1].split()[0] == "Z"


def recorded() -> list[str]:
    """Names of every daemon with a pid file, running or not."""
    return sorted(p.stem for p in layout.PIDS.glob("*.pid")) if layout.PIDS.exists() else []


def stop(name: str) -> None:
    """SIGTERM the daemon's process group, SIGKILL it after the grace period; forget its pid."""
    running = pid(name)
    if running is not None:
        _signal_group(running, signal.SIGTERM)
        deadline = time.monotonic() + STOP_GRACE_SECONDS
        while pid(name) is not None and time.monotonic() < deadline:
            _reap(running)
            time.sleep(0.1)
        _signal_group(running, signal.SIGKILL)
        _reap(running)
    _pid_file(name).unlink(missing_ok=True)


def why_stopped(name: str) -> str:
    """The log line that best says why a daemon died: the last one naming an error."""
    try:
        lines = [line.strip() for line in log_path(name).read_text(errors="replace").splitlines() if line.strip()]
    except FileNotFoundError:
        return "(no log)"
    telling = [line for line in lines if _WHY.search(line)]
    return (telling or lines or ["(empty log)"])[-1][-500:]


def wait_ready(name: str, probe, *, timeout: float, what: str) -> None:
    """Poll ``probe()`` until it returns a true value; fail at once, quoting the log, if the daemon dies.

    This is readiness of a freshly started server, not convergence of cluster state.
    """
    deadline = time.monotonic() + timeout
    last = "no answer yet"
    while True:
        if pid(name) is None:
            raise NodeError(f"{name} is not running: {why_stopped(name)} (log: {log_path(name)})")
        try:
            if probe():
                return
        except Exception as err:  # a server that is not listening yet refuses or resets
            last = f"{type(err).__name__}: {err}"
        if time.monotonic() > deadline:
            raise NodeError(f"{name} not ready ({what}) after {timeout:.0f}s; last: {last}; log: {log_path(name)}")
        time.sleep(0.3)


def _signal_group(pid: int, sig: int) -> None:
    try:
        os.killpg(pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def _reap(pid: int) -> None:
    # Daemons started by this very process (up, then down in one test) must be reaped.
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass
