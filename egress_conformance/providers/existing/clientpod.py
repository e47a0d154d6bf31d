"""The meshed client on a real cluster: a pod whose sidecar istiod injects, reached
through the API server's exec (what ``kubectl exec`` uses), so the suite needs no
kubectl and runs the same from a laptop, a CI runner or a Job inside the cluster."""

import json
import time

import yaml
from kubernetes import client
from kubernetes.stream import stream

from egress_conformance.providers import base
from egress_conformance.providers.base import ExecResult, ProviderError, Workload
from egress_conformance.verdicts import envoy

NAME = "client"
READY_TIMEOUT_SECONDS = 180.0

STATS_MATCHER = {"inclusionPrefixes": list(envoy.STATS_INCLUSION_PREFIXES)}
"""Envoy's stock stats matcher hides cluster and listener counters; they are the evidence of
which path a request took and who refused it, so the pod asks for them (pod-scoped: the mesh
config is untouched)."""


def manifest(namespace: str, image: str, host_aliases: list[dict] | None = None,
             ca_config_map: str | None = None) -> dict:
    """The client pod: an app container that only sleeps, so every request is one we make."""
    container: dict[str, object] = {"name": base.APP, "image": image, "imagePullPolicy": "IfNotPresent",
                 "command": ["sleep", "infinity"],
                 "securityContext": {"runAsUser": 1001, "runAsGroup": 1001}}
    spec: dict[str, object] = {"containers": [container], "terminationGracePeriodSeconds": 1,
                               "automountServiceAccountToken": False}
    if host_aliases:
        spec["hostAliases"] = host_aliases
    if ca_config_map:
        spec["volumes"] = [{"name": "external-ca", "configMap": {"name": ca_config_map}}]
        container["volumeMounts"] = [{"name": "external-ca", "mountPath": "/etc/egress-conformance"}]
    return {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": NAME, "namespace": namespace, "labels": {"app": "egress-conformance-client"},
                     "annotations": {"proxy.istio.io/config": json.dumps({
                         "proxyStatsMatcher": STATS_MATCHER, "holdApplicationUntilProxyStarts": True})}},
        "spec": spec,
    }


def side_manifest(namespace: str, name: str, image: str, host_aliases: list[dict] | None, ca_config_map: str | None,
                  *, sidecar: bool, annotations: dict[str, str], run_as_user: int) -> dict:
    """Another pod made like the client (image, hosts, CA): a scenario's path around the sidecar.
    ``sidecar`` False: annotated sidecar.istio.io/inject "false", so no webhook injects it."""
    pod = manifest(namespace, image, host_aliases, ca_config_map)
    pod["metadata"].update(name=name, labels={"app": f"egress-conformance-{name}"})
    pod["metadata"]["annotations"].update(annotations)
    if not sidecar:
        pod["metadata"]["annotations"]["sidecar.istio.io/inject"] = "false"
    [app] = pod["spec"]["containers"]
    app["securityContext"] = {"runAsUser": run_as_user, "runAsGroup": run_as_user}
    return pod


def wait_ready(api: client.ApiClient, namespace: str, name: str, *, sidecar: bool) -> None:
    """Wait for a side pod to be Ready, with an ``istio-proxy`` exactly when ``sidecar``."""
    core = client.CoreV1Api(api)
    deadline = time.monotonic() + READY_TIMEOUT_SECONDS
    seen = "no pod yet"
    while time.monotonic() < deadline:
        pod = core.read_namespaced_pod(name, namespace)
        containers = [c.name for c in pod.spec.containers] + [c.name for c in pod.spec.init_containers or []]
        if (base.PROXY in containers) != sidecar:
            raise ProviderError(f"pod {namespace}/{name} was created {'without' if sidecar else 'with'} an "
                                f"istio-proxy container: injection {'did not happen' if sidecar else 'ignored '}"
                                f"{'' if sidecar else 'sidecar.istio.io/inject: false'}")
        if any(c.type == "Ready" and c.status == "True" for c in pod.status.conditions or []):
            return
        seen = _pod_state(pod)
        time.sleep(0.5)
    raise ProviderError(f"pod {namespace}/{name} did not become ready in {READY_TIMEOUT_SECONDS:.0f}s: {seen}")


def wait_injected_and_ready(api: client.ApiClient, namespace: str, revision: str) -> dict:
    """Wait for the pod to run with an injected ``istio-proxy`` of ``revision``; return its status
    annotation. Fails with one line naming what was last seen (no sidecar, wrong revision, not ready)."""
    core = client.CoreV1Api(api)
    deadline = time.monotonic() + READY_TIMEOUT_SECONDS
    seen = "no pod yet"
    while time.monotonic() < deadline:
        pod = core.read_namespaced_pod(NAME, namespace)
        containers = [c.name for c in pod.spec.containers] + [c.name for c in pod.spec.init_containers or []]
        if base.PROXY not in containers:
            raise ProviderError(
                f"the client pod {namespace}/{NAME} was created without an istio-proxy container: injection did "
                f"not happen (is istiod's injection webhook of revision {revision} reachable from the API server, "
                "and the namespace labelled for it?)")
        status = json.loads((pod.metadata.annotations or {}).get("sidecar.istio.io/status", "{}"))
        injected_by = status.get("revision") or (pod.metadata.labels or {}).get("istio.io/rev")
        if injected_by and injected_by != revision:
            raise ProviderError(f"the client pod was injected by revision {injected_by}, not {revision}: another "
                                "webhook claims the namespace; pass --revision or fix the namespace selectors")
        ready = any(c.type == "Ready" and c.status == "True" for c in pod.status.conditions or [])
        if ready:
            return status
        seen = _pod_state(pod)
        time.sleep(0.5)
    raise ProviderError(f"the client pod {namespace}/{NAME} did not become ready in {READY_TIMEOUT_SECONDS:.0f}s: "
                        f"{seen}")


def _pod_state(pod) -> str:
    waiting = [f"{s.name}: {s.state.waiting.reason} {s.state.waiting.message or ''}".strip()
               for s in (pod.status.init_container_statuses or []) + (pod.status.container_statuses or [])
               if s.state and s.state.waiting]
    return f"phase {pod.status.phase}" + (f", waiting: {'; '.join(waiting)}" if waiting else "")


class PodWorkload(Workload):
    """A real pod; commands run through the API server's exec endpoint."""

    def __init__(self, exec_api: client.ApiClient, namespace: str, trusted_ca: str | None, name: str = NAME):
        # A client of its own: the stream helper swaps the request method of the client it is given.
        self._core = client.CoreV1Api(exec_api)
        self.namespace = namespace
        self.name = name
        self.trusted_ca = trusted_ca

    def exec(self, container, argv, timeout):
        try:
            response = stream(self._core.connect_get_namespaced_pod_exec, self.name, self.namespace,
                              container=container, command=argv, stdin=False, stdout=True, stderr=True, tty=False,
                              _preload_content=False)
        except client.ApiException as err:
            raise ProviderError(f"cannot exec in {self.namespace}/{self.name} ({container}): {err.status} "
                                f"{err.reason}") from None
        try:
            response.run_forever(timeout=timeout)
            stdout, stderr = response.read_stdout(), response.read_stderr()
            if response.is_open():
                return ExecResult(124, stdout, stderr + f"\nno exit after {timeout:.0f}s")
            return ExecResult(_exit_code(response), stdout, stderr)
        finally:
            response.close()


def _exit_code(response) -> int:
    """The exit code from the exec's error channel; 126 when the command never ran."""
    try:
        return response.returncode
    except (KeyError, IndexError, ValueError, TypeError):
        return 126


def access_log_telemetry(namespace: str) -> dict:
    """Envoy's access log for the test namespace only, through Istio's built-in ``envoy``
    provider: evidence of each request's upstream cluster without touching the mesh config."""
    return yaml.safe_load(f"""
apiVersion: telemetry.istio.io/v1
kind: Telemetry
metadata:
  name: egress-conformance-access-log
  namespace: {namespace}
spec:
  accessLogging:
  - providers:
    - name: envoy
""")
