import pytest

from egress_conformance.reports import report as r


@pytest.mark.parametrize("results, expected", [
    ([r.PASSED, r.PASSED], r.SUCCESS),
    ([r.PASSED, r.FAILED], r.FAILURE),
    ([r.PASSED, r.SKIPPED], r.PARTIAL),
    ([r.PASSED, r.NOT_SUPPORTED], r.PARTIAL),
    ([r.SKIPPED], r.PARTIAL),
    ([r.PASSED, r.NOT_RUN], r.PARTIAL),
    ([r.NOT_RUN, r.NOT_RUN], r.NOTHING_RUN),
    ([r.FAILED, r.NOT_RUN], r.FAILURE),
    ([r.PASSED, r.ERROR], r.INFRASTRUCTURE_ERROR),
    ([r.ERROR, r.SKIPPED], r.INFRASTRUCTURE_ERROR),
    ([r.ERROR, r.FAILED], r.FAILURE),
    ([], r.NOTHING_RUN),
])
def test_profile_result_never_counts_a_missing_result_as_a_pass(results, expected):
    assert r.profile_result(results) == expected


@pytest.mark.parametrize("profiles, expected", [
    ([r.SUCCESS, r.SUCCESS], r.SUCCESS),
    ([r.SUCCESS, r.PARTIAL], r.PARTIAL),
    ([r.SUCCESS, r.NOTHING_RUN], r.PARTIAL),
    ([r.PARTIAL, r.FAILURE], r.FAILURE),
    ([r.SUCCESS, r.INFRASTRUCTURE_ERROR], r.INFRASTRUCTURE_ERROR),
    ([r.NOTHING_RUN], r.NOTHING_RUN),
    ([], r.NOTHING_RUN),
])
def test_overall_result_is_the_worst_profile(profiles, expected):
    assert r.overall_result(profiles) == expected


def test_build_counts_per_profile_and_round_trips():
    tests = [
        {"name": "a", "profile": "core", "result": r.PASSED, "reason": "", "steps": []},
        {"name": "b", "profile": "extended", "result": r.NOT_SUPPORTED, "reason": "not supported: x", "steps": []},
    ]
    doc = r.build(date="2026-11-28", mesh=None, not_run_reason="nope", tests=tests, evidence_dir="/e")
    assert doc["mesh"] == {"notRun": "nope"}
    assert [(p["name"], p["result"], p["summary"]["passed"]) for p in doc["profiles"]] == [
        ("core", r.SUCCESS, 1), ("extended", r.PARTIAL, 0)]
    assert doc["result"] == r.PARTIAL
    assert r.load(r.dump_yaml(doc)) == doc == r.load(r.dump_json(doc))
    assert "not-supported  b: not supported: x" in r.render(doc)


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
    step = {"started": "2026-11-28T02:47:40.000+00:00", "ended": "2026-11-28T02:47:41.000+00:00"}
    assert evidence.during(log, step) == '{"start_time":"2026-11-28T02:47:40.500Z","upstream_cluster":"BlackHoleCluster"}\n'


def test_exit_codes_are_distinct_and_only_success_is_zero():
    codes = {result: r.exit_code(result) for result in (r.SUCCESS, r.FAILURE, r.PARTIAL, r.NOTHING_RUN,
                                                          r.INFRASTRUCTURE_ERROR)}
    assert codes == {r.SUCCESS: 0, r.FAILURE: 1, r.PARTIAL: 3, r.NOTHING_RUN: 4, r.INFRASTRUCTURE_ERROR: 5}
    assert r.USAGE_ERROR_EXIT not in codes.values()
    assert r.exit_code(r.PARTIAL, accept_partial=True) == 0
    assert r.exit_code(r.FAILURE, accept_partial=True) == 1
