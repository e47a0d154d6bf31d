"""Ctrl-C and SIGTERM end a run the same way: each becomes a KeyboardInterrupt, so that every
undo still runs, and is remembered, so that the test it cut is "not run: interrupted" (never
an infrastructure error because an exec or a request died with it) and the run exits with
128 + the signal's number (130 after Ctrl-C, 143 after SIGTERM) once it has undone its changes.
A run that lost its Lease is stopped the same way (changes/lease.py), but exits "not run" (4):
nobody asked it to stop, and what it would have tested is unknown.
"""

import contextlib
import signal
from collections.abc import Iterator

from egress_conformance.changes import lease
from egress_conformance.reports import report
from egress_conformance.reports.model import RunResult

SIGNALS = (signal.SIGINT, signal.SIGTERM)

_received: list[int] = []


def _interrupt(signum, frame):
    _received.append(signum)
    raise KeyboardInterrupt(f"signal {signum}")


def install() -> dict:
    """Take SIGINT and SIGTERM over; return the handlers they had, for ``restore``."""
    return {signum: signal.signal(signum, _interrupt) for signum in SIGNALS}


def restore(previous: dict) -> None:
    """Give the signals back the handlers ``install`` returned."""
    for signum, handler in previous.items():
        signal.signal(signum, handler)


@contextlib.contextmanager
def handled() -> Iterator[None]:
    """SIGINT and SIGTERM handled as interruptions while the block runs."""
    previous = install()
    try:
        yield
    finally:
        restore(previous)


def _remember(signum, frame):
    _received.append(signum)


@contextlib.contextmanager
def deferred() -> Iterator[None]:
    """While the block undoes the run's changes, a signal is remembered, not raised: an undo cut
    half-way would leave what it was undoing (seen: Ctrl-C as the local mesh was torn down left
    its processes). After the block, a signal received in it ends the run as interrupted."""
    before = len(_received)
    previous = {signum: signal.signal(signum, _remember) for signum in SIGNALS}
    try:
        yield
    finally:
        restore(previous)
    if len(_received) > before:
        raise KeyboardInterrupt(f"signal {_received[before]}")


def note(signum: int = signal.SIGINT) -> None:
    """Remember an interruption that reached us without our handler (a KeyboardInterrupt pytest saw)."""
    if not _received:
        _received.append(signum)


def received() -> int | None:
    """The first signal that interrupted this run, or None."""
    return _received[0] if _received else None


def exit_code() -> int:
    """What an interrupted run exits with: the shell's 128 + signal number; "not run" after a lost Lease."""
    if lease.lost():
        return report.EXIT_CODES[RunResult.NOT_RUN]
    return 128 + (received() or signal.SIGINT)


def why() -> str:
    """What interrupted the run, in words: "interrupted", or "interrupted: lost the lease (...)"."""
    return f"interrupted: {lease.lost()}" if lease.lost() else "interrupted"


def forget() -> None:
    """A new run starts in this process (pytest's session, a test of the suite's own): nothing received yet."""
    _received.clear()
    lease.forget()
