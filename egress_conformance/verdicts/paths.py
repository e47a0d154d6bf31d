"""Every path out of a sidecar, walked from Envoy's config dump, and which of them leak.

A path is where the sidecar can send a connection or request: an outbound listener's filter
chain (whatever it matches on: port, prefix ranges, server names), then a TCP proxy's cluster
(weighted ones each), or an HTTP connection manager's route configuration, its virtual hosts
and routes (weighted clusters each). Each cluster is read with its type and endpoints. Nothing
is judged by the shape of a name: a path leaks when its cluster sends to any address
(PassthroughCluster, ORIGINAL_DST, a dynamic forward proxy) or to an endpoint outside the
cluster's own networks, unless the allow-list names that cluster.

Pure functions over the JSON text of /config_dump (whole, or per resource): see CONFIG_PATHS.
"""

import dataclasses
import ipaddress
import json

BLACKHOLE = "BlackHoleCluster"
PASSTHROUGH = "PassthroughCluster"
ANY_ADDRESS = "ORIGINAL_DST"
FORWARD_PROXY = "dynamic-forward-proxy"
"""A cluster of type envoy.clusters.dynamic_forward_proxy: it resolves whatever host it is asked for."""

CONFIG_PATHS = (
    "/config_dump?resource=dynamic_listeners",
    "/config_dump?resource=dynamic_route_configs",
    "/config_dump?resource=dynamic_active_clusters",
    "/config_dump?resource=dynamic_endpoint_configs&include_eds",
)
"""The parts of the config dump a walk needs: every listener, route configuration, cluster and
EDS assignment (the dump's other parts, secrets and bootstrap, say nothing about paths)."""

_SECTIONS = {"DynamicListener": "dynamic_listeners", "DynamicRouteConfig": "dynamic_route_configs",
             "DynamicCluster": "dynamic_active_clusters", "DynamicEndpointConfig": "dynamic_endpoint_configs"}


@dataclasses.dataclass(frozen=True)
class Cluster:
    """One cluster as the sidecar holds it."""

    name: str
    kind: str
    """Its discovery type (EDS, STRICT_DNS, LOGICAL_DNS, STATIC, ORIGINAL_DST) or FORWARD_PROXY."""
    endpoints: tuple[str, ...] = ()
    """Its endpoints' addresses: IPs, or the names a DNS cluster resolves."""

    @property
    def any_address(self) -> bool:
        """Whether it sends to whatever address (or host) the connection asked for."""
        return self.kind in (ANY_ADDRESS, FORWARD_PROXY)


@dataclasses.dataclass(frozen=True)
class Path:
    """One way out: how a connection gets there (listener, chain, route), and the cluster."""

    via: str
    cluster: str
    server_names: tuple[str, ...] = ()
    """The server names (SNI) its filter chain matches on, if it matches on any."""


@dataclasses.dataclass(frozen=True)
class Walk:
    """Every outbound path of a sidecar and every cluster it holds."""

    paths: tuple[Path, ...]
    clusters: dict[str, Cluster]
    generation: tuple | None = None
    """The sidecar's config generation around the reading (envoy.config_generation), if shown."""

    def summary(self) -> str:
        kinds: dict[str, int] = {}
        for cluster in self.clusters.values():
            kinds[cluster.kind] = kinds.get(cluster.kind, 0) + 1
        held = ", ".join(f"{n} {k}" for k, n in sorted(kinds.items()))
        return f"{len(self.paths)} outbound paths; clusters: {held or 'none'}"

    def record(self) -> dict:
        return {"outcome": self.summary(), "paths": [f"{p.via} -> {p.cluster}" for p in self.paths],
                "generation": self.generation}


@dataclasses.dataclass(frozen=True)
class Networks:
    """What is inside the cluster, as the API says: pod and service networks, the addresses of its
    pods, Services and nodes, and its Services' names (what a DNS endpoint may name inside)."""

    cidrs: tuple[str, ...] = ()
    addresses: frozenset[str] = frozenset()
    services: frozenset[str] = frozenset()
    """``name.namespace`` of every Service."""

    def inside(self, address: str) -> bool:
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:  # a name a DNS cluster resolves: inside only when it names a Service
            labels = address.rstrip(".").split(".")
            return len(labels) > 2 and labels[2] == "svc" and f"{labels[0]}.{labels[1]}" in self.services
        return address in self.addresses or any(ip in ipaddress.ip_network(c, strict=False) for c in self.cidrs)


def walk(*config_dumps: str, generation: tuple | None = None) -> Walk:
    """The Walk of a sidecar from its /config_dump text (whole, or the parts of CONFIG_PATHS)."""
    listeners, routes, clusters, assignments = [], {}, {}, {}
    for text in config_dumps:
        for section in json.loads(text).get("configs", []):
            kind = section.get("@type", "").rsplit(".", 1)[-1]
            section = {_SECTIONS[kind]: [section]} if kind in _SECTIONS else section
            for item in section.get("dynamic_listeners", []):
                listener = (item.get("active_state") or {}).get("listener")
                if listener:
                    listeners.append(listener)
            for item in section.get("dynamic_route_configs", []):
                route = item.get("route_config") or {}
                routes[route.get("name", "")] = route
            for item in section.get("dynamic_active_clusters", []):
                cluster = item.get("cluster") or {}
                clusters[cluster.get("name", "")] = cluster
            for item in section.get("dynamic_endpoint_configs", []):
                assignment = item.get("endpoint_config") or {}
                assignments[assignment.get("cluster_name", "")] = assignment
    paths = [path for listener in listeners if _outbound(listener) for path in _listener_paths(listener, routes)]
    held = {name: _cluster(name, c, assignments.get(name)) for name, c in clusters.items()}
    return Walk(tuple(paths), held, generation)


def leaks(found: Walk, listed, networks: Networks) -> list[str]:
    """Each path (or outbound cluster) that can leave for a host the list does not name, in words:
    the path, the cluster with its type, and why it leaks."""
    allowed = set(listed)
    said: dict[str, str] = {}
    more: dict[str, int] = {}
    for path in found.paths:
        cluster = found.clusters.get(path.cluster)
        why = _why(path, cluster, _without_subset(path.cluster) in allowed, networks)
        if why and path.cluster in said:
            more[path.cluster] = more.get(path.cluster, 0) + 1
        elif why:
            said[path.cluster] = f"{path.via} -> {_named(path.cluster, cluster)}: {why}"
    for name, count in more.items():  # one line per cluster: its first path, and how many more lead there
        said[name] += f" (and {count} more path{'s' if count > 1 else ''} to it)"
    walked = {path.cluster for path in found.paths}
    for name, cluster in found.clusters.items():  # a cluster no walked path shows may still be reached
        if name.startswith("outbound|") and name not in walked:
            why = _why(Path("", name), cluster, _without_subset(name) in allowed, networks)
            if why:
                said[name] = f"cluster {_named(name, cluster)}: {why}"
    return list(said.values())


def _why(path: Path, cluster: Cluster | None, listed: bool, networks: Networks) -> str | None:
    if path.cluster == PASSTHROUGH:
        return "passes connections through to any address"
    if cluster is None or path.cluster == BLACKHOLE:
        return None  # the router answers 503 for a cluster it lacks: nothing leaves
    if cluster.any_address:
        if listed and path.server_names:
            return None  # the chain admits only the listed server names (Istio's TLS entry of resolution NONE)
        return "sends to whatever address the connection asked for" + (
            ", on a path no listed server name guards" if listed else ", for hosts the list does not name")
    if listed:
        return None
    outside = [e for e in cluster.endpoints if not networks.inside(e)]
    if outside:
        more = f" and {len(outside) - 1} more" if len(outside) > 1 else ""
        return f"endpoint {outside[0]}{more} outside the cluster's networks, for a host the list does not name"
    return None


def _without_subset(name: str) -> str:
    """``outbound|80|v1|httpbin.org`` (a DestinationRule's subset) -> ``outbound|80||httpbin.org``: the same host."""
    parts = name.split("|")
    return "|".join([*parts[:2], "", parts[3]]) if len(parts) == 4 and parts[0] == "outbound" else name


def _named(name: str, cluster: Cluster | None) -> str:
    return f"{name} ({cluster.kind})" if cluster else name


def _outbound(listener: dict) -> bool:
    # Istio's inbound listener (virtualInbound) takes what others send to the pod: no path out. An
    # internal listener (connect_originate, which istiod adds once ambient is on) accepts only what
    # the sidecar's own clusters hand it, so the path that reaches it is judged at that cluster.
    return (listener.get("traffic_direction") != "INBOUND" and listener.get("name") != "virtualInbound"
            and "internal_listener" not in listener)


def _listener_paths(listener: dict, routes: dict[str, dict]) -> list[Path]:
    name = listener.get("name", "?")
    chains = list(listener.get("filter_chains") or [])
    if listener.get("default_filter_chain"):
        chains.append({**listener["default_filter_chain"], "name": "default"})
    paths = []
    for chain in chains:
        match = chain.get("filter_chain_match") or {}
        where = f"listener {name}, chain {chain.get('name') or '#' + str(chains.index(chain))}{_match(match)}"
        names = tuple(match.get("server_names") or ())
        for network_filter in chain.get("filters") or []:
            paths += [dataclasses.replace(p, server_names=names) for p in _filter_paths(network_filter, where, routes)]
    return paths


def _match(match: dict) -> str:
    parts = []
    if "destination_port" in match:
        parts.append(f"port {match['destination_port']}")
    ranges = [f"{r.get('address_prefix')}/{r.get('prefix_len', 32)}" for r in match.get("prefix_ranges") or []]
    if ranges:
        parts.append(f"to {', '.join(ranges)}")
    if match.get("server_names"):
        parts.append(f"server names {', '.join(match['server_names'])}")
    return f" ({'; '.join(parts)})" if parts else ""


def _filter_paths(network_filter: dict, where: str, routes: dict[str, dict]) -> list[Path]:
    config = network_filter.get("typed_config") or {}
    if "route_config" in config or "rds" in config:  # an HTTP connection manager
        route = config.get("route_config") or routes.get((config.get("rds") or {}).get("route_config_name", ""))
        if route is None:
            return []  # its routes not yet received: it answers nothing
        return _route_paths(route, where)
    return [Path(where, cluster) for cluster in _clusters_of(config)]


def _route_paths(route: dict, where: str) -> list[Path]:
    paths = []
    for vhost in route.get("virtual_hosts") or []:
        domains = ", ".join(vhost.get("domains") or [])
        for entry in vhost.get("routes") or []:
            match = entry.get("match") or {}
            prefix = match.get("prefix", match.get("path", match.get("safe_regex", {}).get("regex", "?")))
            via = f"{where}, route {route.get('name', '?')}, virtual host {vhost.get('name', '?')} ({domains}), " \
                  f"route {prefix}"
            paths += [Path(via, cluster) for cluster in _clusters_of(entry.get("route") or {})]
            if (entry.get("route") or {}).get("cluster_header"):
                paths.append(Path(via, PASSTHROUGH))  # a header names the cluster: the client picks any
    return paths


def _clusters_of(config: dict) -> list[str]:
    """The clusters a TCP proxy or a route sends to: one, or each weighted one."""
    if config.get("cluster"):
        return [config["cluster"]]
    weighted = config.get("weighted_clusters") or {}
    return [c["name"] for c in weighted.get("clusters") or [] if c.get("name")]


def _cluster(name: str, cluster: dict, assignment: dict | None) -> Cluster:
    custom = (cluster.get("cluster_type") or {}).get("name", "")
    kind = FORWARD_PROXY if "dynamic_forward_proxy" in custom else (custom or cluster.get("type") or "STATIC")
    given = assignment if cluster.get("type") == "EDS" or assignment else cluster.get("load_assignment")
    return Cluster(name, kind, tuple(_addresses(given or {})))


def _addresses(assignment: dict) -> list[str]:
    found = []
    for locality in assignment.get("endpoints") or []:
        for lb_endpoint in locality.get("lb_endpoints") or []:
            socket = (((lb_endpoint.get("endpoint") or {}).get("address") or {}).get("socket_address") or {})
            if socket.get("address"):
                found.append(socket["address"])
    return found

