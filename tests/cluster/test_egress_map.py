"""`egress-conformance audit --all-namespaces` on the node: the cluster's egress map, read-only,
over three namespaces of the test's own among everyone's. One sound (REGISTRY_ONLY, its own
ServiceEntry, a template behind its sidecar), two leaking (ALLOW_ANY by its own Sidecar; a
workload whose port 443 leaves around its sidecar and a TCP ServiceEntry of resolution NONE
that sends anywhere): each row's verdict and the objects its findings name. Nothing is created
by the map; the test's namespaces are deleted at the end."""

import contextlib
import json
import secrets

import pytest
from kubernetes import client
from kubernetes.client.rest import ApiException

from egress_conformance.cluster import kube
from tests.cluster.conftest import cli

LABEL = "egress-conformance-map-test"


def _namespace(name, run):
    return {"apiVersion": "v1", "kind": "Namespace",
            "metadata": {"name": name, "labels": {"istio-injection": "enabled", LABEL: run}}}


def _sidecar(namespace, mode):
    # Its own namespace's hosts only: another run's objects exported everywhere do not reach it.
    return {"apiVersion": "networking.istio.io/v1", "kind": "Sidecar", "metadata": {"name": "default",
                                                                                   "namespace": namespace},
            "spec": {"outboundTrafficPolicy": {"mode": mode}, "egress": [{"hosts": ["./*"]}]}}


def _entry(namespace, name, host, port, protocol, resolution):
    return {"apiVersion": "networking.istio.io/v1", "kind": "ServiceEntry", "metadata": {"name": name,
                                                                                        "namespace": namespace},
            "spec": {"hosts": [host], "exportTo": ["."], "location": "MESH_EXTERNAL", "resolution": resolution,
                     "ports": [{"number": port, "name": "p", "protocol": protocol}]}}


def _deployment(namespace, annotations=None):
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": namespace},
            "spec": {"replicas": 0, "selector": {"matchLabels": {"app": "web"}},
                     "template": {"metadata": {"labels": {"app": "web"}, "annotations": annotations or {}},
                                  "spec": {"containers": [{"name": "app", "image": "none.invalid/app"}]}}}}


@pytest.fixture
def three_namespaces(api):
    run = secrets.token_hex(3)
    sound, open_, bypass = (f"ecmap-test-{run}-{kind}" for kind in ("sound", "open", "bypass"))
    objects = [
        _namespace(sound, run), _sidecar(sound, "REGISTRY_ONLY"),
        _entry(sound, "api", "api.example.com", 443, "TLS", "DNS"), _deployment(sound),
        _namespace(open_, run), _sidecar(open_, "ALLOW_ANY"),
        _namespace(bypass, run), _sidecar(bypass, "REGISTRY_ONLY"),
        _entry(bypass, "db", "db.example.com", 5432, "TCP", "NONE"),
        _deployment(bypass, {"traffic.sidecar.istio.io/excludeOutboundPorts": "443"}),
    ]
    try:
        for obj in objects:
            kube.create(api, obj)
        yield {"sound": sound, "open": open_, "bypass": bypass, "run": run}
    finally:
        # Every namespace's deletion asked for first, then each waited gone: a slow namespace
        # controller (another run deleting a hundred) must not leave the later ones behind.
        for name in (sound, open_, bypass):
            with contextlib.suppress(ApiException):
                client.CoreV1Api(api).delete_namespace(name)
        for name in (sound, open_, bypass):
            kube.delete_and_wait(api, _namespace(name, run), timeout=600)


def test_the_map_judges_each_namespace_and_names_the_object_behind_each_path(kubeconfig, api, three_namespaces,
                                                                             tmp_path):
    before = {n.metadata.name: n.metadata.resource_version
              for n in client.CoreV1Api(api).list_namespace().items if n.metadata.name in
              three_namespaces.values()}
    assert len(before) == 3
    done = cli("audit", "--all-namespaces", "--kubeconfig", str(kubeconfig), "--report-dir", str(tmp_path / "map"))
    assert done.returncode == 1, done.stdout[-2000:] + done.stderr[-2000:]  # a leaking namespace: exit 1
    saved = json.loads((tmp_path / "map" / "report.json").read_text())
    rows = {r["namespace"]: r for r in saved["egressMap"]["namespaces"]}
    assert len(rows) >= 4, "every namespace of the cluster, not only the test's"
    sound, open_, bypass = (rows[three_namespaces[k]] for k in ("sound", "open", "bypass"))
    assert sound["verdict"] == "sound", sound
    assert sound["listed"] == [f"api.example.com:443/TLS: ServiceEntry {three_namespaces['sound']}/api"]
    assert open_["verdict"] == "leaking", open_
    assert open_["unlisted"] == [f"any unknown host -> PassthroughCluster: Sidecar {three_namespaces['open']}/default "
                                 "sets ALLOW_ANY"]
    assert bypass["verdict"] == "leaking", bypass
    assert any(f"ServiceEntry {three_namespaces['bypass']}/db (resolution NONE" in u for u in bypass["unlisted"])
    assert any(f"Deployment {three_namespaces['bypass']}/web" in a and "excludeOutboundPorts: 443" in a
               for a in bypass["around"]), bypass
    tests = {t["name"]: t["result"] for p in saved["profiles"] for t in p["tests"]}
    assert tests[f"audit-map[{three_namespaces['sound']}]"] == "passed"
    assert tests[f"audit-map[{three_namespaces['bypass']}]"] == "failed"
    page = (tmp_path / "map" / "egress-map.html").read_text()
    assert f'<a href="#ns-{three_namespaces["open"]}" class="badge failed">leaking</a>' in page
    # Read-only: the namespaces the map read are as they were.
    after = {n.metadata.name: n.metadata.resource_version
             for n in client.CoreV1Api(api).list_namespace().items if n.metadata.name in before}
    assert after == before
    shown = cli("report", str(tmp_path / "map"))
    assert shown.returncode == 1 and f"audit-map[{three_namespaces['bypass']}]" in shown.stdout, shown.stdout[-2000:]
    selected = cli("audit", "--namespace-selector", f"{LABEL}={three_namespaces['run']}",
                   "--kubeconfig", str(kubeconfig), "--report-dir", str(tmp_path / "selected"))
    chosen = json.loads((tmp_path / "selected" / "report.json").read_text())["egressMap"]["namespaces"]
    assert sorted(r["namespace"] for r in chosen) == sorted(three_namespaces[k] for k in ("sound", "open", "bypass"))
    assert selected.returncode == 1, selected.stderr
