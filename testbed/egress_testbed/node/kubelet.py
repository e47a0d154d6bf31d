"""The kubelet: cgroup v1 with the cgroupfs driver under its own cgroup parent, and the
settings this VM needs (no CAP_SYS_RESOURCE, so no lowered OOM scores; no iptables
chains of its own; its root, pod logs and certificates under the node's dirs)."""

import json
import pathlib
import urllib.request

from egress_testbed.node import builds, certs, daemons, layout

READY_TIMEOUT_SECONDS = 90.0

ROOT = layout.STATE / "kubelet"
CGROUP_ROOT = pathlib.Path("/sys/fs/cgroup")


def config(ca_file: str) -> dict:
    """KubeletConfiguration (kubelet.config.k8s.io/v1beta1); JSON is valid YAML for --config."""
    return {
        "apiVersion": "kubelet.config.k8s.io/v1beta1",
        "kind": "KubeletConfiguration",
        # cgroup v1 hybrid host: allowed explicitly (kubelet refuses v1 by default since 1.35).
        "failCgroupV1": False,
        "cgroupDriver": "cgroupfs",
        "cgroupRoot": f"/{layout.NAME}",
        "containerRuntimeEndpoint": f"unix://{layout.CONTAINERD_SOCKET}",
        "address": layout.NODE_IP,
        "port": layout.KUBELET_PORT,
        "readOnlyPort": 0,
        "healthzBindAddress": layout.NODE_IP,
        "healthzPort": layout.KUBELET_HEALTHZ_PORT,
        "authentication": {"anonymous": {"enabled": False}, "webhook": {"enabled": False},
                           "x509": {"clientCAFile": ca_file}},
        # Only the API server holds a client certificate of the node's CA.
        "authorization": {"mode": "AlwaysAllow"},
        "clusterDNS": [layout.DNS_SERVICE_IP],
        "clusterDomain": layout.CLUSTER_DOMAIN,
        "resolvConf": "",
        "podLogsDir": str(layout.POD_LOGS),
        # Lowering an OOM score needs CAP_SYS_RESOURCE, which this VM lacks.
        "oomScoreAdj": 0,
        "makeIPTablesUtilChains": False,
        "failSwapOn": False,
        "protectKernelDefaults": False,
        # A test node on a shared disk: never evict the suite's pods for disk or memory pressure.
        "evictionHard": {"memory.available": "1Mi", "nodefs.available": "1%", "imagefs.available": "1%",
                         "nodefs.inodesFree": "1%"},
        "imageGCHighThresholdPercent": 100,
        "imageGCLowThresholdPercent": 99,
        "serializeImagePulls": False,
        "rotateCertificates": False,
        "staticPodPath": "",
    }


def ensure_cgroup_parent() -> None:
    """The kubelet's cgroupRoot must exist in every v1 hierarchy; the unified one (empty here)
    is left alone. A new cpuset cgroup starts with no CPUs or memory nodes: copy the parent's."""
    for hierarchy in CGROUP_ROOT.iterdir():
        if hierarchy.name == "unified" or not (hierarchy / "cgroup.procs").exists():
            continue
        parent = hierarchy / layout.NAME
        parent.mkdir(exist_ok=True)
        for name in ("cpuset.cpus", "cpuset.mems"):
            if (parent / name).exists() and not (parent / name).read_text().strip():
                (parent / name).write_text((hierarchy / name).read_text())


def start(binaries: builds.NodeBinaries, pki: certs.Certs) -> None:
    """Start the kubelet unless it runs; wait until its healthz answers."""
    if daemons.pid("kubelet") is not None:
        return
    ROOT.mkdir(parents=True, exist_ok=True)
    ensure_cgroup_parent()
    conf = layout.STATE / "kubelet-config.json"
    conf.write_text(json.dumps(config(str(pki.ca.cert)), indent=2))
    kubeconfig = certs.write_kubeconfig(layout.STATE / "kubelet.kubeconfig", pki.ca, pki.kubelet)
    daemons.start("kubelet", [
        str(binaries.binary("kubelet")), f"--config={conf}", f"--kubeconfig={kubeconfig}",
        f"--hostname-override={layout.NAME}", f"--node-ip={layout.NODE_IP}", f"--root-dir={ROOT}",
    ], env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin"})
    daemons.wait_ready("kubelet", _healthy, timeout=READY_TIMEOUT_SECONDS, what="GET /healthz")


def _healthy() -> bool:
    url = f"http://{layout.NODE_IP}:{layout.KUBELET_HEALTHZ_PORT}/healthz"
    with urllib.request.urlopen(url, timeout=2) as response:
        return response.status == 200


