"""The node enforces NetworkPolicy (kube-router's firewall, testbed/egress_testbed/node/netpol.py),
proven with pods before anything builds on it: pod A reaches pod B; a NetworkPolicy that
denies A's egress makes B unreachable from A while pod C, which no policy selects, still
reaches it; once the policy is deleted A reaches B again. Each state must hold several
observations in a row; a namespace of the test's own, deleted at the end."""

import secrets
import time

import pytest
from kubernetes import client

from egress_conformance.cluster import kube
from egress_conformance.providers.existing.clientpod import PodWorkload
from egress_conformance.providers.existing.external_target import SERVER

PORT = 8080
CONSECUTIVE = 3
"""Agreeing observations in a row that make a state settled (any other answer resets the run)."""
INTERVAL_SECONDS = 0.5
TIMEOUT_SECONDS = 60.0
"""How long a state may take to settle: kube-router applies a policy on its watch event."""
READY_TIMEOUT_SECONDS = 120.0


@pytest.fixture
def namespace(api):
    name = f"egress-conformance-netpol-{secrets.token_hex(3)}"
    obj = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}  # no injection label: no sidecar
    kube.create(api, obj)
    yield name
    kube.delete_and_wait(api, obj)


def _pod(namespace: str, name: str, image: str, command: list[str], probe_port: int | None = None) -> dict:
    container: dict = {"name": "main", "image": image, "imagePullPolicy": "IfNotPresent", "command": command,
                       "securityContext": {"runAsUser": 1001, "runAsGroup": 1001}}
    if probe_port:
        container["readinessProbe"] = {"tcpSocket": {"port": probe_port}, "periodSeconds": 1}
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": namespace,
                                                             "labels": {"app": name}},
            "spec": {"containers": [container], "terminationGracePeriodSeconds": 1,
                     "automountServiceAccountToken": False}}


def _ready(api, namespace: str, name: str) -> str:
    """Wait for the pod to be Ready; return its IP."""
    core = client.CoreV1Api(api)
    deadline = time.monotonic() + READY_TIMEOUT_SECONDS
    while True:
        pod = core.read_namespaced_pod(name, namespace)
        if any(c.type == "Ready" and c.status == "True" for c in pod.status.conditions or []):
            return pod.status.pod_ip
        assert time.monotonic() < deadline, f"pod {namespace}/{name} not Ready: phase {pod.status.phase}"
        time.sleep(0.5)


def _reaches(pod: PodWorkload, ip: str) -> str:
    """'reachable' (go-httpbin answered 200), 'unreachable' (no connection), or what else curl said."""
    result = pod.exec("main", ["curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}", "--connect-timeout", "2",
                               "--max-time", "4", f"http://{ip}:{PORT}/status/200"], timeout=15)
    if result.exit_code == 0 and result.stdout.strip() == "200":
        return "reachable"
    if result.exit_code in (7, 28):  # refused / timed out: a dropped or rejected connection
        return "unreachable"
    return f"curl exit {result.exit_code}: {result.stdout.strip()} {result.stderr.strip()[-200:]}"


def _settles(pod: PodWorkload, ip: str, wanted: str) -> None:
    streak, last, attempts = 0, "no answer yet", 0
    deadline = time.monotonic() + TIMEOUT_SECONDS
    while streak < CONSECUTIVE:
        assert time.monotonic() < deadline, (
            f"{pod.name} -> {ip}:{PORT} not {wanted} {CONSECUTIVE} times in a row after {TIMEOUT_SECONDS:.0f}s "
            f"({attempts} attempts); last: {last}")
        last = _reaches(pod, ip)
        attempts += 1
        streak = streak + 1 if last == wanted else 0
        if streak < CONSECUTIVE:
            time.sleep(INTERVAL_SECONDS)


def test_a_network_policy_denying_egress_is_enforced_and_lifted(api, kubeconfig, images, namespace):
    objects = [_pod(namespace, "b", images["external"], [SERVER, "-port", str(PORT)], probe_port=PORT),
               _pod(namespace, "a", images["client"], ["sleep", "infinity"]),
               _pod(namespace, "c", images["client"], ["sleep", "infinity"])]
    for obj in objects:
        kube.create(api, obj)  # deleted with the namespace
    b_ip = _ready(api, namespace, "b")
    _ready(api, namespace, "a")
    _ready(api, namespace, "c")
    a, c = PodWorkload(api, namespace, None, name="a"), PodWorkload(api, namespace, None, name="c")

    _settles(a, b_ip, "reachable")

    deny = {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
            "metadata": {"name": "deny-egress-of-a", "namespace": namespace},
            "spec": {"podSelector": {"matchLabels": {"app": "a"}}, "policyTypes": ["Egress"], "egress": []}}
    kube.create(api, deny)
    try:
        _settles(a, b_ip, "unreachable")
        _settles(c, b_ip, "reachable")  # the policy selects A only: the network itself works
    finally:
        kube.delete_and_wait(api, deny)

    _settles(a, b_ip, "reachable")
