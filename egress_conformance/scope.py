"""Where a scenario's outbound-policy change lands.

- mesh-wide: the ``mesh`` key of the mesh ConfigMap (the walkthrough as written); on a
  shared cluster only with the user's consent.
- namespace: a Sidecar in the test namespace carrying ``outboundTrafficPolicy`` (what
  Istio's own tests do), with ServiceEntries exported to that namespace only. Nothing
  outside the test namespace changes.

The scope is part of what a run claims: the report says which scopes were tested.
"""

from egress_conformance import cleanup, kube, meshconfig, undoing

MESH_WIDE = "mesh-wide"
NAMESPACE = "namespace"
ALL = (MESH_WIDE, NAMESPACE)

POLICY_SIDECAR = "egress-conformance-policy"


def policy_sidecar(namespace: str, policy: str) -> dict:
    """A namespace-wide Sidecar that sets only the outbound policy; ``*/*`` keeps the
    sidecar's view of the registry exactly what it was without it."""
    if policy not in meshconfig.POLICIES:
        raise ValueError(f"unknown outbound traffic policy {policy!r}: use {' or '.join(meshconfig.POLICIES)}")
    return {"apiVersion": "networking.istio.io/v1", "kind": "Sidecar",
            "metadata": {"name": POLICY_SIDECAR, "namespace": namespace},
            "spec": {"egress": [{"hosts": ["*/*"]}], "outboundTrafficPolicy": {"mode": policy}}}


def where(t) -> str:
    """What holds the policy in this scope, for step names and log lines."""
    if t.scope == MESH_WIDE:
        namespace, name = t.provider.mesh_config_map()
        return f"mesh config {namespace}/{name}"
    return f"Sidecar {t.namespace}/{POLICY_SIDECAR} (else the mesh config)"


def configured_policy(t) -> str:
    """The policy configured for the test namespace in this scope, read through the API."""
    if t.scope == NAMESPACE:
        live = kube.get(t.api, policy_sidecar(t.namespace, meshconfig.ALLOW_ANY))
        if live is not None:
            return ((live.get("spec") or {}).get("outboundTrafficPolicy") or {}).get("mode") or meshconfig.ALLOW_ANY
    return meshconfig.policy_of(t.mesh_config())


def set_policy(t, policy: str) -> cleanup.Undo:
    """Change the policy in this scope; the change is journaled and its undo registered."""
    if t.scope == NAMESPACE:
        return t.create(policy_sidecar(t.namespace, policy))
    where_ = t.provider.mesh_config_map()
    original = meshconfig.read(t.api, where_)
    written = meshconfig.with_policy(original, policy)
    entry = t.journal.mesh_config_changing(where_, original, written)
    meshconfig.write(t.api, where_, written)

    def restore_original():
        # Only over the run's own text: an edit someone made meanwhile stays, and the journal with it.
        undoing.restore_mesh_config(t.api, where_, original, written)
        t.journal.settle(entry)

    return t.undo.push(f"restore mesh config {where_[0]}/{where_[1]}", restore_original)


def message(t, policy: str) -> str:
    """The seed tool's line for the mesh-wide scope; its namespace counterpart otherwise."""
    if t.scope == MESH_WIDE:
        return meshconfig.message(policy)
    return f"outbound traffic policy of namespace {t.namespace} is set to '{policy}'"


def adapt(t, obj: dict) -> dict:
    """In the namespace scope a ServiceEntry is exported to its own namespace only."""
    if t.scope == NAMESPACE and obj["kind"] == "ServiceEntry":
        obj.setdefault("spec", {}).setdefault("exportTo", ["."])
    return obj
