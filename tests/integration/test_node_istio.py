"""Istio in the single-node cluster, for real: a pod of a namespace labelled
``istio-injection=enabled`` comes up with istio-init and istio-proxy, its traffic goes
through the sidecar, ``pilot-agent request GET stats`` answers; a second control plane
under a revision injects the pods that name it and is removed whole; the Gateway API's CRDs are
served at the pinned version (a second install changes nothing) and istiod accepts GatewayClass istio.

Slow (the node's builds must be cached): run with ``-m node``. The module uses a node that
is already up with Istio as it finds it (and leaves it so); with none up, it brings one up
and takes it down again.
"""

import contextlib
import os
import pathlib
import subprocess
import sys
import time
import uuid

import pytest
from kubernetes import client, config, stream
from kubernetes.client.rest import ApiException

from egress_conformance import versions
from egress_testbed import images
from egress_testbed.node import gatewayapi, istio, layout, sweep

pytestmark = pytest.mark.node

ROOT = pathlib.Path(__file__).resolve().parents[2]
NODE = [sys.executable, "-m", "egress_testbed.node"]
UP_TIMEOUT_SECONDS = 900.0
POD_TIMEOUT_SECONDS = 180.0
KUBERNETES_CLUSTER = "outbound|443||kubernetes.default.svc.cluster.local::"


@pytest.fixture(scope="module")
def api(request):
    if "node" not in (request.config.getoption("markexpr") or ""):
        pytest.skip("slow node test: run with -m node")
    if os.geteuid() != 0:
        # Under CI root is something the project's own set-up expects: fail, never skip into green.
        (pytest.fail if os.environ.get("CI") == "true" else pytest.skip)("the node needs root")
    owned = sweep.traces() == []
    if owned:
        result = node("up", timeout=UP_TIMEOUT_SECONDS)
        assert result.returncode == 0, result.stdout + result.stderr
    else:
        status = node("status", timeout=60)
        assert status.returncode == 0, "a node is half up or left over: run `ci/node down` first\n" + status.stdout
    try:
        yield config.new_client_from_config(config_file=str(layout.KUBECONFIG))
    finally:
        if owned:
            result = node("down", timeout=UP_TIMEOUT_SECONDS)
            assert result.returncode == 0 and sweep.traces() == [], result.stdout + result.stderr


def node(*args: str, timeout: float) -> subprocess.CompletedProcess:
    return subprocess.run([*NODE, *args], cwd=ROOT, capture_output=True, text=True, timeout=timeout)


@contextlib.contextmanager
def namespace(api: client.ApiClient, labels: dict[str, str]):
    core = client.CoreV1Api(api)
    name = f"istio-proof-{uuid.uuid4().hex[:6]}"
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=name, labels=labels)))
    try:
        yield name
    finally:
        with contextlib.suppress(ApiException):
            core.delete_namespace(name)


def run_client_pod(api: client.ApiClient, ns: str) -> client.V1Pod:
    """The curl image's pod, every container (app and sidecar) ready."""
    core = client.CoreV1Api(api)
    core.create_namespaced_pod(ns, client.V1Pod(
        metadata=client.V1ObjectMeta(name="client"),
        spec=client.V1PodSpec(containers=[client.V1Container(
            name="curl", image=images.NAMES["curl"], image_pull_policy="IfNotPresent",
            command=["sleep", "infinity"])]),
    ))
    deadline, pod = time.monotonic() + POD_TIMEOUT_SECONDS, None
    while time.monotonic() < deadline:
        pod = core.read_namespaced_pod("client", ns)
        statuses = (pod.status.init_container_statuses or []) + (pod.status.container_statuses or [])
        if pod.status.phase == "Running" and all(s.ready or s.name == "istio-init" for s in statuses):
            return pod
        time.sleep(1)
    raise AssertionError(f"client pod not ready after {POD_TIMEOUT_SECONDS:.0f}s; last status: {pod.status}")


def execute(api: client.ApiClient, ns: str, container: str, argv: list[str]) -> str:
    return stream.stream(client.CoreV1Api(api).connect_get_namespaced_pod_exec, "client", ns, container=container,
                         command=argv, stdout=True, stderr=True, stdin=False, tty=False)


def kubernetes_requests(api: client.ApiClient, ns: str) -> int:
    """Requests the sidecar has sent to the API server's Service (Envoy's per-host counters)."""
    lines = execute(api, ns, "istio-proxy", ["pilot-agent", "request", "GET", "clusters"]).splitlines()
    return sum(int(line.rsplit("::", 1)[1]) for line in lines
               if line.startswith(KUBERNETES_CLUSTER) and "::rq_total::" in line)


def test_an_injected_pod_has_istio_init_and_a_proxy_that_captures_its_traffic(api):
    with namespace(api, {"istio-injection": "enabled"}) as ns:
        pod = run_client_pod(api, ns)
        assert [c.name for c in pod.spec.init_containers] == ["istio-init", "istio-proxy"]
        stats = execute(api, ns, "istio-proxy", ["pilot-agent", "request", "GET", "stats"])
        assert "server.state: 0" in stats.splitlines(), stats[:500]
        before = kubernetes_requests(api, ns)
        status = execute(api, ns, "curl", ["curl", "-sk", "-m", "10", "-o", "/dev/null", "-w", "%{http_code}",
                                           "https://kubernetes.default.svc/version"])
        assert status == "200"
        # The app's own request shows up in its sidecar's counters: iptables sent it to Envoy.
        assert kubernetes_requests(api, ns) == before + 1


def test_a_revision_gets_its_own_istiod_and_injects_the_pods_that_name_it(api):
    core = client.CoreV1Api(api)
    try:
        istio.install(layout.KUBECONFIG, revision="canary")
        assert client.AppsV1Api(api).read_namespaced_deployment("istiod-canary", "istio-system").status.ready_replicas
        assert core.read_namespaced_config_map("istio-canary", "istio-system").data["mesh"]
        with namespace(api, {"istio.io/rev": "canary"}) as ns:
            pod = run_client_pod(api, ns)
            proxy = next(c for c in pod.spec.init_containers if c.name == "istio-proxy")
            assert "istiod-canary.istio-system.svc:15012" in str(proxy.env)
    finally:
        istio.uninstall(layout.KUBECONFIG, "canary")
    with pytest.raises(ApiException) as gone:
        core.read_namespaced_config_map("istio-canary", "istio-system")
    assert gone.value.status == 404


def test_the_gateway_api_is_served_at_the_pinned_version_and_istiod_accepts_its_class(api):
    extensions = client.ApiextensionsV1Api(api)
    crds = [o["metadata"]["name"] for o in gatewayapi.objects() if o["kind"] == "CustomResourceDefinition"]
    assert "httproutes.gateway.networking.k8s.io" in crds
    for name in crds:
        crd = extensions.read_custom_resource_definition(name)
        assert crd.metadata.annotations[gatewayapi.BUNDLE_VERSION] == versions.GATEWAY_API, name
    assert gatewayapi.class_not_accepted(api) is None
    again = gatewayapi.install(layout.KUBECONFIG)
    assert again and all(line.endswith(f"at {versions.GATEWAY_API} already") for line in again), again
