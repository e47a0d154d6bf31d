"""The thin read behind cluster_map.py: every object the map needs, each kind listed once for the
whole cluster (not once per namespace: the number of API calls does not grow with the number of
namespaces), and the API calls it took counted. Get and list only."""

import dataclasses

from kubernetes import client
from kubernetes.dynamic.exceptions import ResourceNotFoundError

from egress_conformance.cluster import istiodiscovery, kube, meshconfig
from egress_conformance.framework import effective, inventory, networks, preexisting
from egress_conformance.scenarios.audit import cluster_map


@dataclasses.dataclass
class Counter:
    """API calls made through one client (discovery's included)."""

    calls: int = 0


def counted(api: client.ApiClient) -> Counter:
    """Count every request ``api`` makes from now on."""
    counter = Counter()
    original = api.call_api

    def call_api(*args, **kwargs):
        counter.calls += 1
        return original(*args, **kwargs)

    api.call_api = call_api
    return counter


def read(api: client.ApiClient, selector: str | None = None, revision: str | None = None) -> cluster_map.Objects:
    """The cluster's objects as the API holds them now; ``selector``: a label selector the
    namespaces must match (the API applies it)."""
    found = istiodiscovery.detect(api, revision)
    where = found.mesh_config_map
    mesh_text = meshconfig.read(api, where)
    chosen = client.CoreV1Api(api).list_namespace(label_selector=selector or "")
    namespaces = tuple({"metadata": {"name": n.metadata.name, "labels": n.metadata.labels or {}}}
                       for n in chosen.items)
    return cluster_map.Objects(
        namespaces=namespaces,
        workloads=tuple(dict(o, kind=kind) for api_version, kind in inventory.KINDS
                        for o in _everywhere(api, api_version, kind)),
        sidecars=tuple(_everywhere(api, *effective.SIDECAR)),
        envoy_filters=tuple(_everywhere(api, *effective.ENVOY_FILTER)),
        service_entries=tuple(_everywhere(api, *preexisting.SERVICE_ENTRY)),
        network_policies=tuple(_everywhere(api, *inventory.NETWORK_POLICY)),
        services=tuple(_everywhere(api, "v1", "Service")),
        endpoint_slices=tuple(_everywhere(api, *networks.ENDPOINT_SLICE)),
        mesh_policy=meshconfig.policy_of(mesh_text), mesh_config=f"{where[0]}/{where[1]}",
        root=meshconfig.root_namespace(mesh_text), revision=found.revision, networks=networks.read(api))


def _everywhere(api: client.ApiClient, api_version: str, kind: str) -> list[dict]:
    try:
        return kube.list_everywhere(api, api_version, kind)
    except ResourceNotFoundError:  # a cluster that does not serve the kind has none of it
        return []
