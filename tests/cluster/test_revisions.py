"""Revision awareness and the upgrade check, on a real cluster: with a second istiod under
revision `canary`, a run pointed at it changes `istio-canary` and nothing else, and
`egress-conformance diff` finds no regression between the two revisions' reports; a given
test namespace's own label decides the revision, and --revision that contradicts it is
refused without advice to relabel."""

import pytest
import yaml
from kubernetes import client

from egress_conformance.cluster import meshconfig
from tests.cluster import snapshot
from tests.cluster.conftest import cli
from tests.cluster.test_existing_provider import run_args

CANARY = "canary"


@pytest.fixture(scope="module")
def canary(kubeconfig, api):
    """istiod of revision `canary` beside the default one, removed at the end."""
    from egress_testbed.node import istio

    istio.install(kubeconfig, revision=CANARY)
    yield
    istio.uninstall(kubeconfig, revision=CANARY)


def resource_version(api, name: str) -> str:
    return client.CoreV1Api(api).read_namespaced_config_map(name, "istio-system").metadata.resource_version


def test_a_canary_run_changes_only_its_own_config_map_and_shows_no_regression(kubeconfig, api, images, tmp_path,
                                                                               own_journals, canary):
    default_report, canary_report = tmp_path / "default", tmp_path / "canary"
    result = cli(*run_args(kubeconfig, images, default_report, "--allow-mesh-wide-changes", "--run-test",
                           "core-egress"))
    assert result.returncode == 0, result.stdout[-4000:]

    before = snapshot.take(api)
    untouched, original = resource_version(api, "istio"), meshconfig.read(api, ("istio-system", "istio-canary"))
    canary_version = resource_version(api, "istio-canary")
    result = cli(*run_args(kubeconfig, images, canary_report, "--allow-mesh-wide-changes", "--run-test",
                           "core-egress", "--revision", CANARY))
    assert result.returncode == 0, result.stdout[-4000:]
    document = yaml.safe_load((canary_report / "report.yaml").read_text())
    assert document["mesh"]["revision"] == CANARY and document["mesh"]["meshConfig"] == "istio-system/istio-canary"
    assert resource_version(api, "istio") == untouched  # never written, not even rewritten with the same text
    assert resource_version(api, "istio-canary") != canary_version  # written, then restored byte for byte
    assert meshconfig.read(api, ("istio-system", "istio-canary")) == original
    assert snapshot.differences(before, snapshot.take(api)) == []

    diff = cli("diff", str(default_report / "report.yaml"), str(canary_report / "report.yaml"))
    assert diff.returncode == 0, diff.stdout + diff.stderr


@pytest.fixture
def canary_namespace(api, canary):
    name = "ec-canary-team"
    client.CoreV1Api(api).create_namespace({"metadata": {"name": name, "labels": {"istio.io/rev": CANARY}}})
    yield name
    client.CoreV1Api(api).delete_namespace(name)


def test_a_given_namespace_s_own_label_decides_the_revision_and_a_contradicting_one_is_refused(
        kubeconfig, api, images, tmp_path, own_journals, canary_namespace):
    report_dir = tmp_path / "own-label"
    result = cli(*run_args(kubeconfig, images, report_dir, "--test-namespace", canary_namespace, "--run-test",
                           "core-egress-in-namespace"))
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert yaml.safe_load((report_dir / "report.yaml").read_text())["mesh"]["revision"] == CANARY

    refused = cli(*run_args(kubeconfig, images, tmp_path / "contradicted", "--test-namespace", canary_namespace,
                            "--run-test", "core-egress-in-namespace", "--revision", "default"))
    assert refused.returncode == 4, refused.stdout[-4000:] + refused.stderr[-2000:]
    said = refused.stdout + refused.stderr
    assert f"--test-namespace {canary_namespace} selects revision {CANARY}, not --revision default" in said
    assert "kubectl label" not in said
