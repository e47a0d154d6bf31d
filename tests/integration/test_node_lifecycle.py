"""The single-node cluster comes up for real (containerd, kubelet, kube-proxy, CoreDNS, a
pod on the CNI bridge) and ``down`` leaves no trace on the host: not after a clean ``up``,
not after an ``up`` that was SIGKILLed half-way, and a refused port fails in one line.

Slow (minutes, the node's builds must be cached): run with ``-m node``; ``ci/selftest``
skips them otherwise. Each test brings the node up and down itself, so none may run while
a node is up for other work.
"""

import os
import pathlib
import random
import re
import signal
import socket
import struct
import subprocess
import sys
import time

import pytest
from kubernetes import client, config, stream

from egress_testbed.node import layout, network, sweep

pytestmark = pytest.mark.node

ROOT = pathlib.Path(__file__).resolve().parents[2]
NODE = [sys.executable, "-m", "egress_testbed.node"]
UP_TIMEOUT_SECONDS = 900.0
"""A cold up builds the node's components; a warm one takes well under a minute."""

HOST_DIRS = ("/var/lib/cni", "/var/log/containers", "/var/log/pods", "/run/containerd", "/var/lib/containerd",
             "/opt/containerd", "/var/run/nri", "/etc/cni", "/var/lib/kubelet", "/run/netns", "/var/run/netns",
             "/etc/kubernetes", "/opt/cni")


@pytest.fixture(autouse=True)
def only_when_asked(request):
    if "node" not in (request.config.getoption("markexpr") or ""):
        pytest.skip("slow node test: run with -m node (after `ci/node down`)")
    if os.geteuid() != 0:
        # Under CI root is something the project's own set-up expects: fail, never skip into green.
        (pytest.fail if os.environ.get("CI") == "true" else pytest.skip)("the node needs root")


LOCAL_MESH = re.compile(r"\bec-?[0-9a-f]{6}")
"""Names of local-mesh runs (network namespaces ec-XXXXXX-*, veths ecXXXXXXh), which other
work on this machine may start or stop meanwhile: not the node's, so not compared."""


def host_snapshot() -> dict:
    """What the node could change on the host, as comparable values."""
    def run(*argv):
        return subprocess.run(argv, capture_output=True, text=True).stdout

    def mine(values):
        return sorted(v for v in values if not LOCAL_MESH.search(v))

    iptables = sorted(
        line.split(" [")[0] for tool in ("iptables-save", "ip6tables-save")
        for line in run(tool).splitlines() if not line.startswith("#"))
    return {
        "sysctls": {name: network._sysctl_path(name).read_text().strip() for name in network.SYSCTLS
                    if network._sysctl_path(name).exists()},
        "links": mine(line.split(":")[1].strip() for line in run("ip", "-o", "link").splitlines()),
        "iptables": mine(iptables),
        "mounts": mine(line.split()[4] for line in pathlib.Path("/proc/self/mountinfo").read_text().splitlines()),
        "cgroups": mine(str(p) for p in pathlib.Path("/sys/fs/cgroup").glob("*/*") if p.is_dir()),
        "dirs": sorted(d for d in HOST_DIRS if pathlib.Path(d).exists()),
    }


@pytest.fixture
def untouched_host():
    """The test starts with no node and must end with the host exactly as it found it."""
    assert sweep.traces() == [], "a node is up or left over: run `ci/node down` first"
    before = host_snapshot()
    yield
    left = sweep.traces()
    subprocess.run([*NODE, "down"], cwd=ROOT, capture_output=True)  # never leave a node behind a failed test
    assert left == []
    after = host_snapshot()
    assert {k: v for k, v in after.items() if v != before[k]} == {}, "the host changed: " + str(
        {k: sorted(set(after[k]) ^ set(before[k])) if isinstance(after[k], list) else (before[k], after[k])
         for k in after if after[k] != before[k]})


def node(*args: str, timeout: float = UP_TIMEOUT_SECONDS) -> subprocess.CompletedProcess:
    return subprocess.run([*NODE, *args], cwd=ROOT, capture_output=True, text=True, timeout=timeout)


def dns_query(server: str, name: str) -> list[str]:
    """A-record addresses for ``name`` from ``server`` over UDP (one real DNS round trip)."""
    ident = random.randrange(1 << 16)
    question = b"".join(bytes([len(p)]) + p.encode() for p in name.split(".")) + b"\0" + struct.pack(">HH", 1, 1)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(2)
        sock.sendto(struct.pack(">HHHHHH", ident, 0x0100, 1, 0, 0, 0) + question, (server, 53))
        reply = sock.recv(4096)
    answers = struct.unpack(">H", reply[6:8])[0]
    offset, found = 12 + len(question), []
    for _ in range(answers):
        offset += 2 if reply[offset] & 0xC0 else reply.index(b"\0", offset) - offset + 1
        rtype, _, _, length = struct.unpack(">HHIH", reply[offset:offset + 10])
        if rtype == 1:
            found.append(socket.inet_ntoa(reply[offset + 10:offset + 14]))
        offset += 10 + length
    return found


def run_pause_pod(api: client.ApiClient) -> client.V1Pod:
    """A pod of the pause image behind a Service, Running with a pod IP."""
    from egress_testbed import images
    core = client.CoreV1Api(api)
    core.create_namespaced_pod("default", client.V1Pod(
        metadata=client.V1ObjectMeta(name="probe", labels={"app": "probe"}),
        spec=client.V1PodSpec(containers=[client.V1Container(
            name="pause", image=images.NAMES["pause"], image_pull_policy="IfNotPresent")]),
    ))
    core.create_namespaced_service("default", client.V1Service(
        metadata=client.V1ObjectMeta(name="probe"),
        spec=client.V1ServiceSpec(selector={"app": "probe"}, ports=[client.V1ServicePort(port=80)]),
    ))
    deadline, pod = time.monotonic() + 120, None
    while time.monotonic() < deadline:
        pod = core.read_namespaced_pod("probe", "default")
        if pod.status.phase == "Running" and pod.status.pod_ip:
            return pod
        time.sleep(0.5)
    raise AssertionError(f"pod never Running; last status: {pod.status if pod else None}")


def test_up_runs_a_pod_and_down_leaves_no_trace(untouched_host):
    result = node("up", "--no-istio")
    assert result.returncode == 0, result.stderr
    api = config.new_client_from_config(config_file=str(layout.KUBECONFIG))
    pod = run_pause_pod(api)
    assert pod.status.pod_ip.startswith("198.19.0.")
    # Cluster DNS through kube-proxy's Service rules to CoreDNS, and a Service of the pod.
    assert dns_query(layout.DNS_SERVICE_IP, "kubernetes.default.svc.cluster.local") == [layout.KUBERNETES_SERVICE_IP]
    probe_ip = client.CoreV1Api(api).read_namespaced_service("probe", "default").spec.cluster_ip
    assert dns_query(layout.DNS_SERVICE_IP, "probe.default.svc.cluster.local") == [probe_ip]
    # The same from inside the pod's network namespace: pod -> bridge -> Service -> CoreDNS.
    netns = list((layout.RUN / "containerd").rglob("netns/cni-*"))
    assert len(netns) == 1, netns
    inside = subprocess.run(
        ["nsenter", f"--net={netns[0]}", sys.executable, "-c",
         "from tests.integration.test_node_lifecycle import dns_query; "
         f"print(dns_query({layout.DNS_SERVICE_IP!r}, 'probe.default.svc.cluster.local'))"],
        cwd=ROOT, capture_output=True, text=True, timeout=30)
    assert inside.stdout.strip() == repr([probe_ip]), inside.stderr
    # exec through the API server to the kubelet and the runtime's stream server (how the
    # suite runs requests in pods); the pause binary prints its version with -v.
    printed = stream.stream(client.CoreV1Api(api).connect_get_namespaced_pod_exec, "probe", "default",
                            command=["/pause", "-v"], stdout=True, stderr=True, stdin=False, tty=False)
    assert "pause" in printed, printed
    # The check below can fail: while up, the sweep sees the node's cgroups, veth and rules.
    seen = " ".join(sweep.traces())
    for kind in ("cgroup", "veth", "KUBE-SERVICES", "mount", "process"):
        assert kind in seen, f"traces() does not see the running node's {kind}: {seen[:400]}"
    again = node("up", "--no-istio")
    assert again.returncode == 0 and "sweeping" not in again.stderr, again.stderr

    down = node("down", timeout=120)
    assert down.returncode == 0, down.stderr


@pytest.mark.parametrize("then", ["up", "down"], ids=["next-up-sweeps", "down-sweeps"])
def test_a_killed_up_is_swept(untouched_host, then):
    up = subprocess.Popen([*NODE, "up", "--no-istio"], cwd=ROOT, stderr=subprocess.PIPE, text=True)
    lines = []
    for line in up.stderr:
        lines.append(line)
        if "kubelet ..." in line:  # containerd and the control plane run; the kubelet is starting
            break
    up.send_signal(signal.SIGKILL)
    up.wait()
    assert any("kubelet ..." in line for line in lines), "".join(lines)
    assert sweep.traces() != []

    if then == "up":
        result = node("up", "--no-istio")
        assert result.returncode == 0, result.stderr
        assert "sweeping what an interrupted run left" in result.stderr
    down = node("down", timeout=120)
    assert down.returncode == 0, down.stderr


def test_a_port_in_use_fails_in_one_line(untouched_host):
    with socket.socket() as holder:
        holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        holder.bind(("0.0.0.0", layout.SCHEDULER_PORT))
        holder.listen()
        result = node("up", "--no-istio")
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert lines[-1].startswith(f"node up failed: port {layout.SCHEDULER_PORT} (kube-scheduler)"), result.stderr
    assert "in use" in lines[-1]


@pytest.fixture
def foreign_kube_chain():
    """A KUBE- chain of the host's own, as a Kubernetes node's kube-proxy has (with the jump to it)."""
    subprocess.run(["iptables", "-t", "nat", "-N", "KUBE-HOST-SERVICES"], check=True)
    subprocess.run(["iptables", "-t", "nat", "-A", "OUTPUT", "-j", "KUBE-HOST-SERVICES"], check=True)
    yield
    subprocess.run(["iptables", "-t", "nat", "-D", "OUTPUT", "-j", "KUBE-HOST-SERVICES"], capture_output=True)
    subprocess.run(["iptables", "-t", "nat", "-X", "KUBE-HOST-SERVICES"], capture_output=True)


def test_on_a_host_with_kube_chains_of_its_own_up_refuses_and_down_leaves_them(untouched_host, foreign_kube_chain):
    before = host_snapshot()["iptables"]
    result = node("up", "--no-istio", timeout=120)
    assert result.returncode == 1
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("node up failed: this host has KUBE- iptables chains of its own (iptables:nat/"
                           "KUBE-HOST-SERVICES)"), result.stderr
    down = node("down", timeout=300)
    assert down.returncode == 0, down.stderr
    assert host_snapshot()["iptables"] == before  # the host's chain and its jump, untouched
