"""What a run could change on a cluster it did not create, read through the API: every
namespace, every ConfigMap's data and the run's mark on it, every Istio config object, every
Secret's name, every webhook and every Lease."""

from kubernetes import client, dynamic

from egress_conformance.cluster import meshconfig

# istiod's namespace controller writes these into every namespace some time after it appears
# (istio-ca-crl only where the CA has a revocation list); a namespace a test creates would
# otherwise show them or not depending on when the snapshot was taken. The suite never writes them.
ISTIOD_PER_NAMESPACE = frozenset({"istio-ca-root-cert", "istio-ca-crl"})

ISTIO_KINDS = (("networking.istio.io/v1", "ServiceEntry"), ("networking.istio.io/v1", "Sidecar"),
               ("networking.istio.io/v1", "Gateway"), ("networking.istio.io/v1", "VirtualService"),
               ("networking.istio.io/v1", "DestinationRule"), ("networking.istio.io/v1alpha3", "EnvoyFilter"),
               ("security.istio.io/v1", "AuthorizationPolicy"), ("telemetry.istio.io/v1", "Telemetry"))


def take(api: client.ApiClient) -> dict:
    core = client.CoreV1Api(api)
    namespaces = sorted(n.metadata.name for n in core.list_namespace().items)
    listed = [c for c in core.list_config_map_for_all_namespaces().items
              if c.metadata.name not in ISTIOD_PER_NAMESPACE]
    config_maps = {(c.metadata.namespace, c.metadata.name): (c.data or {}) for c in listed}
    marks = {(c.metadata.namespace, c.metadata.name): (c.metadata.annotations or {})[meshconfig.CHANGED_BY]
             for c in listed if meshconfig.CHANGED_BY in (c.metadata.annotations or {})}
    leases = sorted(f"{lease.metadata.namespace}/{lease.metadata.name}"
                    for lease in client.CoordinationV1Api(api).list_lease_for_all_namespaces().items)
    dyn = dynamic.DynamicClient(api)
    objects = {}
    for api_version, kind in ISTIO_KINDS:
        for item in dyn.resources.get(api_version=api_version, kind=kind).get().items:
            objects[(kind, item.metadata.namespace, item.metadata.name)] = item.to_dict().get("spec")
    secrets = sorted(f"{s.metadata.namespace}/{s.metadata.name}"
                     for s in core.list_secret_for_all_namespaces().items)
    webhooks = sorted(w.metadata.name for w in
                      client.AdmissionregistrationV1Api(api).list_mutating_webhook_configuration().items)
    return {"namespaces": namespaces, "config_maps": config_maps, "marks": marks, "istio_objects": objects,
            "secrets": secrets, "webhooks": webhooks, "leases": leases}


def differences(before: dict, after: dict) -> list[str]:
    """Human-readable differences; empty when the cluster is as it was."""
    found = []
    for key in before:
        if before[key] != after[key]:
            if isinstance(before[key], dict):
                changed = sorted({*before[key], *after[key]} - {k for k in before[key]
                                                                if before[key].get(k) == after[key].get(k)})
                found.append(f"{key}: {changed}")
            else:
                found.append(f"{key}: {sorted(set(before[key]) ^ set(after[key]))}")
    return found
