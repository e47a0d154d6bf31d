"""The meshed client on a real cluster: a pod whose sidecar istiod injects, reached
through the API server alone (a port-forward to Envoy's admin port and one shell kept open
for the run, or ``kubectl exec``'s exec per call), so the suite needs no kubectl and runs
the same from a laptop, a CI runner or a Job inside the cluster."""

import json
import logging
import time

import yaml
from kubernetes import client
from kubernetes.stream import stream

from egress_conformance.cluster import pods, ztunnel
from egress_conformance.providers import base
from egress_conformance.providers.base import ExecResult, ProviderError, Workload
from egress_conformance.providers.existing import adminport, podshell
from egress_conformance.verdicts import envoy

log = logging.getLogger("egress")

NAME = "client"
CLIENT_APP = "egress-conformance-client"
"""The client pod's app label: what the access-log Telemetry selects."""
CA_DIRECTORY = "/etc/egress-conformance"
"""Where the simulated host's CA is mounted, in the app and the sidecar alike."""
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
    annotations = {"proxy.istio.io/config": json.dumps({"proxyStatsMatcher": STATS_MATCHER,
                                                        "holdApplicationUntilProxyStarts": True})}
    if ca_config_map:
        spec["volumes"] = [{"name": "external-ca", "configMap": {"name": ca_config_map}}]
        mount = {"name": "external-ca", "mountPath": CA_DIRECTORY, "readOnly": True}
        container["volumeMounts"] = [mount]
        # The sidecar too (Istio's injection adds the mount): a DestinationRule that originates
        # TLS verifies the simulated host with this CA, at the same path as the app's.
        annotations["sidecar.istio.io/userVolumeMount"] = json.dumps([mount])
    return {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": NAME, "namespace": namespace, "labels": {"app": CLIENT_APP},
                     "annotations": annotations},
        "spec": spec,
    }


def side_manifest(namespace: str, name: str, image: str, host_aliases: list[dict] | None, ca_config_map: str | None,
                  *, sidecar: bool, annotations: dict[str, str], run_as_user: int,
                  service_account: str | None = None) -> dict:
    """Another pod made like the client (image, hosts, CA): a scenario's path around the sidecar,
    or a second client under another identity (``service_account``, which must exist).
    ``sidecar`` False: annotated sidecar.istio.io/inject "false", so no webhook injects it."""
    pod = manifest(namespace, image, host_aliases, ca_config_map)
    pod["metadata"].update(name=name, labels={"app": f"egress-conformance-{name}"})
    pod["metadata"]["annotations"].update(annotations)
    if not sidecar:
        pod["metadata"]["annotations"]["sidecar.istio.io/inject"] = "false"
    [app] = pod["spec"]["containers"]
    app["securityContext"] = {"runAsUser": run_as_user, "runAsGroup": run_as_user}
    if service_account:
        pod["spec"]["serviceAccountName"] = service_account
    return pod


def wait_ready(api: client.ApiClient, namespace: str, name: str, *, sidecar: bool) -> None:
    """Wait for a side pod to be Ready, with an ``istio-proxy`` exactly when ``sidecar``."""

    def inspect(pod) -> None:
        if (base.PROXY in _containers(pod)) != sidecar:
            raise ProviderError(f"pod {namespace}/{name} was created {'without' if sidecar else 'with'} an "
                                f"istio-proxy container: injection {'did not happen' if sidecar else 'ignored '}"
                                f"{'' if sidecar else 'sidecar.istio.io/inject: false'}")

    _until_ready(api, namespace, name, "pod", inspect)


def wait_injected_and_ready(api: client.ApiClient, namespace: str, revision: str) -> dict:
    """Wait for the pod to run with an injected ``istio-proxy`` of ``revision``; return its status
    annotation. Fails with one line naming what was last seen (no sidecar, wrong revision, not ready)."""

    def inspect(pod) -> None:
        if base.PROXY not in _containers(pod):
            raise ProviderError(
                f"the client pod {namespace}/{NAME} was created without an istio-proxy container: injection did "
                f"not happen (is istiod's injection webhook of revision {revision} reachable from the API server, "
                "and the namespace labelled for it?)")
        injected_by = _injection(pod).get("revision") or (pod.metadata.labels or {}).get("istio.io/rev")
        if injected_by and injected_by != revision:
            raise ProviderError(f"the client pod was injected by revision {injected_by}, not {revision}: another "
                                "webhook claims the namespace; pass --revision or fix the namespace selectors")

    return _injection(_until_ready(api, namespace, NAME, "the client pod", inspect))


def wait_enrolled(api: client.ApiClient, namespace: str, where: ztunnel.Ztunnel) -> None:
    """Wait until the client pod is enrolled in ambient mode (istio-cni redirected its traffic, ztunnel
    lists it as HBONE). An ambient namespace whose pod ztunnel does not carry has nothing to test: a
    ProviderError naming what is missing."""
    deadline = time.monotonic() + READY_TIMEOUT_SECONDS
    while (missing := ztunnel.enrolled(api, namespace, NAME, where)) is not None:
        if time.monotonic() > deadline:
            raise ProviderError(f"the client pod {namespace}/{NAME} is not enrolled in ambient mode after "
                                f"{READY_TIMEOUT_SECONDS:.0f}s: {missing}; is istio-cni running on the node, and "
                                "the pod not labelled istio.io/dataplane-mode=none?")
        time.sleep(1)


def _until_ready(api: client.ApiClient, namespace: str, name: str, what: str, inspect):
    try:
        return pods.until_ready(api, namespace, name, READY_TIMEOUT_SECONDS, inspect)
    except pods.NotReady as err:
        raise ProviderError(f"{what} {str(err).removeprefix('pod ')}") from None


def _containers(pod) -> list[str]:
    return [c.name for c in pod.spec.containers] + [c.name for c in pod.spec.init_containers or []]


def _injection(pod) -> dict:
    return json.loads((pod.metadata.annotations or {}).get("sidecar.istio.io/status", "{}"))


CHANNEL_STREAM, CHANNEL_EXEC = "stream", "exec"
"""How the suite reaches the client pod: kept-open channels (a port-forward to Envoy's admin
port, one shell for requests), or one exec per read and per request."""


class PodWorkload(Workload):
    """A real pod, reached through the API server: by default over channels kept open for the
    run (adminport, podshell), each falling back to one exec per call when it cannot be used."""

    def __init__(self, exec_api: client.ApiClient, namespace: str, trusted_ca: str | None,
                 channel: str = CHANNEL_STREAM, name: str = NAME, sidecar: bool = True):
        # A client of its own: the stream helper swaps the request method of the client it is given.
        self._core = client.CoreV1Api(exec_api)
        self.namespace = namespace
        self.name = name
        self.trusted_ca = trusted_ca
        streams = channel == CHANNEL_STREAM
        self._sidecar = sidecar
        """False for an ambient pod: no Envoy admin to read (ztunnel's evidence is read instead)."""
        self._admin = adminport.AdminPort(self._core, namespace, name) if streams and sidecar else None
        self._shell = podshell.PodShell(self._core, namespace, name, base.APP) if streams else None

    def open_channels(self) -> str:
        """Open the kept-open channels now (a refusal is then said once, at the start); one line
        saying how the pod is reached."""
        if not self._sidecar:
            return "requests through one kept-open shell (no sidecar: ztunnel is read instead)" if self._shell \
                else "one exec per request (no sidecar: ztunnel is read instead)"
        if self._admin is None:
            return "one exec per admin read and per request (--pod-channel exec)"
        self.envoy_admin("/ready")
        admin = "a port-forward to Envoy's admin port" if self._admin else "one exec per admin read"
        return f"admin reads through {admin}, requests through one kept-open shell"

    def exec(self, container, argv, timeout):
        if container == base.APP and self._shell is not None:
            try:
                reply = self._shell.run(argv, timeout)
                return ExecResult(reply.exit_code, reply.stdout, reply.stderr)
            except podshell.ShellBroken as err:
                # A fresh shell is opened for the next command; this one runs as its own exec.
                log.info("  client pod: %s; this command runs as an exec", err)
        return self._exec(container, argv, timeout)

    def envoy_admin(self, path: str) -> str:
        if not self._sidecar:
            raise ProviderError(f"{self.namespace}/{self.name} has no sidecar (ambient): there is no Envoy admin to "
                                "read; this step reads a sidecar, which an ambient pod does not have")
        if self._admin is None:
            return super().envoy_admin(path)
        try:
            status, body = self._admin.get(path)
        except adminport.AdminRefused as err:
            log.info("  client pod: %s; Envoy admin reads go through exec (pilot-agent request) from now on", err)
            self._admin.close()
            self._admin = None
            return super().envoy_admin(path)
        except adminport.AdminBroken as err:
            log.info("  client pod: %s; this read goes through exec", err)
            return super().envoy_admin(path)
        if status != 200:
            raise ProviderError(f"sidecar not ready: Envoy admin {path} in {self.namespace}/{self.name} answered "
                                f"{status}: {body.strip()[-200:]}")
        return body

    def close(self) -> None:
        """Close the kept-open channels (the pod itself is the provider's to delete)."""
        if self._admin is not None:
            self._admin.close()
        if self._shell is not None:
            self._shell.close()

    def _exec(self, container, argv, timeout):
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
    """Envoy's access log for the suite's client pod only, through Istio's built-in ``envoy``
    provider: evidence of each request's upstream cluster without touching the mesh config, and
    without changing what a team's own workloads in the namespace get (an audit is read-only)."""
    return yaml.safe_load(f"""
apiVersion: telemetry.istio.io/v1
kind: Telemetry
metadata:
  name: egress-conformance-access-log
  namespace: {namespace}
spec:
  selector:
    matchLabels: {{app: {CLIENT_APP}}}
  accessLogging:
  - providers:
    - name: envoy
""")
