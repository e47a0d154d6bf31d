"""Take the node down and leave no trace, whatever state a run left it in (a clean ``up``,
a failed one, or one that was SIGKILLed half-way): processes, pod cgroups, mounts,
veths and bridge, iptables rules, host sysctls and directories, state dirs.

``traces()`` lists whatever is left; ``down`` is this sweep, and the integration test
asserts that ``traces()`` is empty after it.
"""

import os
import pathlib
import shlex
import shutil
import signal
import subprocess
import time

from egress_testbed.install import cache
from egress_testbed.node import ambient_host, builds, daemons, layout, netpol, network, proxy

STOP_ORDER = ("kube-router", "kube-proxy", "coredns", "kubelet", "kube-scheduler", "kube-controller-manager",
              "kube-apiserver", "etcd", "containerd")
"""kube-router first (its rules stay until the sweep removes them); the kubelet goes before
the pods' processes are killed (else it restarts them); containerd last."""

CGROUP_ROOT = pathlib.Path("/sys/fs/cgroup")
SETTLE_SECONDS = 10.0
"""How long killed processes get to disappear before their cgroups are removed."""


CLEAN_OBSERVATIONS = 3
"""After a sweep, this many trace checks in a row, CLEAN_INTERVAL_SECONDS apart, must find nothing."""
CLEAN_INTERVAL_SECONDS = 0.2
SWEEP_PASSES = 3


def down(binaries: builds.NodeBinaries | None, say=lambda message: None) -> list[str]:
    """Remove everything of the node; returns the traces that could not be removed (empty when clean).

    A process of a killed run that was being started while the sweep ran can still leave
    something behind a moment later, so the host must look clean several times in a row;
    if it does not, the sweep runs again."""
    left = []
    for _ in range(SWEEP_PASSES):
        _sweep_once(binaries)
        for _ in range(CLEAN_OBSERVATIONS):
            left = traces()
            if left:
                say(f"after a sweep, {len(left)} traces appeared again (first: {left[0]}): sweeping again")
                break
            time.sleep(CLEAN_INTERVAL_SECONDS)
        else:
            layout.OWNS_KUBE_CHAINS.unlink(missing_ok=True)  # clean: the host's KUBE- chains are no more ours
            return []
    return left


def kube_chains() -> list[str]:
    """The host's KUBE- iptables chains, as table/chain."""
    return [f"{tool}:{table}/{chain}" for tool, table, chain, _ in _kube_chains_and_jumps() if chain]


def claim_kube_chains() -> None:
    """Before the node's kubelet and kube-proxy make KUBE- chains: refuse on a host that has
    some of its own (a Kubernetes node: our kube-proxy would share them, and ``down`` would
    remove its Service routing); else mark them as the node's."""
    if layout.OWNS_KUBE_CHAINS.exists():
        return
    foreign = kube_chains()
    if foreign:
        raise RuntimeError(f"this host has KUBE- iptables chains of its own ({', '.join(foreign[:3])}"
                           f"{' and more' if len(foreign) > 3 else ''}): it is a Kubernetes node, whose Service "
                           "routing the single-node cluster's kube-proxy would share and remove; run ci/node on a "
                           "machine that is not a Kubernetes node")
    layout.OWNS_KUBE_CHAINS.parent.mkdir(parents=True, exist_ok=True)
    layout.OWNS_KUBE_CHAINS.touch()


def _sweep_once(binaries: builds.NodeBinaries | None) -> None:
    for name in STOP_ORDER:
        daemons.stop(name)
        if name == "kubelet":
            _kill_pods()
    _kill_strays()
    ambient_host.clear()  # what `ci/node ambient up` added to the host, if the node goes down with it
    if layout.OWNS_KUBE_CHAINS.exists():  # never a Kubernetes host's own chains
        proxy.cleanup(binaries)
        _remove_kube_chains()  # kube-router's chains too (KUBE-ROUTER-*, KUBE-POD-FW-*, KUBE-NWPLCY-*)
        netpol.cleanup()  # its ipsets, free once no rule names them
    network.remove_forward_rules()
    _unmount_all()
    _remove_cgroups()
    _remove_links()
    _remove_host_entries()
    network.restore_host()
    for directory in (layout.RUN, layout.STATE):
        shutil.rmtree(directory, ignore_errors=True)


def _cgroup_dirs() -> list[pathlib.Path]:
    return [d for d in CGROUP_ROOT.glob(f"*/{layout.NAME}") if d.is_dir()]


def _cgroup_tree(top: pathlib.Path) -> list[pathlib.Path]:
    """``top`` and every cgroup below it, deepest first. os.walk, not Path.rglob: containers
    dying meanwhile remove their cgroups, and rglob raises on a directory that vanished."""
    found = [pathlib.Path(root) for root, _, _ in os.walk(top)]
    return sorted(found, key=lambda d: len(d.parts), reverse=True)


def _cgroup_pids() -> set[int]:
    pids: set[int] = set()
    for top in _cgroup_dirs():
        for directory in _cgroup_tree(top):
            try:
                pids.update(int(p) for p in (directory / "cgroup.procs").read_text().split())
            except OSError:
                pass
    return pids


def _kill_pods() -> None:
    # Every container process lives in a cgroup under the node's parent, shims excepted.
    _kill_until_gone(_cgroup_pids)


def _node_processes() -> set[int]:
    """Processes of the node: those in its cgroups, and binaries from the build cache whose
    command line names the node (shims, daemons whose pid file is gone). The local mesh's
    etcd and kube-apiserver share binaries but never name the node's dirs or address."""
    cache_root = str(cache.root())
    marks = (str(layout.STATE), str(layout.RUN), layout.NODE_IP)
    found = set()
    for entry in pathlib.Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            exe = os.readlink(entry / "exe")
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if exe.startswith(cache_root) and any(mark in cmdline for mark in marks):
            found.add(int(entry.name))
    return found | _cgroup_pids()


def _kill_strays() -> None:
    _kill_until_gone(_node_processes)


def _kill_until_gone(find) -> None:
    deadline = time.monotonic() + SETTLE_SECONDS
    while (pids := find()) and time.monotonic() < deadline:
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            try:
                os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                pass
        time.sleep(0.1)


def _node_mounts() -> list[str]:
    mounts = []
    for line in pathlib.Path("/proc/self/mountinfo").read_text().splitlines():
        point = line.split()[4].replace("\\040", " ")
        if any(point == str(d) or point.startswith(f"{d}/") for d in (layout.STATE, layout.RUN)):
            mounts.append(point)
    return mounts


def _unmount_all() -> None:
    for _ in range(5):  # stacked mounts come off one layer per pass
        mounts = _node_mounts()
        if not mounts:
            return
        for point in sorted(mounts, key=lambda p: p.count("/"), reverse=True):
            if subprocess.run(["umount", point], capture_output=True).returncode != 0:
                subprocess.run(["umount", "-l", point], capture_output=True)


def _remove_cgroups() -> None:
    deadline = time.monotonic() + SETTLE_SECONDS
    while _cgroup_dirs() and time.monotonic() < deadline:
        for top in _cgroup_dirs():
            for directory in _cgroup_tree(top):
                try:
                    directory.rmdir()
                except OSError:
                    pass
        if _cgroup_dirs():
            time.sleep(0.1)


def _bridge_ports() -> list[str]:
    out = subprocess.run(["ip", "-o", "link", "show", "master", layout.BRIDGE], capture_output=True, text=True).stdout
    return [line.split(":")[1].strip().split("@")[0] for line in out.splitlines() if ":" in line]


def _remove_links() -> None:
    for port in _bridge_ports():
        subprocess.run(["ip", "link", "delete", port], capture_output=True)
    if pathlib.Path(f"/sys/class/net/{layout.BRIDGE}").exists():
        subprocess.run(["ip", "link", "delete", layout.BRIDGE], capture_output=True)


def _host_entries() -> list[pathlib.Path]:
    """Files the node's components put in fixed host directories."""
    entries = []
    results = layout.HOST_CNI_CACHE / "results"
    if results.is_dir():
        # The node's network's results, and the loopback plugin's for the node's pods (their
        # network namespace lives under the node's run dir).
        entries += [p for p in results.iterdir()
                    if p.name.startswith(f"{layout.NAME}-") or str(layout.RUN) in _read(p)]
    if (layout.HOST_CNI_CACHE / "networks" / layout.NAME).exists():
        entries.append(layout.HOST_CNI_CACHE / "networks" / layout.NAME)
    if layout.HOST_CONTAINER_LOGS.is_dir():
        entries += [p for p in layout.HOST_CONTAINER_LOGS.iterdir()
                    if p.is_symlink() and os.readlink(p).startswith(str(layout.POD_LOGS))]
    return entries


def _read(path: pathlib.Path) -> str:
    try:
        return path.read_text(errors="replace")
    except OSError:
        return ""


def _remove_host_entries() -> None:
    for entry in _host_entries():
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            entry.unlink(missing_ok=True)
    existed = set(network.host_dirs_before())
    # Directories the node created (empty once its entries are gone) go too; the host's own stay.
    for directory in (layout.HOST_CNI_CACHE / "results", layout.HOST_CNI_CACHE / "networks",
                      layout.HOST_CNI_CACHE, layout.HOST_CONTAINER_LOGS):
        if directory.is_dir() and not any(str(directory).startswith(e) for e in existed):
            try:
                directory.rmdir()
            except OSError:
                pass


def _kube_chains_and_jumps() -> list[tuple[str, str, str | None, list[str] | None]]:
    """(tool, table, KUBE- chain, None) and (tool, table, None, rule jumping to one from a chain
    of the host's own), from iptables-save."""
    found: list[tuple[str, str, str | None, list[str] | None]] = []
    for tool in ("iptables", "ip6tables"):
        table: str | None = None
        for line in subprocess.run([f"{tool}-save"], capture_output=True, text=True).stdout.splitlines():
            if line.startswith("*"):
                table = line[1:]
            elif table is None:
                continue  # iptables-save opens each table with *name: no chain or rule comes before it
            elif line.startswith(":KUBE-"):
                found.append((tool, table, line[1:].split()[0], None))
            elif line.startswith("-A ") and "KUBE-" in line and not line.split()[1].startswith("KUBE-"):
                # iptables-save quotes a comment with spaces (kube-router's "kube-router netpol - ..."):
                # split as the shell would, or -D gets the words apart and removes nothing.
                found.append((tool, table, None, shlex.split(line[3:])))
    return found


def _remove_kube_chains() -> None:
    """Chains kube-proxy's --cleanup leaves: the kubelet's KUBE-FIREWALL (made even with
    makeIPTablesUtilChains off), or any KUBE- chain of a kube-proxy that was never built."""
    found = _kube_chains_and_jumps()
    for tool, table, _, rule in found:
        if rule:
            subprocess.run([tool, "-t", table, "-D", *rule], capture_output=True)
    for verb in ("-F", "-X"):
        for tool, table, chain, _ in found:
            if chain:
                subprocess.run([tool, "-t", table, verb, chain], capture_output=True)


def _iptables_traces() -> list[str]:
    found = []
    for tool in ("iptables", "ip6tables"):
        dump = subprocess.run([f"{tool}-save"], capture_output=True, text=True).stdout
        ours = layout.OWNS_KUBE_CHAINS.exists()
        found += [f"{tool}: {line}" for line in dump.splitlines()
                  if ("KUBE-" in line and ours) or layout.NAME in line or layout.BRIDGE in line]
    return found


def traces() -> list[str]:
    """Everything of the node still on the host, one line each (empty: no trace)."""
    found = [f"process {pid}: {_cmdline(pid)}" for pid in sorted(_node_processes())]
    found += [f"daemon pid file {name}" for name in daemons.recorded()]
    found += [f"mount {point}" for point in _node_mounts()]
    found += [f"cgroup {d}" for d in _cgroup_dirs()]
    if pathlib.Path(f"/sys/class/net/{layout.BRIDGE}").exists():
        found.append(f"link {layout.BRIDGE}")
    found += [f"veth {port}" for port in _bridge_ports()]
    found += _iptables_traces()
    if layout.OWNS_KUBE_CHAINS.exists():  # kube-router's set names, like kube-proxy's chains, carry no mark of ours
        found += [f"ipset {name}" for name in netpol.ipsets()]
    found += [f"host file {p}" for p in _host_entries()]
    found += [f"directory {d}" for d in (layout.STATE, layout.RUN) if d.exists()]
    return found


def _cmdline(pid: int) -> str:
    try:
        return pathlib.Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")[:120]
    except OSError:
        return "(gone)"
