"""One classification of every test, decided in order.

Each phase of a test (setup, the body, clean-up) is classified once, from what it raised,
into an Outcome; the test's result follows from its outcomes, the body first: an egress
expectation that failed stays failed whatever the clean-up then hits (that is added to the
reason), and only a body that passed lets the clean-up decide. What is not a verdict on the
mesh never becomes one: the API refusing the run and a bug of the suite are "not run", and
so is a test cut by Ctrl-C or SIGTERM, even when the signal surfaced as a dead exec.
"""

import dataclasses
import enum

from egress_conformance.changes import cleanup
from egress_conformance.reports.model import Result
from egress_conformance.verdicts import faults


class Kind(enum.StrEnum):
    """How one phase of a test ended."""

    PASSED = "passed"
    SKIPPED = "skipped"
    FAILED = "failed"
    """An expectation did not hold (an AssertionError, a wait that did not converge)."""
    FAULT = "fault"
    """The mesh under test broke (faults.infrastructure_fault)."""
    REFUSED = "refused"
    """The API refused the run (faults.refusal)."""
    NOT_SUPPORTED = "not-supported"
    """The test found the mesh lacks a feature it needs (faults.Unsupported)."""
    BUG = "bug"
    """An exception no rule expects."""
    INTERRUPTED = "interrupted"


@dataclasses.dataclass(frozen=True)
class Outcome:
    """One phase's end, with its one-line reason."""

    kind: Kind
    reason: str = ""


INTERRUPTED = Outcome(Kind.INTERRUPTED, "interrupted")

RESULTS = {Kind.PASSED: Result.PASSED, Kind.SKIPPED: Result.SKIPPED, Kind.FAILED: Result.FAILED,
           Kind.FAULT: Result.INFRASTRUCTURE_ERROR, Kind.NOT_SUPPORTED: Result.NOT_SUPPORTED,
           Kind.REFUSED: Result.NOT_RUN, Kind.BUG: Result.NOT_RUN,
           Kind.INTERRUPTED: Result.NOT_RUN}
"""The result a phase's outcome stands for when that phase decides."""

_BEFORE_THE_BODY = {Kind.SKIPPED: Result.SKIPPED, Kind.FAULT: Result.INFRASTRUCTURE_ERROR}
"""A setup that did not pass: skipped, a broken mesh, or else not run."""


_PRECEDENCE = (Kind.FAILED, Kind.FAULT, Kind.NOT_SUPPORTED, Kind.REFUSED, Kind.BUG)
"""Of several errors raised together, the one that says most about the mesh comes first."""


def of_error(err: BaseException, message: str, *, interrupted: bool) -> Outcome:
    """The outcome of a phase that raised ``err`` (``message``: its one line as an expectation's
    failure); ``interrupted``: a signal has arrived, so whatever broke was cut by it."""
    if interrupted:
        return INTERRUPTED
    if isinstance(err, BaseExceptionGroup):
        # pytest groups the errors of one teardown (the test's, the session's mesh after the last test).
        return _first_of(err, message)
    if isinstance(err, faults.Unsupported):
        return Outcome(Kind.NOT_SUPPORTED, str(err))
    fault = faults.infrastructure_fault(err)
    if fault:
        return Outcome(Kind.FAULT, fault)
    refused = faults.refusal(err)
    if refused:
        return Outcome(Kind.REFUSED, refused)
    # An undo that failed twice is the suite's own, expected report: clean-up did not hold.
    if isinstance(err, (AssertionError, cleanup.CleanupFailed)):
        return Outcome(Kind.FAILED, message)
    return Outcome(Kind.BUG, faults.suite_bug(err))


def _first_of(group: BaseExceptionGroup, message: str) -> Outcome:
    leaves = [of_error(each, str(each).strip() or type(each).__name__, interrupted=False)
              for each in group.exceptions]
    chosen = min(leaves, key=lambda outcome: _PRECEDENCE.index(outcome.kind))
    more = f" (and {len(leaves) - 1} more error{'s' if len(leaves) > 2 else ''})" if len(leaves) > 1 else ""
    return Outcome(chosen.kind, chosen.reason + more)


def decide(setup: Outcome | None, call: Outcome | None, teardown: Outcome | None, *,
           decided: tuple[Result, str] | None = None, interrupted: bool = False) -> tuple[Result, str]:
    """The test's (result, reason) from its phases' outcomes (None: the phase never ended,
    cut by an interruption), and ``decided``: a result a fixture gave before the body (skipped,
    not supported, not run)."""
    if setup is None:
        return Result.NOT_RUN, "interrupted" if interrupted else "the run ended before this test started"
    if decided is not None:
        return decided
    if setup.kind != Kind.PASSED:
        # The body never ran: no egress verdict, whatever stopped it (a broken mesh is still named so).
        return _BEFORE_THE_BODY.get(setup.kind, Result.NOT_RUN), setup.reason
    if call is None or call.kind == Kind.INTERRUPTED:
        return Result.NOT_RUN, INTERRUPTED.reason
    if call.kind == Kind.PASSED:
        return _after_a_pass(teardown)
    reason = call.reason
    if teardown is not None and teardown.kind not in (Kind.PASSED, Kind.SKIPPED):
        reason += f"; clean-up then: {teardown.reason}"
    return RESULTS[call.kind], reason


def _after_a_pass(teardown: Outcome | None) -> tuple[Result, str]:
    """A body that passed: the clean-up decides (it must undo all and leave the mesh config as found)."""
    if teardown is None:
        return Result.NOT_RUN, INTERRUPTED.reason
    if teardown.kind in (Kind.PASSED, Kind.SKIPPED):
        return Result.PASSED, ""
    if teardown.kind == Kind.FAILED:
        return Result.FAILED, f"clean-up failed: {teardown.reason}"
    reason = teardown.reason if teardown.kind == Kind.INTERRUPTED else f"during clean-up: {teardown.reason}"
    return RESULTS[teardown.kind], reason
