"""The mesh-wide outbound traffic policy, read and changed through the mesh ConfigMap.

Only ``outboundTrafficPolicy.mode`` is changed; every other field is kept. A
restore writes back the exact original text, byte for byte, not a
re-serialisation of it.
"""

import yaml
from kubernetes import client

ALLOW_ANY = "ALLOW_ANY"
REGISTRY_ONLY = "REGISTRY_ONLY"
POLICIES = (ALLOW_ANY, REGISTRY_ONLY)

CHANGED_BY = "egress-conformance.dev/changed-by"
"""Annotation on the mesh ConfigMap while a run holds its change: the run's id, so that a
person looking at the cluster sees who changed it (removed when the original is back)."""


def message(policy: str) -> str:
    """The line the seed's ``backyards istio outbound-traffic-policy`` prints."""
    return f"mesh wide outbound traffic policy is set to '{policy}'"


def policy_of(mesh_text: str) -> str:
    """The policy a mesh config text sets; unset means Istio's default, ALLOW_ANY."""
    mesh = yaml.safe_load(mesh_text) or {}
    return ((mesh.get("outboundTrafficPolicy") or {}).get("mode")) or ALLOW_ANY


def root_namespace(mesh_text: str) -> str:
    """The mesh's root namespace (its Sidecars and ServiceEntries apply mesh-wide); Istio's default is istio-system."""
    return (yaml.safe_load(mesh_text) or {}).get("rootNamespace") or "istio-system"


def with_policy(mesh_text: str, policy: str) -> str:
    """``mesh_text`` with outboundTrafficPolicy.mode set to ``policy``, all else kept."""
    if policy not in POLICIES:
        raise ValueError(f"unknown outbound traffic policy {policy!r}: use {' or '.join(POLICIES)}")
    mesh = yaml.safe_load(mesh_text) or {}
    mesh.setdefault("outboundTrafficPolicy", {})
    mesh["outboundTrafficPolicy"] = dict(mesh["outboundTrafficPolicy"] or {}, mode=policy)
    return yaml.safe_dump(mesh, sort_keys=False, default_flow_style=False)


def read(api: client.ApiClient, where: tuple[str, str]) -> str:
    """The ``mesh`` key of the ConfigMap at (namespace, name)."""
    namespace, name = where
    config_map = client.CoreV1Api(api).read_namespaced_config_map(name, namespace)
    return (config_map.data or {}).get("mesh", "")


def write(api: client.ApiClient, where: tuple[str, str], mesh_text: str, changed_by: str | None = None) -> None:
    """Replace the ``mesh`` key of the ConfigMap with exactly ``mesh_text`` (marked as the run
    ``changed_by``'s change, when given)."""
    namespace, name = where
    patch: dict = {"data": {"mesh": mesh_text}}
    if changed_by:
        patch["metadata"] = {"annotations": {CHANGED_BY: changed_by}}
    client.CoreV1Api(api).patch_namespaced_config_map(name, namespace, patch)


def set_policy(api: client.ApiClient, where: tuple[str, str], policy: str) -> str:
    """Set the mesh-wide policy; return the original text (the caller's to restore)."""
    original = read(api, where)
    write(api, where, with_policy(original, policy))
    return original
