"""The one helper for eventually-consistent state: observe until several answers in a row match."""

import dataclasses
import logging
import time
from collections.abc import Callable
from typing import Generic, TypeVar

from egress_conformance.timing import Timing

log = logging.getLogger("egress")

T = TypeVar("T")


class NotConverged(AssertionError):
    """The expected state was not observed consistently before the timeout."""

    def __init__(self, message: str, observation, reason: str | None, attempts: int, elapsed: float):
        super().__init__(message)
        self.observation = observation
        self.reason = reason
        self.attempts = attempts
        self.elapsed = elapsed


@dataclasses.dataclass(frozen=True)
class Converged(Generic[T]):
    """How a wait ended: the last matching observation and what it took."""

    observation: T
    attempts: int
    elapsed: float


def until_consistent(probe: Callable[[], T], check, timing: Timing, *, what: str, clock=time.monotonic,
                     sleep=time.sleep) -> Converged[T]:
    """Call ``probe()`` until ``check(observation)`` has returned None ``timing.consecutive`` times in a row.

    A mismatch while waiting means "not yet" and resets the run of agreeing
    answers. An observation may carry ``generation`` (the sidecar's config
    generation before and after its request): then answers agree only under one
    unchanged generation, follow each other after ``timing.settled_interval``, and a
    mismatch is retried after ``timing.retry_interval``; without a generation they
    are ``timing.interval`` apart. On timeout, raise NotConverged naming the
    attempts, the elapsed time and the last observation with its mismatch.
    """
    __tracebackhide__ = True
    started = clock()
    attempts, streak, last, reason = 0, 0, None, None
    streak_generation = None
    next_progress = timing.progress_every
    while True:
        last = probe()
        attempts += 1
        reason = check(last)
        generation = getattr(last, "generation", None)
        if reason is None and streak and generation != streak_generation:
            streak = 0  # the configuration changed under the streak: its earlier answers prove nothing now
        streak = streak + 1 if reason is None else 0
        streak_generation = generation
        if streak >= timing.consecutive:
            return Converged(last, attempts, clock() - started)
        elapsed = clock() - started
        if elapsed > timing.convergence_timeout:
            summary = last.summary() if hasattr(last, "summary") else repr(last)
            raise NotConverged(
                f"{what}: not consistently true after {attempts} attempts in {elapsed:.1f}s; "
                f"last seen: {summary}; mismatch: {reason or 'none (streak too short)'}",
                last, reason, attempts, elapsed,
            )
        if elapsed >= next_progress:
            next_progress += timing.progress_every
            log.info("  ... still waiting: %s (%.0fs, %d attempts; last mismatch: %s)", what, elapsed, attempts,
                     reason or "none (streak too short)")
        sleep(pause(timing, matched=reason is None, has_generation=generation is not None))


def pause(timing: Timing, *, matched: bool, has_generation: bool) -> float:
    """How long to wait before the next observation, given what the last one showed."""
    if not has_generation:
        return timing.interval
    return timing.settled_interval if matched else timing.retry_interval


class Refuted(NotConverged):
    """The state was observed consistently *not* to hold: a settled verdict, not a timeout."""


def until_settled(probe: Callable[[], T], check, timing: Timing, *, what: str, sticky: bool = False,
                  clock=time.monotonic, sleep=time.sleep) -> Converged[T]:
    """Call ``probe()`` until ``timing.consecutive`` observations in a row agree on the verdict,
    either way: for a mesh nobody is changing (an audit), a leak seen that many times under one
    configuration is as settled as a match, and waiting for it to go away proves nothing.

    Agreeing observations follow the rules of until_consistent (one unchanged config generation
    when the sidecar shows it). Returns on a settled match; raises Refuted on a settled mismatch
    (the last mismatch's reason), NotConverged when the answers still disagree at the timeout.

    ``sticky``: a mismatch seen under the configuration that finally matched is not outvoted by
    the matches after it (a leak seen once is a leak): Refuted, with that mismatch. Without a
    generation to tell configurations apart, any mismatch sticks.
    """
    __tracebackhide__ = True
    started = clock()
    attempts, streak, matched, streak_generation = 0, 0, None, None
    seen_failing: dict = {}
    """Generation -> the first mismatching observation under it, and its reason."""
    while True:
        last = probe()
        attempts += 1
        reason = check(last)
        generation = getattr(last, "generation", None)
        if reason is not None:
            seen_failing.setdefault(generation, (last, reason))
        same = streak and (reason is None) == matched and generation == streak_generation
        streak = streak + 1 if same else 1
        matched, streak_generation = reason is None, generation
        elapsed = clock() - started
        if streak >= timing.consecutive:
            if matched and sticky and (generation in seen_failing or (generation is None and seen_failing)):
                earlier, why = seen_failing.get(generation) or next(iter(seen_failing.values()))
                summary = earlier.summary() if hasattr(earlier, "summary") else repr(earlier)
                raise Refuted(f"{what}: failed once under the configuration that then passed {streak} times "
                              f"({attempts} attempts, {elapsed:.1f}s): a leak seen once is a leak; seen: {summary}; "
                              f"mismatch: {why}", earlier, why, attempts, elapsed)
            if matched:
                return Converged(last, attempts, elapsed)
            summary = last.summary() if hasattr(last, "summary") else repr(last)
            raise Refuted(f"{what}: consistently false in {streak} observations ({attempts} attempts, "
                          f"{elapsed:.1f}s); last seen: {summary}; mismatch: {reason}", last, reason, attempts,
                          elapsed)
        if elapsed > timing.convergence_timeout:
            summary = last.summary() if hasattr(last, "summary") else repr(last)
            raise NotConverged(f"{what}: the answers kept changing for {elapsed:.1f}s ({attempts} attempts); "
                               f"last seen: {summary}; mismatch: {reason or 'none'}", last, reason, attempts, elapsed)
        sleep(pause(timing, matched=True, has_generation=generation is not None))
