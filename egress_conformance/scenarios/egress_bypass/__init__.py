"""The NetworkPolicy backstop, proven against the paths around the sidecar: a pod without a
sidecar, a container running as the proxy's uid 1337, a pod whose annotation excludes the
host's address from the sidecar. Under REGISTRY_ONLY with the host routed through the egress
gateway, each bypass is first observed as it is (each that gets out is a finding, named);
then a NetworkPolicy lets the namespace's pods send only to the gateway, istiod and DNS:
every bypass is blocked, the client's request still leaves through the gateway (both Envoys),
and the gateway, reached straight, answers for the listed host only (Host header and SNI).
A CNI that does not enforce the policy (the pod without a sidecar still gets out) makes the
test "not supported: NetworkPolicy not enforced", never a pass."""

import dataclasses
import pathlib

from egress_conformance import waits
from egress_conformance.cluster.meshconfig import REGISTRY_ONLY
from egress_conformance.framework import scope
from egress_conformance.framework.handle import EgressTest
from egress_conformance.framework.scenario import Scenario
from egress_conformance.providers import features
from egress_conformance.scenarios import egress_gateway
from egress_conformance.verdicts import checks, faults
from egress_conformance.verdicts.observe import Request

MANIFESTS = pathlib.Path(__file__).parent
POLICY = MANIFESTS / "only-gateway-and-dns.yaml"
POLICY_NAME = "egress-only-through-gateway"
"""The NetworkPolicy's name in POLICY."""
PROXY_UID = 1337
"""istio-proxy's uid: the sidecar's iptables let its traffic out unredirected."""


@dataclasses.dataclass(frozen=True)
class Bypass:
    """One path around the sidecar: a pod made like the client but for this."""

    name: str
    path: str
    sidecar: bool = True
    run_as_user: int = 1001
    annotations: tuple[tuple[str, str], ...] = ()


def bypasses(address: str | None) -> tuple[Bypass, ...]:
    """The paths around the sidecar. The exclusion names the host's address where the run knows
    it (a simulated host), else its ports (a host on the internet has many addresses)."""
    excluded = (("traffic.sidecar.istio.io/excludeOutboundIPRanges", f"{address}/32") if address
                else ("traffic.sidecar.istio.io/excludeOutboundPorts", "80,443"))
    return (
        Bypass("bypass-no-sidecar", 'a pod without a sidecar (sidecar.istio.io/inject: "false")', sidecar=False),
        Bypass("bypass-proxy-uid", f"a container running as the proxy's uid {PROXY_UID}", run_as_user=PROXY_UID),
        Bypass("bypass-excluded", f"a pod annotated {excluded[0]}: {excluded[1]}", annotations=(excluded,)),
    )


def run(t: EgressTest) -> None:
    gateway = t.resources.egress_gateway()
    host = t.targets.host
    where = gateway.substitutions()
    http, https = Request(t.targets.url("http")), Request(t.targets.url("https"))
    entry_cluster = f"outbound|80||{host}"
    through_gateway = checks.all_of(checks.sidecar_policy(REGISTRY_ONLY),
                                    checks.left_through_gateway(f"outbound|80|external|{gateway.host}", entry_cluster))

    for manifest in ("service-entry-http", "routing-http", "service-entry-https", "routing-https"):
        t.resources.apply(egress_gateway.MANIFESTS / f"{manifest}.yaml", **where)
    t.client.expect("routed: HTTP leaves through the egress gateway", http, through_gateway)
    pods = {b: t.resources.start_pod(b.name, sidecar=b.sidecar, run_as_user=b.run_as_user,
                                     annotations=dict(b.annotations))
            for b in bypasses(t.provider.target_address())}

    for bypass, pod in pods.items():
        out, _ = t.pod(pod).settle(f"no NetworkPolicy: {bypass.path}", http, checks.answered())
        if out:
            t.record.finding(f"egress bypass: {bypass.path} reaches {host} around the sidecar and the egress "
                             f"gateway (REGISTRY_ONLY does not stop it; only a NetworkPolicy can)")

    policy = t.resources.apply(POLICY, istiod_namespace=t.provider.info().istio_namespace, **where)
    no_sidecar, *others = pods.items()
    try:
        t.pod(no_sidecar[1]).expect(f"NetworkPolicy: {no_sidecar[0].path} blocked", http, checks.not_answered())
    except waits.NotConverged as err:
        seen = err.observation.summary() if err.observation else str(err)
        raise faults.Unsupported(f"NetworkPolicy not enforced: under NetworkPolicy {POLICY_NAME}, "
                                 f"{no_sidecar[0].path} still reaches {host} ({seen})") from None
    for bypass, pod in others:
        t.pod(pod).expect(f"NetworkPolicy: {bypass.path} blocked", http, checks.not_answered())
    t.client.expect("NetworkPolicy: HTTP still leaves through the egress gateway", http, through_gateway)

    # Straight to the gateway (the policy allows that): it answers for the listed host only.
    direct = t.pod(no_sidecar[1])
    unlisted = t.targets.unlisted[0]
    to_gateway = Request(f"http://{gateway.host}{t.targets.path}")
    direct.expect(f"gateway reached straight, Host {host}: answered", to_gateway,
                  checks.answered_by_gateway(entry_cluster), "-H", f"Host: {host}")
    direct.expect(f"gateway reached straight, Host {unlisted}: refused", to_gateway,
                  checks.refused_by_gateway(unlisted), "-H", f"Host: {unlisted}")
    direct.expect(f"gateway reached straight, SNI {host}: answered", https,
                  checks.answered_by_gateway(f"outbound|443||{host}"),
                  "--connect-to", f"{host}:443:{gateway.host}:443")
    direct.expect(f"gateway reached straight, SNI {unlisted}: refused",
                  Request(t.targets.url("https", unlisted)), checks.refused_by_gateway(unlisted),
                  "--connect-to", f"{unlisted}:443:{gateway.host}:443")

    t.resources.restore(policy)


SCENARIO = Scenario(
    name="egress-bypass",
    description="With a NetworkPolicy that allows only the egress gateway, istiod and DNS, every path around the "
                "sidecar (no sidecar, uid 1337, excluded outbound range) is blocked and the gateway path still works; "
                "without it each bypass that gets out is a finding; the gateway answers only for listed hosts.",
    features=frozenset({features.NETWORK_POLICY, features.EGRESS_GATEWAY, features.SIDECAR_SCOPED_POLICY,
                        features.SERVICE_ENTRY_HTTP, features.HTTPS_PASSTHROUGH}),
    run=run,
    restricts=REGISTRY_ONLY,
    manifests=MANIFESTS,
    scopes=(scope.NAMESPACE,),
)
