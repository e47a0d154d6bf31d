"""A namespace's egress as Istio configures it, read through the API, and the objects behind
the paths its sidecar uses: what a failed "blocked" or a missing host names, so that a failed
run on someone's cluster says what to fix.

Read, never written: the mesh config that counts, the Sidecars that set the namespace's
policy (its own, else the root namespace's, else the mesh config), every ServiceEntry it can
see (exportTo), the EnvoyFilters that apply to it (they can rewrite anything), and its own
HTTPRoutes (the Gateway API's routing, to and from a gateway deployed there).
"""

import dataclasses
import re

from kubernetes import client
from kubernetes.dynamic.exceptions import ResourceNotFoundError

from egress_conformance.cluster import kube, meshconfig
from egress_conformance.framework import preexisting
from egress_conformance.verdicts import envoy

SIDECAR = ("networking.istio.io/v1", "Sidecar")
ENVOY_FILTER = ("networking.istio.io/v1alpha3", "EnvoyFilter")
AUTHORIZATION = ("security.istio.io/v1", "AuthorizationPolicy")
ROUTING = (("networking.istio.io/v1", "DestinationRule"), ("networking.istio.io/v1", "VirtualService"))
"""Objects that change what a host's cluster does (TLS, routing) without opening it."""
HTTP_ROUTE = ("gateway.networking.k8s.io/v1", "HTTPRoute")
WORKLOAD_ENTRY = ("networking.istio.io/v1", "WorkloadEntry")
DEPLOYED_SUFFIX = "-istio"
"""istiod names what it deploys for Gateway G of class istio ``G-istio`` (its Service among them)."""

_URL_HOSTS = re.compile(r"https?://([^/:\s]+)")
_CLUSTER_NAMES = re.compile(r"outbound\|\d+\|[^|]*\|[^\s,;)]+|" + envoy.PASSTHROUGH)
_PASSTHROUGH_USED = re.compile(rf"-> {envoy.PASSTHROUGH}|{envoy.PASSTHROUGH} took")
_WALKED_CLUSTERS = re.compile(r"(?:-> |cluster )(\S+) \((?:EDS|STRICT_DNS|LOGICAL_DNS|STATIC|ORIGINAL_DST|"
                              r"dynamic-forward-proxy)\)")
"""A cluster as a walked path names it (paths.leaks): its name, then its type."""


@dataclasses.dataclass(frozen=True)
class Egress:
    """What decides a namespace's egress, each part named by the object it comes from."""

    namespace: str
    policy: str
    """The outbound traffic policy that counts for the namespace's workloads."""
    policy_source: str
    """The object that sets it: a Sidecar (the namespace's, else the root namespace's), else the mesh config."""
    service_entries: tuple[str, ...]
    """Every ServiceEntry the namespace sees, one line each: name, hosts, ports, resolution, audience."""
    envoy_filters: tuple[str, ...]
    """EnvoyFilters that apply to the namespace (its own, and the root namespace's)."""
    entries: tuple[dict, ...] = dataclasses.field(default=(), repr=False)
    routing: tuple[dict, ...] = dataclasses.field(default=(), repr=False)
    """DestinationRules and VirtualServices the namespace sees."""
    authorization: tuple[dict, ...] = dataclasses.field(default=(), repr=False)
    """AuthorizationPolicies of every namespace: those of a Service's namespace (and the root
    namespace's) may refuse what is sent to it, e.g. at an egress gateway."""
    root: str = "istio-system"
    http_routes: tuple[dict, ...] = dataclasses.field(default=(), repr=False)
    """The namespace's HTTPRoutes, oldest first (of two that match alike, the oldest wins)."""
    selecting: tuple[str, ...] = ()
    """The namespace's Sidecars with a workloadSelector, in words: each decides its workloads'
    egress instead of the policy above (framework/workloads.py judges them per workload)."""
    workload_entries: tuple[dict, ...] = dataclasses.field(default=(), repr=False)
    """Every WorkloadEntry: a ServiceEntry's workloadSelector makes those it selects its endpoints."""
    ambiguous: tuple[str, ...] = ()
    """Namespaces (the team's, the root) holding several Sidecars without a workloadSelector, in
    words: Istio calls that undefined; istiod applies the oldest, which the policy above follows."""

    def lines(self) -> list[str]:
        """The egress in words, for the report and the console."""
        lines = [f"policy {self.policy}, set by {self.policy_source}"]
        lines += [f"sees {line}" for line in self.service_entries] or ["sees no ServiceEntry"]
        lines += [f"EnvoyFilter {name} applies here" for name in self.envoy_filters]
        lines += self.selecting
        lines += self.ambiguous
        return lines

    def behind(self, cluster: str) -> str:
        """The objects that opened ``cluster`` for this namespace, in words."""
        if cluster == envoy.PASSTHROUGH:
            if self.policy == meshconfig.ALLOW_ANY:
                return f"{self.policy_source} sets ALLOW_ANY"
            changed = (f"EnvoyFilter {', '.join(self.envoy_filters)} may have changed it" if self.envoy_filters
                       else "no EnvoyFilter explains it (istiod or the proxy is at fault)")
            return f"{self.policy_source} sets {self.policy}, yet the sidecar passes unknown hosts through: {changed}"
        if not cluster.startswith("outbound|") or cluster.count("|") != 3:
            made = (f"EnvoyFilter {', '.join(self.envoy_filters)} may have added it" if self.envoy_filters
                    else "no EnvoyFilter applies here")
            return f"not a cluster Istio makes for a service: {made}"
        host = cluster.split("|")[3]
        covering = [e for e in self.entries if _covers(e, host)]
        owners = [f"ServiceEntry {_name(e)}{_resolution(e)}" for e in covering]
        owners += [f"WorkloadEntry {_name(w)} ({(w.get('spec') or {}).get('address', 'no address')})"
                   for e in covering for w in self.workload_entries if _selects(e, w)]
        service = _service_of(host)
        owners = owners or [f"Service {service}" if service else "no ServiceEntry or Service visible here"]
        owners += [f"{o['kind']} {_name(o)}" for o in self.routing if _covers(o, host)]
        # A VirtualService for another host that routes it here opened this path as much as the entry did.
        owners += [f"VirtualService {_name(o)} sends {', '.join((o.get('spec') or {}).get('hosts') or [])} to it"
                   for o in self.routing if o["kind"] == "VirtualService" and not _covers(o, host)
                   and host in _destinations(o)]
        parents = {f"ServiceEntry {_name(e)}" for e in covering} | (
            {f"Gateway {service.removesuffix(DEPLOYED_SUFFIX)}"} if service else set())
        owners += [_describe_route(r) for r in self.http_routes if _route_involves(r, host, service, parents)]
        if service:
            where = service.split("/")[0]
            owners += [f"AuthorizationPolicy {_name(p)} ({(p.get('spec') or {}).get('action') or 'ALLOW'}) applies in "
                       f"{p['metadata']['namespace']}" for p in self.authorization
                       if p["metadata"]["namespace"] in (where, self.root)]
        return ", ".join(owners)

    def explain(self, text: str, served: tuple[str, ...] = ()) -> str:
        """" (cluster: object, ...)" for the clusters a reason names or a request used; "" for none."""
        # A batch's served clusters are every listed host's: only those of the hosts the reason names.
        hosts = set(_URL_HOSTS.findall(text))
        served = tuple(c for c in served if not hosts or c.split("|")[-1] in hosts)
        named = [c for c in _CLUSTER_NAMES.findall(text) if c != envoy.PASSTHROUGH]
        named += [c for c in _WALKED_CLUSTERS.findall(text) if c not in named and c != envoy.PASSTHROUGH]
        if _PASSTHROUGH_USED.search(text):  # not where the reason names it as what was expected
            named.append(envoy.PASSTHROUGH)
        clusters = dict.fromkeys([*named, *served])
        clusters.pop(envoy.BLACKHOLE, None)
        named = [f"{cluster}: {self.behind(cluster)}" for cluster in clusters]
        return f" ({'; '.join(named)})" if named else ""


def read(api: client.ApiClient, namespace: str, mesh_config_map: tuple[str, str]) -> Egress:
    """The namespace's egress as the API holds it now."""
    mesh_text = meshconfig.read(api, mesh_config_map)
    root = meshconfig.root_namespace(mesh_text)
    every_sidecar = kube.list_everywhere(api, *SIDECAR)
    sidecars = _default_sidecars(every_sidecar, namespace, root)
    selecting = tuple(_describe_selecting(s) for s in every_sidecar
                      if s["metadata"]["namespace"] == namespace and (s.get("spec") or {}).get("workloadSelector"))
    policy, source = meshconfig.policy_of(mesh_text), f"mesh config {mesh_config_map[0]}/{mesh_config_map[1]}"
    for sidecar in sidecars:  # the namespace's own first: it overrides the root namespace's
        mode = ((sidecar.get("spec") or {}).get("outboundTrafficPolicy") or {}).get("mode")
        if mode:
            policy, source = mode, f"Sidecar {sidecar['metadata']['namespace']}/{sidecar['metadata']['name']}"
            break
        if sidecar["metadata"]["namespace"] == namespace:
            break  # the namespace's own Sidecar without a mode still shadows the root one
    entries = tuple(e for e in kube.list_everywhere(api, *preexisting.SERVICE_ENTRY)
                    if preexisting.visible_to(e, namespace))
    filters = tuple(f"{f['metadata']['namespace']}/{f['metadata']['name']}"
                    for f in kube.list_everywhere(api, *ENVOY_FILTER)
                    if f["metadata"]["namespace"] in (namespace, root))
    routing = tuple(o for kind in ROUTING for o in kube.list_everywhere(api, *kind)
                    if preexisting.visible_to(o, namespace))
    authorization = tuple(kube.list_everywhere(api, *AUTHORIZATION))
    # The namespace's own only: a route and the ServiceEntry or Gateway it attaches to share one
    # (another namespace's needs a ReferenceGrant), and the run's rights to list them end there.
    routes = sorted(kube.list_in(api, *HTTP_ROUTE, namespace), key=lambda r: r["metadata"]["creationTimestamp"])
    try:
        workload_entries = tuple(kube.list_everywhere(api, *WORKLOAD_ENTRY))
    except ResourceNotFoundError:
        workload_entries = ()
    except client.ApiException as err:
        if err.status != 403:
            raise
        # Only to name the object behind a path the walk finds anyway (deploy/job.yaml grants the list).
        workload_entries = ()
    return Egress(namespace, policy, source, tuple(_describe(e) for e in entries), filters, entries, routing,
                  authorization, root, tuple(routes), selecting, workload_entries, ambiguous(sidecars))


def _selects(entry: dict, workload_entry: dict) -> bool:
    """Whether ServiceEntry ``entry``'s workloadSelector selects ``workload_entry`` (same namespace)."""
    wanted = (((entry.get("spec") or {}).get("workloadSelector") or {}).get("labels")) or {}
    labels = (workload_entry.get("spec") or {}).get("labels") or {}
    return bool(wanted) and workload_entry["metadata"]["namespace"] == entry["metadata"]["namespace"] and \
        all(labels.get(k) == v for k, v in wanted.items())


def ambiguous(default_sidecars: list[dict]) -> tuple[str, ...]:
    """One line per namespace with several Sidecars without a workloadSelector (``default_sidecars``
    in Istio's order): the Sidecar reference calls that undefined, and which one applies can change
    when the oldest goes or istiod's choice changes."""
    lines = []
    for where in dict.fromkeys(s["metadata"]["namespace"] for s in default_sidecars):
        here = [s for s in default_sidecars if s["metadata"]["namespace"] == where]
        if len(here) > 1:
            modes = ", ".join(f"{_name(s)} ({_mode(s)})" for s in here)
            lines.append(f"{len(here)} Sidecars without workloadSelector in namespace {where}: {modes}; Istio's "
                         f"behaviour is undefined (Sidecar reference): istiod applies the oldest, {_name(here[0])}, "
                         "and another takes over when it goes")
    return tuple(lines)


def _mode(sidecar: dict) -> str:
    return ((sidecar.get("spec") or {}).get("outboundTrafficPolicy") or {}).get("mode") or "the mesh config's policy"


def _describe_selecting(sidecar: dict) -> str:
    spec = sidecar.get("spec") or {}
    labels = ", ".join(f"{k}={v}" for k, v in sorted((spec["workloadSelector"].get("labels") or {}).items()))
    mode = (spec.get("outboundTrafficPolicy") or {}).get("mode") or "the mesh config's policy"
    return f"Sidecar {_name(sidecar)} selects {labels or 'no label'}: {mode} for those workloads"


def _destinations(virtual_service: dict) -> set[str]:
    """The hosts a VirtualService's HTTP, TLS and TCP routes send to, a short name (no dot) completed
    in the VirtualService's namespace as istiod does (ResolveShortnameToFQDN)."""
    spec, namespace = virtual_service.get("spec") or {}, virtual_service["metadata"]["namespace"]
    hosts = {(route.get("destination") or {}).get("host", "") for kind in ("http", "tls", "tcp")
             for rule in spec.get(kind) or [] for route in rule.get("route") or []}
    return {h if "." in h else f"{h}.{namespace}.svc.cluster.local" for h in hosts if h}


def _name(obj: dict) -> str:
    return f"{obj['metadata']['namespace']}/{obj['metadata']['name']}"


def _covers(obj: dict, host: str) -> bool:
    spec = obj.get("spec") or {}
    patterns = spec.get("hosts") or ([spec["host"]] if spec.get("host") else [])
    return any(preexisting.covers(pattern, host) for pattern in patterns)


def _default_sidecars(sidecars: list[dict], namespace: str, root: str) -> list[dict]:
    """The Sidecars without a workloadSelector that apply to every pod of ``namespace``: its own
    first, then the root namespace's; within a namespace the oldest first, equal creation times by
    name, as istiod orders them (pilot/pkg/model push_context.go initSidecarScopes,
    sortConfigByCreationTime): of several, a pod gets the first."""
    chosen = [s for s in sidecars if not (s.get("spec") or {}).get("workloadSelector")]
    return sorted((s for s in chosen if s["metadata"]["namespace"] in (namespace, root)),
                  key=lambda s: (s["metadata"]["namespace"] != namespace,
                                 s["metadata"].get("creationTimestamp") or "", s["metadata"]["name"]))


def _describe(entry: dict) -> str:
    spec = entry.get("spec") or {}
    ports = ", ".join(f"{p.get('number')}/{p.get('protocol', 'TCP')}" for p in spec.get("ports") or [])
    export = spec.get("exportTo") or ["*"]
    return (f"ServiceEntry {entry['metadata']['namespace']}/{entry['metadata']['name']}: "
            f"{', '.join(spec.get('hosts') or [])} on {ports or 'no port'}{_resolution(entry)}, exported to "
            f"{'every namespace' if '*' in export else ', '.join(export)}")


def _route_involves(route: dict, host: str, service: str | None, parents: set[str]) -> bool:
    """Does the HTTPRoute route requests for ``host``, send to it (or to ``service``, namespace/name),
    or attach to one of ``parents`` ("ServiceEntry ns/name", "Gateway ns/name")?"""
    spec, namespace = route.get("spec") or {}, route["metadata"]["namespace"]
    if any(preexisting.covers(pattern, host) for pattern in spec.get("hostnames") or []):
        return True
    if any(f"{p.get('kind', 'Gateway')} {p.get('namespace') or namespace}/{p['name']}" in parents
           for p in spec.get("parentRefs") or []):
        return True
    return any(_backend(ref, namespace) in (host, service) for rule in spec.get("rules") or []
               for ref in rule.get("backendRefs") or [])


def _backend(ref: dict, namespace: str) -> str:
    """A backendRef as the host it names (kind Hostname) or as namespace/name (a Service)."""
    if ref.get("kind", "Service") == "Hostname":
        return ref["name"]
    return f"{ref.get('namespace') or namespace}/{ref['name']}"


def _describe_route(route: dict) -> str:
    spec = route.get("spec") or {}
    parents = ", ".join(f"{p.get('kind', 'Gateway')} {p['name']}" for p in spec.get("parentRefs") or [])
    hostnames = f" for {', '.join(spec['hostnames'])}" if spec.get("hostnames") else ""
    backends = ", ".join(f"{ref.get('kind', 'Service')} {ref['name']}:{ref.get('port')}"
                         for rule in spec.get("rules") or [] for ref in rule.get("backendRefs") or [])
    return f"HTTPRoute {_name(route)} (on {parents}{hostnames} -> {backends or 'no backend'})"


def _resolution(entry: dict) -> str:
    return f" (resolution {(entry.get('spec') or {}).get('resolution') or 'NONE'})"


def _service_of(host: str) -> str | None:
    """``name/namespace`` of a Kubernetes Service host (name.namespace.svc.<domain>), else None."""
    parts = host.split(".")
    return f"{parts[1]}/{parts[0]}" if len(parts) > 3 and parts[2] == "svc" else None
