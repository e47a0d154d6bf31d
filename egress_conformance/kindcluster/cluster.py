"""The kind cluster's lifecycle through pytest-kubernetes' KindManager, with its pitfalls
worked around here and nowhere else:

- it runs commands as one shell string and updates ``os.environ`` on every call: ``_exec``
  is replaced by our runner, which takes an argv list and leaves the environment alone;
- it deletes the kubeconfig at ``delete()``: we hand it a path in a folder the run owns;
- ``--k8s-provider-config`` clashes with its default name: we never pass a config file,
  and give the name with its ``pytest-`` prefix so the name we print is kind's;
- its ``keep`` lasts one pytest run: ``--keep-cluster`` is ours, and a kept cluster is
  found again by name (its readiness probe passes, so the manager does not recreate it).
"""

from pytest_kubernetes.options import ClusterOptions
from pytest_kubernetes.providers.kind import KindManagerBase

from egress_conformance.kindcluster import commands
from egress_conformance.kindcluster.runner import Runner, run


class KindCluster(KindManagerBase):
    def __init__(self, name: str, kubeconfig: str, node_image: str, runner: Runner = run):
        self._runner = runner
        self._node_image = node_image
        super().__init__(name if name.startswith(commands.CLUSTER_PREFIX) else commands.CLUSTER_PREFIX + name,
                         None, kubeconfig)
        # the manager builds the image name as kindest/node:v<api_version>
        self._cluster_options = self._cluster_options | ClusterOptions(
            api_version=node_image.removeprefix("kindest/node:v"))

    def _ensure_executable(self) -> None:
        """The runner finds kind on PATH; the provider's prepare() says what to install."""

    def _exec(self, arguments: list[str], additional_env: dict | None = None, timeout: int | None = None):
        return self._runner(["kind", *arguments], timeout or self._cluster_options.cluster_timeout)

    @property
    def created_by_us(self) -> bool:
        """False when create() found the cluster already there (kept from an earlier run)."""
        return self._created
