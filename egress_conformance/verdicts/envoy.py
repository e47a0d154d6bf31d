"""Reading the sidecar's own state from Envoy's admin API: counters and config dump.

These are the evidence behind every verdict: which cluster a request went to,
and which egress policy the sidecar has actually been given.
"""

import dataclasses
import json
import re

BLACKHOLE = "BlackHoleCluster"
PORT_80_LISTENER = "0.0.0.0_80"
"""Istio's outbound HTTP listener for port 80 (its route config is named "80")."""
PASSTHROUGH = "PassthroughCluster"

STATS_PATH = ("/stats?usedonly&filter=^(cluster%5C.(outbound|BlackHoleCluster|PassthroughCluster)"
              "|cluster_manager%5C.cds%5C.update_success|listener_manager%5C.lds%5C.update_success"
              "|http%5C..*%5C.rds%5C..*%5C.update_success"
              "|http%5C.outbound_0%5C.0%5C.0%5C.0_80.?%5C.(rq_direct_response|no_cluster)"
              "|listener%5C..*%5C.no_filter_chain_match)")
"""Only touched cluster counters (a request's path), the sidecar's own refusals (block_all's
direct responses, connections no listener chain took) and the xDS update counters (the
sidecar's config generation): about 1 KB, where the whole /stats is hundreds."""

STATS_INCLUSION_PREFIXES = ("cluster.outbound", "cluster.BlackHoleCluster", "cluster.PassthroughCluster",
                            f"http.outbound_{PORT_80_LISTENER}", "listener.0.0.0.0_")
"""What a sidecar must keep of its stats for these verdicts (Istio's bootstrap keeps only a few):
the clusters' counters, and the port-80 HTTP listener's and the outbound listeners' own."""

CONFIG_PATHS = (
    "/config_dump?resource=dynamic_listeners&name_regex=^(virtualOutbound|0.0.0.0_80)$",
    "/config_dump?resource=dynamic_route_configs&name_regex=^80$",
    "/config_dump?resource=dynamic_active_clusters&mask=cluster.name,cluster.type,cluster.cluster_type.name",
)
"""The three parts of the config dump a SidecarState needs (catch-all listener, port-80
route, cluster names and types): a few KB instead of the whole dump (about 180 KB on the local
mesh, and growing with every ServiceEntry's full cluster)."""

_GENERATION = re.compile(r"^(cluster_manager\.cds|listener_manager\.lds|http\..*\.rds\..*)\.update_success$")

# A request or connection handed to a cluster moves one of these counters. A
# BlackHoleCluster has no endpoints, so its connections count as none_healthy.
# Istio's tag extraction ends the cluster name with ';' (cluster.outbound|80||httpbin.org;.upstream_rq_total).
_PATH_COUNTERS = re.compile(
    r"^cluster\.(?P<cluster>[^;]+?);?\.(upstream_rq_total|upstream_cx_total|upstream_cx_none_healthy)$"
)

# The port-80 route's block_all answers 502 itself, a direct response its HTTP connection
# manager counts (Istio's stat prefix ends with ';'); a listener whose filter chains match no
# connection (e.g. no SNI of the port's TLS entries) closes it and counts no_filter_chain_match.
_BLOCK_ALL_ANSWERS = re.compile(rf"^http\.outbound_{re.escape(PORT_80_LISTENER)};?\.rq_direct_response$")
# A route whose cluster the sidecar lacks (a VirtualService for a host no ServiceEntry opens)
# makes the router answer 503 itself and count no_cluster: refused in the sidecar, not sent out.
_NO_CLUSTER_ANSWERS = re.compile(rf"^http\.outbound_{re.escape(PORT_80_LISTENER)};?\.no_cluster$")
_UNMATCHED_CONNECTIONS = re.compile(r"^listener\..+\.no_filter_chain_match$")


CLUSTERS_PATH = "/clusters"
"""Every cluster's upstream hosts with their counters: kept whatever the proxy's stats matcher
drops (a gateway installed by istioctl keeps no cluster stats in /stats)."""


GATEWAY_REFUSALS_PATH = "/stats?filter=(rbac%5C.denied|%5C.no_route|%5C.no_filter_chain_match)$"
"""A gateway's own refusals: its RBAC filters' (an AuthorizationPolicy's DENY, or no ALLOW matched;
Istio's bootstrap keeps every stat ending in rbac.denied), its routers' answers for a Host no route
takes (404, ``http.<prefix>.no_route``) and its listeners' connections no filter chain took (an SNI
it has no server for, ``listener.<address>.no_filter_chain_match``). Istio's default stats matcher
drops the last two: a gateway keeps them when its proxy config says so (GATEWAY_STATS_MATCHER)."""

GATEWAY_STATS_MATCHER = {"inclusionSuffixes": ["no_route", "no_filter_chain_match"]}
"""The ``proxyStatsMatcher`` (proxy.istio.io/config) under which an egress gateway keeps the
counters of its own refusals; without it a 404 or a closed TLS connection cannot be told from
one sent back from further on, and "refused by the gateway" is never judged passed."""

_NO_ROUTE = re.compile(r"^http\..+\.no_route$")


def rbac_denials(before: dict[str, int], after: dict[str, int]) -> int:
    """Requests the RBAC filters refused between two snapshots (all listeners together)."""
    return sum(value - before.get(name, 0) for name, value in after.items() if name.endswith("rbac.denied"))


def gateway_refusals(before: dict[str, int], after: dict[str, int]) -> tuple[int | None, int | None]:
    """(404s the gateway's routers answered for want of a route, connections its listeners closed for
    want of a filter chain) between two snapshots; None for a counter the gateway does not keep
    (no such stat in ``after``: its stats matcher drops it)."""
    no_route = _growth(before, after, _NO_ROUTE) if any(map(_NO_ROUTE.match, after)) else None
    unmatched = (_growth(before, after, _UNMATCHED_CONNECTIONS)
                 if any(map(_UNMATCHED_CONNECTIONS.match, after)) else None)
    return no_route, unmatched


def parse_cluster_hosts(clusters_text: str) -> dict[str, int]:
    """``cluster::host::counter::value`` lines of /clusters -> counters named as in /stats
    (``cluster.<name>.upstream_rq_total``), summed over the cluster's hosts."""
    counters: dict[str, int] = {}
    for line in clusters_text.splitlines():
        parts = line.split("::")
        if len(parts) == 4 and parts[2] in ("rq_total", "cx_total") and parts[3].isdigit():
            name = f"cluster.{parts[0]}.upstream_{parts[2]}"
            counters[name] = counters.get(name, 0) + int(parts[3])
    return counters


def parse_counters(stats_text: str) -> dict[str, int]:
    """``name: value`` lines of Envoy's /stats text output -> counters (histograms skipped)."""
    counters = {}
    for line in stats_text.splitlines():
        name, sep, value = line.partition(": ")
        if sep and value.strip().isdigit():
            counters[name.strip()] = int(value)
    return counters


def clusters_used(before: dict[str, int], after: dict[str, int]) -> tuple[str, ...]:
    """Clusters whose request or connection counters grew between two snapshots."""
    used = set()
    for name, value in after.items():
        match = _PATH_COUNTERS.match(name)
        if match and value > before.get(name, 0):
            used.add(match["cluster"])
    return tuple(sorted(used))


def cluster_moves(before: dict[str, int], after: dict[str, int]) -> dict[str, int]:
    """Cluster -> how many requests or connections it took between two snapshots (the largest
    growth of its counters: a request moves rq_total, its new connection cx_total too)."""
    moves: dict[str, int] = {}
    for name, value in after.items():
        match = _PATH_COUNTERS.match(name)
        if match and value > before.get(name, 0):
            cluster = match["cluster"]
            moves[cluster] = max(moves.get(cluster, 0), value - before.get(name, 0))
    return moves


_TLS_HANDSHAKES = re.compile(r"^cluster\.(?P<cluster>[^;]+?);?\.ssl\.handshake$")


def tls_handshakes(counters: dict[str, int]) -> tuple[str, ...]:
    """Clusters over which the proxy has completed TLS handshakes (it originated TLS). Counted
    since the cluster was made, not per request: a request may ride a pooled TLS connection."""
    return tuple(sorted(match["cluster"] for name, value in counters.items()
                        if (match := _TLS_HANDSHAKES.match(name)) and value > 0))


def block_all_answers(before: dict[str, int], after: dict[str, int]) -> int:
    """Requests the port-80 listener's route answered itself (block_all's 502) between two snapshots."""
    return _growth(before, after, _BLOCK_ALL_ANSWERS)


def no_cluster_answers(before: dict[str, int], after: dict[str, int]) -> int:
    """Requests the port-80 listener's router answered 503 itself, its route's cluster missing."""
    return _growth(before, after, _NO_CLUSTER_ANSWERS)


def unmatched_connections(before: dict[str, int], after: dict[str, int]) -> int:
    """Connections a listener refused for want of a matching filter chain between two snapshots."""
    return _growth(before, after, _UNMATCHED_CONNECTIONS)


def _growth(before: dict[str, int], after: dict[str, int], counters: re.Pattern) -> int:
    return sum(value - before.get(name, 0) for name, value in after.items() if counters.match(name))


@dataclasses.dataclass(frozen=True)
class SidecarState:
    """The egress-relevant part of a sidecar's configuration."""

    unknown_tcp: str | None
    """Cluster of the catch-all outbound chain: PassthroughCluster (ALLOW_ANY) or BlackHoleCluster (REGISTRY_ONLY)."""
    http_port_80: str | None
    """Catch-all virtual host of the port-80 HTTP route ("allow_any"/"block_all"), None without an HTTP listener."""
    virtual_hosts_80: tuple[str, ...]
    """Named virtual hosts of the port-80 route, e.g. ``httpbin.org:80``."""
    clusters: tuple[str, ...]
    """Outbound service clusters, e.g. ``outbound|80||httpbin.org``."""
    any_address: tuple[str, ...] = ()
    """Outbound clusters that send to whatever address a connection asked for (type ORIGINAL_DST, or
    a dynamic forward proxy): a listed name on one of them keeps nothing to the listed host."""

    @property
    def policy(self) -> str | None:
        """The outbound traffic policy this configuration enforces, as the mesh config names it."""
        return {PASSTHROUGH: "ALLOW_ANY", BLACKHOLE: "REGISTRY_ONLY"}.get(self.unknown_tcp or "")

    def summary(self) -> str:
        port80 = self.http_port_80 or "no HTTP listener"
        return (f"policy {self.policy or '?'} (catch-all -> {self.unknown_tcp}), port 80: {port80}, "
                f"clusters: {', '.join(self.clusters) or 'none'}")


def config_generation(counters: dict[str, int]) -> tuple[tuple[str, int], ...]:
    """The sidecar's config generation: every xDS update it has applied (CDS, LDS, each RDS).

    Two observations with the same generation were answered under the same
    configuration; Envoy moves these counters only when it accepts a push.
    """
    return tuple(sorted((name, value) for name, value in counters.items() if _GENERATION.match(name)))


def sidecar_state(*config_dumps: str) -> SidecarState:
    """Extract the SidecarState from Envoy's /config_dump JSON: the whole dump, or the
    parts that CONFIG_PATHS ask for (each resource listed on its own)."""
    sections = []
    for text in config_dumps:
        for section in json.loads(text).get("configs", []):
            sections.append(_as_section(section))
    unknown_tcp, port80_fallback, vhosts, clusters, any_address = None, None, [], [], []
    port80_listener = False
    for section in sections:
        for item in section.get("dynamic_listeners", []):
            listener = (item.get("active_state") or {}).get("listener") or {}
            if listener.get("name") == "virtualOutbound":
                unknown_tcp = _catch_all_cluster(listener)
            # A removed listener drains (drainDuration, 45 s by default on real pods) and keeps
            # its route in the dump meanwhile; only an active one serves new connections.
            port80_listener = port80_listener or listener.get("name") == PORT_80_LISTENER
        for item in section.get("dynamic_active_clusters", []):
            name = (item.get("cluster") or {}).get("name", "")
            if name.startswith("outbound|"):
                clusters.append(name)
                cluster = item.get("cluster") or {}
                if cluster.get("type") == "ORIGINAL_DST" or "dynamic_forward_proxy" in (
                        (cluster.get("cluster_type") or {}).get("name", "")):
                    any_address.append(name)
        for item in section.get("dynamic_route_configs", []):
            route = item.get("route_config") or {}
            if route.get("name") == "80":
                names = [vh.get("name", "") for vh in route.get("virtual_hosts", [])]
                port80_fallback = next((n for n in names if n in ("allow_any", "block_all")), None)
                vhosts = [n for n in names if n not in ("allow_any", "block_all")]
    if not port80_listener:
        port80_fallback, vhosts = None, []
    return SidecarState(unknown_tcp, port80_fallback, tuple(sorted(vhosts)), tuple(sorted(clusters)),
                        tuple(sorted(any_address)))


_RESOURCE_SECTIONS = {"DynamicListener": "dynamic_listeners", "DynamicRouteConfig": "dynamic_route_configs",
                      "DynamicCluster": "dynamic_active_clusters"}


def _as_section(item: dict) -> dict:
    # With ?resource=, Envoy lists the resources themselves instead of one section per type.
    kind = item.get("@type", "").rsplit(".", 1)[-1]
    return {_RESOURCE_SECTIONS[kind]: [item]} if kind in _RESOURCE_SECTIONS else item


def _catch_all_cluster(listener: dict) -> str | None:
    # Istio puts the catch-all chain last, without a filter_chain_match; the chain
    # that does match (destination port 15001) only guards against loops.
    chains = [c for c in listener.get("filter_chains", []) if not c.get("filter_chain_match")]
    chains.append(listener.get("default_filter_chain") or {})
    for chain in chains:
        cluster = _tcp_proxy_cluster(chain)
        if cluster:
            return cluster
    return None


def _tcp_proxy_cluster(chain: dict) -> str | None:
    for network_filter in chain.get("filters", []):
        config = network_filter.get("typed_config") or {}
        if "cluster" in config:
            return config["cluster"]
    return None
