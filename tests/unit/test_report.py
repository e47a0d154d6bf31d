import dataclasses

import pytest

from egress_conformance.reports import render
from egress_conformance.reports import report as r
from egress_conformance.reports.model import Result, RunResult, Step, TestResult, Verdict


@pytest.mark.parametrize("results, expected", [
    ([Result.PASSED, Result.PASSED], RunResult.SUCCESS),
    ([Result.PASSED, Result.FAILED], RunResult.FAILURE),
    ([Result.PASSED, Result.SKIPPED], RunResult.PARTIAL),
    ([Result.PASSED, Result.NOT_SUPPORTED], RunResult.PARTIAL),
    ([Result.SKIPPED], RunResult.PARTIAL),
    ([Result.PASSED, Result.NOT_RUN], RunResult.NOT_RUN),  # a test that did not run is never partial
    ([Result.SKIPPED, Result.NOT_RUN], RunResult.NOT_RUN),
    ([Result.NOT_RUN, Result.NOT_RUN], RunResult.NOT_RUN),
    ([Result.NOT_RUN, Result.INFRASTRUCTURE_ERROR], RunResult.INFRASTRUCTURE_ERROR),
    ([Result.FAILED, Result.NOT_RUN], RunResult.FAILURE),
    ([Result.PASSED, Result.INFRASTRUCTURE_ERROR], RunResult.INFRASTRUCTURE_ERROR),
    ([Result.INFRASTRUCTURE_ERROR, Result.SKIPPED], RunResult.INFRASTRUCTURE_ERROR),
    ([Result.INFRASTRUCTURE_ERROR, Result.FAILED], RunResult.FAILURE),
    ([], RunResult.NOT_RUN),
])
def test_profile_result_never_counts_a_missing_result_as_a_pass(results, expected):
    assert r.profile_result(results) == expected


@pytest.mark.parametrize("profiles, expected", [
    ([RunResult.SUCCESS, RunResult.SUCCESS], RunResult.SUCCESS),
    ([RunResult.SUCCESS, RunResult.PARTIAL], RunResult.PARTIAL),
    ([RunResult.SUCCESS, RunResult.NOT_RUN], RunResult.NOT_RUN),
    ([RunResult.PARTIAL, RunResult.NOT_RUN], RunResult.NOT_RUN),
    ([RunResult.PARTIAL, RunResult.FAILURE], RunResult.FAILURE),
    ([RunResult.SUCCESS, RunResult.INFRASTRUCTURE_ERROR], RunResult.INFRASTRUCTURE_ERROR),
    ([RunResult.NOT_RUN], RunResult.NOT_RUN),
    ([], RunResult.NOT_RUN),
])
def test_overall_result_is_the_worst_profile(profiles, expected):
    assert r.overall_result(profiles) == expected


def test_the_string_values_are_those_saved_reports_use():
    assert [v.value for v in Verdict] == ["passed", "failed", "observed"]
    assert [v.value for v in Result] == ["passed", "failed", "infrastructure-error", "skipped", "not-supported",
                                         "not-run"]
    assert [v.value for v in RunResult] == ["success", "partial", "failure", "not run", "infrastructure-error"]


def a_test(name: str, profile: str, result: Result, reason: str = "", scope: str = "mesh-wide") -> TestResult:
    return TestResult(name, "", profile, scope, features=(), manifests=(), result=result, reason=reason)


def test_build_counts_per_profile_and_round_trips():
    tests = [a_test("a", "core", Result.PASSED), a_test("b", "extended", Result.NOT_SUPPORTED, "not supported: x")]
    doc = r.build(date="2026-11-28", mesh=None, not_run_reason="nope", tests=tests, evidence_dir="/e")
    assert doc.mesh.to_dict() == {"notRun": "nope"}
    assert [(p.name, p.result, p.summary[Result.PASSED]) for p in doc.profiles] == [
        ("core", RunResult.SUCCESS, 1), ("extended", RunResult.PARTIAL, 0)]
    assert doc.result == RunResult.PARTIAL
    assert r.load(r.dump_yaml(doc)) == doc == r.load(r.dump_json(doc))
    assert "not-supported  b: not supported: x" in render.as_text(doc)


def test_load_refuses_what_is_not_a_report():
    with pytest.raises(ValueError, match="not a ConformanceReport"):
        r.load("kind: Pod\n")


def test_evidence_keeps_the_access_log_lines_of_the_failing_step():
    from egress_conformance.verdicts import evidence

    log = "\n".join([
        '{"start_time":"2026-11-28T02:47:39.000Z","upstream_cluster":"before"}',
        '{"start_time":"2026-11-28T02:47:40.500Z","upstream_cluster":"BlackHoleCluster"}',
        'not json',
        '{"start_time":"2026-11-28T02:47:45.000Z","upstream_cluster":"after"}',
    ])
    step = Step("2 restricted: HTTPS blocked", Verdict.FAILED, check="blocked (TLS)", attempts=1, seconds=1.0,
                started="2026-11-28T02:47:40.000+00:00", ended="2026-11-28T02:47:41.000+00:00")
    assert evidence.during(log, step) == '{"start_time":"2026-11-28T02:47:40.500Z","upstream_cluster":"BlackHoleCluster"}\n'


def test_exit_codes_are_distinct_and_only_success_is_zero():
    codes = {result: r.exit_code(result) for result in RunResult}
    assert codes == {RunResult.SUCCESS: 0, RunResult.FAILURE: 1, RunResult.PARTIAL: 3, RunResult.NOT_RUN: 4,
                     RunResult.INFRASTRUCTURE_ERROR: 5}
    assert r.USAGE_ERROR_EXIT not in codes.values()
    assert r.exit_code(RunResult.PARTIAL, accept_partial=True) == 0
    assert r.exit_code(RunResult.FAILURE, accept_partial=True) == 1


def test_a_run_that_did_not_run_a_test_it_claims_never_exits_0_even_when_partial_is_accepted():
    tests = [a_test("a", "core", Result.PASSED), a_test("b", "core", Result.NOT_RUN, "interrupted"),
             a_test("c", "core", Result.SKIPPED, "--skip-test c")]
    doc = r.build(date="x", mesh=None, not_run_reason=None, tests=tests, evidence_dir="/e")
    assert doc.result == RunResult.NOT_RUN and r.exit_code(doc.result, accept_partial=True) == 4


def test_recomputed_decides_profiles_and_the_run_from_the_tests_of_the_claim():
    tests = [a_test("a", "core", Result.PASSED, scope="namespace"), a_test("b", "core", Result.FAILED)]
    doc = r.build(date="x", mesh=None, not_run_reason=None, tests=tests, evidence_dir="/e",
                  claimed_scopes=["namespace"])
    edited = dataclasses.replace(doc, result=RunResult.FAILURE,
                                 profiles=tuple(dataclasses.replace(p, result=RunResult.FAILURE) for p in doc.profiles))
    assert r.recomputed(edited) == doc and doc.result == RunResult.SUCCESS  # b is mesh-wide: not claimed
