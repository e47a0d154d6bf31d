"""The existing-cluster provider on a real cluster it did not create: pods scheduled by a
kubelet, sidecars injected by istiod's webhook, requests through the API's exec."""

import hashlib
import os

import yaml

from egress_conformance.changes import journal
from egress_conformance.cluster import meshconfig
from tests import killing
from tests.cluster import snapshot
from tests.cluster.conftest import ROOT, cli


def run_args(kubeconfig, images, report_dir, *extra):
    return ["run", "--provider", "existing", "--kubeconfig", str(kubeconfig), "--external", "simulated",
            "--client-image", images["client"], "--external-image", images["external"],
            "--profile", "core", "--profile", "extended", "--report-dir", str(report_dir), *extra]


def digest(path) -> tuple[str, float]:
    return hashlib.sha256(path.read_bytes()).hexdigest(), path.stat().st_mtime


def results(report_dir) -> tuple[dict, dict]:
    document = yaml.safe_load((report_dir / "report.yaml").read_text())
    tests = {t["name"]: t for p in document["profiles"] for t in p["tests"]}
    return document, tests


def test_by_default_only_the_namespace_is_touched_and_the_claim_says_so(kubeconfig, api, images, tmp_path,
                                                                         own_journals):
    before, user_file = snapshot.take(api), digest(kubeconfig)
    result = cli(*run_args(kubeconfig, images, tmp_path / "report"))
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    document, tests = results(tmp_path / "report")
    assert document["result"] == "success" and document["claim"] == {"scopes": ["namespace"]}
    assert document["mesh"]["meshWideChanges"] == "not allowed"
    for name in ("core-egress-in-namespace", "https-service-entry-in-namespace", "sidecar-scoped-policy"):
        assert tests[name]["result"] == "passed", tests[name]
    for name in ("core-egress", "https-service-entry"):
        assert tests[name]["result"] == "skipped" and "--allow-mesh-wide-changes" in tests[name]["reason"]
    assert snapshot.differences(before, snapshot.take(api)) == []
    assert digest(kubeconfig) == user_file and journal.pending() == []


def test_with_consent_the_mesh_wide_walkthrough_runs_and_the_mesh_config_is_restored(kubeconfig, api, images,
                                                                                      tmp_path, own_journals):
    before = snapshot.take(api)
    result = cli(*run_args(kubeconfig, images, tmp_path / "report", "--allow-mesh-wide-changes"))
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    document, tests = results(tmp_path / "report")
    assert document["result"] == "success" and document["claim"] == {"scopes": ["mesh-wide", "namespace"]}
    assert all(t["result"] == "passed" for t in tests.values()), {n: t["result"] for n, t in tests.items()}
    restricted = [s for s in tests["core-egress"]["steps"] if s["step"] == "1+2 restricted: HTTP blocked"][0]
    # Blocked by the sidecar's own refusal: BlackHoleCluster, or block_all's 502 where some Service
    # makes port 80 an HTTP port in every sidecar (the node's egress gateway does).
    seen = restricted["observation"]
    assert seen["served_by"] == ["BlackHoleCluster"] or (seen["status"] == 502 and seen["block_all"] >= 1), seen
    assert snapshot.differences(before, snapshot.take(api)) == []


def test_a_killed_run_is_undone_by_restore(kubeconfig, api, images, tmp_path, own_journals):
    before = snapshot.take(api)
    where = ("istio-system", "istio")
    original = meshconfig.read(api, where)
    killing.kill_at(run_args(kubeconfig, images, tmp_path / "report", "--allow-mesh-wide-changes",
                             "--run-test", "core-egress"), "applied ServiceEntry", cwd=ROOT, env=os.environ)
    assert meshconfig.policy_of(meshconfig.read(api, where)) == meshconfig.REGISTRY_ONLY  # the kill left it changed
    assert journal.pending(), "the killed run left no journal"

    restored = cli("restore")
    assert restored.returncode == 0, restored.stderr
    assert meshconfig.read(api, where) == original
    assert journal.pending() == []
    assert snapshot.differences(before, snapshot.take(api)) == []
