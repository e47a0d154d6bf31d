"""The typed report reads and writes exactly what saved reports hold: a real run's report
(and an older report's shape) loads, renders as before and is written back byte for byte;
a run's tests rebuild that report."""

import json
import pathlib

import pytest
import yaml

from egress_conformance.reports import render, report
from egress_conformance.reports.model import MeshUnderTest, MeshWideChanges, Report, Result, RunResult, Step, Verdict

DATA = pathlib.Path(__file__).parent / "data" / "report_core_success.yaml"

RENDERED = """\
egress conformance report of 2026-11-28T09:09:11+00:00
mesh: local provider, Kubernetes v1.36.3, Istio 1.31-dev+eed52ebb66ad (revision default); mesh config \
istio-system/istio, starting policy ALLOW_ANY
result: SUCCESS
claim: scopes mesh-wide, namespace
profile core: success (2 passed)
  passed         core-egress
  passed         core-egress-in-namespace"""
"""The sample as the renderer of dict documents printed it."""


@pytest.fixture
def saved() -> dict:
    return yaml.safe_load(DATA.read_text())


def older(document: dict) -> dict:
    """``document`` in the shape reports had before claims, scopes, manifests, start and end
    times, the mesh config and infrastructure errors were recorded."""
    del document["claim"]
    for key in ("meshConfig", "startingPolicy", "meshWideChanges"):
        del document["mesh"][key]
    for profile in document["profiles"]:
        del profile["summary"]["infrastructure-error"]
        for test in profile["tests"]:
            del test["scope"], test["manifests"]
            for step in test["steps"]:
                step.pop("started", None)
                step.pop("ended", None)
    return document


def test_a_saved_report_round_trips_through_the_model(saved):
    assert Report.from_dict(saved).to_dict() == saved


def test_a_real_runs_report_loads_renders_and_is_written_back_byte_for_byte():
    text = DATA.read_text()
    loaded = report.load(text)
    assert render.as_text(loaded) == RENDERED
    assert report.dump_yaml(loaded) == text
    assert report.dump_json(loaded) == json.dumps(yaml.safe_load(text), indent=2)
    assert report.load(report.dump_json(loaded)) == loaded


def test_the_model_types_what_it_reads(saved):
    loaded = Report.from_dict(saved)
    assert loaded.result is RunResult.SUCCESS and loaded.claimed_scopes == ("mesh-wide", "namespace")
    assert loaded.mesh.mesh_wide_changes is MeshWideChanges.ALLOWED and loaded.mesh.kubernetes_version == "v1.36.3"
    [profile] = loaded.profiles
    assert profile.summary[Result.PASSED] == 2 and all(t.result is Result.PASSED for t in profile.tests)
    first, second = profile.tests[0].steps[:2]
    assert (first.verdict, first.waited, second.verdict, second.waited) == (Verdict.OBSERVED, False, Verdict.PASSED,
                                                                            True)
    assert second.observation["served_by"] == ["PassthroughCluster"]


def test_an_older_report_loads_renders_without_the_newer_lines_and_round_trips(saved):
    document = older(saved)
    loaded = report.load(yaml.safe_dump(document, sort_keys=False))
    assert loaded.to_dict() == document
    assert loaded.claimed_scopes is None and loaded.mesh.mesh_config is None
    assert loaded.profiles[0].tests[0].scope is None
    assert render.as_text(loaded).splitlines() == [
        "egress conformance report of 2026-11-28T09:09:11+00:00",
        "mesh: local provider, Kubernetes v1.36.3, Istio 1.31-dev+eed52ebb66ad (revision default)",
        "result: SUCCESS",
        "profile core: success (2 passed)",
        "  passed         core-egress",
        "  passed         core-egress-in-namespace"]


def test_building_from_a_runs_tests_gives_back_its_report(saved):
    loaded = Report.from_dict(saved)
    rebuilt = report.build(date=loaded.date, mesh=loaded.mesh, not_run_reason=None, tests=loaded.tests(),
                           evidence_dir=loaded.evidence_directory)
    assert report.dump_yaml(rebuilt) == DATA.read_text()


def test_a_mesh_never_reached_is_its_reason_only():
    mesh = MeshUnderTest.never_reached("no Go toolchain")
    assert not mesh.reached and mesh.to_dict() == {"notRun": "no Go toolchain"}
    assert MeshUnderTest.from_dict(mesh.to_dict()) == mesh


def test_a_step_read_from_the_api_has_no_timing_fields_and_a_waited_one_has_them_all():
    fact = Step("API: starting policy in mesh config istio-system/istio", Verdict.OBSERVED, "read ALLOW_ANY",
                "outboundTrafficPolicy.mode: ALLOW_ANY")
    assert list(fact.to_dict()) == ["step", "verdict", "detail", "evidence"]
    waited = Step("0 baseline", Verdict.FAILED, "not consistent long enough", check="reachable", attempts=3,
                  seconds=1.5, started="t0", ended="t1")
    assert list(waited.to_dict()) == ["step", "check", "verdict", "detail", "attempts", "seconds", "started", "ended",
                                      "evidence", "observation"]
    assert waited.to_dict()["verdict"] == "failed" and type(waited.to_dict()["verdict"]) is str
    assert Step.from_dict(waited.to_dict()) == waited


@pytest.mark.parametrize("edit, message", [
    (lambda d: d.update(kind="Pod"), "not a ConformanceReport"),
    (lambda d: d.update(result="great"), "without a valid result and profiles"),
    (lambda d: d["profiles"][0]["tests"][0].update(result="great"), "missing or invalid field"),
    (lambda d: d["profiles"][0]["tests"][0]["steps"][0].update(verdict="fine"), "missing or invalid field"),
    (lambda d: d["profiles"][0].pop("summary"), "missing or invalid field"),
])
def test_load_refuses_an_edited_or_truncated_report_in_one_line(saved, edit, message):
    edit(saved)
    with pytest.raises(ValueError, match=message):
        report.load(yaml.safe_dump(saved))
