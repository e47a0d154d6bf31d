"""The kind cluster's lifecycle through pytest-kubernetes' KindManager, with its pitfalls
worked around here and nowhere else:

- it runs commands as one shell string and updates ``os.environ`` on every call: ``_exec``
  is replaced by our runner, which takes an argv list and leaves the environment alone;
- it deletes the kubeconfig at ``delete()``: we hand it a path in a folder the run owns;
- ``--k8s-provider-config`` clashes with its default name: we never pass a config file,
  and give the name with its ``pytest-`` prefix so the name we print is kind's;
- its ``keep`` lasts one pytest run: ``--keep-cluster`` is ours, and a kept cluster is
  found again by name (its readiness probe passes, so the manager does not recreate it);
- its readiness probe runs kubectl (through a shell, ``--raw='/readyz?verbose'``): ``ready``
  asks the same two questions through the API client, so the provider needs no kubectl
  (without it the probe failed, and a kept cluster was taken for a new one to create).
"""

import pathlib
import time

from kubernetes import client
from kubernetes.config import ConfigException
from pytest_kubernetes.options import ClusterOptions
from pytest_kubernetes.providers.kind import KindManagerBase
from urllib3.exceptions import HTTPError

from egress_conformance.cluster import kube
from egress_conformance.providers.kind import commands
from egress_conformance.providers.kind.runner import Runner, run


class KindCluster(KindManagerBase):
    def __init__(self, name: str, kubeconfig: str, node_image: str, runner: Runner = run):
        self._runner = runner
        self._node_image = node_image
        super().__init__(name if name.startswith(commands.CLUSTER_PREFIX) else commands.CLUSTER_PREFIX + name,
                         None, kubeconfig)
        # the manager builds the image name as kindest/node:v<api_version>
        self._cluster_options: ClusterOptions = self._cluster_options | ClusterOptions(
            api_version=node_image.removeprefix("kindest/node:v"))

    def _ensure_executable(self) -> None:
        """The runner finds kind on PATH; the provider's prepare() says what to install."""

    def _exec(self, arguments: list[str], additional_env: dict | None = None, timeout: int | None = None):
        return self._runner(["kind", *arguments], timeout or self._cluster_options.cluster_timeout)

    def ready(self, timeout: int = 20) -> bool:
        """Is the cluster ready: the API server's /readyz passes and the default ServiceAccount
        exists (the manager's two checks)? Asked until ``timeout`` seconds have passed."""
        deadline = time.monotonic() + timeout
        while not self._answers_ready():
            if time.monotonic() >= deadline:
                return False
            time.sleep(1)  # a poll interval: kind's API server is coming up
        return True

    def _answers_ready(self) -> bool:
        try:
            api = kube.connect(pathlib.Path(self.kubeconfig))
        except (ConfigException, OSError, TypeError):
            return False  # no kubeconfig yet (kind writes it at create)
        try:
            method, url, headers, body, post = api.param_serialize("GET", "/readyz", auth_settings=["BearerToken"])
            response = api.call_api(method, url, headers, body, post, _request_timeout=5)
            response.read()
            if response.status != 200:
                return False
            client.CoreV1Api(api).read_namespaced_service_account("default", "default", _request_timeout=5)
            return True
        except (client.ApiException, HTTPError, OSError):
            return False
        finally:
            api.close()

    @property
    def created_by_us(self) -> bool:
        """False when create() found the cluster already there (kept from an earlier run)."""
        return self._created
