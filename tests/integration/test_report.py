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
    report_dir = tmp_path / "report"
    result = subprocess.run([sys.executable, "-m", "pytest", "suites", f"--report-dir={report_dir}", *extra],
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
    assert observed and all(s["verdict"] == "passed" for s in test["steps"])
    assert any("via outbound|80||httpbin.org" in s["evidence"] for s in observed)
    assert json.loads((report_dir / "report.json").read_text()) == document
    junit = ET.parse(report_dir / "junit.xml").getroot().find("testsuite")
    assert (junit.get("tests"), junit.get("failures"), junit.get("errors")) == ("1", "0", "0")
    shown = subprocess.run([*CLI, "report", str(report_dir)], cwd=ROOT, capture_output=True, text=True)
    assert shown.returncode == 0 and "result: SUCCESS" in shown.stdout


def test_a_broken_mesh_config_reports_failure_with_evidence(clean_machine, tmp_path):
    mesh_config = tmp_path / "mesh.yaml"
    mesh_config.write_text(RESTRICTED_FROM_THE_START)
    result, document, _ = run_suite(tmp_path, f"--local-mesh-config={mesh_config}")
    assert result.returncode == 1
    assert document["result"] == "failure"
    section, test = only_test(document)
    assert section["result"] == "failure" and section["summary"]["failed"] == 1
    assert test["result"] == "failed" and "sets REGISTRY_ONLY, expected ALLOW_ANY" in test["reason"]
    assert test["steps"][-1]["verdict"] == "failed"
    evidence = pathlib.Path(test["evidence"])
    assert "mode: REGISTRY_ONLY" in (evidence / "mesh-config.yaml").read_text()
    assert "BlackHoleCluster" in (evidence / "config_dump.json").read_text()
    assert (evidence / "istiod.log").stat().st_size > 0 and (evidence / "stats.txt").stat().st_size > 0


def test_a_disabled_feature_makes_core_partial_never_passed(clean_machine, tmp_path):
    result, document, _ = run_suite(tmp_path, "--skip-feature=service-entry-http")
    assert result.returncode == 0
    section, test = only_test(document)
    assert test["result"] == "skipped" and "--skip-feature" in test["reason"]
    assert section["result"] == "partial" and document["result"] == "partial"
    assert section["summary"]["passed"] == 0


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
    assert result.returncode != 0
    assert document["result"] == "not run"
    assert "egress-conformance restore" in document["mesh"]["notRun"]
    _, test = only_test(document)
    assert test["result"] == "not-run"
