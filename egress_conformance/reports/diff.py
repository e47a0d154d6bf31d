"""What changed between two conformance reports (before and after an Istio upgrade): per
test its result, per step its verdict, the request's outcome, the cluster that served it
and its timing. A regression is what an upgrade must not do: a test that passed before
and does not now (also when it vanished or never ran), a test that fails now where it did
not, or a step that passed before and fails now. Timings are shown, never judged.

Pure: two reports (model.Report) in, a Diff out; the CLI prints it.
"""

import dataclasses
import re

from egress_conformance.reports.model import MeshUnderTest, Report, Result, RunResult, Step, TestResult, Verdict

RUN_NAMESPACE = re.compile(r"egress-conformance-[0-9a-f]{6}\b")
"""Each run's test namespace has a random suffix; step names that mention it still match."""

MESH_CONFIG = "<mesh config>"
"""Stands for each report's own mesh ConfigMap in step names when the two differ (a revision
upgrade: `istio-system/istio-canary` before, `istio-system/istio` after), so the steps match."""

TIMING_THRESHOLD = 0.5
"""Seconds a step's duration must move by to be listed: smaller moves are the run's noise."""


@dataclasses.dataclass(frozen=True)
class TestChange:
    key: str  # profile/name
    before: Result | None  # None when absent from that report
    after: Result | None
    steps: tuple[str, ...]  # one line per changed step
    regression: bool


@dataclasses.dataclass(frozen=True)
class Diff:
    mesh: tuple[str, ...]
    result: tuple[RunResult, RunResult]
    tests: tuple[TestChange, ...]

    @property
    def regressions(self) -> list[TestChange]:
        return [t for t in self.tests if t.regression]


def compare(before: Report, after: Report, timing_threshold: float = TIMING_THRESHOLD) -> Diff:
    old, new = _tests_by_key(before), _tests_by_key(after)
    names = [before.mesh.mesh_config, after.mesh.mesh_config]
    aliases: list[str | None] = names if names[0] != names[1] else [None, None]
    changes = []
    for key in sorted(old.keys() | new.keys()):
        a, b = old.get(key), new.get(key)
        result_a = a.result if a else None
        result_b = b.result if b else None
        step_lines, step_regressed = _step_changes(a, b, timing_threshold, aliases) if a and b else ((), False)
        regression = _result_regressed(result_a, result_b) or step_regressed
        if result_a != result_b or step_lines:
            changes.append(TestChange(key, result_a, result_b, step_lines, regression))
    return Diff(_mesh_changes(before.mesh, after.mesh), (before.result, after.result), tuple(changes))


def _result_regressed(before: Result | None, after: Result | None) -> bool:
    return (before == Result.PASSED and after != Result.PASSED) or (after == Result.FAILED and before != Result.FAILED)


@dataclasses.dataclass(frozen=True)
class StepPair:
    """One step in both runs (None where a run lacks it), matched by name as compare matches them."""

    key: str
    before: Step | None
    after: Step | None
    regression: bool


@dataclasses.dataclass(frozen=True)
class TestPair:
    """One test in both runs, every step side by side: what a page shows whole."""

    __test__ = False  # a record, not a pytest test class

    key: str
    before: TestResult | None
    after: TestResult | None
    regression: bool
    steps: tuple[StepPair, ...]


def side_by_side(before: Report, after: Report) -> list[TestPair]:
    """Every test of either report with all its steps paired, regressions first (then by name),
    by the same rules as compare."""
    old, new = _tests_by_key(before), _tests_by_key(after)
    names = [before.mesh.mesh_config, after.mesh.mesh_config]
    aliases: list[str | None] = names if names[0] != names[1] else [None, None]
    pairs = []
    for key in sorted(old.keys() | new.keys()):
        a, b = old.get(key), new.get(key)
        steps_a = _steps_by_key(a, aliases[0]) if a else {}
        steps_b = _steps_by_key(b, aliases[1]) if b else {}
        steps = tuple(StepPair(name, steps_a.get(name), steps_b.get(name), _step_regressed(steps_a.get(name),
                                                                                            steps_b.get(name)))
                      for name in list(steps_a) + [n for n in steps_b if n not in steps_a])
        regression = _result_regressed(a.result if a else None, b.result if b else None) or \
            (a is not None and b is not None and any(step.regression for step in steps))
        pairs.append(TestPair(key, a, b, regression, steps))
    return sorted(pairs, key=lambda pair: not pair.regression)


def _step_regressed(before: Step | None, after: Step | None) -> bool:
    return before is not None and after is not None and before.verdict in (Verdict.PASSED, Verdict.OBSERVED) \
        and after.verdict == Verdict.FAILED


def render(diff: Diff) -> str:
    lines = list(diff.mesh)
    a, b = diff.result
    lines.append(f"result: {a}" if a == b else f"result: {a} -> {b}")
    for change in diff.tests:
        flag = "  REGRESSION" if change.regression else ""
        if change.before is None:
            head = f"{change.key}: new ({change.after})"
        elif change.after is None:
            head = f"{change.key}: gone (was {change.before})"
        elif change.before == change.after:
            head = f"{change.key}: {change.after}"
        else:
            head = f"{change.key}: {change.before} -> {change.after}"
        lines.append(head + flag)
        lines += [f"  {line}" for line in change.steps]
    if not diff.tests:
        lines.append("no test or step changed")
    count = len(diff.regressions)
    lines.append(f"{count} regression{'s' if count != 1 else ''}")
    return "\n".join(lines)


def _tests_by_key(report: Report) -> dict[str, TestResult]:
    return {f"{profile.name}/{test.name}": test for profile in report.profiles for test in profile.tests}


_MESH_LABELS = {"provider": "provider", "kubernetes_version": "Kubernetes", "istio_version": "Istio",
                "revision": "revision", "starting_policy": "starting policy"}
"""The mesh's fields an upgrade may change, by their label in the diff."""


def _mesh_changes(a: MeshUnderTest, b: MeshUnderTest) -> tuple[str, ...]:
    if not a.reached or not b.reached:
        return tuple(f"mesh {label}: not run ({m.not_run})" for label, m in (("before", a), ("after", b))
                     if not m.reached)
    parts = []
    for field, label in _MESH_LABELS.items():
        was, now = getattr(a, field), getattr(b, field)
        if was is not None or now is not None:  # reports older than the field have neither
            parts.append(f"{label} {was} -> {now}" if was != now else f"{label} {was}")
    return ("mesh: " + ", ".join(parts),)


def _steps_by_key(test: TestResult, mesh_config: str | None = None) -> dict[str, Step]:
    """Steps by name; a name repeated within one test gets its occurrence number."""
    keyed: dict[str, Step] = {}
    seen: dict[str, int] = {}
    own = re.compile(re.escape(mesh_config) + r"(?![\w-])") if mesh_config else None
    for step in test.steps:
        name = RUN_NAMESPACE.sub("egress-conformance-<run>", step.name)
        name = own.sub(MESH_CONFIG, name) if own else name
        seen[name] = seen.get(name, 0) + 1
        keyed[name if seen[name] == 1 else f"{name} #{seen[name]}"] = step
    return keyed


def _step_changes(a: TestResult, b: TestResult, timing_threshold: float,
                  mesh_configs: list[str | None]) -> tuple[tuple[str, ...], bool]:
    old, new = _steps_by_key(a, mesh_configs[0]), _steps_by_key(b, mesh_configs[1])
    lines, regressed = [], False
    for name in list(old) + [n for n in new if n not in old]:
        if name not in old:
            lines.append(f"step {name!r}: new ({new[name].verdict})")
            continue
        if name not in new:
            lines.append(f"step {name!r}: gone (was {old[name].verdict})")
            continue
        x, y = old[name], new[name]
        parts = [_changed(label, get(x), get(y)) for label, get in _STEP_FIELDS]
        seconds_a, seconds_b = x.seconds, y.seconds
        if seconds_a is not None and seconds_b is not None and abs(seconds_b - seconds_a) >= timing_threshold:
            parts.append(f"seconds {seconds_a} -> {seconds_b}")
        parts = [p for p in parts if p]
        if parts:
            lines.append(f"step {name!r}: " + "; ".join(parts))
        regressed |= _step_regressed(x, y)
    return tuple(lines), regressed


def _changed(label: str, a, b) -> str:
    return f"{label} {a} -> {b}" if a != b else ""


def _observation(step: Step) -> dict:
    return step.observation or {}


def _served_by(step: Step) -> str | None:
    clusters = _observation(step).get("served_by")
    return ", ".join(clusters) if clusters else None


def _outcome(step: Step) -> str | None:
    observation = _observation(step)
    if not observation.get("outcome"):
        return None
    status = observation.get("status")
    return f"{observation['outcome']} {status}" if status else observation["outcome"]


_STEP_FIELDS = (
    ("verdict", lambda s: s.verdict),
    ("outcome", _outcome),
    ("served by", _served_by),
)
