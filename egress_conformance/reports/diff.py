"""What changed between two conformance reports (before and after an Istio upgrade): per
test its result, per step its verdict, the request's outcome, the cluster that served it
and its timing. A regression is what an upgrade must not do: a test that passed before
and does not now (also when it vanished or never ran), a test that fails now where it did
not, or a step that passed before and fails now. Timings are shown, never judged.

Pure: two report documents in, a Diff out; the CLI prints it.
"""

import dataclasses
import re

from egress_conformance.reports import report

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
    before: str | None  # result, None when absent from that report
    after: str | None
    steps: tuple[str, ...]  # one line per changed step
    regression: bool


@dataclasses.dataclass(frozen=True)
class Diff:
    mesh: tuple[str, ...]
    result: tuple[str, str]
    tests: tuple[TestChange, ...]

    @property
    def regressions(self) -> list[TestChange]:
        return [t for t in self.tests if t.regression]


def compare(before: dict, after: dict, timing_threshold: float = TIMING_THRESHOLD) -> Diff:
    old, new = _tests_by_key(before), _tests_by_key(after)
    names = [document.get("mesh", {}).get("meshConfig") for document in (before, after)]
    aliases = names if names[0] != names[1] else [None, None]
    changes = []
    for key in sorted(old.keys() | new.keys()):
        a, b = old.get(key), new.get(key)
        result_a = a["result"] if a else None
        result_b = b["result"] if b else None
        step_lines, step_regressed = _step_changes(a, b, timing_threshold, aliases) if a and b else ((), False)
        regression = (result_a == report.PASSED and result_b != report.PASSED) or \
            (result_b == report.FAILED and result_a != report.FAILED) or step_regressed
        if result_a != result_b or step_lines:
            changes.append(TestChange(key, result_a, result_b, step_lines, regression))
    return Diff(_mesh_changes(before.get("mesh", {}), after.get("mesh", {})),
                (before.get("result", "?"), after.get("result", "?")), tuple(changes))


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


def _tests_by_key(document: dict) -> dict[str, dict]:
    return {f"{profile['name']}/{test['name']}": test
            for profile in document.get("profiles", []) for test in profile.get("tests", [])}


def _mesh_changes(a: dict, b: dict) -> tuple[str, ...]:
    if "notRun" in a or "notRun" in b:
        return tuple(f"mesh {label}: not run ({m['notRun']})" for label, m in (("before", a), ("after", b))
                     if "notRun" in m)
    labels = {"provider": "provider", "kubernetesVersion": "Kubernetes", "istioVersion": "Istio",
              "revision": "revision", "startingPolicy": "starting policy"}
    parts = [f"{label} {a.get(field)} -> {b.get(field)}" if a.get(field) != b.get(field) else f"{label} {a.get(field)}"
             for field, label in labels.items() if field in a or field in b]
    return ("mesh: " + ", ".join(parts),)


def _steps_by_key(test: dict, mesh_config: str | None = None) -> dict[str, dict]:
    """Steps by name; a name repeated within one test gets its occurrence number."""
    keyed, seen = {}, {}
    own = re.compile(re.escape(mesh_config) + r"(?![\w-])") if mesh_config else None
    for step in test.get("steps", []):
        name = RUN_NAMESPACE.sub("egress-conformance-<run>", str(step.get("step")))
        name = own.sub(MESH_CONFIG, name) if own else name
        seen[name] = seen.get(name, 0) + 1
        keyed[name if seen[name] == 1 else f"{name} #{seen[name]}"] = step
    return keyed


def _step_changes(a: dict, b: dict, timing_threshold: float,
                  mesh_configs: list[str | None]) -> tuple[tuple[str, ...], bool]:
    old, new = _steps_by_key(a, mesh_configs[0]), _steps_by_key(b, mesh_configs[1])
    lines, regressed = [], False
    for name in list(old) + [n for n in new if n not in old]:
        x, y = old.get(name), new.get(name)
        if x is None:
            lines.append(f"step {name!r}: new ({y.get('verdict')})")
            continue
        if y is None:
            lines.append(f"step {name!r}: gone (was {x.get('verdict')})")
            continue
        parts = [_changed(label, get(x), get(y)) for label, get in _STEP_FIELDS]
        seconds_a, seconds_b = x.get("seconds"), y.get("seconds")
        if seconds_a is not None and seconds_b is not None and abs(seconds_b - seconds_a) >= timing_threshold:
            parts.append(f"seconds {seconds_a} -> {seconds_b}")
        parts = [p for p in parts if p]
        if parts:
            lines.append(f"step {name!r}: " + "; ".join(parts))
        regressed |= x.get("verdict") in (report.PASSED, report.OBSERVED) and y.get("verdict") == report.FAILED
    return tuple(lines), regressed


def _changed(label: str, a, b) -> str:
    return f"{label} {a} -> {b}" if a != b else ""


def _observation(step: dict) -> dict:
    return step.get("observation") or {}


def _served_by(step: dict) -> str | None:
    clusters = _observation(step).get("served_by")
    return ", ".join(clusters) if clusters else None


def _outcome(step: dict) -> str | None:
    observation = _observation(step)
    if not observation.get("outcome"):
        return None
    status = observation.get("status")
    return f"{observation['outcome']} {status}" if status else observation["outcome"]


_STEP_FIELDS = (
    ("verdict", lambda s: s.get("verdict")),
    ("outcome", _outcome),
    ("served by", _served_by),
)
