"""The thin read behind framework/workloads.py: a namespace's Pods and pod templates, and what
else decides whether they can leave around a sidecar (Sidecars, EnvoyFilters, NetworkPolicies,
the namespace's labels, the audited control plane's revision), from the API."""

from kubernetes import client

from egress_conformance.cluster import kube, meshconfig
from egress_conformance.framework import effective, workloads

KINDS = (("v1", "Pod"), ("apps/v1", "Deployment"), ("apps/v1", "StatefulSet"), ("apps/v1", "DaemonSet"),
         ("apps/v1", "ReplicaSet"), ("batch/v1", "Job"), ("batch/v1", "CronJob"))
NETWORK_POLICY = ("networking.k8s.io/v1", "NetworkPolicy")


def read(api: client.ApiClient, namespace: str, mesh_config_map: tuple[str, str],
         policies_enforced: bool = False) -> tuple[list[workloads.Workload], workloads.Mesh]:
    """The namespace's distinct workloads, and the mesh around them, as the API holds them now."""
    objects = [dict(o, kind=kind) for api_version, kind in KINDS
               for o in kube.list_in(api, api_version, kind, namespace)]
    mesh_text = meshconfig.read(api, mesh_config_map)
    root = meshconfig.root_namespace(mesh_text)
    scoped = (namespace, root)
    name = mesh_config_map[1]
    labels = client.CoreV1Api(api).read_namespace(namespace).metadata.labels or {}
    mesh = workloads.Mesh(
        revision=name.removeprefix("istio-") if name.startswith("istio-") else "default",
        namespace_labels=labels, root=root,
        sidecars=tuple(s for s in kube.list_everywhere(api, *effective.SIDECAR)
                       if s["metadata"]["namespace"] in scoped),
        envoy_filters=tuple(f for f in kube.list_everywhere(api, *effective.ENVOY_FILTER)
                            if f["metadata"]["namespace"] in scoped),
        network_policies=tuple(kube.list_in(api, *NETWORK_POLICY, namespace)),
        policies_enforced=policies_enforced, mesh_policy=meshconfig.policy_of(mesh_text))
    return workloads.inventory(objects), mesh
