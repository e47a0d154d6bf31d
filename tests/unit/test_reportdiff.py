"""Comparing two reports: what counts as a regression, what is only listed, and the CLI's exit code.
The base is a real report of the core profile on the local mesh; the variants edit its saved
document the way an upgrade could, and are compared as the CLI does, read into the model."""

import copy
import pathlib

import pytest
import yaml

from egress_conformance import cli
from egress_conformance.reports import diff as reportdiff
from egress_conformance.reports import report
from egress_conformance.reports.model import Report, Result, RunResult, Verdict

DATA = pathlib.Path(__file__).parent / "data" / "report_core_success.yaml"


@pytest.fixture
def before():
    return yaml.safe_load(DATA.read_text())


def results_of(document):
    return {t["name"]: t for p in document["profiles"] for t in p["tests"]}


def step(test, name):
    return next(s for s in test["steps"] if s["step"] == name)


def compare(before: dict, after: dict, **options) -> reportdiff.Diff:
    return reportdiff.compare(Report.from_dict(before), Report.from_dict(after), **options)


def write(document: dict, path: pathlib.Path) -> str:
    path.write_text(report.dump_yaml(Report.from_dict(document)))
    return str(path)


def test_the_same_report_twice_changes_nothing(before):
    diff = compare(before, copy.deepcopy(before))
    assert diff.tests == () and diff.regressions == []
    assert reportdiff.render(diff).splitlines()[-2:] == ["no test or step changed", "0 regressions"]


def test_a_step_that_now_fails_is_a_regression_with_its_outcome_and_serving_cluster(before):
    after = copy.deepcopy(before)
    test = results_of(after)["core-egress"]
    test["result"] = Result.FAILED
    broken = step(test, "2 restricted: HTTPS blocked")
    broken["verdict"] = Verdict.FAILED
    broken["observation"].update(outcome="reachable", status=200, served_by=["PassthroughCluster"])
    diff = compare(before, after)
    [change] = diff.tests
    assert (change.key, change.before, change.after, change.regression) == (
        "core/core-egress", Result.PASSED, Result.FAILED, True)
    assert change.steps == ("step '2 restricted: HTTPS blocked': verdict passed -> failed; outcome tls-failure -> "
                            "reachable 200; served by BlackHoleCluster -> PassthroughCluster",)
    assert "core/core-egress: passed -> failed  REGRESSION" in reportdiff.render(diff)


def test_a_step_that_newly_fails_inside_an_already_failing_test_is_a_regression(before):
    results_of(before)["core-egress"]["result"] = Result.FAILED
    after = copy.deepcopy(before)
    step(results_of(after)["core-egress"], "0 baseline")["verdict"] = Verdict.FAILED
    [change] = compare(before, after).tests
    assert change.regression and change.before == change.after == Result.FAILED


def test_a_fix_is_listed_but_not_a_regression(before):
    after = copy.deepcopy(before)
    results_of(before)["core-egress"]["result"] = Result.FAILED
    [change] = compare(before, after).tests
    assert (change.before, change.after, change.regression) == (Result.FAILED, Result.PASSED, False)


def test_a_passed_test_that_is_gone_or_skipped_is_a_regression(before):
    after = copy.deepcopy(before)
    profile = after["profiles"][0]
    profile["tests"] = [t for t in profile["tests"] if t["name"] != "core-egress"]
    results_of(after)["core-egress-in-namespace"]["result"] = Result.SKIPPED
    changes = {c.key: c for c in compare(before, after).tests}
    assert changes["core/core-egress"].after is None and changes["core/core-egress"].regression
    assert changes["core/core-egress-in-namespace"].regression


def test_a_new_test_is_a_regression_only_when_it_fails(before):
    after = copy.deepcopy(before)
    added = copy.deepcopy(results_of(after)["core-egress"])
    after["profiles"][0]["tests"].append({**added, "name": "new-passing"})
    after["profiles"][0]["tests"].append({**added, "name": "new-failing", "result": Result.FAILED})
    changes = {c.key: c for c in compare(before, after).tests}
    assert not changes["core/new-passing"].regression and changes["core/new-failing"].regression
    assert "core/new-failing: new (failed)  REGRESSION" in reportdiff.render(compare(before, after))


def test_timings_are_listed_from_the_threshold_and_never_a_regression(before):
    after = copy.deepcopy(before)
    test = results_of(after)["core-egress"]
    step(test, "0 baseline")["seconds"] += 0.4
    step(test, "3 allowed: HTTP reachable")["seconds"] += 5
    [change] = compare(before, after, timing_threshold=0.5).tests
    assert not change.regression
    assert len(change.steps) == 1 and change.steps[0].startswith("step '3 allowed: HTTP reachable': seconds ")
    assert len(compare(before, after, timing_threshold=0.3).tests[0].steps) == 2


def test_steps_naming_each_runs_random_namespace_are_matched(before):
    after = copy.deepcopy(before)
    test = results_of(after)["core-egress-in-namespace"]
    old_names = [s["step"] for s in test["steps"]]
    assert any(reportdiff.RUN_NAMESPACE.search(name) for name in old_names)  # the real report has them
    for s in test["steps"]:
        s["step"] = reportdiff.RUN_NAMESPACE.sub("egress-conformance-abc123", s["step"])
    assert compare(before, after).tests == ()


def test_steps_naming_each_revisions_mesh_config_are_matched(before):
    after = copy.deepcopy(before)
    before["mesh"].update(revision="canary", meshConfig="istio-system/istio-canary")
    for test in results_of(before).values():
        for s in test["steps"]:
            s["step"] = s["step"].replace("istio-system/istio", "istio-system/istio-canary")
    assert compare(before, after).tests == ()
    read_back = step(results_of(after)["core-egress"], "API: mesh config istio-system/istio sets REGISTRY_ONLY")
    read_back["verdict"] = Verdict.FAILED
    [change] = compare(before, after).tests
    assert change.regression and change.steps == ("step 'API: mesh config <mesh config> sets REGISTRY_ONLY': "
                                                  "verdict passed -> failed",)


def test_a_run_that_never_reached_the_mesh_regresses_every_passed_test(before):
    after = copy.deepcopy(before)
    after["mesh"] = {"notRun": "kind cluster not created"}
    after["result"] = RunResult.NOT_RUN
    for test in results_of(after).values():
        test.update(result=Result.NOT_RUN, steps=[])
    diff = compare(before, after)
    assert len(diff.regressions) == 2
    text = reportdiff.render(diff)
    assert "mesh after: not run (kind cluster not created)" in text and "result: success -> not run" in text


def test_the_mesh_line_shows_the_upgrade(before):
    after = copy.deepcopy(before)
    after["mesh"]["istioVersion"] = "1.32.0"
    line = reportdiff.render(compare(before, after)).splitlines()[0]
    assert "Istio 1.31-dev+eed52ebb66ad -> 1.32.0" in line and "Kubernetes v1.36.3," in line


def test_the_command_exits_1_on_a_regression_and_0_otherwise(before, tmp_path, capsys):
    after = copy.deepcopy(before)
    assert cli.main(["diff", write(before, tmp_path / "a.yaml"), write(after, tmp_path / "b.yaml")]) == 0
    results_of(after)["core-egress"]["result"] = Result.FAILED
    assert cli.main(["diff", str(tmp_path / "a.yaml"), write(after, tmp_path / "b.yaml")]) == 1
    assert capsys.readouterr().out.splitlines()[-1] == "1 regression"


def test_the_command_names_a_missing_report_in_one_line(tmp_path, capsys):
    assert cli.main(["diff", str(tmp_path), str(DATA)]) == 1
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "pass a report.yaml/report.json or its run folder" in err
