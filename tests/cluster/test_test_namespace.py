"""--test-namespace on a real cluster: the run works in a namespace it did not create, leaves
it and everything it did not create in it as they were, and refuses an unlabelled one; and
deploy/job.yaml's RBAC, applied for real, is enough for the Job's run (as its service
account, through a token) while the API's own authorizer refuses it anything else."""

import os
import pathlib
import re
import secrets
import time

import pytest
import yaml
from kubernetes import client, dynamic

from egress_conformance.changes import journal
from egress_conformance.cluster import istiodiscovery, kube
from tests import killing
from tests.cluster import snapshot
from tests.cluster.conftest import ROOT, cli, existing_objects

NAMESPACED = (("v1", "Pod"), ("v1", "ConfigMap"), ("v1", "Secret"), ("v1", "Service"), ("v1", "ServiceAccount"),
              ("networking.istio.io/v1", "ServiceEntry"), ("networking.istio.io/v1", "Sidecar"),
              ("telemetry.istio.io/v1", "Telemetry"))
"""What a run creates, or could (events are the cluster's own record of the pods, not the run's)."""


def contents(api, namespace: str) -> dict:
    """Every object of NAMESPACED kinds in ``namespace``: (kind, name) -> its spec or data; not the
    ConfigMaps istiod writes into every namespace whenever it gets to it (snapshot.py says why)."""
    dyn = dynamic.DynamicClient(api)
    found = {}
    for api_version, kind in NAMESPACED:
        for item in dyn.resources.get(api_version=api_version, kind=kind).get(namespace=namespace).items:
            item = item.to_dict()
            if kind == "ConfigMap" and item["metadata"]["name"] in snapshot.ISTIOD_PER_NAMESPACE:
                continue
            found[(kind, item["metadata"]["name"])] = item.get("spec") or item.get("data")
    return found


def filled_in(api, namespace: str) -> dict:
    """contents() once the cluster has added its own objects to a new namespace."""
    deadline = time.monotonic() + 60
    while {("ConfigMap", "kube-root-ca.crt"), ("ServiceAccount", "default")} - set(found := contents(api, namespace)):
        assert time.monotonic() < deadline, f"the cluster never filled in namespace {namespace}"
        time.sleep(0.5)
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
        filled_in(api, name)
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


def test_a_run_killed_in_a_given_namespace_is_undone_by_restore_and_the_namespace_kept(
        kubeconfig, api, images, tmp_path, own_journals, given_namespace):
    before = contents(api, given_namespace)
    killing.kill_at([*run_args(kubeconfig, images, tmp_path / "report", given_namespace),
                     "--run-test", "core-egress-in-namespace"], "applied ServiceEntry", cwd=ROOT, env=os.environ)
    assert contents(api, given_namespace) != before, "the kill left nothing to restore"

    restored = cli("restore", "--no-sweep")
    assert restored.returncode == 0, restored.stdout + restored.stderr
    assert contents(api, given_namespace) == before and journal.pending() == []
    assert client.CoreV1Api(api).read_namespace(given_namespace).status.phase == "Active"


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


@pytest.fixture
def job_rbac(api):
    """deploy/job.yaml applied without its Job: namespaces, service account, roles and bindings."""
    objects = [d for d in yaml.safe_load_all((ROOT / "deploy" / "job.yaml").read_text()) if d and d["kind"] != "Job"]
    with existing_objects(api, *objects):
        yield objects


def service_account_kubeconfig(kubeconfig, api, account: dict, path) -> str:
    """A kubeconfig that authenticates as ``account`` with a short-lived token (as the Job's pod does)."""
    token = client.CoreV1Api(api).create_namespaced_service_account_token(
        account["metadata"]["name"], account["metadata"]["namespace"],
        {"spec": {"expirationSeconds": 3600}}).status.token
    admin = yaml.safe_load(kubeconfig.read_text())
    path.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "clusters": admin["clusters"][:1],
        "users": [{"name": "job", "user": {"token": token}}],
        "contexts": [{"name": "job", "context": {"cluster": admin["clusters"][0]["name"], "user": "job"}}],
        "current-context": "job"}))
    return str(path)


def may(api, verb: str, resource: str, namespace: str, group: str = "") -> bool:
    review = client.AuthorizationV1Api(api).create_self_subject_access_review({"spec": {"resourceAttributes": {
        "verb": verb, "group": group, "resource": resource, "namespace": namespace}}})
    return review.status.allowed


def test_the_jobs_rbac_is_enough_for_its_namespace_scoped_run_and_no_more(kubeconfig, api, images, tmp_path,
                                                                          own_journals, job_rbac):
    account = next(d for d in job_rbac if d["kind"] == "ServiceAccount")
    job = next(d for d in yaml.safe_load_all((ROOT / "deploy" / "job.yaml").read_text()) if d and d["kind"] == "Job")
    command = " ".join(job["spec"]["template"]["spec"]["containers"][0]["args"])
    namespace = re.search(r"--test-namespace (\S+)", command)[1]
    as_job = service_account_kubeconfig(kubeconfig, api, account, tmp_path / "job-kubeconfig")
    job_api = kube.connect(pathlib.Path(as_job))
    assert may(job_api, "create", "pods", namespace) and not may(job_api, "create", "pods", "default")
    assert not may(job_api, "create", "namespaces", "") and not may(job_api, "get", "secrets", "istio-system")
    assert not may(job_api, "patch", "configmaps", "istio-system")
    before = filled_in(api, namespace)

    result = cli(*run_args(as_job, images, tmp_path / "report", namespace)[:-2], "--profile", "extended",
                 "--report-dir", str(tmp_path / "report"))
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    document = yaml.safe_load((tmp_path / "report" / "report.yaml").read_text())
    assert document["result"] == "success" and document["claim"] == {"scopes": ["namespace"]}
    assert "image tag" not in document["mesh"]["istioVersion"], document["mesh"]  # istiod's /version was readable
    assert contents(api, namespace) == before


def test_a_missing_namespace_is_refused_and_not_created(kubeconfig, api, images, tmp_path, own_journals):
    name = f"ec-missing-{secrets.token_hex(3)}"
    result = cli(*run_args(kubeconfig, images, tmp_path / "report", name))
    assert result.returncode == 4, result.stdout[-4000:] + result.stderr[-2000:]
    assert (f"--test-namespace {name}: no such namespace; create it and label it istio-injection=enabled (or "
            "istio.io/rev=<revision>) first") in result.stdout + result.stderr
    assert name not in [n.metadata.name for n in client.CoreV1Api(api).list_namespace().items]
