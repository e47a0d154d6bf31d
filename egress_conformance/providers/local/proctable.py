"""Finding the processes of a local-mesh run in /proc, and waiting until they are gone.

Every component is started with ``EGRESS_CONFORMANCE_RUN=<run id>`` in its
environment; children inherit it (pilot-agent hands its own environment to the
Envoy it starts), so the marker finds a run's processes however they were
started, and never a process of anything else (a single-node cluster on the same
machine runs binaries of the same names from the same cache).
"""

import os
import pathlib
import signal
import time

MARKER = "EGRESS_CONFORMANCE_RUN"
"""The environment variable that ties a process to the local-mesh run that started it."""


def marked(run_id: str | None = None) -> dict[int, str]:
    """Live processes carrying the run marker (of ``run_id``, or of any run): pid -> command line."""
    wanted = f"{MARKER}={run_id}".encode() if run_id else f"{MARKER}=".encode()
    found = {}
    for proc in pathlib.Path("/proc").glob("[0-9]*"):
        try:
            environ = (proc / "environ").read_bytes().split(b"\0")
            if not any(entry == wanted if run_id else entry.startswith(wanted) for entry in environ):
                continue
            if _state(proc) == "Z":  # exited, waiting for its parent to reap it: holds nothing
                continue
            found[int(proc.name)] = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:  # exited while we looked
            continue
    return found


def run_of(pid: int) -> str | None:
    """The run id in a process's marker, or None."""
    try:
        environ = pathlib.Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    except OSError:
        return None
    prefix = f"{MARKER}=".encode()
    return next((e[len(prefix):].decode() for e in environ if e.startswith(prefix)), None)


def is_zombie(pid: int) -> bool:
    """True if the process has exited and only waits to be reaped (it holds nothing any more)."""
    try:
        return _state(pathlib.Path(f"/proc/{pid}")) == "Z"
    except OSError:
        return False


def in_group(pgid: int) -> list[int]:
    """Live (not zombie) processes whose process group is ``pgid``."""
    members = []
    for proc in pathlib.Path("/proc").glob("[0-9]*"):
        try:
            fields = (proc / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            members.append(int(proc.name))
    return members


def kill_until_gone(find, *, timeout: float, what: str) -> None:
    """SIGKILL every pid ``find()`` returns, again and again, until it returns none.

    Raises TimeoutError naming what is still alive. A SIGKILLed process stays in
    /proc until the kernel has released its memory, which for Envoy takes a
    moment: returning before that would let the caller see (and count) it.
    """
    deadline = time.monotonic() + timeout
    while True:
        alive = find()
        if not alive:
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what}: still alive after {timeout:.0f}s: {_describe(alive)}")
        for pid in alive:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        time.sleep(0.05)


def _describe(alive) -> str:
    if isinstance(alive, dict):
        return ", ".join(f"{pid} ({cmd[:60]})" for pid, cmd in alive.items())
    return ", ".join(str(pid) for pid in alive)


def _state(proc: pathlib.Path) -> str:
    return (proc / "stat").read_text().rsplit(")", 1)[1].split()[0]
