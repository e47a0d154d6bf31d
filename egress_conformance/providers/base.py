"""The one interface every provider offers: a Kubernetes API, a meshed workload to make
requests from, and where the mesh config lives. Scenarios see nothing else.

The base classes own the public methods; a provider fills in the small hooks
(how to run a command beside the app, how to reach Envoy's admin API).
"""

import abc
import dataclasses
import json
import subprocess

from kubernetes import client

from egress_conformance import cleanup


class ProviderError(Exception):
    """The provider cannot give a usable mesh; str(err) is one line that says what to do."""


@dataclasses.dataclass(frozen=True)
class MeshInfo:
    """What is under test, for verdicts and reports."""

    provider: str
    kubernetes_version: str
    istio_version: str
    revision: str


class Workload(abc.ABC):
    """The meshed client pod: requests go from its app container through its sidecar."""

    namespace: str
    name: str
    trusted_ca: str | None = None
    """CA bundle path (inside the workload) for HTTPS to the external host; None: system trust."""

    def curl(self, args: list[str], timeout: float) -> dict:
        """Run curl as the app with ``args``; return curl's ``--write-out %{json}`` record.

        The record carries ``exitcode``, ``errormsg`` and ``http_code`` (see observe.py).
        """
        argv = ["curl", "-sS", "-o", "/dev/null", "--write-out", "%{json}", "--max-time", str(timeout), *args]
        result = self._run_as_app(argv, timeout=timeout + 10)
        try:
            return json.loads(result.stdout.strip().splitlines()[-1])
        except (IndexError, json.JSONDecodeError):
            return {"exitcode": result.returncode, "errormsg": (result.stderr or result.stdout).strip()[-300:],
                    "http_code": 0}

    def envoy_admin(self, path: str) -> str:
        """GET a path of the sidecar's Envoy admin API (``/stats``, ``/config_dump?...``)."""
        result = self._run_beside_proxy(["curl", "-sS", "--max-time", "5", f"http://127.0.0.1:15000{path}"])
        if result.returncode != 0:
            raise ProviderError(f"Envoy admin {path} unreachable: {result.stderr.strip()}")
        return result.stdout

    @abc.abstractmethod
    def _run_as_app(self, argv: list[str], timeout: float) -> subprocess.CompletedProcess:
        """Run ``argv`` as the application (its traffic is captured by the sidecar)."""

    @abc.abstractmethod
    def _run_beside_proxy(self, argv: list[str]) -> subprocess.CompletedProcess:
        """Run ``argv`` where Envoy's admin port is on loopback, without capture."""


class Provider(abc.ABC):
    """A mesh under test. ``start`` brings it up (or connects); everything it changes is
    registered on the ``undo`` stack it is given."""

    name: str

    def __init__(self, options: dict):
        self.options = options

    @abc.abstractmethod
    def start(self, undo: cleanup.Stack) -> None:
        """Bring the mesh up or connect to it."""

    @abc.abstractmethod
    def api(self) -> client.ApiClient:
        """A Kubernetes API client for the mesh's cluster."""

    @abc.abstractmethod
    def workload(self) -> Workload:
        """The meshed client the scenarios make requests from."""

    @abc.abstractmethod
    def info(self) -> MeshInfo:
        """Versions and revision of the mesh under test."""

    @abc.abstractmethod
    def features(self) -> frozenset[str]:
        """The features (features.py) this mesh can show; scenarios needing others are 'not supported'."""

    @abc.abstractmethod
    def cluster(self) -> dict:
        """How to reach this cluster again later (for the journal): provider, kubeconfig, context, server."""

    def logs(self) -> dict[str, str]:
        """File name -> recent log text of the mesh's components, for evidence (empty if none)."""
        return {}

    def ensure_healthy(self) -> None:
        """Raise ProviderError if the mesh can no longer answer (e.g. istiod crashed)."""

    def mesh_config_map(self) -> tuple[str, str]:
        """(namespace, name) of the ConfigMap whose ``mesh`` key istiod reads."""
        revision = self.info().revision
        return "istio-system", "istio" if revision in ("", "default") else f"istio-{revision}"
