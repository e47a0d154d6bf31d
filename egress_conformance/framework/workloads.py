"""A namespace's workloads and every path around their sidecars, as findings (pure: the API's
objects in, words out; framework/inventory.py reads them).

The audit's probe shows what one sidecar does; a team's own workloads can leave without one:
injection turned off, the node's network, the proxy's own uid, capture annotations that let
ports or ranges out around it, another control plane (istio.io/rev), ambient mode (the outbound
policy does not apply: ztunnel passes unknown destinations through, istio/istio#54281), or a
Sidecar or EnvoyFilter that selects the workload alone. Each is a finding naming the workload
and the field or annotation, unless an enforced NetworkPolicy blocks it (then: covered, named).
"""

import dataclasses

CONTROLLERS = ("Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "CronJob")
PROXY = "istio-proxy"
PROXY_ID = 1337
"""istio-proxy's uid and gid: the sidecar's iptables let their traffic out unredirected."""
CAPTURE = "traffic.sidecar.istio.io/"
AMBIENT_ISSUE = "istio/istio#54281"
UNPROVEN = "this run has not proven that the cluster enforces NetworkPolicy"
"""How a finding says that a NetworkPolicy would cover it, enforcement unproven."""
OWN_PREFIX = "egress-conformance-"
"""The audit's own probe pods (app label egress-conformance-*): the run's, not the team's."""


@dataclasses.dataclass(frozen=True)
class Workload:
    """One distinct workload: a controller's pod template, or a Pod no controller owns."""

    kind: str
    name: str
    """namespace/name"""
    labels: dict
    annotations: dict
    spec: dict
    pods: tuple[dict, ...] = ()
    """Its running pods (what the webhook made of the template)."""

    def __str__(self) -> str:
        return f"{self.kind} {self.name}"


@dataclasses.dataclass(frozen=True)
class Mesh:
    """What decides a workload's egress besides its own fields."""

    revision: str = "default"
    """The control plane the audit reads (its mesh config): istio.io/rev of another is elsewhere."""
    namespace_labels: dict = dataclasses.field(default_factory=dict)
    root: str = "istio-system"
    sidecars: tuple[dict, ...] = ()
    """Sidecars of the namespace and the root namespace."""
    envoy_filters: tuple[dict, ...] = ()
    """EnvoyFilters of the namespace and the root namespace."""
    network_policies: tuple[dict, ...] = ()
    policies_enforced: bool = False
    """Whether this run proved that the cluster enforces NetworkPolicy (egress-bypass's proof)."""
    mesh_policy: str = "ALLOW_ANY"


def inventory(objects: list[dict]) -> list[Workload]:
    """Distinct workloads from the namespace's Pods and controllers: a pod template once, its
    pods under it (a ReplicaSet of a Deployment, a Job of a CronJob, fold into their owner)."""
    by_uid = {(o.get("metadata") or {}).get("uid"): o for o in objects}

    def top(obj: dict) -> dict:
        for ref in obj["metadata"].get("ownerReferences") or []:
            owner = by_uid.get(ref.get("uid"))
            if owner is not None and ref.get("controller", True):
                return top(owner)
        return obj

    found: dict[str, dict] = {}
    pods: dict[str, list[dict]] = {}
    for obj in objects:
        owner = top(obj)
        key = f"{owner['kind']}/{owner['metadata']['name']}"
        found[key] = owner
        if obj["kind"] == "Pod":
            pods.setdefault(key, []).append(obj)
    workloads = [_workload(owner, tuple(pods.get(key, ()))) for key, owner in sorted(found.items())]
    return [w for w in workloads if not (w.labels.get("app") or "").startswith(OWN_PREFIX)]


def _workload(obj: dict, pods: tuple[dict, ...]) -> Workload:
    meta = obj["metadata"]
    template = _template(obj)
    tmeta = template.get("metadata") or {}
    return Workload(obj["kind"], f"{meta.get('namespace')}/{meta['name']}", tmeta.get("labels") or {},
                    tmeta.get("annotations") or {}, template.get("spec") or {}, pods)


def _template(obj: dict) -> dict:
    spec = obj.get("spec") or {}
    if obj["kind"] == "Pod":
        return {"metadata": obj["metadata"], "spec": spec}
    if obj["kind"] == "CronJob":
        return ((spec.get("jobTemplate") or {}).get("spec") or {}).get("template") or {}
    return spec.get("template") or {}


def own_config(w: Workload, mesh: Mesh) -> tuple[str, ...]:
    """The Sidecars and EnvoyFilters that select this workload alone (workloadSelector): what makes
    its sidecar's config differ from the probe's. Workloads with the same tuple share one config."""
    namespace = w.name.split("/")[0]
    return tuple(f"{kind} {_name(o)}" for kind, objects in (("Sidecar", mesh.sidecars),
                                                          ("EnvoyFilter", mesh.envoy_filters))
                 for o in objects if o["metadata"]["namespace"] in (namespace, mesh.root) and _selects(o, w.labels))


def meshed_pod(w: Workload) -> str | None:
    """A running pod of the workload with its sidecar, whose own config can be read; None without one."""
    for pod in w.pods:
        names = [c.get("name") for c in (pod.get("spec") or {}).get("containers") or []]
        names += [c.get("name") for c in (pod.get("spec") or {}).get("initContainers") or []]
        if PROXY in names and (pod.get("status") or {}).get("phase") == "Running":
            return pod["metadata"]["name"]
    return None


def findings(workloads: list[Workload], mesh: Mesh, walked: frozenset[str] = frozenset()
             ) -> tuple[list[str], list[str]]:
    """(findings, covered): each path around a workload's sidecar, in words naming the workload and
    the field; those an enforced NetworkPolicy blocks are covered instead, naming the policy.
    ``walked``: workloads whose own sidecar the audit walked (their EnvoyFilters are judged there)."""
    found, covered = [], []
    for workload in workloads:
        for path, policy_can_block in _paths_around(workload, mesh, workload.name in walked):
            blocker = _blocking_policy(workload, mesh.network_policies) if policy_can_block else None
            if blocker and mesh.policies_enforced:
                covered.append(f"{workload}: {path}: covered by NetworkPolicy {blocker}")
            elif blocker:
                found.append(f"{workload}: {path} (NetworkPolicy {blocker} would block it, but {UNPROVEN})")
            else:
                found.append(f"{workload}: {path}")
    return found, covered


def _paths_around(w: Workload, mesh: Mesh, walked: bool = False):
    """(the path in words, whether a NetworkPolicy can block it) for each way around the sidecar."""
    inject = w.annotations.get("sidecar.istio.io/inject", w.labels.get("sidecar.istio.io/inject"))
    ambient = (w.labels.get("istio.io/dataplane-mode") or mesh.namespace_labels.get("istio.io/dataplane-mode"))
    if w.spec.get("hostNetwork"):
        yield "spec.hostNetwork: true: it sends from the node's network, where no sidecar captures anything", False
    if str(inject).lower() == "false":
        yield 'sidecar.istio.io/inject: "false": no sidecar, nothing restricts its egress', True
    elif ambient == "ambient":
        yield ("istio.io/dataplane-mode: ambient: the outbound traffic policy does not apply, ztunnel passes "
               f"unknown destinations through ({AMBIENT_ISSUE})"), True
    else:
        for pod in w.pods:
            names = [c.get("name") for c in (pod.get("spec") or {}).get("containers") or []]
            names += [c.get("name") for c in (pod.get("spec") or {}).get("initContainers") or []]
            if PROXY not in names:
                yield f"pod {pod['metadata']['name']} runs without an {PROXY} container: no sidecar", True
                break
    rev = w.labels.get("istio.io/rev")
    if rev and rev != mesh.revision:
        yield (f"istio.io/rev: {rev}: another control plane than the audited one ({mesh.revision}), with its own "
               "mesh config"), False
    yield from _capture(w)
    for container in w.spec.get("containers") or []:
        if container.get("name") == PROXY:
            continue
        context = {**(w.spec.get("securityContext") or {}), **(container.get("securityContext") or {})}
        for field in ("runAsUser", "runAsGroup"):
            if context.get(field) == PROXY_ID:
                yield (f"container {container.get('name')} {field}: {PROXY_ID}: the proxy's own id, whose traffic "
                       "the sidecar's iptables let out unredirected"), True
    yield from _selected_alone(w, mesh, walked)


def _capture(w: Workload):
    notes = {k.removeprefix(CAPTURE): v for k, v in w.annotations.items() if k.startswith(CAPTURE)}
    if notes.get("excludeOutboundPorts", "").strip():
        yield (f"{CAPTURE}excludeOutboundPorts: {notes['excludeOutboundPorts']}: these ports leave around the "
               "sidecar"), True
    if notes.get("excludeOutboundIPRanges", "").strip():
        yield (f"{CAPTURE}excludeOutboundIPRanges: {notes['excludeOutboundIPRanges']}: these addresses leave around "
               "the sidecar"), True
    ranges = notes.get("includeOutboundIPRanges")
    if ranges is not None and ranges.strip() != "*":
        ports = notes.get("includeOutboundPorts", "").strip()
        captured = f"only {ranges or 'no range'}" + (f" and ports {ports}" if ports else "")
        yield (f"{CAPTURE}includeOutboundIPRanges: {ranges!r}: {captured} captured, every other address leaves "
               "around the sidecar"), True
    elif notes.get("includeOutboundPorts", "").strip() and ranges is not None:
        yield f"{CAPTURE}includeOutboundPorts: {notes['includeOutboundPorts']}: only these ports captured", True
    mode = notes.get("interceptionMode", "")
    if mode.upper() == "NONE":
        yield f"{CAPTURE}interceptionMode: NONE: nothing is captured, every connection leaves around the sidecar", True


def _selected_alone(w: Workload, mesh: Mesh, walked: bool):
    """A Sidecar or EnvoyFilter with a workloadSelector that selects this workload: its sidecar is
    configured apart from the probe's. Istio's precedence: the namespace's Sidecar that selects the
    workload, else the namespace's without selector, else the root namespace's without selector."""
    namespace = w.name.split("/")[0]
    selecting = [s for s in mesh.sidecars if s["metadata"]["namespace"] == namespace and _selects(s, w.labels)]
    if selecting:
        sidecar = sorted(selecting, key=lambda s: s["metadata"].get("creationTimestamp") or "")[0]
        mode = ((sidecar.get("spec") or {}).get("outboundTrafficPolicy") or {}).get("mode") or mesh.mesh_policy
        if mode != "REGISTRY_ONLY":
            source = "" if ((sidecar.get("spec") or {}).get("outboundTrafficPolicy") or {}).get("mode") else \
                " (none set: the mesh config's)"
            yield (f"Sidecar {_name(sidecar)} selects it (workloadSelector) and sets {mode}{source}: unknown hosts "
                   "pass through its sidecar"), True
    for envoy_filter in mesh.envoy_filters:
        if not walked and _selects(envoy_filter, w.labels) and envoy_filter["metadata"]["namespace"] in (
                namespace, mesh.root):
            yield (f"EnvoyFilter {_name(envoy_filter)} selects it alone (workloadSelector): its sidecar is not the "
                   "probe's, and the audit has not walked it"), False


def _selects(obj: dict, labels: dict) -> bool:
    wanted = (((obj.get("spec") or {}).get("workloadSelector") or {}).get("labels")) or {}
    return bool(wanted) and all(labels.get(k) == v for k, v in wanted.items())


def _blocking_policy(w: Workload, policies: tuple[dict, ...]) -> str | None:
    """The NetworkPolicy that selects the workload and lets its pods send only inside the cluster
    (egress rules to pods or namespaces, none to an ipBlock or to anywhere), if one does."""
    for policy in policies:
        spec = policy.get("spec") or {}
        if "Egress" not in (spec.get("policyTypes") or []) or not _matches(spec.get("podSelector") or {}, w.labels):
            continue
        rules = spec.get("egress") or []
        if all(rule.get("to") and all("ipBlock" not in peer for peer in rule["to"]) for rule in rules):
            return _name(policy)
    return None


def _matches(selector: dict, labels: dict) -> bool:
    """A label selector (matchLabels, matchExpressions In/NotIn/Exists/DoesNotExist) against labels."""
    if any(labels.get(k) != v for k, v in (selector.get("matchLabels") or {}).items()):
        return False
    for expression in selector.get("matchExpressions") or []:
        key, operator, values = expression["key"], expression["operator"], expression.get("values") or []
        if (operator == "In" and labels.get(key) not in values) or (operator == "NotIn" and labels.get(key) in values) \
                or (operator == "Exists" and key not in labels) or (operator == "DoesNotExist" and key in labels):
            return False
    return True


def _name(obj: dict) -> str:
    return f"{obj['metadata']['namespace']}/{obj['metadata']['name']}"
