"""The Gateway API on the node, as users install it: the standard channel of
sigs.k8s.io/gateway-api (its CRDs and the safe-upgrades admission policy, the files its
kustomization lists) at versions.GATEWAY_API, from the Go module proxy, cached by version.
Installed before Istio so that istiod starts with them (it would also pick them up later);
then istiod's gateway controller must accept its GatewayClass ``istio``. Idempotent: an
object already at the pinned bundle version is left alone, another version is replaced.
``ci/node down`` removes them with the cluster's etcd."""

import pathlib
import shutil

import yaml
from kubernetes import client

from egress_conformance import timing, versions, waits
from egress_conformance.cluster import gatewayclass, kube
from egress_testbed.install import cache, gobuild
from egress_testbed.install.errors import InstallError
from egress_testbed.node.errors import NodeError

MODULE = "sigs.k8s.io/gateway-api"
BUNDLE_VERSION = "gateway.networking.k8s.io/bundle-version"
CLASS = gatewayclass.ISTIO_CLASS

READY_TIMING = timing.Timing(convergence_timeout=120.0)
"""CRDs are established within a second; istiod creates its GatewayClass once it runs."""


def manifests(version: str = versions.GATEWAY_API) -> list[pathlib.Path]:
    """The standard channel's files, copied once from the module into the cache entry
    gateway-api-<version> (the module proxy is asked only the first time)."""
    entry = cache.entry("gateway-api", version)
    if not cache.is_complete(entry):
        try:
            crd = gobuild.download_module(MODULE, version) / "config" / "crd"
        except InstallError as err:
            raise NodeError(str(err)) from None
        listed = yaml.safe_load((crd / "kustomization.yaml").read_text())["resources"]
        cache.begin(entry)
        for name in listed:
            if name.startswith("standard/"):
                shutil.copyfile(crd / name, entry / pathlib.PurePath(name).name)
        cache.finish(entry)
    return sorted(entry.glob("*.yaml"))


def objects(version: str = versions.GATEWAY_API) -> list[dict]:
    """Every object of the standard channel (CRDs, then the admission policy: file-name order)."""
    return [obj for path in manifests(version) for obj in yaml.safe_load_all(path.read_text()) if obj]


def install(kubeconfig: pathlib.Path, version: str = versions.GATEWAY_API) -> list[str]:
    """Create (or bring to ``version``) every object, then wait until each CRD is established;
    return a line per object saying what was done."""
    api = kube.connect(kubeconfig)
    done = [_ensure(api, obj) for obj in objects(version)]
    crds = [obj["metadata"]["name"] for obj in objects(version) if obj["kind"] == "CustomResourceDefinition"]
    _wait(lambda: _not_established(api, crds), f"{len(crds)} Gateway API CRDs established")
    return done


def wait_for_class(kubeconfig: pathlib.Path) -> None:
    """Return once istiod's gateway controller has accepted GatewayClass ``istio``."""
    api = kube.connect(kubeconfig)
    _wait(lambda: class_not_accepted(api), f"GatewayClass {CLASS} accepted by istiod")


def class_not_accepted(api: client.ApiClient) -> str | None:
    """None when GatewayClass ``istio`` exists and is Accepted, else what was found instead."""
    try:
        accepted, said = gatewayclass.istio_class(api)
    except client.ApiException as err:
        return f"GatewayClass not readable: HTTP {err.status} {err.reason}"
    return None if accepted else said


def _ensure(api: client.ApiClient, obj: dict) -> str:
    what = f"{obj['kind']} {obj['metadata']['name']}"
    wanted = obj["metadata"].get("annotations", {}).get(BUNDLE_VERSION)
    live = kube.get(api, obj)
    if live is None:
        kube.create(api, obj)
        return f"{what}: created ({wanted})"
    found = (live["metadata"].get("annotations") or {}).get(BUNDLE_VERSION)
    if found == wanted:
        return f"{what}: at {wanted} already"
    obj = {**obj, "metadata": {**obj["metadata"], "resourceVersion": live["metadata"]["resourceVersion"]}}
    kube.resource(api, obj).replace(body=obj)
    return f"{what}: replaced ({found} -> {wanted})"


def _not_established(api: client.ApiClient, names: list[str]) -> str | None:
    extensions = client.ApiextensionsV1Api(api)
    for name in names:
        conditions = extensions.read_custom_resource_definition(name).status.conditions or []
        if not any(c.type == "Established" and c.status == "True" for c in conditions):
            return f"CRD {name} not established yet"
    return None


def _wait(reason, what: str) -> None:
    try:
        waits.until_consistent(reason, lambda found: found, READY_TIMING, what=what)
    except waits.NotConverged as err:
        raise NodeError(f"{what}: not after {err.elapsed:.0f}s; last: {err.reason}") from None
