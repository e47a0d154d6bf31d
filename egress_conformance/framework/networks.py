"""What is inside the cluster, read from the API: its pod and service networks and the addresses
of its pods, Services, nodes and API server (paths.Networks). An endpoint anywhere else is
outside, whatever name its cluster carries (a Service without selector, an EndpointSlice
written by hand, an ExternalName)."""

from kubernetes.dynamic.exceptions import ResourceNotFoundError

from egress_conformance.cluster import kube
from egress_conformance.verdicts import paths

SERVICE_CIDR = ("networking.k8s.io/v1", "ServiceCIDR")
ENDPOINT_SLICE = ("discovery.k8s.io/v1", "EndpointSlice")


def read(api) -> paths.Networks:
    """The cluster's networks as the API holds them now."""
    nodes = kube.list_everywhere(api, "v1", "Node")
    services = kube.list_everywhere(api, "v1", "Service")
    cidrs = [c for n in nodes for c in (n.get("spec") or {}).get("podCIDRs") or []]
    try:
        cidrs += [c for s in kube.list_everywhere(api, *SERVICE_CIDR) for c in (s.get("spec") or {}).get("cidrs") or []]
    except ResourceNotFoundError:  # an API server before 1.33 serves no ServiceCIDR: the Services' own IPs remain
        pass
    addresses = {a["address"] for n in nodes for a in (n.get("status") or {}).get("addresses") or []}
    addresses |= {ip for s in services for ip in (s.get("spec") or {}).get("clusterIPs") or [] if ip != "None"}
    addresses |= set(_pod_and_api_server_endpoints(kube.list_everywhere(api, *ENDPOINT_SLICE)))
    names = {f"{s['metadata']['name']}.{s['metadata']['namespace']}" for s in services
             if (s.get("spec") or {}).get("type") != "ExternalName"}
    return paths.Networks(tuple(sorted(set(cidrs))), frozenset(addresses), frozenset(names))


def _pod_and_api_server_endpoints(slices: list[dict]):
    """Addresses of endpoints that are pods (a targetRef to a Pod), and the API server's own
    (the default/kubernetes Service's, which the API server writes itself)."""
    for endpoint_slice in slices:
        meta = endpoint_slice["metadata"]
        api_server = meta.get("namespace") == "default" and (meta.get("labels") or {}).get(
            "kubernetes.io/service-name") == "kubernetes"
        for endpoint in endpoint_slice.get("endpoints") or []:
            if api_server or (endpoint.get("targetRef") or {}).get("kind") == "Pod":
                yield from endpoint.get("addresses") or []
