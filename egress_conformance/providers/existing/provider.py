"""The existing-cluster provider: a cluster with Istio that the suite did not create, often
shared with other people.

It reads the user's kubeconfig once and works on a flattened one-context copy; it
finds the istiod (namespace, revision, tags) that the test namespace's injection
selects, and so the ConfigMap that really counts; it creates only its own namespace
(journaled: ``restore`` deletes it after a kill), or with ``--test-namespace`` uses one
the user made and labelled, with a client pod that istiod injects, and never deletes,
labels or patches anything it did not create. Mesh-wide changes need the
user's consent (``--allow-mesh-wide-changes``); without it the namespace-scoped form
of each scenario runs and mesh-wide ones are skipped.
"""

import dataclasses
import logging
import pathlib
import re
import secrets
import shutil
import tempfile

from kubernetes import client

from egress_conformance import versions
from egress_conformance.changes import cleanup, objects
from egress_conformance.changes.journal import Journal
from egress_conformance.cluster import clusterinfo, gatewayclass, istiodiscovery, kube, kubeconfigs, meshconfig, ztunnel
from egress_conformance.providers import base, features
from egress_conformance.providers.base import EgressGateway, MeshInfo, Provider, ProviderError, Workload
from egress_conformance.providers.existing import clientpod, external_target, gateway, hold
from egress_conformance.providers.options import OptionError

log = logging.getLogger("egress")

DEFAULT_CLIENT_IMAGE = "curlimages/curl:8.11.1"
DEFAULT_EXTERNAL_IMAGE = f"mccutchen/go-httpbin:{versions.GO_HTTPBIN}"


AMBIENT_LABEL = "istio.io/dataplane-mode"


@dataclasses.dataclass(frozen=True)
class ExistingOptions:
    """The existing provider's options, checked."""

    kubeconfig: str | None = None
    """Absolute path; None only inside a cluster (in-cluster configuration)."""
    context: str | None = None
    revision: str | None = None
    test_namespace: str | None = None
    allow_mesh_wide_changes: bool = False
    external: str = "live"
    client_image: str = DEFAULT_CLIENT_IMAGE
    external_image: str = DEFAULT_EXTERNAL_IMAGE
    pod_channel: str = clientpod.CHANNEL_STREAM
    """How the client pod is reached: kept-open channels, or one exec per call (clientpod)."""


class ExistingProvider(Provider):
    name = "existing"
    options: ExistingOptions
    target: external_target.LiveTarget | external_target.SimulatedTarget | None = None
    _gateway: EgressGateway | None = None
    _gateway_said = ""
    _gateway_held = False
    _gateway_api = False
    _gateway_api_said = "not looked for"
    _ambient = ""
    """Why the given ambient namespace has nothing to test (no ztunnel), "" otherwise."""
    _ztunnel: ztunnel.Ztunnel | None = None
    """The ztunnel carrying the given ambient namespace's egress."""
    _ambient_scenarios_only = ""
    """Why a sidecar scenario is not supported in the given ambient namespace, "" when it has sidecars."""

    @classmethod
    def parse_options(cls, values: dict) -> ExistingOptions:
        path = values.get("kubeconfig")
        if path and values.get("in_cluster"):
            raise OptionError("--kubeconfig and --in-cluster name two ways to the cluster: give one")
        if path:
            if not pathlib.Path(path).expanduser().is_file():
                raise OptionError(f"--kubeconfig {path}: no such file; pass the kubeconfig of the cluster under test")
            path = str(pathlib.Path(path).expanduser().resolve())
        elif values.get("in_cluster"):
            if not _in_cluster():
                raise OptionError("--in-cluster: this is not a pod (no service account token, no "
                                  "KUBERNETES_SERVICE_HOST); pass --kubeconfig FILE instead")
        else:
            # Never the pod's service account by surprise: a run in a pod says so (--in-cluster).
            raise OptionError("--provider existing needs --kubeconfig FILE, or --in-cluster in a pod (the suite "
                              "never picks up ~/.kube/config, $KUBECONFIG or a service account by itself)")
        namespace = values.get("test_namespace")
        if namespace and not re.fullmatch(r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?", namespace):
            raise OptionError(f"--test-namespace {namespace}: not a namespace name (lowercase letters, digits and "
                              "'-', at most 63)")
        return ExistingOptions(
            kubeconfig=path, context=values.get("context"), revision=values.get("revision"),
            test_namespace=namespace, allow_mesh_wide_changes=bool(values.get("allow_mesh_wide_changes")),
            external=values.get("external") or "live",
            client_image=values.get("client_image") or DEFAULT_CLIENT_IMAGE,
            external_image=values.get("external_image") or DEFAULT_EXTERNAL_IMAGE,
            pod_channel=values.get("pod_channel") or clientpod.CHANNEL_STREAM)

    def start(self, undo: cleanup.Stack, journal: Journal) -> None:
        self._undo, self._journal = undo, journal  # the shared gateway's Lease is taken on first use
        self._api = self._connect(undo)
        try:
            self._kubernetes_version = clusterinfo.kubernetes_version(self._api)
        except Exception as err:  # any transport or auth error: the cluster was not reached
            raise ProviderError(f"cluster {self._server} unreachable: {_short(err)}; check --kubeconfig/--context "
                                "and your credentials") from None
        journal.bind(self.cluster())
        given = self.options.test_namespace
        # A given namespace's own injection label decides the revision under test; --revision overrides it.
        selected = _selected_revision(self._labels_of(given)) if given else None
        self._selector = self.options.revision or selected or None
        """What selects the revision under test: ensure_healthy looks at the same istiod."""
        try:
            self.found = istiodiscovery.detect(self._api, self._selector)
        except istiodiscovery.DiscoveryError as err:
            raise ProviderError(str(err)) from None
        where = self.found.mesh_config_map
        try:
            self._starting_policy = meshconfig.policy_of(meshconfig.read(self._api, where))
        except client.ApiException as err:
            raise ProviderError(f"cannot read the mesh ConfigMap {where[0]}/{where[1]} of revision "
                                f"{self.found.revision}: {err.status} {err.reason}") from None
        log.info("  istiod %s/%s (revision %s%s), mesh config %s/%s", self.found.istiod.namespace,
                 self.found.istiod.deployment, self.found.revision,
                 f", tags {', '.join(sorted(self.found.tags))}" if self.found.tags else "", *where)

        ambient = bool(given and self._labels_of(given).get(AMBIENT_LABEL) == "ambient")
        if ambient and given:
            # ztunnel and waypoints carry an ambient namespace's egress: a sidecar verdict there would be false.
            self._ztunnel = ztunnel.find(self._api)
            if self._ztunnel is None:
                self.test_namespace, self._istio_version = given, self._read_istio_version()
                self._ambient = (f"namespace {given} is ambient ({AMBIENT_LABEL}=ambient) but no ztunnel runs in the "
                                 f"cluster (no pod labelled {ztunnel.LABEL}): nothing carries its egress to test")
                log.info("  %s", self._ambient)
                return
            self._ambient_scenarios_only = (
                f"namespace {given} is ambient ({AMBIENT_LABEL}=ambient): ztunnel {self._ztunnel.namespace}/"
                f"{self._ztunnel.pod} carries its egress, not a sidecar; this scenario tests sidecars")
            log.info("  namespace %s is ambient: observations read ztunnel %s/%s", given, self._ztunnel.namespace,
                     self._ztunnel.pod)
        create = lambda obj: self._create(obj, undo, journal)  # noqa: E731 -- one line per object below
        if given and not ambient:
            self._check_given_namespace(given, selected)
        self.test_namespace = given or f"egress-conformance-{secrets.token_hex(3)}"
        # Before the first change: changes other runs left unrestored stop this one, and the
        # mesh's Lease is taken (released last, once everything else is undone).
        try:
            hold.unrestored(self._api, given)
        except client.ApiException as err:
            raise ProviderError(f"cannot look for journals earlier runs left in the cluster ({err.status} "
                                f"{err.reason}): the suite needs list on configmaps in namespace {given}") from None
        if self.mesh_wide_changes_allowed():
            hold.take_mesh(self._api, journal, undo, self.test_namespace, self.found.mesh_config_map)
        if not given:
            create({"apiVersion": "v1", "kind": "Namespace",
                    "metadata": {"name": self.test_namespace, "labels": {
                        **self.found.namespace_labels, "app.kubernetes.io/created-by": "egress-conformance"}}})
        # From here on the cluster holds the run's journal and Leases: a run killed on a
        # throwaway machine is restored from any other, and a second run is refused.
        hold.take(self._api, journal, undo, self.test_namespace, created=not given)
        if not ambient:
            create(clientpod.access_log_telemetry(self.test_namespace))

        self.target = (external_target.SimulatedTarget(self.options.external_image, self.targets)
                       if self.options.external == "simulated" else external_target.LiveTarget(self.targets))
        log.info("  external host: %s", self.target.description)
        for obj in self.target.objects(self.test_namespace):
            create(obj)
        self.target.wait_ready(self._api, self.test_namespace)

        create(clientpod.manifest(self.test_namespace, self.options.client_image, self.target.host_aliases,
                                  self.target.ca_config_map))
        if self._ztunnel is not None:
            clientpod.wait_ready(self._api, self.test_namespace, clientpod.NAME, sidecar=False)
            clientpod.wait_enrolled(self._api, self.test_namespace, self._ztunnel)
            log.info("  client pod %s/%s enrolled in ambient mode (istio-cni redirected it, ztunnel %s lists it "
                     "as HBONE)", self.test_namespace, clientpod.NAME, self._ztunnel.pod)
        else:
            clientpod.wait_injected_and_ready(self._api, self.test_namespace, self.found.revision)
            log.info("  client pod %s/%s injected by revision %s", self.test_namespace, clientpod.NAME,
                     self.found.revision)
        self._workload = clientpod.PodWorkload(self._exec_api, self.test_namespace, self.target.trusted_ca,
                                               self.options.pod_channel, sidecar=self._ztunnel is None)
        undo.push("close the channels to the client pod", self._workload.close)
        log.info("  client pod reached by %s", self._workload.open_channels())
        self._istio_version = self._read_istio_version()
        if ambient:
            return  # the gateways' scenarios test sidecars: not looked for
        self._proxy_of = self._gateway_proxy(undo)
        self._gateway, self._gateway_said = gateway.find(self._api, self._proxy_of)
        log.info("  egress gateway: %s", self._gateway_said)
        self._gateway_api, self._gateway_api_said = gatewayclass.istio_class(self._api)
        log.info("  Gateway API: %s", self._gateway_api_said)
        self._istio_version = self._read_istio_version()

    def _gateway_proxy(self, undo: cleanup.Stack):
        """How the gateway's Envoy is read: as the client's, its channel closed at the end."""

        def proxy(namespace: str, pod: str) -> Workload:
            workload = clientpod.PodWorkload(self._exec_api, namespace, None, self.options.pod_channel, name=pod)
            undo.push(f"close the channels to the egress gateway's pod {namespace}/{pod}", workload.close)
            return workload

        return proxy

    def _labels_of(self, name: str) -> dict[str, str]:
        """--test-namespace: it must exist; the suite never creates or labels a namespace it is
        given (the user owns it, and its rights may be a Role)."""
        try:
            return client.CoreV1Api(self._api).read_namespace(name).metadata.labels or {}
        except client.ApiException as err:
            if err.status == 404:
                raise ProviderError(f"--test-namespace {name}: no such namespace; create it and label it "
                                    "istio-injection=enabled (or istio.io/rev=<revision>) first") from None
            raise ProviderError(f"--test-namespace {name}: cannot read it ({err.status} {err.reason}); the suite "
                                f"needs get on namespace {name}") from None

    def _check_given_namespace(self, name: str, selected: str | None) -> None:
        """The given namespace must select a revision, and with --revision the same one."""
        if selected is None:
            raise ProviderError(f"--test-namespace {name} is not labelled for injection by revision "
                                f"{self.found.revision}: run `kubectl label namespace {name} "
                                f"{_labels(self.found.namespace_labels)}` (the suite does not label a namespace it "
                                "did not create)")
        if not self.options.revision:
            return  # it chose the revision under test
        try:
            own = istiodiscovery.detect(self._api, selected or None).revision
        except istiodiscovery.DiscoveryError as err:
            raise ProviderError(f"--test-namespace {name}: {err}") from None
        if own != self.found.revision:
            raise ProviderError(f"--test-namespace {name} selects revision {own}, not --revision "
                                f"{self.options.revision} ({self.found.revision}): drop --revision to test {own}, "
                                f"or pass a namespace that selects {self.found.revision}")

    def _create(self, obj: dict, undo: cleanup.Stack, journal: Journal) -> None:
        try:
            objects.create(self._api, obj, undo, journal)
        except client.ApiException as err:
            if err.status != 409:
                raise
            meta = obj["metadata"]
            raise ProviderError(f"{obj['kind']} {meta.get('namespace')}/{meta['name']} exists already and is not "
                                "the suite's: left as it is; remove it or pass another --test-namespace") from None

    def _connect(self, undo: cleanup.Stack) -> client.ApiClient:
        user_file = self.options.kubeconfig
        if user_file is None:
            self._server, self._context = "in-cluster", None
            self._exec_api = kube.connect(None)
            return kube.connect(None)
        try:
            flat, self._context, self._server = kubeconfigs.flattened(pathlib.Path(user_file),
                                                                      self.options.context)
        except kubeconfigs.KubeconfigError as err:
            raise ProviderError(str(err)) from None
        scratch = pathlib.Path(tempfile.mkdtemp(prefix="egress-existing-"))
        undo.push(f"remove the kubeconfig copy in {scratch}", lambda: shutil.rmtree(scratch, ignore_errors=True))
        self._kubeconfig_copy = kubeconfigs.write_copy(flat, scratch)
        self._exec_api = kube.connect(self._kubeconfig_copy)
        return kube.connect(self._kubeconfig_copy)

    def _read_istio_version(self) -> str:
        """istiod's own /version (its monitoring port, through the API server's pod proxy);
        failing that, its image tag, labelled as such."""
        istiod = self.found.istiod
        core = client.CoreV1Api(self._api)
        pods = core.list_namespaced_pod(istiod.namespace, label_selector=f"app=istiod,istio.io/rev={istiod.revision}"
                                        if istiod.revision != istiodiscovery.DEFAULT else "app=istiod").items
        running = [p for p in pods if p.status.phase == "Running"]
        if not running:
            return "unknown (no running istiod pod)"
        try:
            text = core.connect_get_namespaced_pod_proxy_with_path(f"{running[0].metadata.name}:15014",
                                                                   istiod.namespace, "version")
            return clusterinfo.istio_version(text)
        except client.ApiException:
            image = running[0].spec.containers[0].image
            return f"{image.rsplit(':', 1)[-1]} (image tag; istiod's /version not readable)"

    def api(self) -> client.ApiClient:
        return self._api

    def workload(self) -> Workload:
        return self._workload

    def info(self) -> MeshInfo:
        namespace, name = self.found.mesh_config_map
        return MeshInfo(provider=self.name, kubernetes_version=self._kubernetes_version,
                        istio_version=self._istio_version, revision=self.found.revision,
                        istio_namespace=namespace, mesh_config_map=name, starting_policy=self._starting_policy)

    def features(self) -> frozenset[str]:
        if self._ambient:
            return frozenset()
        if self._ztunnel is not None:
            # The walkthrough runs through ztunnel (observations read its evidence); the rest test sidecars.
            return frozenset({features.MESH_WIDE_POLICY, features.SERVICE_ENTRY_HTTP})
        found = {features.EGRESS_GATEWAY, features.EGRESS_AUTHORIZATION} if self._gateway else set()
        found |= {features.GATEWAY_API} if self._gateway_api else set()
        # NetworkPolicy enforcement cannot be read from the API: the bypass scenario finds out and
        # reports a CNI that does not enforce it as "not supported", never as a pass.
        return frozenset({features.MESH_WIDE_POLICY, features.SERVICE_ENTRY_HTTP, features.HTTPS_PASSTHROUGH,
                          features.SIDECAR_SCOPED_POLICY, features.TLS_ORIGINATION, features.NETWORK_POLICY,
                          features.WORKLOADS, *found})

    def lacking(self, feature: str) -> str:
        if self._ambient:
            return self._ambient
        if self._ztunnel is not None:
            return self._ambient_scenarios_only
        if feature == features.GATEWAY_API:
            return self._gateway_api_said
        gateway_needed = feature in (features.EGRESS_GATEWAY, features.EGRESS_AUTHORIZATION)
        return f"egress gateway {self._gateway_said}" if gateway_needed else ""

    def egress_gateway(self) -> EgressGateway | None:
        if self._gateway is not None and not self._gateway_held:
            # One run at a time through the shared gateway (hold.take_gateway); raises ClusterBusy: "not run".
            hold.take_gateway(self._api, self._journal, self._undo, self.test_namespace, self._gateway)
            self._gateway_held = True
        return self._gateway

    def deployed_gateway(self, name: str) -> EgressGateway:
        return gateway.wait_deployed(self._api, self.test_namespace, name, self._proxy_of)

    def deployed_gateway_removed(self, name: str) -> None:
        gateway.wait_removed(self._api, self.test_namespace, name)

    def side_pod(self, name: str, *, sidecar: bool, annotations: dict[str, str], run_as_user: int,
                 service_account: str | None = None) -> dict:
        host_aliases, ca = (self.target.host_aliases, self.target.ca_config_map) if self.target else (None, None)
        return clientpod.side_manifest(self.test_namespace, name, self.options.client_image, host_aliases, ca,
                                       sidecar=sidecar, annotations=annotations, run_as_user=run_as_user,
                                       service_account=service_account)

    def side_workload(self, name: str, *, sidecar: bool) -> Workload:
        clientpod.wait_ready(self._api, self.test_namespace, name, sidecar=sidecar)
        return clientpod.PodWorkload(self._exec_api, self.test_namespace, self.target.trusted_ca if self.target
                                     else None, name=name)

    def sidecar_of(self, pod: str) -> Workload | None:
        # One exec per admin read: a team's pod is read a few times, not held open for the run.
        return clientpod.PodWorkload(self._exec_api, self.test_namespace, None, clientpod.CHANNEL_EXEC, name=pod)

    def target_address(self) -> str | None:
        # A simulated host has no DNS name outside the client pod's hosts file: a ServiceEntry
        # that another proxy (the egress gateway) resolves names its address instead (${endpoints}).
        aliases = self.target.host_aliases if self.target else None
        return aliases[0]["ip"] if aliases else None

    def substitutions(self) -> dict[str, str]:
        found = super().substitutions()
        if self.target and self.target.ca_config_map:
            # Istio lets any proxy read a ConfigMap's ca.crt across namespaces (it is no secret):
            # the gateway verifies the simulated host with nothing added to its namespace.
            found["target_ca_credential"] = f"configmap://{self.test_namespace}/{self.target.ca_config_map}"
        return found

    def mesh_wide_changes_allowed(self) -> bool:
        return bool(self.options.allow_mesh_wide_changes)

    def cluster(self) -> dict:
        # The user's own file (read-only) is how `restore` reaches the cluster again later.
        return {"provider": self.name, "kubeconfig": self.options.kubeconfig, "context": self._context,
                "server": self._server}

    def ztunnel(self) -> ztunnel.Ztunnel | None:
        return self._ztunnel

    def logs(self) -> dict[str, str]:
        core = client.CoreV1Api(self._api)
        if self._ztunnel is not None:
            return {"ztunnel.log": core.read_namespaced_pod_log(self._ztunnel.pod, self._ztunnel.namespace,
                                                                container=ztunnel.CONTAINER, tail_lines=500)}
        proxy_log = core.read_namespaced_pod_log(clientpod.NAME, self.test_namespace, container=base.PROXY,
                                                 tail_lines=500)
        access = [line for line in proxy_log.splitlines() if line.startswith(("{", "["))]
        istiod = self.found.istiod
        pods = core.list_namespaced_pod(istiod.namespace, label_selector="app=istiod").items
        mine = [p for p in pods if (p.metadata.labels or {}).get("istio.io/rev", "default") == istiod.revision]
        istiod_log = (core.read_namespaced_pod_log(mine[0].metadata.name, istiod.namespace, tail_lines=300)
                      if mine else "no istiod pod\n")
        logs = {"sidecar.log": proxy_log, "istiod.log": istiod_log}
        # The built-in envoy provider logs in the mesh's accessLogEncoding: JSON lines are kept apart.
        if any(line.startswith("{") for line in access):
            logs["access-log.jsonl"] = "\n".join(line for line in access if line.startswith("{")) + "\n"
        else:
            logs["access-log.txt"] = "\n".join(access) + "\n"
        return logs

    def check_target(self) -> None:
        if self.target is not None:
            self.target.check(self._api, self.test_namespace)

    def ensure_healthy(self) -> None:
        try:
            found = istiodiscovery.detect(self._api, self._selector)
        except istiodiscovery.DiscoveryError as err:
            raise ProviderError(f"control plane unavailable: {err}") from None
        except client.ApiException as err:
            if err.status in (401, 403):
                raise  # the run refused (verdicts/faults.py: "not run", the permission named), not a broken mesh
            raise ProviderError(f"API unavailable: {_short(err)}") from None
        except Exception as err:
            raise ProviderError(f"API unavailable: {_short(err)}") from None
        if found.istiod != self.found.istiod and found.istiod.ready_replicas < 1:
            raise ProviderError(f"control plane unavailable: istiod {found.istiod.deployment} not ready")
        pod = client.CoreV1Api(self._api).read_namespaced_pod(clientpod.NAME, self.test_namespace)
        if not any(c.type == "Ready" and c.status == "True" for c in pod.status.conditions or []):
            raise ProviderError(f"sidecar not ready: the client pod {self.test_namespace}/{clientpod.NAME} is not "
                                "ready (istio-proxy or the app restarted)")


def _in_cluster() -> bool:
    import os

    return bool(os.environ.get("KUBERNETES_SERVICE_HOST")) and pathlib.Path(
        "/var/run/secrets/kubernetes.io/serviceaccount/token").exists()


def _selected_revision(labels: dict[str, str]) -> str | None:
    """The revision or tag a namespace's labels select for injection: "" for the default
    (istio-injection=enabled, which wins over istio.io/rev, as in Istio), None when none."""
    if labels.get("istio-injection") == "enabled":
        return ""
    if labels.get("istio-injection") == "disabled":
        return None
    return labels.get("istio.io/rev") or None


def _labels(labels: dict[str, str]) -> str:
    return " ".join(f"{k}={v}" for k, v in sorted(labels.items()))


def _short(err: Exception) -> str:
    text = str(err).strip().splitlines()
    return text[0][:200] if text else type(err).__name__
