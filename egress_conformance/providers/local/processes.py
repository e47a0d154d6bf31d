"""Starting, watching and stopping the mesh's component processes.

Each process gets its own session (so a terminal's Ctrl-C reaches only pytest,
which then stops the components in order) and its own log file, whose tail is
quoted when the process dies.
"""

import os
import pathlib
import re
import signal
import subprocess
import time

from egress_conformance.changes import cleanup
from egress_conformance.providers.local import proctable
from egress_conformance.providers.local.errors import ComponentCrashed, LocalMeshError

STOP_GRACE_SECONDS = 10.0
"""How long a component gets to exit after SIGTERM before it is killed."""

_PORT_IN_USE = re.compile(r"address already in use|bind: address in use", re.IGNORECASE)


class Process:
    """One running component, with its log file."""

    def __init__(self, name: str, popen: subprocess.Popen, log: pathlib.Path):
        self.name = name
        self.popen = popen
        self.log = log

    @property
    def pid(self) -> int:
        return self.popen.pid

    def log_tail(self, lines: int = 5) -> str:
        """The last lines of the component's log, joined with ' | '."""
        try:
            text = self.log.read_text(errors="replace")
        except FileNotFoundError:
            return "(no log)"
        tail = [line.strip() for line in text.strip().splitlines()[-lines:]]
        return " | ".join(tail) or "(empty log)"

    def ensure_running(self) -> None:
        """Raise ComponentCrashed, quoting the log, if the process has exited."""
        code = self.popen.poll()
        if code is None:
            return
        tail = self.log_tail()
        if _PORT_IN_USE.search(tail):
            raise ComponentCrashed(
                f"{self.name} could not bind its port (address already in use): stop whatever holds it "
                f"or let the run pick other ports; log: {self.log}"
            )
        raise ComponentCrashed(
            f"{self.name} exited with code {code}: {tail[-400:]} (full log: {self.log}); "
            "fix the cause shown and run again"
        )

    def stop(self) -> None:
        """SIGTERM the process group, then SIGKILL it if it does not exit in time."""
        if self.popen.poll() is not None:
            return
        _signal_group(self.popen.pid, signal.SIGTERM)
        try:
            self.popen.wait(STOP_GRACE_SECONDS)
        except subprocess.TimeoutExpired:
            _signal_group(self.popen.pid, signal.SIGKILL)
            self.popen.wait()
        # Children that outlived their leader (Envoy under pilot-agent) share its group; a killed
        # process lingers in /proc until its memory is freed, so wait until the group is empty.
        try:
            proctable.kill_until_gone(lambda: proctable.in_group(self.popen.pid), timeout=STOP_GRACE_SECONDS,
                                      what=f"stop {self.name}")
        except TimeoutError as err:
            raise LocalMeshError(str(err)) from None


def start(
    name: str,
    argv: list[str],
    *,
    log_dir: pathlib.Path,
    undo: cleanup.Stack,
    env: dict | None = None,
    cwd: pathlib.Path | None = None,
    record=None,
    log_owner: int | None = None,
) -> Process:
    """Start a component and register its stop on ``undo`` at once.

    ``record`` (the run's RunState, if given) gets the pid, and the process (and
    every child of it) gets the run marker in its environment, so that a later
    run can find a process this run could not stop (the run was SIGKILLed). ``log_owner`` hands
    the log file to the uid the process runs as, so that it can reopen its own
    /dev/stdout (Envoy's access log does).
    """
    log = log_dir / f"{name}.log"
    handle = open(log, "ab")
    if log_owner is not None:
        os.chown(log, log_owner, log_owner)
    env = dict(os.environ if env is None else env)
    if record is not None:
        env[proctable.MARKER] = record.run_id
    try:
        popen = subprocess.Popen(
            argv, stdout=handle, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            env=env, cwd=cwd, start_new_session=True,
        )
    except FileNotFoundError as err:
        raise LocalMeshError(f"cannot start {name}: {err.filename} not found; run the set-up (ci/setup) again") from err
    finally:
        handle.close()
    process = Process(name, popen, log)
    undo.push(f"stop {name} (pid {popen.pid})", process.stop)
    if record is not None:
        record.add_pid(popen.pid)
    return process


def wait_ready(process: Process, probe, *, timeout: float, what: str) -> None:
    """Poll ``probe()`` until it returns a true value; fail early if the process dies.

    This is readiness of a freshly started server (is the port answering yet),
    not convergence of mesh state, which the scenario waits on with waits.py.
    """
    deadline = time.monotonic() + timeout
    last = "no answer yet"
    while True:
        process.ensure_running()
        try:
            if probe():
                return
        except Exception as err:  # a not-yet-listening server refuses or resets
            last = f"{type(err).__name__}: {err}"
        if time.monotonic() > deadline:
            raise LocalMeshError(
                f"{process.name} did not become ready ({what}) within {timeout:.0f}s; last: {last}; "
                f"log: {process.log}"
            )
        time.sleep(0.2)


def _signal_group(pid: int, sig: int) -> None:
    try:
        os.killpg(pid, sig)
    except ProcessLookupError:
        pass
