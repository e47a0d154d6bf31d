"""--test-namespace on a real cluster: the run works in a namespace it did not create, leaves
it and everything it did not create in it as they were, and refuses an unlabelled one."""

import secrets
import time

import pytest
from kubernetes import client, dynamic

from egress_conformance import istiodiscovery, journal
from tests.cluster.conftest import cli

NAMESPACED = (("v1", "Pod"), ("v1", "ConfigMap"), ("v1", "Secret"), ("v1", "Service"), ("v1", "ServiceAccount"),
              ("networking.istio.io/v1", "ServiceEntry"), ("networking.istio.io/v1", "Sidecar"),
              ("telemetry.istio.io/v1", "Telemetry"))
"""What a run creates, or could (events are the cluster's own record of the pods, not the run's)."""


def contents(api, namespace: str) -> dict:
    """Every object of NAMESPACED kinds in ``namespace``: (kind, name) -> its spec or data."""
    dyn = dynamic.DynamicClient(api)
    found = {}
    for api_version, kind in NAMESPACED:
        for item in dyn.resources.get(api_version=api_version, kind=kind).get(namespace=namespace).items:
            item = item.to_dict()
            found[(kind, item["metadata"]["name"])] = item.get("spec") or item.get("data")
    return found


@pytest.fixture
def given_namespace(api):
    """A namespace labelled for the default injection, with an object of someone else's in it; deleted at the end."""
    core = client.CoreV1Api(api)
    name = f"ec-given-{secrets.token_hex(3)}"
    labels = istiodiscovery.detect(api).namespace_labels
    core.create_namespace({"metadata": {"name": name, "labels": labels}})
    try:
        core.create_namespaced_config_map(name, {"metadata": {"name": "bystander"}, "data": {"owner": "someone else"}})
        deadline = time.monotonic() + 60  # the cluster adds its own objects to a new namespace
        while {("ConfigMap", "kube-root-ca.crt"), ("ServiceAccount", "default")} - set(contents(api, name)):
            assert time.monotonic() < deadline, "the cluster never filled in the new namespace"
            time.sleep(0.5)
        yield name
    finally:
        core.delete_namespace(name)
        while name in [n.metadata.name for n in core.list_namespace().items]:
            time.sleep(0.5)


def run_args(kubeconfig, images, report_dir, namespace):
    return ["run", "--provider", "existing", "--kubeconfig", str(kubeconfig), "--test-namespace", namespace,
            "--external", "simulated", "--client-image", images["client"], "--external-image", images["external"],
            "--profile", "core", "--report-dir", str(report_dir)]


def test_a_given_namespace_is_used_and_left_as_it_was(kubeconfig, api, images, tmp_path, own_journals,
                                                       given_namespace):
    core = client.CoreV1Api(api)
    before, labels = contents(api, given_namespace), core.read_namespace(given_namespace).metadata.labels
    result = cli(*run_args(kubeconfig, images, tmp_path / "report", given_namespace))
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert f"client pod {given_namespace}/client injected" in result.stdout + result.stderr
    still = core.read_namespace(given_namespace)
    assert still.status.phase == "Active" and still.metadata.labels == labels
    assert contents(api, given_namespace) == before
    assert journal.pending() == []


def test_an_unlabelled_namespace_is_refused_with_the_label_to_add(kubeconfig, api, images, tmp_path, own_journals,
                                                                  given_namespace):
    core = client.CoreV1Api(api)
    label = next(iter(istiodiscovery.detect(api).namespace_labels))
    core.patch_namespace(given_namespace, {"metadata": {"labels": {label: None}}})
    before = contents(api, given_namespace)
    result = cli(*run_args(kubeconfig, images, tmp_path / "report", given_namespace))
    assert result.returncode == 4, result.stdout[-4000:] + result.stderr[-2000:]
    assert (f"--test-namespace {given_namespace} is not labelled for injection by revision default: run "
            f"`kubectl label namespace {given_namespace} istio-injection=enabled`") in result.stdout + result.stderr
    assert contents(api, given_namespace) == before
    assert label not in (core.read_namespace(given_namespace).metadata.labels or {})
