"""Cluster DNS: CoreDNS as a host process on the node address, behind the kube-dns Service
(its ClusterIP is the kubelet's clusterDNS; kube-proxy forwards it to the node address
through a selector-less Service with a manual EndpointSlice)."""

import urllib.request

from kubernetes import client

from egress_testbed.node import builds, daemons, layout

READY_TIMEOUT_SECONDS = 60.0

COREFILE = layout.STATE / "Corefile"


def corefile() -> str:
    """Cluster names only: no `forward`, because traffic may not leave this machine (a name
    outside the cluster gets an error answer, as on an air-gapped cluster)."""
    return f""".:{layout.DNS_PORT} {{
    bind {layout.NODE_IP}
    errors
    health {layout.NODE_IP}:{layout.DNS_HEALTH_PORT}
    ready {layout.NODE_IP}:{layout.DNS_READY_PORT}
    kubernetes {layout.CLUSTER_DOMAIN} in-addr.arpa ip6.arpa {{
        kubeconfig {layout.KUBECONFIG}
        pods insecure
        fallthrough in-addr.arpa ip6.arpa
    }}
    cache 5
    reload
    loadbalance
}}
"""


def start(binaries: builds.NodeBinaries, api: client.ApiClient) -> None:
    """Create the kube-dns Service, start CoreDNS unless it runs, and wait until it is ready
    (its ready plugin answers once the kubernetes plugin has synced with the API)."""
    _ensure_service(api)
    if daemons.pid("coredns") is None:
        COREFILE.write_text(corefile())
        daemons.start("coredns", [str(binaries.binary("coredns")), "-conf", str(COREFILE)])
    daemons.wait_ready("coredns", _ready, timeout=READY_TIMEOUT_SECONDS, what="GET /ready")


def _ready() -> bool:
    with urllib.request.urlopen(f"http://{layout.NODE_IP}:{layout.DNS_READY_PORT}/ready", timeout=2) as response:
        return response.status == 200


def _ensure_service(api: client.ApiClient) -> None:
    core = client.CoreV1Api(api)
    discovery = client.DiscoveryV1Api(api)
    ports = [("dns", "UDP"), ("dns-tcp", "TCP")]
    service = client.V1Service(
        metadata=client.V1ObjectMeta(name="kube-dns", namespace="kube-system",
                                     labels={"k8s-app": "kube-dns", "kubernetes.io/name": "CoreDNS"}),
        spec=client.V1ServiceSpec(cluster_ip=layout.DNS_SERVICE_IP, ports=[
            client.V1ServicePort(name=name, protocol=protocol, port=53, target_port=layout.DNS_PORT)
            for name, protocol in ports]),
    )
    slice_ = client.V1EndpointSlice(
        metadata=client.V1ObjectMeta(name="kube-dns-node", namespace="kube-system",
                                     labels={"kubernetes.io/service-name": "kube-dns",
                                             "endpointslice.kubernetes.io/managed-by": layout.NAME}),
        address_type="IPv4",
        endpoints=[client.V1Endpoint(addresses=[layout.NODE_IP], conditions=client.V1EndpointConditions(ready=True),
                                     node_name=layout.NAME)],
        ports=[client.DiscoveryV1EndpointPort(name=name, protocol=protocol, port=layout.DNS_PORT)
               for name, protocol in ports],
    )
    _create_unless_present(lambda: core.read_namespaced_service("kube-dns", "kube-system"),
                           lambda: core.create_namespaced_service("kube-system", service))
    _create_unless_present(lambda: discovery.read_namespaced_endpoint_slice("kube-dns-node", "kube-system"),
                           lambda: discovery.create_namespaced_endpoint_slice("kube-system", slice_))


def _create_unless_present(read, create) -> None:
    # An earlier up made it, or a create the client retried succeeded the first time (the
    # retry then fails with 409, or 422 "IP already allocated" for the Service).
    try:
        read()
        return
    except client.ApiException as err:
        if err.status != 404:
            raise
    try:
        create()
    except client.ApiException as err:
        if err.status not in (409, 422):
            raise
        read()
