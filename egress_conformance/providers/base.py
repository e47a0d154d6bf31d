"""The one interface every provider offers: a Kubernetes API, a meshed workload to make
requests from, and where the mesh config lives. Scenarios see nothing else.

The base classes own the public methods; a provider fills in the small hooks
(how to run a command in a container of the client pod, how to read versions).
"""

import abc
import dataclasses
import json
import pathlib

from kubernetes import client

from egress_conformance.changes import cleanup, journal
from egress_conformance.changes.journal import Journal
from egress_conformance.cluster import kube, kubeconfigs
from egress_conformance.cluster.ztunnel import Ztunnel
from egress_conformance.hosts import targets
from egress_conformance.verdicts import faults


class ProviderError(faults.MeshFault):
    """The provider cannot give a usable mesh; str(err) is one line that says what to do."""


@dataclasses.dataclass(frozen=True)
class MeshInfo:
    """What is under test, for verdicts and reports: read from the cluster, never from pins."""

    provider: str
    kubernetes_version: str
    istio_version: str
    revision: str
    istio_namespace: str = "istio-system"
    mesh_config_map: str = "istio"
    starting_policy: str = ""
    """The outbound traffic policy the mesh had when the run began (ALLOW_ANY when unset)."""


@dataclasses.dataclass(frozen=True)
class ExecResult:
    """What one command run in a container of the client pod gave back."""

    exit_code: int
    stdout: str
    stderr: str

    @property
    def ok(self) -> bool:
        return self.exit_code == 0


APP = "client"
"""The client pod's application container: its traffic goes through the sidecar."""
PROXY = "istio-proxy"
"""The sidecar container, where pilot-agent can reach Envoy's admin API on loopback."""


class Workload(abc.ABC):
    """The meshed client pod: requests go from its app container through its sidecar."""

    namespace: str
    name: str
    trusted_ca: str | None = None
    """CA bundle path (inside the app container) for HTTPS to the external host; None: system trust."""

    @abc.abstractmethod
    def exec(self, container: str, argv: list[str], timeout: float) -> ExecResult:
        """Run ``argv`` in ``container`` (APP or PROXY) of the client pod."""

    def curl(self, args: list[str], timeout: float) -> dict:
        """Run curl in the app container with ``args``; return curl's ``--write-out %{json}`` record.

        The record carries ``exitcode``, ``errormsg`` and ``http_code`` (see observe.py).
        """
        argv = ["curl", "-sS", "-o", "/dev/null", "--write-out", "%{json}", "--max-time", str(timeout), *args]
        result = self.exec(APP, argv, timeout=timeout + 10)
        try:
            return json.loads(result.stdout.strip().splitlines()[-1])
        except (IndexError, json.JSONDecodeError):
            return {"exitcode": result.exit_code, "errormsg": (result.stderr or result.stdout).strip()[-300:],
                    "http_code": 0}

    def curl_many(self, urls: list[str], args: list[str], timeout: float, parallel: int = 16) -> list[dict]:
        """Request every URL in one curl run, ``parallel`` at a time (one exec, however many
        hosts); return their ``%{json}`` records in the order of ``urls``."""
        argv = ["curl", "-sS", "--no-progress-meter", "--parallel", "--parallel-max", str(parallel),
                "--write-out", "%{json}\\n",
                "--max-time", str(timeout), *args]
        for url in urls:
            argv += ["-o", "/dev/null", url]
        rounds = -(-len(urls) // parallel)
        result = self.exec(APP, argv, timeout=timeout * rounds + 30)
        by_url = {}
        for line in result.stdout.splitlines():
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                continue
            by_url[record.get("url") or record.get("url_effective")] = record
        missing = {"exitcode": result.exit_code, "http_code": 0,
                   "errormsg": f"no answer recorded by curl: {(result.stderr or result.stdout).strip()[-200:]}"}
        return [by_url.get(url, missing) for url in urls]

    def envoy_admin(self, path: str) -> str:
        """GET a path of the sidecar's Envoy admin API (``/stats``, ``/config_dump?...``).

        ``pilot-agent request`` is in every proxy image and needs neither curl nor a
        port-forward, so the same call works on any real pod.
        """
        result = self.exec(PROXY, ["pilot-agent", "request", "GET", path.lstrip("/")], timeout=20)
        if not result.ok:
            raise ProviderError(f"sidecar not ready: Envoy admin {path} unreachable in {self.namespace}/{self.name}: "
                                f"{(result.stderr or result.stdout).strip()[-200:]}")
        return result.stdout

    def envoy_admin_many(self, paths: list[str]) -> list[str]:
        """GET several admin paths; a workload that can fetch them in one round trip overrides this."""
        return [self.envoy_admin(path) for path in paths]


@dataclasses.dataclass(frozen=True)
class EgressGateway:
    """The mesh's egress gateway: where its Service is, what its Gateway objects select, and
    its Envoy (``proxy.envoy_admin``) for evidence that a request left through it."""

    namespace: str
    service: str
    selector: dict[str, str]
    port_names: dict[int, str]
    """Service port -> its name (the gateway's listeners are on these)."""
    proxy: Workload
    image: str = ""
    """Its istio-proxy container's image: Istio's proxy, which any cluster running the mesh can
    pull ("" when unknown). A scenario may run Envoy from it as a simulated host."""

    @property
    def host(self) -> str:
        return f"{self.service}.{self.namespace}.svc.cluster.local"

    def substitutions(self) -> dict[str, str]:
        """The placeholders of the gateway scenarios' manifests: ${gateway_namespace},
        ${gateway_host}, ${gateway_selector} (a YAML flow mapping of its pods' labels)."""
        return {"gateway_namespace": self.namespace, "gateway_host": self.host,
                "gateway_selector": json.dumps(self.selector)}


class Provider(abc.ABC):
    """A mesh under test. ``start`` brings it up (or connects); everything it changes is
    registered on the ``undo`` stack it is given, and every object it creates in a
    cluster is written to the run's ``journal`` first (so ``restore`` removes it after a kill)."""

    name: str

    def __init__(self, options, run_targets: targets.Targets):
        self.options = options
        """This provider's own options: the dataclass its parse_options returns."""
        self.targets = run_targets
        """The external hosts the run calls: a provider that simulates them answers for all of them."""

    @classmethod
    @abc.abstractmethod
    def parse_options(cls, values: dict):
        """This provider's options dataclass from the option values that apply to it
        (options.chosen); raise options.OptionError with one line for a bad value."""

    @classmethod
    def prepare(cls, options) -> None:
        """Before pytest starts: check prerequisites and install what the provider needs
        (the local mesh checks that the test bed built its components). Raise ProviderError to stop."""

    @classmethod
    def sweep(cls) -> list[str]:
        """Clean what killed runs of this provider left outside any cluster; a line per thing."""
        return []

    @classmethod
    def reconnect(cls, cluster: dict) -> client.ApiClient:
        """An API client for a cluster a journal names (its ``cluster()`` record), to restore it
        from another process, on a flattened copy of its kubeconfig (the user's file is never
        written, not even by a token refresh); a provider that can find it again another way
        overrides this."""
        kubeconfig = cluster.get("kubeconfig")
        if not kubeconfig:
            return kube.connect(None)
        return kubeconfigs.connect_through_copy(pathlib.Path(kubeconfig), cluster.get("context"))

    @classmethod
    def journal_entry_types(cls) -> dict[str, "journal.EntryType"]:
        """Journal entry types of changes only this provider makes (outside the cluster), by name."""
        return {}

    @abc.abstractmethod
    def start(self, undo: cleanup.Stack, journal: Journal) -> None:
        """Bring the mesh up or connect to it."""

    @abc.abstractmethod
    def api(self) -> client.ApiClient:
        """A Kubernetes API client for the mesh's cluster."""

    @abc.abstractmethod
    def workload(self) -> Workload:
        """The meshed client the scenarios make requests from."""

    @abc.abstractmethod
    def info(self) -> MeshInfo:
        """Versions, revision and starting state of the mesh under test, as read from it."""

    @abc.abstractmethod
    def features(self) -> frozenset[str]:
        """The features (features.py) this mesh can show; scenarios needing others are 'not supported'."""

    @abc.abstractmethod
    def cluster(self) -> dict:
        """How to reach this cluster again later (for the journal): provider, kubeconfig, context, server."""

    @abc.abstractmethod
    def logs(self) -> dict[str, str]:
        """File name -> recent log text of the mesh's components, for evidence."""

    @abc.abstractmethod
    def check_target(self) -> None:
        """Ask the external target from outside the mesh; raise ProviderError("target down: ...")
        if it does not answer. Asked again before a failed step is blamed on the mesh."""

    @abc.abstractmethod
    def ensure_healthy(self) -> None:
        """Raise ProviderError if the mesh can no longer answer (e.g. istiod crashed)."""

    def component_pids(self) -> dict[str, int]:
        """Process ids of the mesh's components that run on this machine, by name (for the
        soak's footprint); empty where they run elsewhere."""
        return {}

    def egress_gateway(self) -> EgressGateway | None:
        """The mesh's egress gateway, if it has one (feature egress-gateway)."""
        return None

    def deployed_gateway(self, name: str) -> EgressGateway:
        """The gateway the mesh deployed for Gateway API Gateway ``name`` of the test namespace,
        once it is ready (feature gateway-api)."""
        raise NotImplementedError(f"the {self.name} provider deploys no gateways (feature gateway-api)")

    def deployed_gateway_removed(self, name: str) -> None:
        """Return once what the mesh deployed for Gateway ``name`` is gone (after the Gateway's deletion)."""
        raise NotImplementedError(f"the {self.name} provider deploys no gateways (feature gateway-api)")

    def side_pod(self, name: str, *, sidecar: bool, annotations: dict[str, str], run_as_user: int,
                 service_account: str | None = None) -> dict:
        """The manifest of another pod of the test namespace, made like the client (its image, hosts
        and trusted CA), its app container running as ``run_as_user``, under ``service_account``
        (None: the namespace's default); with ``sidecar`` False, never injected (feature
        network-policy: the paths around a sidecar)."""
        raise NotImplementedError(f"the {self.name} provider runs no pods beside its client (feature network-policy)")

    def side_workload(self, name: str, *, sidecar: bool) -> Workload:
        """The pod made from ``side_pod(name, ...)``, once Ready (with its sidecar when it has one)."""
        raise NotImplementedError(f"the {self.name} provider runs no pods beside its client (feature network-policy)")

    def sidecar_of(self, pod: str) -> Workload | None:
        """The sidecar of a running pod of the test namespace (a team's own), to read its admin
        API; None where the mesh runs no pods beside its client."""
        return None

    def ztunnel(self) -> Ztunnel | None:
        """The ztunnel that carries the client's egress when the test namespace is ambient (the
        client then has no sidecar, and observations read ztunnel's evidence); None with sidecars."""
        return None

    def lacking(self, feature: str) -> str:
        """Why this mesh lacks ``feature``, in words for the "not supported" line ("" to say nothing more)."""
        return ""

    def substitutions(self) -> dict[str, str]:
        """Placeholders of scenario manifests that depend on where the external host is:
        ${endpoints}, the addresses a ServiceEntry of it names (a YAML flow list; [] to
        resolve the host's own name, as on the internet); ${target_ca}, the CA file that
        verifies the host, at the same path in the app and the sidecar ("" for the
        proxy's system roots); ${target_ca_credential}, the same CA as a DestinationRule's
        credentialName for a proxy without that file, the egress gateway ("configmap://NS/NAME";
        "" for the system roots)."""
        address = self.target_address()
        return {"endpoints": json.dumps([{"address": address}]) if address else "[]",
                "target_ca": self.workload().trusted_ca or "", "target_ca_credential": ""}

    def target_address(self) -> str | None:
        """The run's external host's one address where the run knows it (a simulated host, known to
        the client by a hosts-file alias), else None (a host on the internet has many addresses)."""
        return None

    def mesh_wide_changes_allowed(self) -> bool:
        """May the run change mesh-wide settings? Yes on a cluster the run owns; on a
        shared cluster only with the user's explicit consent."""
        return True

    def mesh_config_map(self) -> tuple[str, str]:
        """(namespace, name) of the ConfigMap whose ``mesh`` key istiod reads."""
        info = self.info()
        return info.istio_namespace, info.mesh_config_map
