"""Finding the cluster's egress gateways: the shared one, in any namespace and of any revision
(a Service labelled ``istio=egressgateway``, what istioctl's egressGateways component and
Istio's gateway chart label it, with a ready pod behind it); whether istiod deploys gateways
for the Gateway API (cluster/gatewayclass.py: its GatewayClass ``istio`` accepted); and the gateway it deployed for a
scenario's Gateway, once ready. Read-only."""

import time

from kubernetes import client

from egress_conformance.cluster import gatewayclass, kube
from egress_conformance.providers.base import EgressGateway, ProviderError, Workload

LABEL = "istio=egressgateway"


def find(api: client.ApiClient, proxy_of) -> tuple[EgressGateway | None, str]:
    """(the first egress gateway whose Service has a ready pod, or None; in words, what was
    found or why none). ``proxy_of(namespace, pod)`` makes the Workload that reads its Envoy."""
    core = client.CoreV1Api(api)
    try:
        services = core.list_service_for_all_namespaces(label_selector=LABEL).items
    except client.ApiException as err:
        return None, gatewayclass.refused(err, "list Services cluster-wide")
    for service in services:
        selector = service.spec.selector or {}
        if not selector:
            continue
        namespace = service.metadata.namespace
        try:
            pods = core.list_namespaced_pod(namespace,
                                            label_selector=",".join(f"{k}={v}" for k, v in selector.items()))
        except client.ApiException as err:
            # Listing Services cluster-wide may be granted for the audit alone (deploy/job.yaml):
            # the gateway's own namespace is then still the opt-in's (deploy/egress-gateway.yaml).
            return None, gatewayclass.refused(err, f"list pods in namespace {namespace}")
        ready = [p for p in pods.items if p.status.phase == "Running"
                 and all(c.ready for c in (p.status.container_statuses or []))]
        if ready:
            proxy: Workload = proxy_of(namespace, ready[0].metadata.name)
            images = [c.image for c in ready[0].spec.containers if c.name == "istio-proxy"]
            found = EgressGateway(namespace, service.metadata.name, dict(selector),
                                  {p.port: p.name for p in service.spec.ports or []}, proxy,
                                  image=images[0] if images else "")
            return found, f"{found.host} (pod {proxy.name})"
    return None, f"none (no Service labelled {LABEL} with a ready pod)"


ISTIO_CLASS = gatewayclass.ISTIO_CLASS
GATEWAY_NAME_LABEL = "gateway.networking.k8s.io/gateway-name"
"""The label istiod puts on the pods it deploys for a Gateway API Gateway."""
DEPLOY_TIMEOUT_SECONDS = 120.0
"""A deployed gateway's pod is Ready in seconds on the node; the first start on a cluster may pull proxyv2."""


def wait_deployed(api: client.ApiClient, namespace: str, name: str, proxy_of) -> EgressGateway:
    """The gateway istiod deploys for Gateway ``namespace/name``, once the Gateway is Programmed
    and its pod (label gateway.networking.k8s.io/gateway-name) Ready; ProviderError naming the
    last state after DEPLOY_TIMEOUT_SECONDS."""
    deadline = time.monotonic() + DEPLOY_TIMEOUT_SECONDS
    while True:
        gateway, pod, state = _deployed(api, namespace, name)
        if pod is not None:
            # Its Service's host is the Gateway's address; else istiod's default name, <gateway>-<class>.
            hosts = [a["value"] for a in gateway["status"].get("addresses") or [] if a.get("type") == "Hostname"]
            service = hosts[0].split(".")[0] if hosts else f"{name}-{gateway['spec']['gatewayClassName']}"
            ports = {listener["port"]: listener["name"] for listener in gateway["spec"]["listeners"]}
            return EgressGateway(namespace, service, {GATEWAY_NAME_LABEL: name}, ports,
                                 proxy_of(namespace, pod.metadata.name))
        if time.monotonic() > deadline:
            raise ProviderError(f"the gateway istiod deploys for Gateway {namespace}/{name} was not ready in "
                                f"{DEPLOY_TIMEOUT_SECONDS:.0f}s: {state}")
        time.sleep(0.5)


def wait_removed(api: client.ApiClient, namespace: str, name: str) -> None:
    """Return once no pod deployed for Gateway ``namespace/name`` is left (the garbage collector
    removes them after the Gateway, their owner); ProviderError naming them after DEPLOY_TIMEOUT_SECONDS."""
    core = client.CoreV1Api(api)
    deadline = time.monotonic() + DEPLOY_TIMEOUT_SECONDS
    while pods := core.list_namespaced_pod(namespace, label_selector=f"{GATEWAY_NAME_LABEL}={name}").items:
        if time.monotonic() > deadline:
            raise ProviderError(f"pods deployed for Gateway {namespace}/{name} still there "
                                f"{DEPLOY_TIMEOUT_SECONDS:.0f}s after it was deleted: "
                                f"{', '.join(p.metadata.name for p in pods)}")
        time.sleep(0.5)


def _deployed(api: client.ApiClient, namespace: str, name: str) -> tuple[dict, client.V1Pod | None, str]:
    """(the Gateway, its Ready pod or None, the state in words)."""
    gateway = kube.get(api, {"apiVersion": gatewayclass.GATEWAY_API, "kind": "Gateway",
                             "metadata": {"name": name, "namespace": namespace}}) or {}
    programmed = gatewayclass.condition(gateway, "Programmed")
    state = f"Gateway Programmed={programmed.get('status', 'unknown')} ({gatewayclass.said(programmed)})"
    pods = client.CoreV1Api(api).list_namespaced_pod(namespace, label_selector=f"{GATEWAY_NAME_LABEL}={name}").items
    if not pods:
        return gateway, None, f"{state}; no pod labelled {GATEWAY_NAME_LABEL}={name} yet"
    # One replica (istiod's default): its Envoy is the gateway's; a pod being deleted is a former one.
    pods = [p for p in pods if p.metadata.deletion_timestamp is None] or pods
    pod = pods[0]
    ready = any(c.type == "Ready" and c.status == "True" for c in pod.status.conditions or [])
    if ready and programmed.get("status") == "True" and pod.metadata.deletion_timestamp is None:
        return gateway, pod, state
    waiting = [f"{s.name}: {s.state.waiting.reason}" for s in pod.status.container_statuses or []
               if s.state and s.state.waiting]
    return gateway, None, (f"{state}; pod {pod.metadata.name} phase {pod.status.phase}, "
                           f"{'ready' if ready else 'not ready'}{'; waiting: ' + ', '.join(waiting) if waiting else ''}"
                           f"{'; being deleted' if pod.metadata.deletion_timestamp else ''}")
