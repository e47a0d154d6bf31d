"""The "external" host a real cluster's client calls, and the out-of-mesh control request
that tells "the target is down" from "the mesh blocked it".

- live: the real httpbin.org. The control request goes from where the suite runs.
- simulated: go-httpbin in a non-injected pod of the test namespace with no Service, so the
  mesh registry does not know it (a Service would put its address in the registry and
  let TLS/TCP to it pass REGISTRY_ONLY). The client pod's ``hostAliases`` map the
  external names to its address: the app's resolver and Envoy's (which reads
  /etc/hosts for STRICT_DNS clusters) both see them. Nothing outside the test namespace,
  CoreDNS included, is touched. The control request goes through the API server's pod
  proxy, i.e. outside the mesh.
"""

import pathlib
import tempfile

import requests
import urllib3
from kubernetes import client

from egress_conformance import pki
from egress_conformance.cluster import pods
from egress_conformance.hosts.targets import Targets
from egress_conformance.providers.base import ProviderError

POD = "external"
SERVER = "/bin/go-httpbin"
"""The server's path in the public mccutchen/go-httpbin image and in the node's (node/images/gohttpbin.py)."""
CA_CONFIG_MAP = "external-ca"
READY_TIMEOUT_SECONDS = 120.0
CONTROL_TIMEOUT_SECONDS = 5.0


class LiveTarget:
    """The real host (httpbin.org unless --external-host), as the walkthrough calls it."""

    host_aliases: list[dict] | None = None
    ca_config_map: str | None = None
    trusted_ca: str | None = None

    def __init__(self, targets: Targets):
        self.targets = targets
        self.description = f"live {targets.host}"

    def objects(self, namespace: str) -> list[dict]:
        return []

    def wait_ready(self, api: client.ApiClient, namespace: str) -> None:
        self.check(api, namespace)

    def check(self, api: client.ApiClient, namespace: str) -> None:
        try:
            requests.get(self.targets.url("http"), timeout=CONTROL_TIMEOUT_SECONDS).raise_for_status()
        except requests.RequestException as err:
            raise ProviderError(f"target down: {self.targets.host} does not answer from outside the mesh either "
                                f"({type(err).__name__}); rerun later or use --external simulated") from None


class SimulatedTarget:
    """go-httpbin on :80 and :443 (throwaway CA), and on the allow-list's ports, in a pod the
    mesh registry does not know, answering for every name of the run's targets."""

    ca_config_map = CA_CONFIG_MAP
    trusted_ca = "/etc/egress-conformance/ca.crt"

    def __init__(self, image: str, targets: Targets):
        self.image = image
        self.targets = targets
        self.host_aliases: list[dict] | None = None
        self.description = f"simulated {targets.host} (pod {POD}, no Service)"

    def objects(self, namespace: str) -> list[dict]:
        """The Secret, the CA's ConfigMap and the Pod of the external host, in creation order."""
        with tempfile.TemporaryDirectory() as scratch:
            directory = pathlib.Path(scratch)
            ca = pki.ca(directory, "external-ca", "egress-conformance throwaway external CA")
            serving = pki.leaf(directory, "httpbin", ca, self.targets.host, dns=self.targets.names())
            ca_pem, cert_pem, key_pem = ca.cert.read_text(), serving.cert.read_text(), serving.key.read_text()
        plain, tls = self.targets.ports()
        meta = {"namespace": namespace}
        return [
            {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "external-tls", **meta},
             "stringData": {"tls.crt": cert_pem, "tls.key": key_pem}},
            {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": CA_CONFIG_MAP, **meta},
             "data": {"ca.crt": ca_pem}},
            {"apiVersion": "v1", "kind": "Pod",
             # Out of the mesh in either mode: no sidecar, and in an ambient namespace not enrolled.
             "metadata": {"name": POD, "labels": {"app": "egress-conformance-external",
                                                  "sidecar.istio.io/inject": "false",
                                                  "istio.io/dataplane-mode": "none"}, **meta},
             "spec": {
                 "terminationGracePeriodSeconds": 1, "automountServiceAccountToken": False,
                 "containers": ([self._server(f"http-{port}", port) for port in plain]
                                + [self._server(f"https-{port}", port, "-https-cert-file", "/tls/tls.crt",
                                                "-https-key-file", "/tls/tls.key") for port in tls]),
                 "volumes": [{"name": "tls", "secret": {"secretName": "external-tls"}}],
             }},
        ]

    def _server(self, name: str, port: int, *tls: str) -> dict:
        """One go-httpbin per port (it serves one port, plain or TLS); the pod's containers share its
        address, and the pod is Ready once every port accepts connections."""
        return {"name": name, "image": self.image, "imagePullPolicy": "IfNotPresent",
                "command": [SERVER, "-port", str(port), *tls],
                "readinessProbe": {"tcpSocket": {"port": port}, "periodSeconds": 1},
                "volumeMounts": [{"name": "tls", "mountPath": "/tls", "readOnly": True}]}

    def wait_ready(self, api: client.ApiClient, namespace: str) -> None:
        """Wait for the pod to be ready, then map the external names to its address."""
        try:
            pod = pods.until_ready(api, namespace, POD, READY_TIMEOUT_SECONDS)
        except pods.NotReady as err:
            raise ProviderError(f"the simulated external host: {err}; is image {self.image} on the node? "
                                "(--external-image)") from None
        self.host_aliases = [{"ip": pod.status.pod_ip, "hostnames": list(self.targets.names())}]
        self.check(api, namespace)

    def check(self, api: client.ApiClient, namespace: str) -> None:
        """GET /get from outside the mesh, through the API server's pod proxy."""
        configuration = api.configuration
        url = f"{configuration.host}/api/v1/namespaces/{namespace}/pods/{POD}:80/proxy{self.targets.path}"
        try:
            response = requests.get(url, timeout=CONTROL_TIMEOUT_SECONDS, **_credentials(configuration))
            response.raise_for_status()
        except requests.RequestException as err:
            raise ProviderError(f"target down: the simulated {self.targets.host} ({namespace}/{POD}) does not answer "
                                f"from outside the mesh either ({_short(err)})") from None


def _credentials(configuration: client.Configuration) -> dict:
    """requests' keyword arguments that authenticate as the kubernetes client does."""
    kwargs = {"verify": configuration.ssl_ca_cert or configuration.verify_ssl}
    if configuration.cert_file and configuration.key_file:
        kwargs["cert"] = (configuration.cert_file, configuration.key_file)
    token = configuration.api_key.get("authorization") or configuration.api_key.get("BearerToken")
    if token:
        prefix = configuration.api_key_prefix.get("authorization", "")
        kwargs["headers"] = {"Authorization": f"{prefix} {token}".strip() if not token.startswith("Bearer") else token}
    if kwargs["verify"] is False:
        urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)
    return kwargs


def _short(err: Exception) -> str:
    text = str(err).strip().splitlines()
    return text[0][:160] if text else type(err).__name__
