"""The local provider: a Docker-free mesh of real components on this machine.

Topology (all addresses in 198.18.0.0/15, reserved for network tests):

    host (control plane on 127.0.0.1; istiod's xDS on 198.18.0.1:15010)
      | veth
    client pod netns (198.18.0.2): pilot-agent + Envoy (uid 1337), app (uid 1001)
      | veth
    external netns (198.18.1.2): httpbin on :80 and :443, named httpbin.org etc.

The pod reaches the external host over its own link, so the host never routes
or forwards anything and its firewall is left alone.
"""

import contextlib
import dataclasses
import logging
import os
import pathlib
import secrets
import shutil
import subprocess
import tempfile
import time

import yaml
from kubernetes import client

from egress_conformance import installed, pki, versions
from egress_conformance.changes import cleanup
from egress_conformance.changes.journal import Journal
from egress_conformance.cluster import clusterinfo, kube, meshconfig
from egress_conformance.providers import base, features
from egress_conformance.providers.base import ExecResult, MeshInfo, Provider, ProviderError, Workload
from egress_conformance.providers.local import controlplane, external, istio_install, istiod, netns, runstate, sidecar
from egress_conformance.providers.local.errors import LocalMeshError
from egress_conformance.providers.options import OptionError
from egress_conformance.verdicts import faults

HOST_ADDRESS, POD_ADDRESS = "198.18.0.1", "198.18.0.2"
POD_LINK_ADDRESS, EXTERNAL_ADDRESS = "198.18.1.1", "198.18.1.2"
XDS_ADDRESS = f"{HOST_ADDRESS}:15010"
POD_NAME = "client"

log = logging.getLogger("egress")


class LocalWorkload(Workload):
    def __init__(self, pod: sidecar.Sidecar, namespace: str, trusted_ca: str):
        self.pod = pod
        self.namespace = namespace
        self.name = POD_NAME
        self.trusted_ca = trusted_ca

    def exec(self, container, argv, timeout):
        if container == base.APP:
            result = self.pod.namespace.run(argv, uid=sidecar.CLIENT_UID, timeout=timeout)
        elif container == base.PROXY:
            if argv[0] == "pilot-agent":
                argv = [str(self.pod.directory / "pilot-agent"), *argv[1:]]
            # Root's traffic to 127.0.0.1 is exempt from capture (istio-iptables returns loopback early).
            result = self.pod.namespace.run(argv, timeout=timeout)
        else:
            raise ProviderError(f"the local client pod has no container {container!r}")
        return ExecResult(result.returncode, result.stdout, result.stderr)

    def envoy_admin(self, path):
        # curl beside the proxy costs a tenth of starting pilot-agent: the probe runs it twice per observation.
        result = self.exec(base.PROXY, ["curl", "-sS", "--max-time", "5", f"http://127.0.0.1:{sidecar.ADMIN_PORT}{path}"],
                           timeout=15)
        if not result.ok:
            raise ProviderError(f"{faults.SIDECAR}: Envoy admin {path} unreachable: {result.stderr.strip()}")
        return result.stdout

    def envoy_admin_many(self, paths):
        # One curl for all paths: a round trip (netns exec + process start) costs more than Envoy's answers.
        argv = ["curl", "-sS", "--max-time", "5", "--write-out", ADMIN_RESPONSE_END]
        argv += [f"http://127.0.0.1:{sidecar.ADMIN_PORT}{path}" for path in paths]
        result = self.exec(base.PROXY, argv, timeout=15)
        answers = result.stdout.split(ADMIN_RESPONSE_END)[:-1]
        if not result.ok or len(answers) != len(paths):
            raise ProviderError(f"{faults.SIDECAR}: Envoy admin {', '.join(paths)} unreachable: "
                                f"{result.stderr.strip()}")
        return answers


ADMIN_RESPONSE_END = "\n--egress-conformance: end of admin response--\n"


@dataclasses.dataclass(frozen=True)
class LocalOptions:
    """The local mesh's options, checked."""

    istio: versions.IstioRelease = dataclasses.field(default_factory=versions.istio)
    mesh_config: str | None = None
    """The istio ConfigMap's mesh key to start with (--local-mesh-config); None: the default."""


class LocalProvider(Provider):
    name = "local"

    options: "LocalOptions"

    @classmethod
    def parse_options(cls, values: dict) -> "LocalOptions":
        try:
            release = versions.istio(values.get("istio_version"))
        except ValueError as err:
            raise OptionError(f"--istio-version: {err}") from None
        path = values.get("local_mesh_config")
        mesh_config = None
        if path:
            try:
                mesh_config = open(path).read()
            except OSError as err:
                raise OptionError(f"--local-mesh-config: cannot read {path}: {err.strerror}") from None
            try:
                mesh = yaml.safe_load(mesh_config)
            except yaml.YAMLError as err:
                mesh = err
            if not isinstance(mesh, dict):
                raise OptionError(f"--local-mesh-config: {path} is not a YAML mapping of mesh config fields "
                                  "(e.g. 'trustDomain: cluster.local'); fix the file and run again")
            mode = meshconfig.policy_of(mesh_config)
            known = (meshconfig.ALLOW_ANY, meshconfig.REGISTRY_ONLY, "ALLOW_ANY_DYNAMIC_DNS")  # the last: Istio 1.31
            if mode not in known:
                raise OptionError(f"--local-mesh-config: unknown outboundTrafficPolicy.mode {mode!r} in {path}: "
                                  f"use one of {', '.join(known)}")
        return LocalOptions(istio=release, mesh_config=mesh_config)

    @classmethod
    def prepare(cls, options: "LocalOptions") -> None:
        """Root first, then the components: built by the test bed (``ci/setup``), never by the suite."""
        _require_root()
        if installed.load(options.istio) is None:
            raise ProviderError(_not_installed(options.istio))

    @classmethod
    def sweep(cls) -> list[str]:
        if os.geteuid() != 0:
            return []
        try:
            return runstate.sweep_stale()
        except LocalMeshError as err:
            return [f"local mesh left running: {err}"]

    def start(self, undo: cleanup.Stack, journal: Journal) -> None:
        _require_root()
        self.release = self.options.istio
        layout = installed.load(self.release)
        if layout is None:
            raise ProviderError(_not_installed(self.release))
        for line in runstate.sweep_stale():
            print(line)
        run_id = secrets.token_hex(3)
        state = runstate.RunState(run_id)
        undo.push("remove the run record", state.remove)
        # Last of all: whatever still carries the run's marker (a child that outlived its group, a
        # component someone restarted by hand) goes too, before the record that names it is removed.
        undo.push("stop every process of the run", lambda: runstate.stop_marked(run_id))
        run_dir = pathlib.Path(tempfile.mkdtemp(prefix=f"egress-conformance-{run_id}-"))
        state.add_path(run_dir)
        undo.push(f"remove {run_dir}", lambda: shutil.rmtree(run_dir, ignore_errors=True))
        run_dir.chmod(0o755)  # Envoy (uid 1337) reads its files under here
        self.run_dir = run_dir

        pod_ns, ext_ns = (self._namespace(f"ec-{run_id}-{role}", state, undo) for role in ("pod", "ext"))
        netns.link(None, f"ec{run_id}h", f"{HOST_ADDRESS}/30", pod_ns, "eth0", f"{POD_ADDRESS}/30")
        netns.link(pod_ns, "eth1", f"{POD_LINK_ADDRESS}/30", ext_ns, "eth0", f"{EXTERNAL_ADDRESS}/30")
        pod_ns.set_hosts({EXTERNAL_ADDRESS: list(self.targets.names())})
        ext_ns.set_hosts({})

        with _stage("etcd, kube-apiserver, kube-controller-manager"):
            self.control = controlplane.start(layout, run_dir, undo, state)
        # Objects in this run's own etcd go with it; the journal names the cluster for --keep.
        journal.bind(self.cluster())
        with _stage("Istio CRDs, istio-system and the istio ConfigMap"):
            self._api = kube.connect(self.control.kubeconfig)
            mesh_config = self.options.mesh_config or istio_install.mesh_config(XDS_ADDRESS)
            istio_install.install(self._api, layout, mesh_config)
        self._starting_policy = meshconfig.policy_of(mesh_config)
        with _stage("istiod"):
            self.istiod = istiod.start(layout, self.control.kubeconfig, XDS_ADDRESS, run_dir, undo, state)
        self._create_istiod_object()
        self.test_namespace = f"egress-conformance-{run_id}"
        self._create_pod_object()

        with _stage(f"external httpbin at {EXTERNAL_ADDRESS} ({_names(self.targets.names())})"):
            ext = external.start(ext_ns, EXTERNAL_ADDRESS, self.targets, run_dir, undo, state)
        client_ca = run_dir / "external-ca.crt"
        shutil.copyfile(ext.ca.cert, client_ca)
        client_ca.chmod(0o644)
        workload_ca = pki.ca(run_dir / "pki", "workload-ca", "egress-conformance workload CA")
        with _stage(f"client pod {self.test_namespace}/{POD_NAME}: capture, pilot-agent, Envoy"):
            pod = sidecar.start(layout, pod_ns, pod_ip=POD_ADDRESS, pod_name=POD_NAME,
                                pod_namespace=self.test_namespace, discovery_address=XDS_ADDRESS,
                                workload_ca=workload_ca, run_dir=run_dir, undo=undo, record=state)
        self._workload = LocalWorkload(pod, self.test_namespace, str(client_ca))
        self._info = MeshInfo(provider=self.name, kubernetes_version=clusterinfo.kubernetes_version(self._api),
                              istio_version=self.istiod.version(), revision="default",
                              istio_namespace="istio-system", mesh_config_map="istio",
                              starting_policy=self._starting_policy)
        self._sidecar = pod
        self._external = ext

    def api(self) -> client.ApiClient:
        return self._api

    def workload(self) -> Workload:
        return self._workload

    def info(self) -> MeshInfo:
        return self._info

    def features(self) -> frozenset[str]:
        return frozenset({features.MESH_WIDE_POLICY, features.SERVICE_ENTRY_HTTP, features.HTTPS_PASSTHROUGH,
                          features.SIDECAR_SCOPED_POLICY, features.TLS_ORIGINATION})

    def lacking(self, feature: str) -> str:
        if feature in (features.EGRESS_GATEWAY, features.EGRESS_AUTHORIZATION):
            return "the local mesh runs one client pod's sidecar and no gateway; run the gateway profile on a cluster"
        if feature == features.NETWORK_POLICY:
            return "the local mesh has no CNI and no pods beside its client; run egress-bypass on a cluster"
        if feature == features.WORKLOADS:
            return ("the local mesh runs no pods beside its client and no injection webhook: a team pod's sidecar "
                    "(or its absence) cannot be real there; run this shape on a cluster")
        if feature == features.GATEWAY_API:
            return ("the local mesh has no Gateway API CRDs and runs no pods beside its client, so nothing can deploy "
                    "a Gateway; run the gateway profile on a cluster")
        return ""

    def cluster(self) -> dict:
        return {"provider": self.name, "kubeconfig": str(self.control.kubeconfig), "context": None,
                "server": self.control.server}

    def component_pids(self) -> dict[str, int]:
        """Each component's pid, leading its own process group."""
        control = self.control
        return {"etcd": control.etcd.pid, "kube-apiserver": control.apiserver.pid,
                "kube-controller-manager": control.controller_manager.pid, "istiod": self.istiod.process.pid,
                "pilot-agent+envoy": self._sidecar.agent.pid, "httpbin": self._external.process.pid}

    def logs(self) -> dict[str, str]:
        sidecar_log = self._sidecar.log.read_text(errors="replace").splitlines()
        # Envoy's JSON access log shares pilot-agent's stdout; its lines are the ones that are JSON objects.
        access = [line for line in sidecar_log if line.startswith("{")]
        return {
            "access-log.jsonl": "\n".join(access[-200:]) + "\n",
            "sidecar.log": "\n".join(sidecar_log[-300:]) + "\n",
            "istiod.log": "\n".join(self.istiod.process.log.read_text(errors="replace").splitlines()[-300:]) + "\n",
        }

    def check_target(self) -> None:
        try:
            self._external.process.ensure_running()
        except LocalMeshError as err:
            raise ProviderError(f"{faults.TARGET}: {err}") from err

    def ensure_healthy(self) -> None:
        for fault, check in ((faults.API, self.control.ensure_running),
                             (faults.CONTROL_PLANE, self.istiod.process.ensure_running),
                             (faults.SIDECAR, self._sidecar.agent.ensure_running),
                             (faults.TARGET, self._external.process.ensure_running)):
            try:
                check()
            except LocalMeshError as err:
                raise ProviderError(f"{fault}: {err}") from err

    def _namespace(self, name: str, state: runstate.RunState, undo: cleanup.Stack) -> netns.Namespace:
        state.add_netns(name)
        return netns.create(name, undo)

    def _create_istiod_object(self) -> None:
        """The istiod Deployment in the API, ready, as a real install has it: tools that find istiod
        the way they do on a real cluster (`egress-conformance policy`, istiodiscovery.py) find this one.

        No undo: it lives in this run's own etcd; no deployment controller runs to reset its status.
        """
        apps = client.AppsV1Api(self._api)
        labels = {"app": "istiod", "istio.io/rev": "default"}
        apps.create_namespaced_deployment("istio-system", {
            "metadata": {"name": "istiod", "labels": labels},
            "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "istiod"}}, "template": {
                "metadata": {"labels": labels},
                "spec": {"containers": [{"name": "discovery", "image": "istio/pilot"}]}}},
        })
        apps.patch_namespaced_deployment_status("istiod", "istio-system", {"status": {
            "replicas": 1, "readyReplicas": 1, "availableReplicas": 1, "updatedReplicas": 1}})

    def _create_pod_object(self) -> None:
        """The client's Namespace and Pod in the API, with the status a kubelet would report.

        No undo: these live in this run's own etcd, which is discarded with it.
        """
        core = client.CoreV1Api(self._api)
        core.create_namespace({"metadata": {"name": self.test_namespace, "labels": {"istio-injection": "enabled"}}})
        core.create_namespaced_pod(self.test_namespace, {
            "metadata": {"name": POD_NAME, "labels": {"app": "client"},
                         "annotations": {"sidecar.istio.io/status": '{"containers":["istio-proxy"]}'}},
            "spec": {"automountServiceAccountToken": False, "containers": [
                {"name": "client", "image": "curlimages/curl"},
                {"name": "istio-proxy", "image": "istio/proxyv2"},
            ]},
        })
        core.patch_namespaced_pod_status(POD_NAME, self.test_namespace, {"status": {
            "phase": "Running", "podIP": POD_ADDRESS, "podIPs": [{"ip": POD_ADDRESS}], "hostIP": HOST_ADDRESS,
            "conditions": [{"type": "Ready", "status": "True"}],
        }})


@contextlib.contextmanager
def _stage(what: str):
    started = time.monotonic()
    log.info("  starting %s ...", what)
    yield
    log.info("  %s ready in %.1fs", what, time.monotonic() - started)


def _names(names: tuple[str, ...]) -> str:
    return ", ".join(names[:4]) + (f" and {len(names) - 4} more" if len(names) > 4 else "")


def _not_installed(release: versions.IstioRelease) -> str:
    return (f"the local mesh's components for Istio {release.label} are not installed: run "
            f"`ci/setup --istio {release.module_version}` in a checkout of egress-conformance (its test bed, "
            "testbed/, builds them; cached) or choose another --istio-version")


def _require_root() -> None:
    if os.geteuid() != 0:
        raise ProviderError(
            "the local mesh needs root (network namespaces, iptables, uid switching): run it as root, "
            "or pass --provider with a cluster of your own"
        )
    missing = [tool for tool in _TOOLS if shutil.which(tool) is None]
    if missing:
        raise ProviderError(f"the local mesh needs {', '.join(missing)} on PATH: install "
                            f"{', '.join(sorted({_TOOLS[t] for t in missing}))} (Debian packages) and run again")
    if subprocess.run(["ip", "netns", "list"], capture_output=True).returncode != 0:
        raise ProviderError("cannot list network namespaces: the local mesh needs CAP_NET_ADMIN and iproute2")


_TOOLS = {"ip": "iproute2", "iptables": "iptables", "setpriv": "util-linux", "curl": "curl"}
"""Commands the local mesh runs, and the Debian package of each."""
