"""Istio installed into the node's cluster the way users install it: istioctl (built from
the istio.io/istio module at the release set-up built) with the images built here, and
only the switches that a stock Envoy needs (the same ones the local mesh uses)."""

import os
import pathlib
import subprocess
import time

from kubernetes import client
from kubernetes.client.rest import ApiException

from egress_conformance import timing, versions, waits
from egress_conformance.cluster import kube
from egress_testbed import images
from egress_testbed.install import gobuild
from egress_testbed.install.errors import InstallError
from egress_testbed.node import builds, runtime
from egress_testbed.node.errors import NodeError

ISTIOCTL_TIMEOUT_SECONDS = 600

WEBHOOK_TIMING = timing.Timing(convergence_timeout=120.0)
"""istioctl waits for istiod's Deployment; the webhook can answer a little later."""

SWITCHES = (
    # Istio-only Envoy filters that upstream Envoy 1.40 rejects (BRIEF section 3).
    "values.pilot.env.PILOT_ENABLE_METADATA_EXCHANGE=false",
    "values.pilot.env.PILOT_ENABLE_ALPN_FILTER=false",
    # No metrics providers (istio.stats) and no tracing.
    "values.telemetry.enabled=false",
    "meshConfig.enableTracing=false",
    # The images exist only in the node's containerd: never pull.
    "values.global.imagePullPolicy=IfNotPresent",
    # One small istiod on a 2-core machine.
    "values.pilot.autoscaleEnabled=false",
    "values.pilot.replicaCount=1",
    "values.pilot.resources.requests.cpu=100m",
    "values.pilot.resources.requests.memory=256Mi",
    "values.global.proxy.resources.requests.cpu=10m",
    "values.global.proxy.resources.requests.memory=40Mi",
)
"""istioctl --set flags beyond the image hub and tag."""

EGRESS_GATEWAY = (
    "components.egressGateways[0].name=istio-egressgateway",
    "components.egressGateways[0].enabled=true",
    "components.egressGateways[0].k8s.resources.requests.cpu=10m",
    "components.egressGateways[0].k8s.resources.requests.memory=40Mi",
    # Every proxy keeps the counters of its own refusals (no route, no filter chain), which Istio's
    # default stats matcher drops: "refused by the gateway" is counted from them (the suite's
    # envoy.GATEWAY_STATS_MATCHER; a platform team's gateway needs the same to be judged).
    "meshConfig.defaultConfig.proxyStatsMatcher.inclusionSuffixes[0]=no_route",
    "meshConfig.defaultConfig.proxyStatsMatcher.inclusionSuffixes[1]=no_filter_chain_match",
)
"""The default install's egress gateway (istio-system/istio-egressgateway, labelled
istio=egressgateway), as istioctl's egressGateways component installs it; a revision
installed beside it (a canary, an upgrade's other build) brings none."""


def istioctl(release: versions.IstioRelease | None = None) -> pathlib.Path:
    """The istioctl binary of ``release``. Its version is the images' tag: istioctl writes its
    own version into label values, where the '+' of the release label is not allowed."""
    release = release or versions.istio()
    tag = images.istio_tag(release)
    bin_dir = gobuild.build(
        name="istioctl",
        version=tag,
        requires={"istio.io/istio": release.module_version},
        replaces=dict(release.replaces),
        packages={"vtprotobuf,disable_pgv": ["istio.io/istio/istioctl/cmd/istioctl"]},
        ldflags=f"-X istio.io/istio/pkg/version.buildVersion={tag}",
    )
    return bin_dir / "istioctl"


def install_flags(revision: str | None, release: versions.IstioRelease) -> list[str]:
    """The istioctl install arguments: pure, unit-tested."""
    flags = ["install", "-y", "--set", "profile=minimal", "--set", f"hub={images.HUB}",
             "--set", f"tag={images.istio_tag(release)}"]
    for switch in SWITCHES:
        flags += ["--set", switch]
    if revision:
        flags += ["--set", f"revision={revision}"]
    else:
        flags += [arg for switch in EGRESS_GATEWAY for arg in ("--set", switch)]
    return flags


def install(kubeconfig: pathlib.Path, revision: str | None = None,
            release: versions.IstioRelease | None = None) -> None:
    """istioctl install into the cluster (istioctl waits for istiod to be ready), then wait
    until the revision's injection webhook injects a sidecar."""
    release = release or versions.istio()
    _ensure_images(release)
    _istioctl(kubeconfig, release, install_flags(revision, release), f"istioctl install (revision "
              f"{revision or 'default'})")
    wait_for_injection(kubeconfig, revision)


def _ensure_images(release: versions.IstioRelease) -> None:
    """The release's images in the node's containerd: `up` imports the default release's, a
    revision of another build (an upgrade's other side) brings its own; present ones are kept."""
    binaries = builds.cached()
    if binaries is None:
        raise NodeError("the node's components are not built: run `ci/node up` first")
    try:
        archives = images.build_all(release)
    except InstallError as err:
        raise NodeError(str(err)) from None
    runtime.import_images(binaries, archives)


def probe_pod(revision: str | None) -> dict:
    """A pod that only the revision's object-selector webhook injects (istio.io/rev is
    'default' for a default install); created with dryRun, so nothing is left behind."""
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"generateName": "injection-probe-", "labels": {"istio.io/rev": revision or "default"}},
            "spec": {"containers": [{"name": "probe", "image": images.NAMES["pause"]}]}}


def injected(pod: dict) -> str | None:
    """None when the pod came back with Istio's sidecar, else what it came back with."""
    spec = pod.get("spec") or {}
    containers = [c["name"] for c in (spec.get("initContainers") or []) + (spec.get("containers") or [])]
    return None if "istio-proxy" in containers else f"no istio-proxy container (containers: {containers})"


def wait_for_injection(kubeconfig: pathlib.Path, revision: str | None) -> None:
    """Dry-run create a probe pod until several answers in a row carry a sidecar."""
    api = kube.connect(kubeconfig)
    core = client.CoreV1Api(api)

    def probe() -> dict:
        try:
            created = core.create_namespaced_pod("default", probe_pod(revision), dry_run="All")
            return api.sanitize_for_serialization(created)
        except ApiException as err:
            return {"error": f"{err.status} {err.reason}: {(err.body or '')[:300]}"}

    def check(pod: dict) -> str | None:
        return pod["error"] if "error" in pod else injected(pod)

    try:
        waits.until_consistent(probe, check, WEBHOOK_TIMING,
                               what=f"sidecar injection (revision {revision or 'default'})")
    except waits.NotConverged as err:
        raise NodeError(f"the injection webhook of revision {revision or 'default'} does not inject: "
                        f"{err.reason} (after {err.elapsed:.0f}s); see istiod's log") from None


def uninstall(kubeconfig: pathlib.Path, revision: str, release: versions.IstioRelease | None = None) -> None:
    """Remove one revision's control plane (the other revisions stay)."""
    release = release or versions.istio()
    _istioctl(kubeconfig, release, ["uninstall", "-y", "--revision", revision],
              f"istioctl uninstall --revision {revision}")


def _istioctl(kubeconfig: pathlib.Path, release: versions.IstioRelease, args: list[str], what: str) -> None:
    binary = istioctl(release)
    started = time.monotonic()
    result = subprocess.run([str(binary), *args, "--kubeconfig", str(kubeconfig)], capture_output=True, text=True,
                            timeout=ISTIOCTL_TIMEOUT_SECONDS, env=dict(os.environ, HOME=str(kubeconfig.parent)))
    if result.returncode != 0:
        lines = [line for line in (result.stdout + result.stderr).splitlines() if line.strip()]
        raise NodeError(f"{what} failed after {time.monotonic() - started:.0f}s: {' | '.join(lines[-4:])}")
