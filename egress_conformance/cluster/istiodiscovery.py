"""Which istiod a namespace's sidecars talk to, and so which mesh ConfigMap really counts.

A cluster may run several istiod revisions, in any namespace, with revision tags
pointing at them. The rules (istio/istio: the injection webhooks and the revision tags):
``istio-injection=enabled`` selects the default revision, i.e. the revision behind the
``default`` tag if there is one, else the revision of the untagged webhook
``istio-sidecar-injector``; ``istio.io/rev=<rev|tag>`` selects that revision. istiod of
revision R reads the ``mesh`` key of ConfigMap ``istio`` (R = default) or ``istio-R``, in
its own namespace.
"""

import dataclasses

from kubernetes import client

DEFAULT = "default"


class DiscoveryError(Exception):
    """No usable istiod for the test namespace; str(err) is one line saying what to do."""


@dataclasses.dataclass(frozen=True)
class Istiod:
    namespace: str
    deployment: str
    revision: str
    ready_replicas: int
    replicas: int


@dataclasses.dataclass(frozen=True)
class Found:
    """The istiod the test namespace's injection selects, and how to select it."""

    istiod: Istiod
    revision: str
    namespace_labels: dict[str, str]
    """Labels that make a new namespace's pods injected by this revision."""
    tags: dict[str, str]
    """Revision tag -> revision, as the cluster's tag webhooks say."""
    revisions: tuple[str, ...]

    @property
    def mesh_config_map(self) -> tuple[str, str]:
        """(namespace, name) of the ConfigMap whose ``mesh`` key this istiod reads."""
        return self.istiod.namespace, mesh_config_map_name(self.revision)


def mesh_config_map_name(revision: str) -> str:
    return "istio" if revision in ("", DEFAULT) else f"istio-{revision}"


def detect(api: client.ApiClient, wanted: str | None = None) -> Found:
    """Find istiod and the revision that ``wanted`` (a revision, a tag, or None for the
    default) selects; raise DiscoveryError when there is none or it is not ready."""
    istiods = list_istiods(api)
    if not istiods:
        raise DiscoveryError("no istiod in this cluster (no Deployment labelled app=istiod in any namespace): "
                             "install Istio, or check --kubeconfig/--context")
    by_revision = {i.revision: i for i in istiods}
    tags, untagged_default = _webhooks(api)
    revision, labels = choose(wanted, sorted(by_revision), tags, untagged_default)
    istiod = by_revision.get(revision)
    if istiod is None:
        raise DiscoveryError(f"revision {revision!r} (selected by {wanted or 'istio-injection=enabled'}) has no "
                             f"istiod Deployment; revisions here: {', '.join(sorted(by_revision))}")
    if istiod.ready_replicas < 1:
        raise DiscoveryError(f"istiod {istiod.namespace}/{istiod.deployment} is not ready ({istiod.ready_replicas}/"
                             f"{istiod.replicas} replicas): fix the control plane first")
    return Found(istiod, revision, labels, tags, tuple(sorted(by_revision)))


def choose(wanted: str | None, revisions: list[str], tags: dict[str, str],
           untagged_default: str | None) -> tuple[str, dict[str, str]]:
    """(revision, namespace labels) for ``wanted``: pure, so every rule above is unit-tested."""
    if wanted:
        if wanted in tags:
            return tags[wanted], {"istio.io/rev": wanted}
        if wanted in revisions:
            return wanted, ({"istio-injection": "enabled"} if wanted == DEFAULT and DEFAULT not in tags
                            else {"istio.io/rev": wanted})
        raise DiscoveryError(f"no Istio revision or tag {wanted!r}: revisions {', '.join(revisions) or 'none'}, "
                             f"tags {', '.join(sorted(tags)) or 'none'}")
    if DEFAULT in tags:
        return tags[DEFAULT], {"istio-injection": "enabled"}
    if untagged_default:
        return untagged_default, {"istio-injection": "enabled"}
    if len(revisions) == 1:
        only = revisions[0]
        return only, ({"istio-injection": "enabled"} if only == DEFAULT else {"istio.io/rev": only})
    raise DiscoveryError(f"several Istio revisions ({', '.join(revisions)}) and no default one: pass --revision")


def list_istiods(api: client.ApiClient) -> list[Istiod]:
    deployments = client.AppsV1Api(api).list_deployment_for_all_namespaces(label_selector="app=istiod").items
    return [Istiod(namespace=d.metadata.namespace, deployment=d.metadata.name,
                   revision=(d.metadata.labels or {}).get("istio.io/rev") or DEFAULT,
                   ready_replicas=(d.status.ready_replicas or 0), replicas=(d.spec.replicas or 0))
            for d in deployments]


def _webhooks(api: client.ApiClient) -> tuple[dict[str, str], str | None]:
    """(tag -> revision, revision of the untagged default injector or None)."""
    tags, untagged = {}, None
    for webhook in client.AdmissionregistrationV1Api(api).list_mutating_webhook_configuration().items:
        labels = webhook.metadata.labels or {}
        if "istio.io/tag" in labels:
            tags[labels["istio.io/tag"]] = labels.get("istio.io/rev") or DEFAULT
        elif webhook.metadata.name == "istio-sidecar-injector":
            untagged = labels.get("istio.io/rev") or DEFAULT
    return tags, untagged
