"""What ambient mode adds to the host itself, and its removal: the shared mount propagation, the CNI
agent's own /proc, the agent's host rules and files. No Kubernetes client here: ``ci/node down``'s
sweep removes these too (sweep.py), with or without the cluster."""

import os
import pathlib
import signal
import subprocess
import time

from egress_testbed.node import builds, layout
from egress_testbed.node.errors import NodeError

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


def stop_host_proc() -> None:
    subprocess.run(["umount", str(PROC_DIR)], capture_output=True)
    if PROC_HOLDER.exists():
        pid = int(PROC_HOLDER.read_text().strip())
        try:  # only our holder (a recycled pid is left alone)
            if pathlib.Path(f"/proc/{pid}/cmdline").read_bytes().startswith(b"unshare"):
                # unshare --fork ignores SIGTERM while it waits; its child dies with it (--kill-child)
                os.kill(pid, signal.SIGKILL)
        except (FileNotFoundError, ProcessLookupError):
            pass
        PROC_HOLDER.unlink()
    subprocess.run(["rm", "-rf", "--one-file-system", str(PROC_DIR.parent)], check=False)


def remove_host_rules() -> None:
    for binary in IPTABLES:
        while subprocess.run([binary, "-t", "nat", "-D", "POSTROUTING", "-j", HOST_CHAIN],
                             capture_output=True).returncode == 0:
            pass
        subprocess.run([binary, "-t", "nat", "-F", HOST_CHAIN], capture_output=True)
        subprocess.run([binary, "-t", "nat", "-X", HOST_CHAIN], capture_output=True)
    # The kernel drops a removed rule's reference to its set a moment later: destroy until it is gone.
    deadline = time.monotonic() + 10
    for name in HOST_IPSETS:
        while subprocess.run(["ipset", "list", "-n", name], capture_output=True).returncode == 0:
            if subprocess.run(["ipset", "destroy", name], capture_output=True).returncode == 0:
                break
            if time.monotonic() > deadline:
                raise NodeError(f"ipset {name} is still in use 10s after the agent's rules were removed: "
                                "remove what references it (ipset list) and run `ci/node ambient down` again")
            time.sleep(0.2)


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


def unshare_netns_dir() -> None:
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


def clear() -> None:
    """Remove everything of this module's from the host (each step a no-op when there is nothing)."""
    for path in HOST_LEFTOVERS:
        subprocess.run(["rm", "-rf", "--one-file-system", str(path)], check=False)
    remove_host_rules()
    stop_host_proc()
    unshare_netns_dir()
    subprocess.run(["rm", "-rf", "--one-file-system", str(MADE_SHARED.parent)], check=False)
