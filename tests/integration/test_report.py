"""The report says what actually ran: success, failure with evidence, partial, not run."""

import json
import os
import pathlib
import subprocess
import sys
import xml.etree.ElementTree as ET

import yaml

ROOT = pathlib.Path(__file__).resolve().parents[2]
CLI = [sys.executable, "-m", "egress_conformance.cli"]

RESTRICTED_FROM_THE_START = """accessLogEncoding: JSON
accessLogFile: /dev/stdout
enableTracing: false
outboundTrafficPolicy:
  mode: REGISTRY_ONLY
rootNamespace: istio-system
trustDomain: cluster.local
"""


def run_suite(tmp_path, *extra, env=None):
    """The core suite's mesh-wide walkthrough (its namespace-scoped form is left out: one test is enough here)."""
    report_dir = tmp_path / "report"
    result = subprocess.run([sys.executable, "-m", "pytest", "egress_conformance/suites", f"--report-dir={report_dir}",
                             "--run-test=core-egress", *extra],
                            cwd=ROOT, capture_output=True, text=True, env=env, timeout=600)
    document = yaml.safe_load((report_dir / "report.yaml").read_text())
    return result, document, report_dir


def only_test(document, profile="core"):
    [section] = [p for p in document["profiles"] if p["name"] == profile]
    [test] = section["tests"]
    return section, test


def test_a_passing_run_reports_success_with_evidence_per_step(clean_machine, tmp_path):
    result, document, report_dir = run_suite(tmp_path)
    assert result.returncode == 0, result.stdout[-3000:]
    assert document["kind"] == "ConformanceReport" and document["result"] == "success"
    assert document["mesh"]["provider"] == "local" and document["mesh"]["kubernetesVersion"] == "v1.36.3"
    section, test = only_test(document)
    assert section["result"] == "success" and section["summary"]["passed"] == 1
    observed = [s for s in test["steps"] if "observation" in s]
    assert observed and all(s["verdict"] in ("passed", "observed") for s in test["steps"])
    assert any("via outbound|80||httpbin.org" in s["evidence"] for s in observed)
    # The real sidecar counts block_all's own 502 on its port-80 listener: the blocked verdict rests on it.
    blocked_by_route = {s["step"]: s for s in observed}["3 allowed: other host still blocked"]["observation"]
    assert (blocked_by_route["status"], blocked_by_route["block_all"]) == (502, 1)
    assert json.loads((report_dir / "report.json").read_text()) == document
    junit = ET.parse(report_dir / "junit.xml").getroot().find("testsuite")
    assert (junit.get("tests"), junit.get("failures"), junit.get("errors")) == ("1", "0", "0")
    shown = subprocess.run([*CLI, "report", str(report_dir)], cwd=ROOT, capture_output=True, text=True)
    assert shown.returncode == 0 and "result: SUCCESS" in shown.stdout


def test_a_mesh_that_starts_restricted_is_recorded_and_left_restricted(clean_machine, tmp_path):
    mesh_config = tmp_path / "mesh.yaml"
    mesh_config.write_text(RESTRICTED_FROM_THE_START)
    result, document, _ = run_suite(tmp_path, f"--local-mesh-config={mesh_config}")
    assert result.returncode == 0, result.stdout[-3000:]
    assert document["result"] == "success" and document["mesh"]["startingPolicy"] == "REGISTRY_ONLY"
    _, test = only_test(document)
    steps = {s["step"]: s for s in test["steps"]}
    assert steps["0 baseline"]["observation"]["outcome"] != "reachable"
    assert steps["4 policy restored"]["observation"]["sidecar"]["unknown_tcp"] == "BlackHoleCluster"


def test_a_state_never_reached_reports_failure_with_evidence(clean_machine, tmp_path):
    # 1000 agreeing observations cannot happen within 3 s: the baseline step fails for real.
    result, document, _ = run_suite(tmp_path, "--consecutive=1000", "--convergence-timeout=3")
    assert result.returncode == 1
    assert document["result"] == "failure"
    section, test = only_test(document)
    assert section["result"] == "failure" and section["summary"]["failed"] == 1
    assert test["result"] == "failed" and "0 baseline" in test["reason"]
    assert test["steps"][-1]["verdict"] == "failed"
    evidence = pathlib.Path(test["evidence"])
    assert "PassthroughCluster" in (evidence / "config_dump.json").read_text()
    assert (evidence / "mesh-config.yaml").stat().st_size > 0
    assert (evidence / "istiod.log").stat().st_size > 0 and (evidence / "stats.txt").stat().st_size > 0


def test_a_disabled_feature_makes_core_partial_never_passed(clean_machine, tmp_path):
    result, document, report_dir = run_suite(tmp_path, "--skip-feature=service-entry-http")
    assert result.returncode == 3, "partial is not success: it exits 3 unless accepted"
    section, test = only_test(document)
    assert test["result"] == "skipped" and "--skip-feature" in test["reason"]
    assert section["result"] == "partial" and document["result"] == "partial"
    assert section["summary"]["passed"] == 0
    shown = subprocess.run([*CLI, "report", str(report_dir)], cwd=ROOT, capture_output=True, text=True)
    accepted = subprocess.run([*CLI, "report", "--accept-partial", str(report_dir)], cwd=ROOT, capture_output=True,
                              text=True)
    assert (shown.returncode, accepted.returncode) == (3, 0)


def test_a_run_that_never_reached_the_mesh_says_not_run(tmp_path):
    state = tmp_path / "state"
    journals = state / "journals"
    journals.mkdir(parents=True)
    (journals / "20260101-000000-abcdef.json").write_text(json.dumps({
        "cluster": {"provider": "local", "server": "https://127.0.0.1:1", "kubeconfig": "/nonexistent"},
        "started": "2026-01-01T00:00:00", "pid": 1,
        "entries": [{"kind": "mesh-config", "namespace": "istio-system", "name": "istio", "original": "", "id": "1"}],
    }))
    result, document, _ = run_suite(tmp_path, env=dict(os.environ, EGRESS_CONFORMANCE_STATE=str(state)))
    assert result.returncode == 4
    assert document["result"] == "not run"
    assert "egress-conformance restore" in document["mesh"]["notRun"]
    _, test = only_test(document)
    assert test["result"] == "not-run"


def test_run_accepts_partial_only_when_asked(clean_machine, tmp_path):
    result = subprocess.run([*CLI, "run", "--run-test=core-egress", "--skip-feature=service-entry-http",
                             "--accept-partial", f"--report-dir={tmp_path}"], cwd=ROOT, capture_output=True, text=True,
                            timeout=600)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert yaml.safe_load((tmp_path / "report.yaml").read_text())["result"] == "partial"
