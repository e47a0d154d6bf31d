"""What a test did and saw, for the report: its steps in order, and its findings about the mesh
beyond its verdicts (an audit's leaks, a bypass that gets out). Scenarios call this; they never
edit the lists."""

import dataclasses
import datetime
from collections.abc import Callable

from egress_conformance.reports.model import Step, Verdict


def now() -> str:
    """The time a step was recorded, as every step's times are written (the report's timeline)."""
    return datetime.datetime.now(datetime.UTC).isoformat(timespec="milliseconds")


class Recorder:
    """One test's record: append-only for scenarios; the fixture and the report read it."""

    def __init__(self) -> None:
        self._steps: list[Step] = []
        self._findings: list[str] = []

    @property
    def steps(self) -> list[Step]:
        """The steps so far, oldest first (the live list the report's plugin holds)."""
        return self._steps

    @property
    def findings(self) -> list[str]:
        """The findings so far, oldest first (a copy: record one with ``finding``)."""
        return list(self._findings)

    def step(self, step: Step) -> None:
        """Record a step the framework built itself (a waited one, with its observation)."""
        self._steps.append(step)

    def observed(self, name: str, detail: str, *, evidence: str | None = None, started: str | None = None,
                 ended: str | None = None) -> None:
        """Record a fact seen, not judged (a starting policy, a pod ready, an address)."""
        self._steps.append(Step(name, Verdict.OBSERVED, detail=detail, evidence=evidence, started=started,
                                ended=ended))

    def judged(self, name: str, passed: bool, detail: str, *, evidence: str | None = None,
               started: str | None = None, ended: str | None = None) -> None:
        """Record a verdict the scenario reached itself (not by waiting on requests)."""
        self._steps.append(Step(name, Verdict.PASSED if passed else Verdict.FAILED, detail=detail,
                                evidence=evidence, started=started, ended=ended))

    def finding(self, text: str) -> None:
        """Record something found about the mesh beyond the test's verdicts."""
        self._findings.append(text)

    def last(self) -> Step:
        """The step recorded last."""
        return self._steps[-1]

    def trial(self, run: Callable[[], None]) -> str | None:
        """Run ``run``, whose failure is what the caller asked for (the matrix runs the audit on a
        broken mesh): None when it passed; else what it found, joined, taken back from this test's
        findings, and its failed steps kept in the record as observations."""
        first, found = len(self._steps), len(self._findings)
        try:
            run()
            return None
        except AssertionError:
            said = " | ".join(self._findings[found:])
            del self._findings[found:]
            self._steps[first:] = [dataclasses.replace(s, verdict=Verdict.OBSERVED)
                                   if s.verdict == Verdict.FAILED else s for s in self._steps[first:]]
            return said
