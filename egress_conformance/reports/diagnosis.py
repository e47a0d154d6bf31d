"""Why a test did not pass, in one sentence: the step that failed, what it expected, and what
the sidecar showed instead; or, without a failed step, the test's own reason. Pure: the report
model in, text out. Every rendering (Markdown, HTML) takes its diagnosis from here."""

import dataclasses

from egress_conformance.reports.model import Report, Result, Step, TestResult, Verdict

NOT_PASSED = (Result.FAILED, Result.INFRASTRUCTURE_ERROR, Result.NOT_RUN)
"""Results that need a diagnosis (skipped and not supported say why in their reason)."""


@dataclasses.dataclass(frozen=True)
class Diagnosis:
    """One test that did not pass: where (profile/test), the step that failed (None when no step
    did: a test not run, a failure outside the steps), and the sentence that says why."""

    key: str
    test: TestResult
    step: Step | None
    sentence: str


def of_report(report: Report) -> list[Diagnosis]:
    """A diagnosis per test of ``report`` that failed, broke or did not run, in report order."""
    return [of_test(profile.name, test) for profile in report.profiles for test in profile.tests
            if test.result in NOT_PASSED]


def of_test(profile: str, test: TestResult) -> Diagnosis:
    step = failing_step(test)
    return Diagnosis(f"{profile}/{test.name}", test, step, sentence(test, step))


def failing_step(test: TestResult) -> Step | None:
    """The last step that failed: the one the test stopped at."""
    failed = [step for step in test.steps if step.verdict == Verdict.FAILED]
    return failed[-1] if failed else None


def sentence(test: TestResult, step: Step | None) -> str:
    if step is None:
        return _sentence(test.reason or f"the test ended {test.result} without a reason")
    if not step.waited:
        return _sentence(f"step '{step.name}' failed: the API {step.detail or 'disagreed'}")
    why = step.detail or "no answer matched"
    tried = f" in {step.attempts} attempts over {step.seconds}s" if step.attempts is not None else ""
    seen = seen_request(step.observation)
    last = f"; the last request {seen}" if seen else ""
    return _sentence(f"step '{step.name}' expected {step.check}, but {why}{tried}{last}")


def seen_request(observation: dict | None) -> str:
    """What the step's last observation saw, as a clause: 'GET URL was reset via BlackHoleCluster'."""
    if not observation or not observation.get("outcome"):
        return ""
    request = observation.get("request") or {}
    url = f"GET {request['url']} " if request.get("url") else ""
    status = f" {observation['status']}" if observation.get("status") else ""
    served = observation.get("served_by") or []
    via = f" via {', '.join(served)}" if served else " via no cluster"
    return f"{url}was {observation['outcome']}{status}{via}"


def _sentence(text: str) -> str:
    text = " ".join(text.split())
    text = text[:1].upper() + text[1:]
    return text if text.endswith((".", "!", "?")) else text + "."
