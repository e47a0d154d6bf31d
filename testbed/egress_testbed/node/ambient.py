"""Ambient mode added to (and removed from) the running node: ``ci/node ambient up|down``.

``up`` adds only what is missing and is undone by ``down`` exactly:
- the images ztunnel and install-cni (built here: images/ambient.py), imported into containerd;
- istioctl's Cni and Ztunnel components, rendered by the node's own istioctl with the flags the
  node's install used plus ambient's (``manifest generate``, then only those components applied);
- ``PILOT_ENABLE_AMBIENT=true`` on istiod (istiod restarts once; CA_TRUSTED_NODE_ACCOUNTS,
  which lets ztunnel ask for other pods' certificates, is in istiod's chart already);
- istio-cni chains its plugin onto the node's CNI conflist, which every new pod goes through:
  ``up`` saves the conflist directory first and proves a plain pod still starts; ``down`` (and a
  failed ``up``) restores the directory byte for byte.

Not the ambient profile: it also sets ISTIO_META_ENABLE_HBONE on every sidecar and a distroless
image variant, which would change the other sidecar namespaces' proxies on a shared node; egress
from an ambient pod needs neither. Nothing runs privileged (this machine's runc cannot start a
privileged container): the charts' own explicit capabilities are kept as rendered.
"""

import json
import pathlib
import subprocess
import time

import yaml
from kubernetes import client
from kubernetes.client.rest import ApiException

from egress_conformance import versions
from egress_conformance.cluster import kube, ztunnel
from egress_testbed import images
from egress_testbed.images import ambient as ambient_images
from egress_testbed.install.errors import InstallError
from egress_testbed.node import ambient_host, builds, istio, layout, runtime
from egress_testbed.node.errors import NodeError

NAMESPACE = "istio-system"
FIELD_MANAGER = "egress-node-ambient"
BACKUP = layout.STATE / "ambient" / "cni-conf-before.json"
"""The CNI config directory as it was before ``up`` ({file name: text}): ``down`` restores it."""
CHECK_NAMESPACE = "egress-node-ambient-check"
ROLLOUT_TIMEOUT_SECONDS = 240.0
POD_TIMEOUT_SECONDS = 120.0

AMBIENT_SETS = (
    "components.cni.enabled=true",
    "components.ztunnel.enabled=true",
    "values.cni.ambient.enabled=true",
    "values.pilot.env.PILOT_ENABLE_AMBIENT=true",
    # The node's CNI layout (runtime.py): Debian's plugin directory, the node's own config directory.
    f"values.cni.cniBinDir={builds.CNI_BIN}",
    f"values.cni.cniConfDir={layout.CNI_CONF_DIR}",
    f"values.cni.cniNetnsDir={ambient_host.NETNS_DIR}",
    # Small requests on a 2-core machine shared with other runs.
    "values.cni.resources.requests.cpu=10m",
    "values.cni.resources.requests.memory=40Mi",
    "values.ztunnel.resources.requests.cpu=10m",
    "values.ztunnel.resources.requests.memory=64Mi",
)
"""istioctl --set flags added to the node's install flags (istio.install_flags)."""


def render(release: versions.IstioRelease) -> list[dict]:
    """The Cni and Ztunnel components' objects, as the node's istioctl renders them."""
    flags = istio.install_flags(None, release)
    args = ["manifest", "generate", *flags[2:]]  # install_flags starts with "install -y"
    for switch in AMBIENT_SETS:
        args += ["--set", switch]
    result = subprocess.run([str(istio.istioctl(release)), *args], capture_output=True, text=True, timeout=300)
    if result.returncode != 0:
        raise NodeError(f"istioctl manifest generate failed: {result.stderr.strip()[-300:]}")
    return select(list(yaml.safe_load_all(result.stdout)))


def select(documents: list[dict | None]) -> list[dict]:
    """Only ambient's node components (pure): istioctl labels Cni's objects with their component;
    ztunnel's chart labels its own with app.kubernetes.io/name. The CNI DaemonSet gets the node's
    netns directory at the same path under /host, where the agent opens it (pod_cache.go)."""
    chosen = []
    for doc in documents:
        if not doc:
            continue
        labels = doc.get("metadata", {}).get("labels") or {}
        if labels.get("operator.istio.io/component") in ("Cni", "Ztunnel") or \
                labels.get("app.kubernetes.io/name") == "ztunnel":
            chosen.append(doc)
    for doc in chosen:
        if doc["kind"] == "DaemonSet" and doc["metadata"]["name"] == "istio-cni-node":
            pod = doc["spec"]["template"]["spec"]
            # The agent in the host's network namespace itself, as the chart's
            # ambient.shareHostNetworkNamespace does (istioctl's schema lacks that value): by default it
            # enters the host's through /proc/1/ns/net, which this machine's pid 1 (its VM agent) refuses
            # even to root.
            pod.update(hostNetwork=True, dnsPolicy="ClusterFirstWithHostNet")
            for volume in pod["volumes"]:
                if volume["name"] == "cni-host-procfs":
                    volume["hostPath"]["path"] = str(ambient_host.PROC_DIR)
            for container in pod["containers"]:
                container["env"] = [e for e in container.get("env", []) if e["name"] != "ALLOW_SWITCH_TO_HOST_NS"]
                # The host's rules with the host's own backend (nft); detection picked legacy here.
                container["env"].append({"name": "FORCE_IPTABLES_BINARY", "value": "nft"})
                for mount in container.get("volumeMounts", []):
                    if mount["name"] == "cni-netns-dir":
                        mount["mountPath"] = f"/host{ambient_host.NETNS_DIR}"
    return chosen


def up(kubeconfig: pathlib.Path = layout.KUBECONFIG, say=print) -> None:
    """Add ambient mode to the running node (what is there already is kept), then prove it."""
    release = versions.istio()
    binaries = builds.cached()
    if binaries is None or not kubeconfig.exists():
        raise NodeError("the node is not up: run `ci/node up` first")
    try:
        archives = ambient_images.build_all(release)
    except InstallError as err:
        raise NodeError(str(err)) from None
    runtime.import_images(binaries, archives)
    objects = render(release)
    api = kube.connect(kubeconfig)
    ambient_host.share_netns_dir()
    ambient_host.host_proc()
    save_cni_conf()
    try:
        _set_istiod_ambient(api, True)
        say("istiod: PILOT_ENABLE_AMBIENT=true, rolled out")
        for obj in objects:
            kube.resource(api, obj).server_side_apply(body=obj, name=obj["metadata"]["name"],
                                                      namespace=obj["metadata"].get("namespace"),
                                                      field_manager=FIELD_MANAGER, force_conflicts=True)
        for name in ("istio-cni-node", "ztunnel"):
            _wait_daemonset(api, name)
            say(f"DaemonSet {NAMESPACE}/{name} ready")
        _wait_chained()
        say(f"istio-cni chained onto {layout.CNI_CONF_DIR}")
        _check_pods(api, say)
    except (NodeError, ApiException, TimeoutError) as err:
        say(f"ambient up failed ({err}); removing what it added")
        down(kubeconfig, say)
        raise


def down(kubeconfig: pathlib.Path = layout.KUBECONFIG, say=print) -> None:
    """Remove ambient mode from the node: every object, istiod's switch, the CNI config as it was."""
    api = kube.connect(kubeconfig)
    core = client.CoreV1Api(api)
    _delete_namespace(core, CHECK_NAMESPACE)
    objects = render(versions.istio())
    # The DaemonSets first: install-cni removes its plugin from the conflist as it stops.
    for obj in sorted(objects, key=lambda o: o["kind"] != "DaemonSet"):
        kube.delete_and_wait(api, obj, timeout=ROLLOUT_TIMEOUT_SECONDS)
    # A DaemonSet is gone from the API before its pods are: the agent still holds its host rules.
    _wait_pods_gone(core, ("k8s-app=istio-cni-node", "app=ztunnel"))
    restore_cni_conf()
    _set_istiod_ambient(api, False)
    ambient_host.clear()
    say("ambient components removed; CNI config restored; istiod without PILOT_ENABLE_AMBIENT")


def _wait_pods_gone(core: client.CoreV1Api, selectors: tuple[str, ...]) -> None:
    deadline = time.monotonic() + ROLLOUT_TIMEOUT_SECONDS
    while any(core.list_namespaced_pod(NAMESPACE, label_selector=s).items for s in selectors):
        if time.monotonic() > deadline:
            raise NodeError(f"pods of {', '.join(selectors)} still in {NAMESPACE} {ROLLOUT_TIMEOUT_SECONDS:.0f}s after "
                            "their DaemonSets were deleted; run `ci/node ambient down` again")
        time.sleep(1)


def save_cni_conf() -> None:
    """Record the CNI config directory unless a record exists (a second ``up`` keeps the first)."""
    if BACKUP.exists():
        return
    BACKUP.parent.mkdir(parents=True, exist_ok=True)
    files = {p.name: p.read_text() for p in sorted(layout.CNI_CONF_DIR.iterdir()) if p.is_file()}
    BACKUP.write_text(json.dumps(files))


def restore_cni_conf() -> None:
    """Put the CNI config directory back as recorded: changed files rewritten, added ones removed."""
    if not BACKUP.exists():
        return
    files = json.loads(BACKUP.read_text())
    for path in layout.CNI_CONF_DIR.iterdir():
        if path.name not in files:
            path.unlink()
    for name, text in files.items():
        target = layout.CNI_CONF_DIR / name
        if not target.exists() or target.read_text() != text:
            target.write_text(text)
    BACKUP.unlink()


def _set_istiod_ambient(api: client.ApiClient, enabled: bool) -> None:
    apps = client.AppsV1Api(api)
    deployment = apps.read_namespaced_deployment("istiod", NAMESPACE)
    container = deployment.spec.template.spec.containers[0]
    env = container.env or []
    index = next((i for i, e in enumerate(env) if e.name == "PILOT_ENABLE_AMBIENT"), None)
    if enabled and index is None:
        apps.patch_namespaced_deployment("istiod", NAMESPACE, {"spec": {"template": {"spec": {"containers": [
            {"name": container.name, "env": [{"name": "PILOT_ENABLE_AMBIENT", "value": "true"}]}]}}}})
    elif not enabled and index is not None:
        apps.patch_namespaced_deployment("istiod", NAMESPACE, {"spec": {"template": {"spec": {"containers": [
            {"name": container.name, "env": [{"name": "PILOT_ENABLE_AMBIENT", "$patch": "delete"}]}]}}}})
    _wait_rollout(apps)


def _wait_rollout(apps: client.AppsV1Api) -> None:
    deadline = time.monotonic() + ROLLOUT_TIMEOUT_SECONDS
    while True:
        d = apps.read_namespaced_deployment("istiod", NAMESPACE)
        s = d.status
        if (s.observed_generation or 0) >= d.metadata.generation and s.updated_replicas == d.spec.replicas \
                and s.available_replicas == d.spec.replicas and (s.replicas or 0) == d.spec.replicas:
            return
        if time.monotonic() > deadline:
            raise NodeError(f"istiod did not roll out in {ROLLOUT_TIMEOUT_SECONDS:.0f}s (status {s.to_dict()}); "
                            "see `kubectl -n istio-system describe deploy istiod`")
        time.sleep(1)


def _wait_daemonset(api: client.ApiClient, name: str) -> None:
    apps = client.AppsV1Api(api)
    deadline = time.monotonic() + ROLLOUT_TIMEOUT_SECONDS
    while True:
        d = apps.read_namespaced_daemon_set(name, NAMESPACE)
        s = d.status
        if (s.observed_generation or 0) >= d.metadata.generation and s.desired_number_scheduled \
                and s.number_ready == s.desired_number_scheduled and s.updated_number_scheduled == s.number_ready:
            return
        if time.monotonic() > deadline:
            raise NodeError(f"DaemonSet {NAMESPACE}/{name} not ready after {ROLLOUT_TIMEOUT_SECONDS:.0f}s: "
                            f"{_pod_states(client.CoreV1Api(api), name)}")
        time.sleep(1)


def _pod_states(core: client.CoreV1Api, name: str) -> str:
    pods = core.list_namespaced_pod(NAMESPACE, label_selector=f"k8s-app={name}" if name == "istio-cni-node"
                                    else f"app={name}").items
    parts = []
    for pod in pods:
        for status in pod.status.container_statuses or []:
            state = status.state.waiting or status.state.terminated
            parts.append(f"{pod.metadata.name}/{status.name}: ready={status.ready}"
                         + (f" {state.reason}: {(state.message or '')[:200]}" if state else ""))
    return "; ".join(parts) or "no pods"


def _wait_chained() -> None:
    deadline = time.monotonic() + POD_TIMEOUT_SECONDS
    conflist = layout.CNI_CONF_DIR / "10-egress-node.conflist"
    while '"istio-cni"' not in conflist.read_text():
        if time.monotonic() > deadline:
            raise NodeError(f"istio-cni did not chain its plugin onto {conflist}; see the istio-cni-node pod's log")
        time.sleep(1)


def _check_pods(api: client.ApiClient, say) -> None:
    """A plain pod still starts after the chaining; a pod of an ambient namespace is enrolled."""
    core = client.CoreV1Api(api)
    _delete_namespace(core, CHECK_NAMESPACE)
    core.create_namespace({"metadata": {"name": CHECK_NAMESPACE}})
    try:
        for name, labels in (("plain", {}), ("enrolled", {"istio.io/dataplane-mode": "ambient"})):
            core.create_namespaced_pod(CHECK_NAMESPACE, {"metadata": {"name": name, "labels": labels}, "spec": {
                "containers": [{"name": "app", "image": images.NAMES["pause"]}],
                "terminationGracePeriodSeconds": 0}})
            _wait_running(core, name)
            say(f"pod {CHECK_NAMESPACE}/{name} ({labels or 'not ambient'}) Running")
        _wait_enrolled(api, "enrolled")
        say(f"pod {CHECK_NAMESPACE}/enrolled enrolled: istio-cni redirected it, ztunnel lists it as HBONE")
    finally:
        _delete_namespace(core, CHECK_NAMESPACE)


def _wait_running(core: client.CoreV1Api, name: str) -> None:
    deadline = time.monotonic() + POD_TIMEOUT_SECONDS
    while True:
        pod = core.read_namespaced_pod(name, CHECK_NAMESPACE)
        if pod.status.phase == "Running":
            return
        if time.monotonic() > deadline:
            events = core.list_namespaced_event(CHECK_NAMESPACE, field_selector=f"involvedObject.name={name}").items
            raise NodeError(f"pod {CHECK_NAMESPACE}/{name} not Running after {POD_TIMEOUT_SECONDS:.0f}s: "
                            f"{' | '.join(e.message or '' for e in events[-3:])}")
        time.sleep(1)


def _wait_enrolled(api: client.ApiClient, name: str) -> None:
    deadline = time.monotonic() + POD_TIMEOUT_SECONDS
    where = ztunnel.find(api)
    while where is None or (missing := ztunnel.enrolled(api, CHECK_NAMESPACE, name, where)) is not None:
        if time.monotonic() > deadline:
            raise NodeError(f"pod {CHECK_NAMESPACE}/{name} not enrolled after {POD_TIMEOUT_SECONDS:.0f}s: "
                            f"{missing if where else 'no ztunnel pod runs'}; see the istio-cni-node and ztunnel logs")
        time.sleep(1)
        where = where or ztunnel.find(api)


def _delete_namespace(core: client.CoreV1Api, name: str) -> None:
    try:
        core.delete_namespace(name)
    except ApiException as err:
        if err.status == 404:
            return
        raise
    deadline = time.monotonic() + POD_TIMEOUT_SECONDS
    while True:
        try:
            core.read_namespace(name)
        except ApiException as err:
            if err.status == 404:
                return
            raise
        if time.monotonic() > deadline:
            raise NodeError(f"namespace {name} still there {POD_TIMEOUT_SECONDS:.0f}s after its deletion")
        time.sleep(1)
