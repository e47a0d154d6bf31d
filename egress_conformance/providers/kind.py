"""The kind provider: a throw-away kind cluster the run owns, Istio installed in it with
istioctl, and httpbin.org simulated by a container on kind's Docker network that CoreDNS
resolves (Istio's own kind CI does the same). Once Istio is up, everything else is the
existing provider's, on the kind kubeconfig, with mesh-wide changes allowed (the cluster
is the run's own).

The commands are in kindcluster/commands.py (unit-tested exactly); the cluster lifecycle
goes through pytest-kubernetes' KindManager (kindcluster/cluster.py says which of its
pitfalls are worked around and how). Without Docker the run stops in prepare() with one
line: the suite reports it "not run", never passed.
"""

import dataclasses
import pathlib
import shutil
import subprocess
import tempfile

from kubernetes import client

from egress_conformance import cleanup, kube
from egress_conformance.journal import Journal
from egress_conformance.kindcluster import cluster, commands
from egress_conformance.providers.base import Provider, ProviderError
from egress_conformance.providers.existing import DEFAULT_EXTERNAL_IMAGE, ExistingProvider
from egress_conformance.providers.options import OptionError

CLUSTER_NAME = "egress-conformance"
EXTERNAL_CONTAINER = "egress-conformance-httpbin"
COREDNS = ("kube-system", "coredns")


class KindProvider(Provider):
    name = "kind"

    def __init__(self, options: dict, runner: cluster.Runner = cluster.run):
        super().__init__(options)
        self._run = runner

    @classmethod
    def parse_options(cls, values: dict) -> dict:
        parsed = dict(values)
        version = values.get("istio_version") or max(commands.NODE_IMAGES, key=lambda v: tuple(map(int, v.split("."))))
        try:
            parsed["node_image"] = commands.node_image(version)
        except ValueError as err:
            raise OptionError(str(err)) from None
        parsed["istio_version"] = version
        parsed["external_image"] = values.get("external_image") or DEFAULT_EXTERNAL_IMAGE
        return parsed

    @classmethod
    def prepare(cls, options: dict, runner: cluster.Runner = cluster.run) -> None:
        for tool, how in (("docker", "install Docker"), ("kind", "go install sigs.k8s.io/kind@v0.33.0"),
                          ("istioctl", f"put istioctl {options['istio_version']} on PATH")):
            if shutil.which(tool) is None:
                raise ProviderError(f"--provider kind needs {tool} on PATH: {how}")
        try:
            runner(commands.docker_available(), 30)
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as err:
            raise ProviderError(f"--provider kind needs a running Docker daemon ({_short(err)}): start it, or use "
                                "--provider existing") from None

    def start(self, undo: cleanup.Stack, journal: Journal) -> None:
        scratch = pathlib.Path(tempfile.mkdtemp(prefix="egress-kind-"))
        undo.push(f"remove {scratch}", lambda: shutil.rmtree(scratch, ignore_errors=True))
        kubeconfig = str(scratch / "kubeconfig")  # the manager deletes it at delete(): it is ours
        self._cluster = cluster.KindCluster(CLUSTER_NAME, kubeconfig, self.options["node_image"], self._run)
        name = self._cluster.cluster_name
        if name in self._step(commands.list_clusters(), 60, "kind get clusters").split():
            # kept by an earlier --keep-cluster run: with its kubeconfig the manager's readiness
            # probe passes and it reuses the cluster (and will not delete it) instead of failing to create it
            pathlib.Path(kubeconfig).write_text(self._step(commands.get_kubeconfig(name), 60, "kind get kubeconfig"))
        try:
            self._cluster.create()
        except (RuntimeError, subprocess.CalledProcessError) as err:
            raise ProviderError(f"kind cluster {self._cluster.cluster_name} not created: {_short(err)}") from None
        if self._cluster.created_by_us and not self.options.get("keep_cluster"):
            undo.push(f"delete kind cluster {self._cluster.cluster_name}", self._cluster.delete)
        self._step(commands.istioctl_install("istioctl", kubeconfig), 600, "istioctl install")
        self._simulate_external_host(kubeconfig, undo)
        self._inner = ExistingProvider(ExistingProvider.parse_options({
            "kubeconfig": kubeconfig, "context": None, "revision": None, "allow_mesh_wide_changes": True,
            "external": "live", "client_image": self.options.get("client_image"), "external_image": None}))
        self._inner.start(undo, journal)

    def _simulate_external_host(self, kubeconfig: str, undo: cleanup.Stack) -> None:
        self._step(commands.run_external_host(EXTERNAL_CONTAINER, self.options["external_image"]), 120,
                   "start the simulated httpbin.org")
        undo.push(f"remove container {EXTERNAL_CONTAINER}", lambda: self._run(commands.remove_container(
            EXTERNAL_CONTAINER), 60))
        address = self._step(commands.external_host_address(EXTERNAL_CONTAINER), 30, "read its address").strip()
        core = client.CoreV1Api(kube.connect(pathlib.Path(kubeconfig)))
        original = core.read_namespaced_config_map(COREDNS[1], COREDNS[0]).data["Corefile"]
        patch = lambda text: core.patch_namespaced_config_map(  # noqa: E731
            COREDNS[1], COREDNS[0], {"data": {"Corefile": text}})
        patch(commands.corefile_with_hosts(original, address))
        undo.push("restore CoreDNS's Corefile", lambda: patch(original))

    def _step(self, argv: list[str], timeout: float, what: str) -> str:
        try:
            return self._run(argv, timeout).stdout
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as err:
            raise ProviderError(f"kind provider: {what} failed: {_short(err)}") from None

    # Everything else is the existing provider's, on the kind cluster.
    def api(self):
        return self._inner.api()

    def workload(self):
        return self._inner.workload()

    def info(self):
        return dataclasses.replace(self._inner.info(), provider=self.name)

    def features(self):
        return self._inner.features()

    def cluster(self):
        return {**self._inner.cluster(), "provider": self.name, "kindCluster": self._cluster.cluster_name}

    def logs(self):
        return self._inner.logs()

    def ensure_healthy(self):
        self._inner.ensure_healthy()

    def mesh_config_map(self):
        return self._inner.mesh_config_map()


def _short(err: Exception) -> str:
    text = (getattr(err, "stderr", None) or str(err)).strip().splitlines()
    return text[-1][:200] if text else type(err).__name__
