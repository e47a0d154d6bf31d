"""The mesh-wide outbound traffic policy, read and changed through the mesh ConfigMap.

Only ``outboundTrafficPolicy.mode`` is changed; every other field is kept. A
restore writes back the exact original text, byte for byte, not a
re-serialisation of it.
"""

import yaml
from kubernetes import client
from kubernetes.client.exceptions import ApiException

ALLOW_ANY = "ALLOW_ANY"
REGISTRY_ONLY = "REGISTRY_ONLY"
POLICIES = (ALLOW_ANY, REGISTRY_ONLY)

CHANGED_BY = "egress-conformance.dev/changed-by"
"""Annotation on the mesh ConfigMap while a run holds its change: the run's id, so that a
person looking at the cluster sees who changed it (removed when the original is back)."""


class Changed(Exception):
    """Someone changed the mesh ConfigMap between the run's read and its write: nothing was
    written; str(err) is one line saying so and what to do."""


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
    return read_versioned(api, where)[0]


def read_versioned(api: client.ApiClient, where: tuple[str, str]) -> tuple[str, str]:
    """The ``mesh`` key of the ConfigMap and the resourceVersion it was read at (for ``write``)."""
    namespace, name = where
    config_map = client.CoreV1Api(api).read_namespaced_config_map(name, namespace)
    return (config_map.data or {}).get("mesh", ""), config_map.metadata.resource_version


def write(api: client.ApiClient, where: tuple[str, str], mesh_text: str, changed_by: str | None = None,
          read_at: str | None = None) -> None:
    """Replace the ``mesh`` key of the ConfigMap with exactly ``mesh_text`` (marked as the run
    ``changed_by``'s change, when given). ``read_at``: only while the ConfigMap is still at that
    resourceVersion; raises Changed otherwise (an edit made since the read is never overwritten)."""
    namespace, name = where
    patch: dict = {"data": {"mesh": mesh_text}}
    if changed_by:
        patch["metadata"] = {"annotations": {CHANGED_BY: changed_by}}
    if read_at:
        patch.setdefault("metadata", {})["resourceVersion"] = read_at
    try:
        client.CoreV1Api(api).patch_namespaced_config_map(name, namespace, patch)
    except ApiException as err:
        if err.status != 409 or not read_at:
            raise
        raise Changed(f"mesh config {namespace}/{name} changed between the run's read and its write (someone "
                      "edited it): left as they made it, nothing written; run again when nobody is changing "
                      "it") from None
