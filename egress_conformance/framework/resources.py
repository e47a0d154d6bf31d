"""The test's own resources, each with its undo registered on the test's cleanup stack the
moment it is created: manifests' objects (read back from the API), pods beside the client,
simulated hosts outside the mesh, and the egress gateway the test goes through."""

import logging
import pathlib

from egress_conformance.changes import cleanup
from egress_conformance.cluster import kube, pods
from egress_conformance.framework.actions import Client, GatewayView
from egress_conformance.framework.context import RunContext
from egress_conformance.framework.policy import Policy
from egress_conformance.framework.recorder import Recorder, now
from egress_conformance.providers.base import EgressGateway, Workload

log = logging.getLogger("egress")

SERVER_READY_SECONDS = 120.0
"""How long a simulated host started by a scenario (serve) may take to be Ready: its image may be pulled."""


class Resources:
    """What the test creates, in its namespace unless said otherwise; undone last-in, first-out."""

    def __init__(self, context: RunContext, record: Recorder, policy: Policy, client: Client, gateway: GatewayView):
        self._context, self._record, self._policy = context, record, policy
        self._client, self._gateway = client, gateway

    def create(self, obj: dict) -> cleanup.Undo:
        """Create one object, journaled, with its undo registered."""
        return self._context.create(obj)

    def apply(self, manifest: pathlib.Path, *, namespace: str | None = None, **substitutions: str) -> cleanup.Undo:
        """Create a manifest's objects in the test namespace, or in ``namespace`` (what only
        works there, e.g. an AuthorizationPolicy of the egress gateway), ``${name}`` placeholders
        filled from ``substitutions``; each must read back from the API."""
        return self.apply_objects(self.load(manifest, **substitutions), f"objects of {manifest.name}",
                                  namespace=namespace)

    def apply_objects(self, objects: list[dict], what: str, *, namespace: str | None = None) -> cleanup.Undo:
        """Create objects in the test namespace (or ``namespace``), adapted to the test's scope;
        each must read back from the API. One undo deletes them all, newest first."""
        namespace = namespace or self._context.namespace
        api = self._context.api
        undos = []
        for obj in objects:
            obj["metadata"]["namespace"] = namespace
            undos.append(self.create(self._policy.scope.adapt(obj)))
            live = kube.get(api, obj)
            assert live is not None and live.get("spec") == obj.get("spec"), (
                f"API read-back of {obj['kind']} {obj['metadata']['name']} differs: {live and live.get('spec')}"
            )
        named = [f"{o['kind']} {namespace}/{o['metadata']['name']}" for o in objects]
        log.info("applied %s%s", ", ".join(named[:3]), f" and {len(named) - 3} more" if len(named) > 3 else "")
        if len(undos) == 1:
            return undos[0]

        def delete_all() -> None:
            for undo in reversed(undos):
                undo.run()

        return self._context.undo.push(f"delete {what}", delete_all)

    def load(self, manifest: pathlib.Path, **substitutions: str) -> list[dict]:
        """A manifest's objects, its placeholders filled: the run's hosts (${host}, ${hosts}:
        hosts/targets.py), the provider's (${endpoints}, ...), then ``substitutions``."""
        return kube.load_manifests(manifest, namespace=self._context.namespace,
                                   **{**self._context.targets.substitutions(), **self._context.provider.substitutions(),
                                      **substitutions})

    def restore(self, change: cleanup.Undo) -> None:
        """Undo one change now (the walkthrough's clean-up step), logged as such."""
        log.info("clean up: %s", change.description)
        change.run()

    def expect_absent(self, manifest: pathlib.Path) -> None:
        """None of a manifest's objects is left in the API."""
        __tracebackhide__ = True
        for obj in self.load(manifest):
            obj["metadata"]["namespace"] = self._context.namespace
            assert kube.get(self._context.api, obj) is None, f"{obj['kind']} {obj['metadata']['name']} still exists"

    def start_pod(self, name: str, *, sidecar: bool, annotations: dict[str, str] | None = None,
                  run_as_user: int = 1001, service_account: str | None = None) -> Workload:
        """Create another pod of the test namespace, made like the client (provider.side_pod), its
        undo registered; return it once Ready. ``service_account``: a new one of that name is
        created first (another identity than the client's), its undo registered too."""
        namespace, provider = self._context.namespace, self._context.provider
        if service_account:
            self.create({"apiVersion": "v1", "kind": "ServiceAccount",
                         "metadata": {"name": service_account, "namespace": namespace},
                         "automountServiceAccountToken": False})
        self.create(provider.side_pod(name, sidecar=sidecar, annotations=annotations or {},
                                      run_as_user=run_as_user, service_account=service_account))
        pod = provider.side_workload(name, sidecar=sidecar)
        identity = f", service account {service_account}" if service_account else ""
        self._record.observed(f"API: pod {namespace}/{name} ready",
                              f"sidecar: {'yes' if sidecar else 'no'}, uid {run_as_user}{identity}, "
                              f"annotations {annotations or {}}", started=now(), ended=now())
        return pod

    def serve(self, manifest: pathlib.Path, **substitutions: str) -> str:
        """Apply a manifest whose one Pod is a simulated host outside the mesh (not injected);
        return its address once Ready."""
        namespace = self._context.namespace
        made = self.load(manifest, **substitutions)
        for obj in made:  # as created, without apply's read-back: the API fills in a Pod's defaults
            obj["metadata"]["namespace"] = namespace
            self.create(obj)
        [name] = [o["metadata"]["name"] for o in made if o["kind"] == "Pod"]
        started = now()
        ready = pods.until_ready(self._context.api, namespace, name, SERVER_READY_SECONDS)
        self._record.observed(f"API: simulated host {namespace}/{name} ready", f"address {ready.status.pod_ip}",
                              started=started, ended=now())
        return ready.status.pod_ip

    def egress_gateway(self) -> EgressGateway:
        """The mesh's egress gateway; from now on each observation also reads which of its
        clusters took the request (the scenario needs feature egress-gateway)."""
        provider = self._context.provider
        found = provider.egress_gateway()
        assert found is not None, f"the {provider.name} provider declares feature egress-gateway but has none"
        self._gateway.gateway = found
        return found

    def deploy_gateway(self, manifest: pathlib.Path, **substitutions: str) -> EgressGateway:
        """Create a Gateway API Gateway (``manifest``: one Gateway) that the mesh deploys itself;
        return the gateway deployed for it once ready: from now on each observation also reads its
        Envoy. The undo deletes the Gateway, then waits until what the mesh deployed for it is gone."""
        namespace, provider = self._context.namespace, self._context.provider
        [gateway] = self.load(manifest, **substitutions)
        name = gateway["metadata"]["name"]
        created = self.apply_objects([gateway], f"Gateway {name}")

        def remove() -> None:
            self._gateway.gateway = None  # its Envoy goes with it
            created.run()
            provider.deployed_gateway_removed(name)

        self._context.undo.push(f"delete Gateway {namespace}/{name} and wait until what it deployed is gone", remove)
        started = now()
        deployed = self._gateway.gateway = provider.deployed_gateway(name)
        self._client.until_endpoint_in_sidecar(f"outbound|{min(deployed.port_names or [80])}||{deployed.host}")
        self._record.observed(f"API: gateway deployed for Gateway {namespace}/{name}",
                              f"{deployed.host}, pod {deployed.proxy.name} ready", started=started, ended=now())
        log.info("gateway deployed for Gateway %s/%s: %s (pod %s)", namespace, name, deployed.host,
                 deployed.proxy.name)
        return deployed
