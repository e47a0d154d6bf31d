"""`egress-conformance audit` on a team's namespace of a cluster the suite did not create:
exit 0 on the team's clean egress, exit 1 naming the object on a broken one; and the
broken-mesh matrix on the same cluster (every shape caught with the right diagnosis, no false
failure). Nothing the suite did is left behind."""

import time

import pytest
import yaml

from egress_conformance import scenarios
from egress_conformance.cluster import kube
from egress_conformance.framework import scope
from egress_conformance.hosts import allowlist, targets
from tests.cluster import snapshot
from tests.cluster.conftest import cli

TEAM, OTHER_TEAM = "egress-conformance-team-a", "egress-conformance-team-b"


def namespace(name, labels=None):
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": labels or {}}}


@pytest.fixture
def team(api):
    """A team's namespace as its platform team keeps it: REGISTRY_ONLY by its Sidecar, the
    allow-list's ServiceEntries exported to it alone."""
    kube.create(api, namespace(TEAM, {"istio-injection": "enabled"}))
    try:
        kube.create(api, scope.policy_sidecar(TEAM, "REGISTRY_ONLY"))
        listed = targets.from_options({}, scenarios.allow_list.DEFAULT_LIST).allow_list
        for index, entry in enumerate(listed):
            obj = allowlist.service_entry(entry, f"team-{index}")
            obj["metadata"]["namespace"], obj["spec"]["exportTo"] = TEAM, ["."]
            kube.create(api, obj)
        yield TEAM
    finally:
        kube.delete_and_wait(api, namespace(TEAM))


def existing(kubeconfig, images, report_dir, *extra):
    return ["--provider", "existing", "--kubeconfig", str(kubeconfig), "--external", "simulated",
            "--client-image", images["client"], "--external-image", images["external"],
            "--report-dir", str(report_dir), *extra]


def test_the_audit_passes_the_teams_egress_and_names_the_object_that_breaks_it(kubeconfig, api, images, tmp_path,
                                                                                own_journals, team):
    before = snapshot.take(api)
    started = time.monotonic()
    clean = cli("audit", *existing(kubeconfig, images, tmp_path / "clean", "--test-namespace", team))
    print(f"audit of the clean namespace: {time.monotonic() - started:.1f}s")
    assert clean.returncode == 0, clean.stdout[-4000:] + clean.stderr[-2000:]
    assert snapshot.differences(before, snapshot.take(api)) == []

    kube.create(api, namespace(OTHER_TEAM))
    try:
        kube.create(api, {"apiVersion": "networking.istio.io/v1", "kind": "ServiceEntry",
                          "metadata": {"name": "wildcard-com", "namespace": OTHER_TEAM},
                          "spec": {"hosts": ["*.com"], "location": "MESH_EXTERNAL", "resolution": "NONE",
                                   "ports": [{"number": 443, "name": "tls", "protocol": "TLS"}]}})
        broken = cli("audit", *existing(kubeconfig, images, tmp_path / "broken", "--test-namespace", team))
    finally:
        kube.delete_and_wait(api, namespace(OTHER_TEAM))
    named = f"outbound|443||*.com: ServiceEntry {OTHER_TEAM}/wildcard-com (resolution NONE)"
    assert broken.returncode == 1, broken.stdout[-4000:] + broken.stderr[-2000:]
    assert named in broken.stdout
    document = yaml.safe_load((tmp_path / "broken" / "report.yaml").read_text())
    assert document["result"] == "failure" and any(named in finding for finding in document["findings"])


def test_the_matrix_catches_every_leaking_shape_and_fails_no_sound_one(kubeconfig, api, images, tmp_path,
                                                                       own_journals):
    before = snapshot.take(api)
    result = cli("matrix", *existing(kubeconfig, images, tmp_path / "matrix", "--allow-mesh-wide-changes"))
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
    caught = sum(1 for s in scenarios.broken_meshes.load() if s.expect == "caught")
    sound = sum(1 for s in scenarios.broken_meshes.load() if s.expect == "passes")
    assert f"kill rate: {caught}/{caught} leaking meshes caught with the right diagnosis" in result.stdout
    assert f"false failures: 0/{sound} sound meshes" in result.stdout
    assert snapshot.differences(before, snapshot.take(api)) == []
