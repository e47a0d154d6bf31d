"""The cluster's egress map (``audit --all-namespaces``): for each namespace, what it can reach,
judged from the API's objects alone (pure: objects in, rows out; cluster_read.py reads them once
for the whole cluster).

Per namespace: the policy that counts and the object that sets it (its own Sidecar without
selector, else the root namespace's, else the mesh config); its listed hosts (the --allow-list,
or without one the ServiceEntries it sees: exportTo and its Sidecar's egress hosts honoured);
every unlisted path the objects open (ALLOW_ANY's PassthroughCluster, a ServiceEntry the list
does not name, an ORIGINAL_DST ServiceEntry that sends to whatever address was asked for, an
endpoint outside the cluster's networks, an ExternalName Service); every workload that leaves
around its sidecar (framework/workloads.py, the single-namespace audit's own rules); and the
NetworkPolicies that would cover those paths. Each with the object behind it.

What a config-only map cannot see is said in CANNOT_SEE and in every report: an EnvoyFilter's
effect (the namespace is "unjudged" while one applies, unless a sidecar's config was walked),
istiod's or Envoy's own faults, DNS, and behaviour; the behaviour probes of the single-namespace
audit answer those for the namespaces asked (--probe-namespace).
"""

import dataclasses
import enum

from egress_conformance.framework import preexisting, workloads
from egress_conformance.verdicts import paths

CANNOT_SEE = (
    "what an EnvoyFilter does to a sidecar (a namespace one applies to is 'unjudged' unless a sidecar's own config "
    "was walked)",
    "faults of istiod or Envoy: the map judges what the objects ask for, not what the proxies hold",
    "DNS: which addresses a DNS ServiceEntry's host resolves to",
    "behaviour: no request is sent; --probe-namespace runs the single-namespace audit's probes where asked",
    "NetworkPolicy enforcement: a policy that would cover a path is named, never counted as proven",
)
"""What the config-only map does not judge, said in the report, the page and the summary."""

TLS_PROTOCOLS = ("TLS", "HTTPS")
"""Ports whose ORIGINAL_DST chain Istio guards by the listed server names (paths.py's rule)."""
INJECTION_LABELS = ("istio-injection", "istio.io/rev")


class Verdict(enum.StrEnum):
    SOUND = "sound"
    """Nothing unlisted reachable, no workload around its sidecar, as far as the objects say."""
    LEAKING = "leaking"
    UNJUDGED = "unjudged"
    """No leak found, but something applies that the objects alone cannot judge (an EnvoyFilter)."""


@dataclasses.dataclass(frozen=True)
class Objects:
    """Everything the map reads, once for the whole cluster."""

    namespaces: tuple[dict, ...]
    """The namespaces to map (all, or those the selector chose)."""
    workloads: tuple[dict, ...] = ()
    """Pods and pod templates of every namespace, each with its ``kind``."""
    sidecars: tuple[dict, ...] = ()
    envoy_filters: tuple[dict, ...] = ()
    service_entries: tuple[dict, ...] = ()
    network_policies: tuple[dict, ...] = ()
    services: tuple[dict, ...] = ()
    endpoint_slices: tuple[dict, ...] = ()
    mesh_policy: str = "ALLOW_ANY"
    mesh_config: str = "istio-system/istio"
    """namespace/name of the mesh ConfigMap that counts."""
    root: str = "istio-system"
    revision: str = "default"
    networks: paths.Networks = dataclasses.field(default_factory=paths.Networks)


@dataclasses.dataclass(frozen=True)
class Row:
    """One namespace of the map."""

    namespace: str
    verdict: Verdict
    policy: str
    policy_source: str
    listed: tuple[str, ...] = ()
    """Each host it is meant to reach, with the object that opens it (or 'not opened')."""
    unlisted: tuple[str, ...] = ()
    """Each path to a host the list does not name, with the object behind it."""
    around: tuple[str, ...] = ()
    """Each workload path around a sidecar (framework/workloads.py's words)."""
    network_policies: tuple[str, ...] = ()
    """The namespace's egress NetworkPolicies, in words."""
    unjudged: tuple[str, ...] = ()
    """What applies here that the objects alone cannot judge."""
    workloads: int = 0
    walked: str = ""
    """Whose sidecar config was walked for this namespace (empty: config-only)."""

    def findings(self) -> list[str]:
        return [*self.unlisted, *self.around]

    def to_dict(self) -> dict:
        return {"namespace": self.namespace, "verdict": self.verdict.value, "policy": self.policy,
                "policySource": self.policy_source, "workloads": self.workloads, "listed": list(self.listed),
                "unlisted": list(self.unlisted), "around": list(self.around),
                "networkPolicies": list(self.network_policies), "unjudged": list(self.unjudged),
                "walked": self.walked}


def build(objects: Objects, allow_list: tuple[tuple[str, int, str], ...] | None = None,
          walks: dict[str, tuple[str, list[str]]] | None = None) -> list[Row]:
    """One row per namespace, in name order. ``allow_list``: (host, port, protocol) every namespace
    is meant to reach, else each namespace's ServiceEntries are its list. ``walks``: namespace ->
    (whose sidecar, its leaking paths) where a sidecar's own config was walked (an EnvoyFilter is
    then judged by what it did, not left unjudged)."""
    return [_row(ns, objects, allow_list, (walks or {}).get(ns["metadata"]["name"]))
            for ns in sorted(objects.namespaces, key=lambda n: n["metadata"]["name"])]


def _row(namespace_obj: dict, objects: Objects, allow_list, walk) -> Row:
    namespace = namespace_obj["metadata"]["name"]
    labels = namespace_obj["metadata"].get("labels") or {}
    policy, source, default_sidecar = _policy(namespace, objects)
    seen = [e for e in objects.service_entries
            if preexisting.visible_to(e, namespace) and _sidecar_admits(default_sidecar, namespace, e)]
    listed, unlisted = _listed_and_unlisted(seen, allow_list)
    if policy != "REGISTRY_ONLY":
        unlisted.insert(0, f"any unknown host -> PassthroughCluster: {source} sets {policy}")
    unlisted += [u for e in seen for u in _any_address(e)]
    unlisted += [u for e in seen for u in _outside(e, objects.networks)]
    unlisted += _services(namespace, objects, default_sidecar)
    unlisted += _rival_sidecars(namespace, objects)
    found = workloads.inventory([o for o in objects.workloads if o["metadata"].get("namespace") == namespace])
    scoped = (namespace, objects.root)
    mesh = workloads.Mesh(
        revision=objects.revision, namespace_labels=labels, root=objects.root,
        sidecars=tuple(s for s in objects.sidecars if s["metadata"]["namespace"] in scoped),
        envoy_filters=tuple(f for f in objects.envoy_filters if f["metadata"]["namespace"] in scoped),
        network_policies=tuple(p for p in objects.network_policies if p["metadata"]["namespace"] == namespace),
        mesh_policy=objects.mesh_policy)
    around, _ = workloads.findings(found, mesh)
    around += _not_injected(found, labels, namespace)
    unjudged = [f"EnvoyFilter {_name(f)} applies here: the objects alone do not say what it does to the sidecar"
                for f in mesh.envoy_filters if not ((f.get("spec") or {}).get("workloadSelector"))]
    walked = ""
    if walk is not None:
        walked, leaks = walk
        unlisted += [f"{leak} (walked: {walked})" for leak in leaks]
        unjudged = []  # the EnvoyFilters' effect is in the walked config
    if unlisted or around:
        verdict = Verdict.LEAKING
    else:
        verdict = Verdict.UNJUDGED if unjudged else Verdict.SOUND
    return Row(namespace, verdict, policy, source, tuple(listed), tuple(unlisted), tuple(around),
               tuple(_describe_policy(p) for p in mesh.network_policies
                     if "Egress" in ((p.get("spec") or {}).get("policyTypes") or [])),
               tuple(unjudged), len(found), walked)


def _policy(namespace: str, objects: Objects) -> tuple[str, str, dict | None]:
    """(policy, the object that sets it, the Sidecar without selector that applies): Istio's
    precedence, the namespace's own Sidecar, else the root namespace's, else the mesh config."""
    defaults = [s for s in objects.sidecars if not (s.get("spec") or {}).get("workloadSelector")]
    own = sorted((s for s in defaults if s["metadata"]["namespace"] == namespace),
                 key=lambda s: s["metadata"].get("creationTimestamp") or "")
    root = sorted((s for s in defaults if s["metadata"]["namespace"] == objects.root),
                  key=lambda s: s["metadata"].get("creationTimestamp") or "")
    chosen: dict | None = (own or root or [None])[0]  # type: ignore[list-item]
    mode = (((chosen or {}).get("spec") or {}).get("outboundTrafficPolicy") or {}).get("mode")
    if chosen is not None and mode:
        return mode, f"Sidecar {_name(chosen)}", chosen
    return objects.mesh_policy, f"mesh config {objects.mesh_config}", chosen


def _rival_sidecars(namespace: str, objects: Objects) -> list[str]:
    """Two or more Sidecars without selector in one namespace: Istio's choice between them is
    undefined (its Sidecar reference), so one that does not restrict may be the one that counts."""
    rivals = [s for s in objects.sidecars if s["metadata"]["namespace"] == namespace
              and not (s.get("spec") or {}).get("workloadSelector")]
    if len(rivals) < 2:
        return []
    names = ", ".join(f"Sidecar {_name(s)}" for s in rivals)
    return [f"any unknown host -> PassthroughCluster: Sidecar {_name(s)} sets {mode}, and it is one of {len(rivals)} "
            f"without workloadSelector ({names}): which one applies is undefined"
            for s in rivals if (mode := ((s.get("spec") or {}).get("outboundTrafficPolicy") or {}).get("mode")
                                or objects.mesh_policy) != "REGISTRY_ONLY"]


def _sidecar_admits(sidecar: dict | None, namespace: str, entry: dict) -> bool:
    """Does the Sidecar's egress (hosts "ns/host") import this ServiceEntry? No egress: all it sees."""
    egress = ((sidecar or {}).get("spec") or {}).get("egress") or []
    if not egress:
        return True
    own = entry["metadata"]["namespace"]
    for listener in egress:
        for item in listener.get("hosts") or []:
            where, _, host = item.partition("/")
            if where == "~":
                continue
            if where in ("*", own) or (where == "." and own == namespace):
                if any(preexisting.covers(host, h) or preexisting.covers(h, host)
                       for h in (entry.get("spec") or {}).get("hosts") or []):
                    return True
    return False


def _listed_and_unlisted(seen: list[dict], allow_list) -> tuple[list[str], list[str]]:
    if allow_list is None:  # the namespace's list is what it sees
        return [f"{h}:{p.get('number')}/{p.get('protocol', 'TCP')}: ServiceEntry {_name(e)}"
                for e in seen for h in (e.get("spec") or {}).get("hosts") or []
                for p in (e.get("spec") or {}).get("ports") or []], []
    listed, unlisted = [], []
    for host, port, protocol in allow_list:
        opening = [e for e in seen if _opens(e, host, port)]
        listed.append(f"{host}:{port}/{protocol}: " + (", ".join(f"ServiceEntry {_name(e)}" for e in opening)
                                                       or "not opened here (no ServiceEntry it sees)"))
    for entry in seen:
        export = ", ".join((entry.get("spec") or {}).get("exportTo") or ["*"])
        for host in (entry.get("spec") or {}).get("hosts") or []:
            for port in (entry.get("spec") or {}).get("ports") or []:
                if not any(preexisting.covers(h, host) and p == port.get("number") for h, p, _ in allow_list):
                    unlisted.append(f"{host}:{port.get('number')}/{port.get('protocol', 'TCP')} -> ServiceEntry "
                                    f"{_name(entry)} (exportTo {export}), "
                                    "not in the list")
    return listed, unlisted


def _opens(entry: dict, host: str, port: int) -> bool:
    spec = entry.get("spec") or {}
    return any(preexisting.covers(h, host) for h in spec.get("hosts") or []) and any(
        p.get("number") == port for p in spec.get("ports") or [])


def _any_address(entry: dict) -> list[str]:
    """A ServiceEntry of resolution NONE without addresses makes an ORIGINAL_DST cluster: on a port
    whose chain is not matched on server names (not TLS/HTTPS), it sends to any address."""
    spec = entry.get("spec") or {}
    if (spec.get("resolution") or "NONE") != "NONE" or spec.get("addresses"):
        return []
    return [f"port {p.get('number')}/{p.get('protocol', 'TCP')} -> ServiceEntry {_name(entry)} (resolution NONE, no "
            "addresses: ORIGINAL_DST): sends to whatever address the connection asked for"
            for p in spec.get("ports") or [] if (p.get("protocol") or "TCP").upper() not in TLS_PROTOCOLS]


def _outside(entry: dict, networks: paths.Networks) -> list[str]:
    """A MESH_INTERNAL ServiceEntry (it claims to be inside) with an endpoint outside the cluster's networks."""
    spec = entry.get("spec") or {}
    if spec.get("location") != "MESH_INTERNAL" or not networks.cidrs:
        return []
    outside = [e["address"] for e in spec.get("endpoints") or [] if e.get("address")
               and not networks.inside(e["address"]) and "/" not in e["address"]]
    return [f"{', '.join(spec.get('hosts') or [])} -> ServiceEntry {_name(entry)} (MESH_INTERNAL): endpoint "
            f"{outside[0]}{' and more' if len(outside) > 1 else ''} outside the cluster's networks"] if outside else []


def _services(namespace: str, objects: Objects, sidecar: dict | None) -> list[str]:
    """Services this namespace sees (networking.istio.io/exportTo and its Sidecar's egress hosts
    honoured) that send outside: an ExternalName, or a Service without selector whose
    EndpointSlices point outside."""
    found = []
    slices: dict[tuple[str, str], list[str]] = {}
    for s in objects.endpoint_slices:
        service = (s["metadata"].get("labels") or {}).get("kubernetes.io/service-name")
        if service:
            addresses = [a for e in s.get("endpoints") or [] if (e.get("targetRef") or {}).get("kind") != "Pod"
                         for a in e.get("addresses") or []]
            slices.setdefault((s["metadata"]["namespace"], service), []).extend(addresses)
    for service in objects.services:
        meta, spec = service["metadata"], service.get("spec") or {}
        export = [x.strip() for x in ((meta.get("annotations") or {}).get("networking.istio.io/exportTo") or "*")
                  .split(",")]
        if not ("*" in export or namespace in export or ("." in export and meta["namespace"] == namespace)):
            continue
        as_host = {"metadata": meta, "spec": {"hosts": [f"{meta['name']}.{meta['namespace']}.svc.cluster.local"]}}
        if not _sidecar_admits(sidecar, namespace, as_host):
            continue
        if spec.get("type") == "ExternalName":
            found.append(f"{meta['name']}.{meta['namespace']}.svc -> Service {_name(service)} (ExternalName "
                         f"{spec.get('externalName')}): a DNS cluster to a host outside the cluster")
        elif not spec.get("selector") and objects.networks.cidrs:
            outside = [a for a in slices.get((meta["namespace"], meta["name"]), ())
                       if not objects.networks.inside(a)]
            if outside:
                found.append(f"{meta['name']}.{meta['namespace']}.svc -> Service {_name(service)} (no selector): "
                             f"endpoint {outside[0]} outside the cluster's networks")
    return found


def _not_injected(found: list[workloads.Workload], labels: dict, namespace: str) -> list[str]:
    """A pod template with no pod to show it (scaled to zero, a suspended CronJob) in a namespace
    no injection label selects: its pods will start without a sidecar."""
    if any(k in labels for k in INJECTION_LABELS) and labels.get("istio-injection") != "disabled":
        return []
    return [f"{w}: namespace {namespace} is not labelled for injection ({' or '.join(INJECTION_LABELS)}) and "
            "the template does not ask for it: its pods start without a sidecar"
            for w in found if not w.pods and w.kind != "Pod"
            and str(w.labels.get("sidecar.istio.io/inject")).lower() != "true"]


def _describe_policy(policy: dict) -> str:
    spec = policy.get("spec") or {}
    selector = spec.get("podSelector") or {}
    chosen = ", ".join(f"{k}={v}" for k, v in sorted((selector.get("matchLabels") or {}).items())) or "every pod"
    rules = spec.get("egress") or []
    allows = "nothing" if not rules else "; ".join(
        ", ".join(("ipBlock " + p["ipBlock"].get("cidr", "?")) if "ipBlock" in p else
                  ("pods/namespaces" if ("podSelector" in p or "namespaceSelector" in p) else "?")
                  for p in rule.get("to") or []) or "anywhere" for rule in rules)
    return f"NetworkPolicy {_name(policy)} selects {chosen}: egress to {allows}"


def _name(obj: dict) -> str:
    return f"{obj['metadata']['namespace']}/{obj['metadata']['name']}"
