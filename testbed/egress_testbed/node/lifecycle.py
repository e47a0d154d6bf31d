"""``up``, ``down`` and ``status`` of the node: the order of the stages, each announced with
its duration. ``up`` is idempotent (a running node is checked, not restarted) and sweeps
what a killed run left before starting afresh."""

import contextlib
import sys
import time

from egress_conformance import versions
from egress_testbed import images
from egress_testbed.install import cache, components
from egress_testbed.node import (
    builds,
    certs,
    controlplane,
    daemons,
    dns,
    gatewayapi,
    istio,
    kubelet,
    layout,
    netpol,
    network,
    ports,
    proxy,
    runtime,
    sweep,
)
from egress_testbed.node.errors import NodeError

NODE_READY_TIMEOUT_SECONDS = 120.0
NODE_READY_CONSECUTIVE = 3
"""The node counts as Ready after this many Ready observations in a row, 0.5 s apart."""


def say(message: str) -> None:
    print(f"[node {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


@contextlib.contextmanager
def stage(title: str):
    started = time.monotonic()
    say(f"{title} ...")
    yield
    say(f"{title}: done in {time.monotonic() - started:.1f}s")


def exclusive():
    """One up or down at a time on this machine (a second one waits). The lock file lives in
    the build cache, which outlives the node by design, so it is no trace of the node."""
    return cache.locked("egress-node", "another `ci/node` holds the node")


def up(*, istio_revision: str | None = None, install_istio: bool = True) -> None:
    """Bring the node up (or check a running one), then install Istio in it."""
    started = time.monotonic()
    if _half_up():
        with stage("sweeping what an interrupted run left"):
            _raise_if_traces(sweep.down(_binaries_if_built(), say))
    ports.check_free()
    try:
        sweep.claim_kube_chains()
    except RuntimeError as err:
        raise NodeError(str(err)) from None
    with stage("components (built once, cached by version)"):
        binaries = builds.build_all()
        kubernetes_bin = components.kubernetes()
        kube_router = netpol.build()
    with stage("images (OCI archives, cached)"):
        archives = images.build_all()
    sandbox = images.NAMES["pause"]
    if sandbox not in archives:
        raise NodeError(f"image {sandbox} (pause) is missing from the built images: rebuild them and run again")
    network.record_host()
    with stage(f"network: bridge {layout.BRIDGE} {layout.NODE_IP}, FORWARD rules, CNI config"):
        network.ensure_bridge()
        network.write_cni_config()
        network.set_sysctl("net.bridge.bridge-nf-call-iptables", "1")
    pki = certs.ensure()
    with stage("containerd"):
        runtime.start(binaries, sandbox)
    with stage(f"importing {len(archives)} images"):
        runtime.import_images(binaries, archives)
    with stage("control plane: etcd, kube-apiserver, kube-controller-manager, kube-scheduler"):
        controlplane.start(kubernetes_bin, binaries.binary("kube-scheduler"), pki)
    with stage("kubelet"):
        kubelet.start(binaries, pki)
    with stage("kube-proxy"):
        proxy.start(binaries)
    api = _api()
    with stage("CoreDNS"):
        dns.start(binaries, api)
    with stage(f"node {layout.NAME} Ready"):
        _wait_node_ready(api)
    # kube-router reads its Node object at start, so it comes once the node is registered.
    with stage("NetworkPolicy: kube-router (firewall only)"):
        netpol.start(kube_router)
    # Before Istio, so that istiod starts with the Gateway API's kinds (gatewayapi.py).
    with stage(f"Gateway API {versions.GATEWAY_API}: standard CRDs"):
        for line in gatewayapi.install(layout.KUBECONFIG):
            say(f"  {line}")
    if install_istio:
        with stage("Istio"):
            istio.install(layout.KUBECONFIG, revision=istio_revision)
        with stage(f"GatewayClass {gatewayapi.CLASS} accepted by istiod"):
            gatewayapi.wait_for_class(layout.KUBECONFIG)
    say(f"node up in {time.monotonic() - started:.0f}s; kubeconfig: {layout.KUBECONFIG}")


def down() -> None:
    """Take the node down; raise NodeError listing anything that could not be removed."""
    started = time.monotonic()
    with stage("sweeping the node"):
        _raise_if_traces(sweep.down(_binaries_if_built(), say))
    say(f"node down in {time.monotonic() - started:.1f}s; no trace left")


def suite_image() -> str:
    """Build the suite's own image from this checkout (cached by its content) and import it into
    the running node (skipped when containerd holds it already); its pinned name."""
    binaries = _binaries_if_built()
    if binaries is None or daemons.pid("containerd") is None:
        raise NodeError("the node is not up: run `ci/node up` first, then import the suite's image")
    from egress_testbed.images import suite  # imported late: only this command builds it

    name, archive = suite.build()
    # Earlier checkouts' tags stay: a Job of another checkout may be about to start on one
    # (`ci/node down` removes them all).
    with stage(f"importing {name}"):
        runtime.import_images(binaries, {name: archive})
    return name


def status() -> int:
    """Print the daemons' state and any trace; 0 when the node runs whole, 3 when it is down, 1 when half."""
    names = sweep.STOP_ORDER
    running = {name: daemons.pid(name) for name in names}
    for name in reversed(names):
        pid = running[name]
        print(f"{name:24} {'running, pid %d' % pid if pid else 'not running'}")
    if all(running.values()):
        print(f"node {layout.NAME} up; kubeconfig {layout.KUBECONFIG}")
        return 0
    left = sweep.traces()
    if not left:
        print(f"node {layout.NAME} down, no trace left")
        return 3
    print(f"node {layout.NAME} half up or left over ({len(left)} traces): run `ci/node down`")
    for line in left[:20]:
        print(f"  {line}")
    return 1


def _half_up() -> bool:
    """True when a previous run left some of the node but not all of it running."""
    # kube-router is started (not swept) when it alone is missing: it came after the rest, and a
    # node brought up before it existed is whole without it.
    running = [daemons.pid(name) is not None for name in sweep.STOP_ORDER if name != netpol.NAME]
    return not all(running) and bool(sweep.traces())


def _binaries_if_built() -> builds.NodeBinaries | None:
    try:
        return builds.cached()
    except Exception:  # noqa: BLE001 - a sweep must work even when nothing was built
        return None


def _raise_if_traces(left: list[str]) -> None:
    if left:
        raise NodeError(f"{len(left)} traces of the node could not be removed, first: {left[0]}; "
                        "stop what holds them and run `ci/node down` again")


def _api():
    from kubernetes import config  # imported late: `down` and `status` work without it
    return config.new_client_from_config(config_file=str(layout.KUBECONFIG))


def _wait_node_ready(api) -> None:
    from kubernetes import client
    core = client.CoreV1Api(api)
    deadline = time.monotonic() + NODE_READY_TIMEOUT_SECONDS
    streak, last = 0, "node not registered yet"
    while streak < NODE_READY_CONSECUTIVE:
        for name in ("kubelet", "containerd"):
            if daemons.pid(name) is None:
                raise NodeError(f"{name} stopped: {daemons.why_stopped(name)} (log: {daemons.log_path(name)})")
        try:
            node = core.read_node(layout.NAME)
            ready = next((c for c in node.status.conditions or [] if c.type == "Ready"), None)
            last = f"Ready={ready.status} ({ready.reason}: {ready.message})" if ready else "no Ready condition yet"
            # A pod can be created only once its namespace's service account exists (admission
            # refuses it before): the controller-manager makes default/default a moment after start.
            accounts = {a.metadata.name for a in core.list_namespaced_service_account("default").items}
            if "default" not in accounts:
                last += "; service account default/default not created yet"
            streak = streak + 1 if ready is not None and ready.status == "True" and "default" in accounts else 0
        except client.ApiException as err:
            streak, last = 0, f"API answered {err.status} {err.reason}"
        if time.monotonic() > deadline:
            raise NodeError(f"node {layout.NAME} not Ready after {NODE_READY_TIMEOUT_SECONDS:.0f}s; last: {last}; "
                            f"kubelet log: {daemons.log_path('kubelet')}")
        if streak < NODE_READY_CONSECUTIVE:
            time.sleep(0.5)
