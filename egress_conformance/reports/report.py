"""The conformance report's rules and files: which result a profile and the run get from
their tests, the exit code each result stands for, and the report as YAML/JSON. Pure data
in (model.py), text out; the pytest plugin (fixtures/results.py) gathers the data.
"""

import dataclasses
import json

import yaml

from egress_conformance.reports.model import MeshUnderTest, Profile, Report, Result, RunResult, TestResult

EXIT_CODES = {RunResult.SUCCESS: 0, RunResult.FAILURE: 1, RunResult.PARTIAL: 3, RunResult.NOT_RUN: 4,
              RunResult.INFRASTRUCTURE_ERROR: 5}
"""Exit code per result (2 is a usage error, as argparse's)."""
USAGE_ERROR_EXIT = 2

ALL_SCOPES = ("mesh-wide", "namespace")
"""What a run claims unless told otherwise (framework/scope.py's scopes)."""


def exit_code(result: RunResult, *, accept_partial: bool = False) -> int:
    """The exit code a run (or `egress-conformance report`) ends with for ``result``."""
    if result == RunResult.PARTIAL and accept_partial:
        return 0
    return EXIT_CODES[result]


def profile_result(results: list[Result]) -> RunResult:
    """failure: any failed; infrastructure-error: none failed but the mesh broke under one; not
    run: a test did not run (nothing reached the mesh, a refusal, a suite bug, an interruption);
    partial: the rest were skipped or not supported; success: all passed. No result is ever a pass."""
    if Result.FAILED in results:
        return RunResult.FAILURE
    if Result.INFRASTRUCTURE_ERROR in results:
        return RunResult.INFRASTRUCTURE_ERROR
    # A test that did not run is no verdict at all: never "partial", which --accept-partial turns into 0.
    if not results or Result.NOT_RUN in results:
        return RunResult.NOT_RUN
    if all(r == Result.PASSED for r in results):
        return RunResult.SUCCESS
    return RunResult.PARTIAL


_AS_TEST_RESULT = {RunResult.SUCCESS: Result.PASSED, RunResult.FAILURE: Result.FAILED,
                   RunResult.NOT_RUN: Result.NOT_RUN, RunResult.PARTIAL: Result.SKIPPED,
                   RunResult.INFRASTRUCTURE_ERROR: Result.INFRASTRUCTURE_ERROR}


def overall_result(profile_results: list[RunResult]) -> RunResult:
    """The run's result from its profiles' results, by the same rule as profile_result."""
    return profile_result([_AS_TEST_RESULT[r] for r in profile_results])


def build(*, date: str, mesh: MeshUnderTest | None, not_run_reason: str | None, tests: list[TestResult],
          evidence_dir: str, claimed_scopes: list[str] | None = None, findings: tuple[str, ...] = ()) -> Report:
    """The report of ``tests``, grouped by profile (in name order).

    The claim is scoped, as Gateway API's reports are by supported features: a profile's
    result counts only the tests of the claimed scopes. Tests of other scopes (mesh-wide
    ones, on a shared cluster without consent) are listed as skipped with the reason, and
    the report's ``claim`` says which scopes were tested."""
    claimed = tuple(claimed_scopes or ALL_SCOPES)
    profiles = []
    for name in sorted({t.profile for t in tests}):
        members = tuple(t for t in tests if t.profile == name)
        summary = {result: [t.result for t in members].count(result) for result in Result}
        profiles.append(Profile(name, _claimed_result(members, claimed), summary, members))
    return Report(date, mesh or MeshUnderTest.never_reached(not_run_reason or "the mesh was never reached"), claimed,
                  overall_result([p.result for p in profiles]), evidence_dir, tuple(profiles), findings)


def recomputed(report: Report) -> Report:
    """``report`` with each profile's result and the run's decided again from its tests, by the
    rules above: a stored result (edited by hand, or by an older version's rules) is not trusted."""
    claimed = report.claimed_scopes or ALL_SCOPES
    profiles = tuple(dataclasses.replace(p, result=_claimed_result(p.tests, claimed)) for p in report.profiles)
    return dataclasses.replace(report, profiles=profiles, result=overall_result([p.result for p in profiles]))


def _claimed_result(tests: tuple[TestResult, ...], claimed: tuple[str, ...]) -> RunResult:
    # Tests of reports older than scopes were all mesh-wide.
    return profile_result([t.result for t in tests if (t.scope or ALL_SCOPES[0]) in claimed])


def dump_yaml(report: Report) -> str:
    return yaml.safe_dump(report.to_dict(), sort_keys=False, width=120)


def dump_json(report: Report) -> str:
    return json.dumps(report.to_dict(), indent=2)


def load(text: str) -> Report:
    """A saved report (YAML or JSON); raises ValueError if it is not one."""
    try:
        document = yaml.safe_load(text)  # JSON is YAML too
    except yaml.YAMLError as err:
        raise ValueError(f"not YAML or JSON: {err}") from None
    return Report.from_dict(document)
