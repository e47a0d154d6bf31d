"""The kind provider: a throw-away kind cluster the run owns, Istio installed in it with
istioctl, then the existing provider on the kind kubeconfig, with mesh-wide changes allowed
(the cluster is the run's own) and httpbin.org simulated the way that provider does it on
any cluster (``--external simulated``: a non-injected go-httpbin pod with no Service, its
names in the client pod's hostAliases). That path is the one proven for real on the node
built here; it touches nothing outside the test namespace (no CoreDNS edit, no container
beside the cluster), so it needs no Docker network the suite's host can reach.

The cluster, if this run creates it, is journaled before it is made, so ``restore`` deletes
it after a kill (leftovers.py); everything inside it goes with it. The commands
are in commands.py (unit-tested exactly); the cluster lifecycle goes through
pytest-kubernetes' KindManager (cluster.py says which of its pitfalls are worked
around and how). Without Docker the run stops in prepare() with one line: the suite reports
it "not run", never passed.
"""

import dataclasses
import logging
import pathlib
import shutil
import subprocess
import tempfile

from kubernetes import client

from egress_conformance.changes import cleanup, journal
from egress_conformance.changes.journal import Journal
from egress_conformance.cluster import kube
from egress_conformance.providers.base import Provider, ProviderError
from egress_conformance.providers.existing.provider import (
    DEFAULT_CLIENT_IMAGE,
    DEFAULT_EXTERNAL_IMAGE,
    ExistingOptions,
    ExistingProvider,
)
from egress_conformance.providers.kind import cluster, commands, leftovers, runner
from egress_conformance.providers.kind.runner import Runner, run
from egress_conformance.providers.options import OptionError

CLUSTER_NAME = "egress-conformance"

log = logging.getLogger("egress")


@dataclasses.dataclass(frozen=True)
class KindOptions:
    """The kind provider's options, checked."""

    istio_version: str
    node_image: str
    client_image: str = DEFAULT_CLIENT_IMAGE
    external_image: str = DEFAULT_EXTERNAL_IMAGE
    keep_cluster: bool = False


class KindProvider(Provider):
    name = "kind"

    options: KindOptions

    def __init__(self, options: KindOptions, run_targets, runner: Runner = run):
        super().__init__(options, run_targets)
        self._run = runner

    @classmethod
    def parse_options(cls, values: dict) -> KindOptions:
        version = values.get("istio_version") or max(commands.NODE_IMAGES, key=lambda v: tuple(map(int, v.split("."))))
        try:
            node_image = commands.node_image(version)
        except ValueError as err:
            raise OptionError(str(err)) from None
        return KindOptions(istio_version=version, node_image=node_image,
                           client_image=values.get("client_image") or DEFAULT_CLIENT_IMAGE,
                           external_image=values.get("external_image") or DEFAULT_EXTERNAL_IMAGE,
                           keep_cluster=bool(values.get("keep_cluster")))

    @classmethod
    def journal_entry_types(cls) -> dict[str, journal.EntryType]:
        return {"kind-cluster": journal.EntryType(
            ("name",), lambda e: f"kind cluster {e['name']} created",
            lambda e, m: leftovers.delete_cluster(e["name"], m.run or runner.run), in_cluster=False,
            holds_cluster=True)}

    @classmethod
    def reconnect(cls, cluster: dict) -> client.ApiClient:
        """A kind cluster's kubeconfig is asked of kind again when the run's copy is gone (it lived in /tmp)."""
        kubeconfig = cluster.get("kubeconfig")
        if not (kubeconfig and cluster.get("kindCluster") and not pathlib.Path(kubeconfig).exists()):
            return super().reconnect(cluster)
        with tempfile.TemporaryDirectory(prefix="egress-restore-") as scratch:
            path = pathlib.Path(scratch) / "kubeconfig"
            path.write_text(leftovers.kubeconfig(cluster["kindCluster"], runner.run))
            return kube.connect(path)  # the client holds what it needs once connected

    @classmethod
    def prepare(cls, options: "KindOptions", run_command: Runner = run) -> None:
        for tool, how in (("docker", "install Docker"), ("kind", "go install sigs.k8s.io/kind@v0.33.0"),
                          ("istioctl", f"put istioctl {options.istio_version} on PATH")):
            if shutil.which(tool) is None:
                raise ProviderError(f"--provider kind needs {tool} on PATH: {how}")
        try:
            run_command(commands.docker_available(), 30)
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as err:
            raise ProviderError(f"--provider kind needs a running Docker daemon ({_short(err)}): start it, or use "
                                "--provider existing") from None

    def start(self, undo: cleanup.Stack, journal: Journal) -> None:
        scratch = pathlib.Path(tempfile.mkdtemp(prefix="egress-kind-"))
        undo.push(f"remove {scratch}", lambda: shutil.rmtree(scratch, ignore_errors=True))
        kubeconfig = str(scratch / "kubeconfig")  # the manager deletes it at delete(): it is ours
        self._cluster = cluster.KindCluster(CLUSTER_NAME, kubeconfig, self.options.node_image, self._run)
        name = self._cluster.cluster_name
        # Named before the first entry; the existing provider names it again once the API answers.
        journal.bind({"provider": self.name, "kindCluster": name, "kubeconfig": kubeconfig, "context": None,
                      "server": name})
        if name in self._step(commands.list_clusters(), 60, "kind get clusters").split():
            # kept by an earlier --keep-cluster run: with its kubeconfig the manager's readiness
            # probe passes and it reuses the cluster (and will not delete it) instead of failing to create it
            pathlib.Path(kubeconfig).write_text(self._step(commands.get_kubeconfig(name), 60, "kind get kubeconfig"))
            self._create_cluster(reuse=True)
        elif self.options.keep_cluster:
            self._create_cluster(reuse=True)  # to outlive the run: neither journaled nor deleted
        else:
            self._journaled(undo, journal, journal.changing("kind-cluster", name=name), f"delete kind cluster {name}",
                            self._create_cluster, lambda: leftovers.delete_cluster(name, self._run))
        self._step(commands.istioctl_install("istioctl", kubeconfig), 600, "istioctl install")
        self._load_images(name)
        self._inner = _OnKind(name, ExistingOptions(
            kubeconfig=kubeconfig, allow_mesh_wide_changes=True, external="simulated",
            client_image=self.options.client_image, external_image=self.options.external_image), self.targets)
        self._inner.start(undo, journal)

    def _create_cluster(self, reuse: bool = False) -> None:
        name = self._cluster.cluster_name
        try:
            self._cluster.create()
        except (RuntimeError, subprocess.CalledProcessError, subprocess.TimeoutExpired) as err:
            if "already exist" in _short(err):
                raise _NothingMade(f"kind cluster {name} was created by someone else meanwhile: left alone; "
                                   f"delete it or use --keep-cluster") from None
            raise ProviderError(f"kind cluster {name} not created: {_short(err)}") from None
        if not reuse and not self._cluster.created_by_us:
            raise _NothingMade(f"kind cluster {name} was created by someone else meanwhile: left alone; delete it "
                               "or use --keep-cluster")

    def _load_images(self, name: str) -> None:
        """Put the pod images that the local Docker has into the cluster's node: pre-pulled or
        self-built images then need no registry (air-gapped runners, rate limits). An image
        Docker does not have is left to the node to pull. On a kept cluster they stay, as a
        cache of the images it runs anyway."""
        for image in dict.fromkeys((self.options.client_image, self.options.external_image)):
            try:
                self._run(commands.local_image(image), 60)
            except subprocess.CalledProcessError as err:
                if "no such image" in (err.stderr or "").lower():
                    log.info("image %s is not in the local Docker: the kind node pulls it", image)
                    continue
                raise ProviderError(f"kind provider: docker image inspect {image} failed: {_short(err)}") from None
            except subprocess.TimeoutExpired:
                raise ProviderError(f"kind provider: docker image inspect {image} did not answer in 60s") from None
            self._step(commands.load_image(image, name), 600, f"kind load docker-image {image}")

    @staticmethod
    def _journaled(undo: cleanup.Stack, journal: Journal, entry: dict, description: str, make, unmake) -> None:
        """``make()`` a change whose ``entry`` is on disk already; register ``unmake`` (then settle) once
        it is made. A make that failed may have made half of it (a timed-out create): it is unmade at
        once, and the entry kept for ``restore`` if even that fails."""
        try:
            make()
        except _NothingMade:
            journal.settle(entry)
            raise
        except BaseException:
            try:
                unmake()
            except Exception as err:  # the make's own error is the one to report
                log.error("undo of a failed step %r failed, left to `egress-conformance restore`: %s",
                          description, err)
            else:
                journal.settle(entry)
            raise

        def unmake_and_settle():
            unmake()
            journal.settle(entry)

        undo.push(description, unmake_and_settle)

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

    def lacking(self, feature):
        return self._inner.lacking(feature)

    def deployed_gateway(self, name):
        return self._inner.deployed_gateway(name)

    def deployed_gateway_removed(self, name):
        self._inner.deployed_gateway_removed(name)

    def cluster(self):
        return self._inner.cluster()

    def logs(self):
        return self._inner.logs()

    def ensure_healthy(self):
        self._inner.ensure_healthy()

    def check_target(self):
        self._inner.check_target()

    def mesh_config_map(self):
        return self._inner.mesh_config_map()


class _NothingMade(ProviderError):
    """A step failed without making anything of its own (what it found is someone else's)."""


class _OnKind(ExistingProvider):
    """The existing provider on the kind cluster; the journal it binds names the kind cluster."""

    def __init__(self, kind_cluster: str, options: ExistingOptions, run_targets):
        super().__init__(options, run_targets)
        self._kind_cluster = kind_cluster

    def cluster(self) -> dict:
        return {**super().cluster(), "provider": KindProvider.name, "kindCluster": self._kind_cluster}


def _short(err: Exception) -> str:
    text = (getattr(err, "stderr", None) or str(err)).strip().splitlines()
    return text[-1][:200] if text else type(err).__name__
