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
import os
import pathlib
import signal
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
from egress_testbed.node import builds, istio, layout, runtime
from egress_testbed.node.errors import NodeError

NAMESPACE = "istio-system"
FIELD_MANAGER = "egress-node-ambient"
BACKUP = layout.STATE / "ambient" / "cni-conf-before.json"
"""The CNI config directory as it was before ``up`` ({file name: text}): ``down`` restores it."""
NETNS_DIR = layout.RUN / "containerd" / "io.containerd.grpc.v1.cri" / "netns"
"""Where the node's containerd keeps pod network namespaces (netns_mounts_under_state_dir)."""
MADE_SHARED = layout.STATE / "ambient" / "made-shared"
"""The mount point ``up`` made shared (see share_netns_dir), for ``down`` to make private again."""
PROC_DIR = layout.RUN / "ambient" / "proc"
"""The /proc the CNI agent reads (see host_proc)."""
PROC_HOLDER = layout.RUN / "ambient" / "proc-holder.pid"
HOST_CHAIN = "ISTIO_POSTRT"
HOST_IPSETS = ("istio-inpod-probes-v4", "istio-inpod-probes-v6")
"""The host's nat chain and ipsets the CNI agent makes (its node-probe SNAT): removed by ``down``
when the agent did not remove them itself (it does as its DaemonSet goes, not when it crashes)."""
IPTABLES = ("iptables-nft", "ip6tables-nft", "iptables-legacy", "ip6tables-legacy")
HOST_LEFTOVERS = (builds.CNI_BIN / "istio-cni", pathlib.Path("/var/run/ztunnel"), pathlib.Path("/var/run/istio-cni"))
"""What istio-cni and ztunnel leave on the host: the plugin binary and their socket directories."""
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
    f"values.cni.cniNetnsDir={NETNS_DIR}",
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
                    volume["hostPath"]["path"] = str(PROC_DIR)
            for container in pod["containers"]:
                container["env"] = [e for e in container.get("env", []) if e["name"] != "ALLOW_SWITCH_TO_HOST_NS"]
                # The host's rules with the host's own backend (nft); detection picked legacy here.
                container["env"].append({"name": "FORCE_IPTABLES_BINARY", "value": "nft"})
                for mount in container.get("volumeMounts", []):
                    if mount["name"] == "cni-netns-dir":
                        mount["mountPath"] = f"/host{NETNS_DIR}"
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
    share_netns_dir()
    host_proc()
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
    restore_cni_conf()
    _set_istiod_ambient(api, False)
    for path in HOST_LEFTOVERS:
        subprocess.run(["rm", "-rf", "--one-file-system", str(path)], check=False)
    _remove_host_rules()
    _stop_host_proc()
    _unshare_netns_dir()
    say("ambient components removed; CNI config restored; istiod without PILOT_ENABLE_AMBIENT")


def host_proc() -> None:
    """A /proc for the CNI agent whose pid 1 is a process in the host's network namespace.

    The agent finds the host's netns as its /host/proc's pid 1 (statHostNetns in istio/istio
    cni/pkg/nodeagent/podcgroupns_linux.go). This machine's pid 1 (the VM's agent) refuses access to
    its namespaces even to root ("stat 1/ns/net: permission denied"), so the agent gets the procfs of
    a pid namespace of its own, where pid 1 is a ``sleep`` in the host's netns. That view holds no
    pod processes: the agent then learns each new pod from the CNI plugin (which names its netns
    path), as it does for every pod made after it starts; pods that exist before are not enrolled."""
    if PROC_HOLDER.exists() and pathlib.Path(f"/proc/{PROC_HOLDER.read_text().strip()}").exists():
        return
    PROC_DIR.mkdir(parents=True, exist_ok=True)
    holder = subprocess.Popen(["unshare", "--pid", "--fork", "--kill-child", "sleep", "infinity"],
                              start_new_session=True, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    PROC_HOLDER.write_text(f"{holder.pid}\n")
    children = pathlib.Path(f"/proc/{holder.pid}/task/{holder.pid}/children")
    deadline = time.monotonic() + 10
    while not children.read_text().split():
        if time.monotonic() > deadline:
            raise NodeError("unshare --pid --fork started no child in 10s")
        time.sleep(0.05)
    inner = children.read_text().split()[0]
    result = subprocess.run(["nsenter", "-t", inner, "-p", "mount", "-t", "proc", "proc", str(PROC_DIR)],
                            capture_output=True, text=True)
    if result.returncode != 0:
        raise NodeError(f"mounting the CNI agent's /proc failed: {result.stderr.strip()}")


def _stop_host_proc() -> None:
    subprocess.run(["umount", str(PROC_DIR)], capture_output=True)
    if PROC_HOLDER.exists():
        pid = int(PROC_HOLDER.read_text().strip())
        try:  # only our holder (a recycled pid is left alone)
            if pathlib.Path(f"/proc/{pid}/cmdline").read_bytes().startswith(b"unshare"):
                os.kill(pid, signal.SIGTERM)
        except (FileNotFoundError, ProcessLookupError):
            pass
        PROC_HOLDER.unlink()
    subprocess.run(["rm", "-rf", "--one-file-system", str(PROC_DIR.parent)], check=False)


def _remove_host_rules() -> None:
    for binary in IPTABLES:
        while subprocess.run([binary, "-t", "nat", "-D", "POSTROUTING", "-j", HOST_CHAIN],
                             capture_output=True).returncode == 0:
            pass
        subprocess.run([binary, "-t", "nat", "-F", HOST_CHAIN], capture_output=True)
        subprocess.run([binary, "-t", "nat", "-X", HOST_CHAIN], capture_output=True)
    for name in HOST_IPSETS:
        subprocess.run(["ipset", "destroy", name], capture_output=True)


def share_netns_dir() -> None:
    """Make the mount that holds the pod netns directory shared (propagation only), unless it is.

    istio-cni's agent sees each new pod's netns through a HostToContainer mount of that directory,
    which containerd refuses from a private mount ("is not a shared or slave mount"), and this host's
    / is private (systemd hosts make it shared at boot). A bind mount of the directory onto itself
    would double every existing pod's netns mount, and containerd could then not remove those
    pods' netns ("device or resource busy": seen here); a propagation change adds no mount. ``down``
    makes the mount private again when ``up`` made it shared."""
    point = _mount_of(NETNS_DIR)
    if point is None or _shared(point):
        return
    result = subprocess.run(["mount", "--make-shared", point], capture_output=True, text=True)
    if result.returncode != 0:
        raise NodeError(f"mount --make-shared {point} failed: {result.stderr.strip()}")
    MADE_SHARED.parent.mkdir(parents=True, exist_ok=True)
    MADE_SHARED.write_text(point + "\n")


def _unshare_netns_dir() -> None:
    if MADE_SHARED.exists():
        subprocess.run(["mount", "--make-private", MADE_SHARED.read_text().strip()], capture_output=True)
        MADE_SHARED.unlink()


def _mountinfo() -> list[list[str]]:
    return [line.split(" - ")[0].split() for line in pathlib.Path("/proc/self/mountinfo").read_text().splitlines()]


def _mount_of(path: pathlib.Path) -> str | None:
    """The mount point that holds ``path`` (the longest mount point above it)."""
    points = [fields[4] for fields in _mountinfo()
              if str(path) == fields[4] or str(path).startswith(fields[4].rstrip("/") + "/")]
    return max(points, key=len, default=None)


def _shared(point: str) -> bool:
    # The last mount at a point is the one that shows.
    entries = [fields for fields in _mountinfo() if fields[4] == point]
    return bool(entries) and any(f.startswith("shared:") for f in entries[-1][6:])


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
