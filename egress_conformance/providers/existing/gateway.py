"""Finding the cluster's egress gateway, in any namespace and of any revision: a Service
labelled ``istio=egressgateway`` (what istioctl's egressGateways component and Istio's
gateway chart label it) with a ready pod behind it. Read-only."""

from kubernetes import client

from egress_conformance.providers.base import EgressGateway, Workload

LABEL = "istio=egressgateway"


def find(api: client.ApiClient, proxy_of) -> tuple[EgressGateway | None, str]:
    """(the first egress gateway whose Service has a ready pod, or None; in words, what was
    found or why none). ``proxy_of(namespace, pod)`` makes the Workload that reads its Envoy."""
    core = client.CoreV1Api(api)
    try:
        services = core.list_service_for_all_namespaces(label_selector=LABEL).items
    except client.ApiException as err:
        if err.status in (401, 403):
            return None, (f"not looked for: the API refused to list Services cluster-wide (HTTP {err.status}); "
                          "deploy/egress-gateway.yaml grants what the gateway scenarios need")
        raise
    for service in services:
        selector = service.spec.selector or {}
        if not selector:
            continue
        namespace = service.metadata.namespace
        pods = core.list_namespaced_pod(namespace, label_selector=",".join(f"{k}={v}" for k, v in selector.items()))
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
