"""Where a scenario's outbound-policy change lands: a scope object that holds what it needs.

- mesh-wide: the ``mesh`` key of the mesh ConfigMap (the walkthrough as written); on a
  shared cluster only with the user's consent.
- namespace: a Sidecar in the test namespace carrying ``outboundTrafficPolicy`` (what
  Istio's own tests do), with ServiceEntries exported to that namespace only. Nothing
  outside the test namespace changes.

The scope is part of what a run claims: the report says which scopes were tested.
"""

from collections.abc import Callable

from kubernetes import client

from egress_conformance.changes import cleanup, undoing
from egress_conformance.changes.journal import Journal
from egress_conformance.cluster import kube, meshconfig

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


class MeshWide:
    """The mesh ConfigMap's policy: changed in place, its original text journaled and put back."""

    name = MESH_WIDE

    def __init__(self, api: client.ApiClient, config_map: tuple[str, str], journal: Journal, undo: cleanup.Stack):
        self.api, self.config_map, self.journal, self.undo = api, config_map, journal, undo

    def where(self) -> str:
        """What holds the policy, for step names and log lines."""
        return f"mesh config {self.config_map[0]}/{self.config_map[1]}"

    def configured_policy(self) -> str:
        """The policy configured, read through the API."""
        return meshconfig.policy_of(meshconfig.read(self.api, self.config_map))

    def set_policy(self, policy: str) -> cleanup.Undo:
        """Change the policy; the change is journaled and its undo registered."""
        original, read_at = meshconfig.read_versioned(self.api, self.config_map)
        written = meshconfig.with_policy(original, policy)
        entry = self.journal.mesh_config_changing(self.config_map, original, written)
        try:
            # Conditional on the version read: an edit landing in between is kept (meshconfig.Changed).
            meshconfig.write(self.api, self.config_map, written, changed_by=self.journal.run_id, read_at=read_at)
        except meshconfig.Changed:
            self.journal.settle(entry)  # nothing was written: nothing to restore
            raise

        def restore_original():
            # Only over the run's own text: an edit someone made meanwhile stays, and the journal with it.
            undoing.restore_mesh_config(self.api, self.config_map, original, written)
            self.journal.settle(entry)

        return self.undo.push(f"restore mesh config {self.config_map[0]}/{self.config_map[1]}", restore_original)

    def message(self, policy: str) -> str:
        """The seed tool's line."""
        return meshconfig.message(policy)

    def adapt(self, obj: dict) -> dict:
        """Objects go in as written."""
        return obj


class Namespace:
    """A Sidecar in the test namespace sets the policy there; the mesh config, untouched, is
    what counts without it."""

    name = NAMESPACE

    def __init__(self, api: client.ApiClient, namespace: str, mesh: MeshWide, create: Callable[[dict], cleanup.Undo]):
        self.api, self.namespace, self.mesh, self.create = api, namespace, mesh, create

    def where(self) -> str:
        return f"Sidecar {self.namespace}/{POLICY_SIDECAR} (else the mesh config)"

    def configured_policy(self) -> str:
        live = kube.get(self.api, policy_sidecar(self.namespace, meshconfig.ALLOW_ANY))
        if live is not None:
            return ((live.get("spec") or {}).get("outboundTrafficPolicy") or {}).get("mode") or meshconfig.ALLOW_ANY
        return self.mesh.configured_policy()

    def set_policy(self, policy: str) -> cleanup.Undo:
        """Create the policy Sidecar (journaled, its undo registered by ``create``)."""
        return self.create(policy_sidecar(self.namespace, policy))

    def message(self, policy: str) -> str:
        return f"outbound traffic policy of namespace {self.namespace} is set to '{policy}'"

    def adapt(self, obj: dict) -> dict:
        """A ServiceEntry is exported to its own namespace only."""
        if obj["kind"] == "ServiceEntry":
            obj.setdefault("spec", {}).setdefault("exportTo", ["."])
        return obj


Scope = MeshWide | Namespace
