"""Istio's in-cluster objects for the local mesh, as a real install has them:
the CRDs from the istio module, the istio-system namespace and the ``istio``
ConfigMap whose ``mesh`` key istiod reads.
"""

import time

import yaml
from kubernetes import client

from egress_conformance.cluster import kube
from egress_conformance.installed import Layout
from egress_conformance.providers.local.errors import LocalMeshError

CRD_TIMEOUT_SECONDS = 60.0


def mesh_config(discovery_address: str) -> str:
    """The initial mesh config: policy unset (ALLOW_ANY), no metrics providers, tracing off.

    The access log goes to Envoy's stdout as JSON so that each request's upstream
    cluster and route can be quoted as evidence.
    """
    return (
        "accessLogEncoding: JSON\n"
        "accessLogFile: /dev/stdout\n"
        "defaultConfig:\n"
        f"  discoveryAddress: {discovery_address}\n"
        "  proxyMetadata: {}\n"
        "enablePrometheusMerge: true\n"
        "enableTracing: false\n"
        "rootNamespace: istio-system\n"
        "trustDomain: cluster.local\n"
    )


def install(api: client.ApiClient, layout: Layout, mesh: str) -> None:
    """Create CRDs, istio-system and the istio ConfigMap; wait until the CRDs are served.

    No undo: all of it lives in the run's own etcd, which is discarded with it.
    """
    extensions = client.ApiextensionsV1Api(api)
    crds = [doc for doc in yaml.safe_load_all(layout.crds.read_text())
            if doc and doc.get("kind") == "CustomResourceDefinition"]
    for crd in crds:
        extensions.create_custom_resource_definition(body=crd)
    deadline = time.monotonic() + CRD_TIMEOUT_SECONDS
    pending = {crd["metadata"]["name"] for crd in crds}
    while pending:
        for name in list(pending):
            status = extensions.read_custom_resource_definition(name).status
            if any(c.type == "Established" and c.status == "True" for c in (status.conditions or [])):
                pending.discard(name)
        if pending and time.monotonic() > deadline:
            raise LocalMeshError(f"Istio CRDs not established after {CRD_TIMEOUT_SECONDS:.0f}s: {sorted(pending)[:3]}")
        if pending:
            time.sleep(0.2)
    kube.create(api, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "istio-system"}})
    labels = {
        "app": "istiod",
        "istio.io/rev": "default",
        "install.operator.istio.io/owning-resource": "unknown",
        "operator.istio.io/component": "Pilot",
        "release": "istiod",
    }
    kube.create(api, {
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "istio", "namespace": "istio-system", "labels": labels},
        "data": {"mesh": mesh, "meshNetworks": "networks: {}\n"},
    })
