"""The conformance report: what ran on which mesh, per profile and per test, with the
evidence behind every step. Pure data in, YAML/JSON/text out; the pytest plugin
(fixtures/report.py) gathers the data.
"""

import json

import yaml

API_VERSION = "egress-conformance.dev/v1alpha1"
KIND = "ConformanceReport"

PASSED, FAILED, SKIPPED, NOT_SUPPORTED, NOT_RUN = "passed", "failed", "skipped", "not-supported", "not-run"
ERROR = "infrastructure-error"
"""A test's result when the mesh under test broke (a component down, the API unreachable):
a fault of the infrastructure, not an egress verdict."""
SUCCESS, PARTIAL, FAILURE, NOTHING_RUN = "success", "partial", "failure", "not run"
INFRASTRUCTURE_ERROR = "infrastructure-error"
"""A run's (or profile's) result when no egress expectation failed but the mesh broke under a test."""

EXIT_CODES = {SUCCESS: 0, FAILURE: 1, PARTIAL: 3, NOTHING_RUN: 4, INFRASTRUCTURE_ERROR: 5}
"""Exit code per result (2 is a usage error, as argparse's)."""
USAGE_ERROR_EXIT = 2


def exit_code(result: str, *, accept_partial: bool = False) -> int:
    """The exit code a run (or `egress-conformance report`) ends with for ``result``."""
    if result == PARTIAL and accept_partial:
        return 0
    return EXIT_CODES[result]
OBSERVED = "observed"
"""A step's verdict when it records a fact (the starting policy) rather than asserting one."""


def profile_result(results: list[str]) -> str:
    """success: all passed; failure: any failed; infrastructure-error: none failed but the mesh
    broke under one; not run: nothing reached the mesh; partial: the rest (something skipped,
    unsupported or not run). No result is never a pass."""
    if not results or all(r == NOT_RUN for r in results):
        return NOTHING_RUN
    if FAILED in results:
        return FAILURE
    if ERROR in results:
        return INFRASTRUCTURE_ERROR
    if all(r == PASSED for r in results):
        return SUCCESS
    return PARTIAL


def overall_result(profile_results: list[str]) -> str:
    """The run's result from its profiles' results, by the same rule as profile_result."""
    as_tests = {SUCCESS: PASSED, FAILURE: FAILED, NOTHING_RUN: NOT_RUN, PARTIAL: SKIPPED, INFRASTRUCTURE_ERROR: ERROR}
    return profile_result([as_tests[r] for r in profile_results])


def build(*, date: str, mesh: dict | None, not_run_reason: str | None, tests: list[dict], evidence_dir: str,
          claimed_scopes: list[str] | None = None) -> dict:
    """The report document. ``tests`` entries carry name, profile, scope, result, reason, steps.

    The claim is scoped, as Gateway API's reports are by supported features: a profile's
    result counts only the tests of the claimed scopes. Tests of other scopes (mesh-wide
    ones, on a shared cluster without consent) are listed as skipped with the reason, and
    the report's ``claim`` says which scopes were tested."""
    claimed = claimed_scopes or ["mesh-wide", "namespace"]
    profiles = []
    for name in sorted({t["profile"] for t in tests}):
        members = [t for t in tests if t["profile"] == name]
        results = [t["result"] for t in members if t.get("scope", "mesh-wide") in claimed]
        counts = {key: [t["result"] for t in members].count(key)
                  for key in (PASSED, FAILED, ERROR, SKIPPED, NOT_SUPPORTED, NOT_RUN)}
        profiles.append({"name": name, "result": profile_result(results), "summary": counts, "tests": members})
    return {
        "apiVersion": API_VERSION,
        "kind": KIND,
        "date": date,
        "mesh": mesh or {"notRun": not_run_reason or "the mesh was never reached"},
        "claim": {"scopes": claimed},
        "result": overall_result([p["result"] for p in profiles]),
        "evidenceDirectory": evidence_dir,
        "profiles": profiles,
    }


def dump_yaml(report: dict) -> str:
    return yaml.safe_dump(report, sort_keys=False, width=120)


def dump_json(report: dict) -> str:
    return json.dumps(report, indent=2)


def load(text: str) -> dict:
    """A saved report (YAML or JSON); raises ValueError if it is not one."""
    try:
        report = yaml.safe_load(text)  # JSON is YAML too
    except yaml.YAMLError as err:
        raise ValueError(f"not YAML or JSON: {err}") from None
    if not isinstance(report, dict) or report.get("kind") != KIND:
        raise ValueError(f"not a {KIND} (kind: {report.get('kind') if isinstance(report, dict) else None})")
    if report.get("result") not in EXIT_CODES or not isinstance(report.get("profiles"), list):
        raise ValueError(f"a {KIND} without a valid result and profiles (truncated or edited?)")
    return report


def render(report: dict) -> str:
    """A readable summary: the mesh, the result per profile, and why each test did not pass."""
    mesh = report["mesh"]
    if "notRun" in mesh:
        head = f"mesh: not run ({mesh['notRun']})"
    else:
        head = (f"mesh: {mesh['provider']} provider, Kubernetes {mesh['kubernetesVersion']}, "
                f"Istio {mesh['istioVersion']} (revision {mesh['revision']})")
        if mesh.get("meshConfig"):
            head += f"; mesh config {mesh['meshConfig']}, starting policy {mesh.get('startingPolicy')}"
    lines = [f"egress conformance report of {report['date']}", head, f"result: {report['result'].upper()}"]
    if "claim" in report:
        lines.append(f"claim: scopes {', '.join(report['claim']['scopes'])}")
    for profile in report["profiles"]:
        counts = ", ".join(f"{v} {k}" for k, v in profile["summary"].items() if v)
        lines.append(f"profile {profile['name']}: {profile['result']} ({counts})")
        for test in profile["tests"]:
            lines.append(f"  {test['result']:14s} {test['name']}" + (f": {test['reason']}" if test.get("reason") else ""))
            for step in test.get("steps", []):
                if step["verdict"] not in (PASSED, OBSERVED):
                    lines.append(f"      {step['verdict']} at step {step['step']!r}: {step.get('detail', '')}")
            if test.get("evidence"):
                lines.append(f"      evidence: {test['evidence']}")
    return "\n".join(lines)
