"""What a scenario works with: ``t``, one per test, bound to the mesh under test.

Every change ``t`` makes registers its undo on the test's cleanup stack at once;
every expectation waits for several consistent observations of the sidecar's
state and of a real request from the meshed workload.
"""

import dataclasses
import datetime
import functools
import logging
import math
import secrets
import time
from collections.abc import Callable
from typing import Generic, TypeVar

from egress_conformance import waits
from egress_conformance.changes import cleanup, objects
from egress_conformance.changes.journal import Journal
from egress_conformance.cluster import kube, meshconfig, pods, ztunnel
from egress_conformance.framework import effective, scope
from egress_conformance.providers.base import EgressGateway, Provider, Workload
from egress_conformance.reports.model import Step, Verdict
from egress_conformance.timing import Timing
from egress_conformance.verdicts import checks, envoy, observe, paths

log = logging.getLogger("egress")

T = TypeVar("T")
SERVER_READY_SECONDS = 120.0
"""How long a simulated host started by a scenario (serve) may take to be Ready: its image may be pulled."""


class EgressTest:
    """The scenario's handle on the mesh: change it, then expect what a workload sees."""

    def __init__(self, provider: Provider, undo: cleanup.Stack, timing: Timing, journal: Journal,
                 scope_name: str = scope.MESH_WIDE):
        self.provider = provider
        self.undo = undo
        self.journal = journal
        self.timing = timing
        self.api = provider.api()
        self.targets = provider.targets
        """The external hosts of this run (hosts/targets.py): the walkthrough's host, the allow-list."""
        self.workload = provider.workload()
        self.namespace = self.workload.namespace
        mesh = scope.MeshWide(self.api, provider.mesh_config_map(), journal, undo)
        self.scope: scope.Scope = mesh if scope_name == scope.MESH_WIDE else scope.Namespace(
            self.api, self.namespace, mesh, self.create)
        """Where policy changes land (scope.MeshWide or scope.Namespace)."""
        self.steps: list[Step] = []
        """What the scenario did and saw, step by step, for the report."""
        self.gateway: EgressGateway | None = None
        """The egress gateway whose Envoy each observation also reads (egress_gateway())."""
        self.findings: list[str] = []
        """What the scenario found about the mesh beyond its verdicts (an audit's leaks), for the report."""
        self.ztunnel = provider.ztunnel()
        """The ztunnel carrying the client's egress when the test namespace is ambient (the client has
        no sidecar then: each observation reads ztunnel instead), else None."""

    # -- changes, each with its undo registered at once

    def set_outbound_policy(self, policy: str) -> cleanup.Undo:
        """Set the outbound policy in the test's scope (mesh-wide or the test namespace); the API
        read-back must agree. Returns the restore."""
        restore = self.scope.set_policy(policy)
        self.expect_configured_policy(policy)
        log.info(self.scope.message(policy))
        return restore

    def starting_policy(self) -> str:
        """The policy configured when the test began: a mesh may start restricted by its
        owners' choice, which is a fact to record, not a failure."""
        policy = self.scope.configured_policy()
        self.steps.append(Step(f"API: starting policy in {self.scope.where()}", Verdict.OBSERVED,
                               detail=f"read {policy}", evidence=f"outboundTrafficPolicy.mode: {policy}",
                               started=_now()))
        log.info("starting policy (%s): %s", self.scope.where(), policy)
        return policy

    def restore(self, change: cleanup.Undo) -> None:
        """Undo one change now (the walkthrough's clean-up step), logged as such."""
        log.info("clean up: %s", change.description)
        change.run()

    def log_policy(self) -> None:
        """Print the configured policy the way the seed's tool does."""
        log.info(self.scope.message(self.scope.configured_policy()))

    def expect_configured_policy(self, policy: str) -> None:
        """The policy configured in the test's scope, read back through the API, is ``policy``."""
        __tracebackhide__ = True
        self._expect_read_back(self.scope.where(), self.scope.configured_policy(), policy)

    def expect_mesh_policy(self, policy: str) -> None:
        """The mesh ConfigMap, read back through the API, sets ``policy`` (whatever the scope)."""
        __tracebackhide__ = True
        namespace, name = self.provider.mesh_config_map()
        self._expect_read_back(f"mesh config {namespace}/{name}", meshconfig.policy_of(self.mesh_config()), policy)

    def _expect_read_back(self, where: str, actual: str, policy: str) -> None:
        __tracebackhide__ = True
        verdict = Verdict.PASSED if actual == policy else Verdict.FAILED
        self.steps.append(Step(f"API: {where} sets {policy}", verdict,
                               detail=f"read back {actual}", evidence=f"outboundTrafficPolicy.mode: {actual}",
                               started=_now()))
        assert actual == policy, f"API read-back: {where} sets {actual}, expected {policy}"

    def egress(self) -> effective.Egress:
        """The test namespace's egress as the API holds it (policy and who sets it, the ServiceEntries
        it sees, EnvoyFilters), recorded as a step of its own."""
        found = effective.read(self.api, self.namespace, self.provider.mesh_config_map())
        lines = found.lines()
        self.steps.append(Step(f"API: egress of namespace {self.namespace}", Verdict.OBSERVED,
                               detail=lines[0], evidence="\n".join(lines)))
        log.info("egress of namespace %s:\n       %s", self.namespace, "\n       ".join(lines))
        return found

    def mesh_config(self) -> str:
        """The current ``mesh`` text of the mesh ConfigMap."""
        return meshconfig.read(self.api, self.provider.mesh_config_map())

    def apply(self, manifest, *, namespace: str | None = None, **substitutions: str) -> cleanup.Undo:
        """Create a manifest's objects in the test namespace, or in ``namespace`` (what only
        works there, e.g. an AuthorizationPolicy of the egress gateway), ``${name}`` placeholders
        filled from ``substitutions``; each must read back from the API."""
        return self.apply_objects(self._load(manifest, **substitutions), f"objects of {manifest.name}",
                                  namespace=namespace)

    def apply_objects(self, objects: list[dict], what: str, *, namespace: str | None = None) -> cleanup.Undo:
        """Create objects in the test namespace (or ``namespace``), adapted to the test's scope;
        each must read back from the API. One undo deletes them all, newest first."""
        namespace = namespace or self.namespace
        undos = []
        for obj in objects:
            obj["metadata"]["namespace"] = namespace
            undos.append(self.create(self.scope.adapt(obj)))
            live = kube.get(self.api, obj)
            assert live is not None and live.get("spec") == obj.get("spec"), (
                f"API read-back of {obj['kind']} {obj['metadata']['name']} differs: {live and live.get('spec')}"
            )
        named = [f"{o['kind']} {namespace}/{o['metadata']['name']}" for o in objects]
        log.info("applied %s%s", ", ".join(named[:3]), f" and {len(named) - 3} more" if len(named) > 3 else "")
        if len(undos) == 1:
            return undos[0]

        def delete_all() -> None:
            for undo in reversed(undos):
                undo.run()

        return self.undo.push(f"delete {what}", delete_all)

    def _load(self, manifest, **substitutions: str) -> list[dict]:
        # Every manifest may name the run's hosts: ${host}, ${hosts} (hosts/targets.py).
        return kube.load_manifests(manifest, namespace=self.namespace,
                                   **{**self.targets.substitutions(), **self.provider.substitutions(), **substitutions})

    def create(self, obj: dict) -> cleanup.Undo:
        """Create one object, journaled, with its undo registered."""
        return objects.create(self.api, obj, self.undo, self.journal)

    def expect_absent(self, manifest) -> None:
        """None of a manifest's objects is left in the API."""
        __tracebackhide__ = True
        for obj in self._load(manifest):
            obj["metadata"]["namespace"] = self.namespace
            assert kube.get(self.api, obj) is None, f"{obj['kind']} {obj['metadata']['name']} still exists"

    def sync(self) -> None:
        """Return once the sidecar's config holds every change made to the API so far, whether or
        not those changes touch it: istiod applies config events in order, so a marker
        ServiceEntry created now, seen in the sidecar, deleted, and seen gone, comes after them."""
        host = f"sync-{secrets.token_hex(4)}.egress-conformance.invalid"
        cluster = f"outbound|80||{host}"
        marker = self.create({"apiVersion": "networking.istio.io/v1", "kind": "ServiceEntry",
                              "metadata": {"name": host.split(".")[0], "namespace": self.namespace},
                              "spec": {"hosts": [host], "exportTo": ["."], "location": "MESH_EXTERNAL",
                                       "resolution": "NONE", "ports": [{"number": 80, "name": "http",
                                                                        "protocol": "HTTP"}]}})
        for present in (True, False):
            waits.until_consistent(self._sidecar_only, checks.sidecar_has_cluster(cluster, present), self.timing,
                                   what=f"sync: marker {cluster} {'in' if present else 'gone from'} the sidecar")
            if present:
                marker.run()

    def _sidecar_only(self) -> observe.Observation:
        """The sidecar's config alone, as an observation with no request."""
        self.provider.ensure_healthy()
        state = envoy.sidecar_state(*self.workload.envoy_admin_many(list(envoy.CONFIG_PATHS)))
        return observe.Observation(observe.Request("(sidecar config only)"), "observed", None, "", sidecar=state)

    def start_pod(self, name: str, *, sidecar: bool, annotations: dict[str, str] | None = None,
                  run_as_user: int = 1001, service_account: str | None = None) -> Workload:
        """Create another pod of the test namespace, made like the client (provider.side_pod), its
        undo registered; return it once Ready. ``service_account``: a new one of that name is
        created first (another identity than the client's), its undo registered too."""
        if service_account:
            self.create({"apiVersion": "v1", "kind": "ServiceAccount",
                         "metadata": {"name": service_account, "namespace": self.namespace},
                         "automountServiceAccountToken": False})
        self.create(self.provider.side_pod(name, sidecar=sidecar, annotations=annotations or {},
                                           run_as_user=run_as_user, service_account=service_account))
        pod = self.provider.side_workload(name, sidecar=sidecar)
        identity = f", service account {service_account}" if service_account else ""
        self.steps.append(Step(f"API: pod {self.namespace}/{name} ready", Verdict.OBSERVED,
                               detail=f"sidecar: {'yes' if sidecar else 'no'}, uid {run_as_user}{identity}, "
                                      f"annotations {annotations or {}}", started=_now(), ended=_now()))
        return pod

    def serve(self, manifest, **substitutions: str) -> str:
        """Apply a manifest whose one Pod is a simulated host outside the mesh (not injected);
        return its address once Ready."""
        made = self._load(manifest, **substitutions)
        for obj in made:  # as created, without apply's read-back: the API fills in a Pod's defaults
            obj["metadata"]["namespace"] = self.namespace
            self.create(obj)
        [name] = [o["metadata"]["name"] for o in made if o["kind"] == "Pod"]
        started = _now()
        ready = pods.until_ready(self.api, self.namespace, name, SERVER_READY_SECONDS)
        self.steps.append(Step(f"API: simulated host {self.namespace}/{name} ready", Verdict.OBSERVED,
                               detail=f"address {ready.status.pod_ip}", started=started, ended=_now()))
        return ready.status.pod_ip

    # -- observations

    def egress_gateway(self) -> EgressGateway:
        """The mesh's egress gateway; from now on each observation also reads which of its
        clusters took the request (the scenario needs feature egress-gateway)."""
        found = self.provider.egress_gateway()
        assert found is not None, f"the {self.provider.name} provider declares feature egress-gateway but has none"
        self.gateway = found
        return found

    def deploy_gateway(self, manifest, **substitutions: str) -> EgressGateway:
        """Create a Gateway API Gateway (``manifest``: one Gateway) that the mesh deploys itself;
        return the gateway deployed for it once ready: from now on each observation also reads its
        Envoy. The undo deletes the Gateway, then waits until what the mesh deployed for it is gone."""
        [gateway] = self._load(manifest, **substitutions)
        name = gateway["metadata"]["name"]
        created = self.apply_objects([gateway], f"Gateway {name}")

        def remove() -> None:
            self.gateway = None  # its Envoy goes with it
            created.run()
            self.provider.deployed_gateway_removed(name)

        self.undo.push(f"delete Gateway {self.namespace}/{name} and wait until what it deployed is gone", remove)
        started = _now()
        self.gateway = self.provider.deployed_gateway(name)
        self._until_endpoint_in_sidecar(f"outbound|{min(self.gateway.port_names or [80])}||{self.gateway.host}")
        self.steps.append(Step(f"API: gateway deployed for Gateway {self.namespace}/{name}", Verdict.OBSERVED,
                               detail=f"{self.gateway.host}, pod {self.gateway.proxy.name} ready", started=started,
                               ended=_now()))
        log.info("gateway deployed for Gateway %s/%s: %s (pod %s)", self.namespace, name, self.gateway.host,
                 self.gateway.proxy.name)
        return self.gateway

    def _until_endpoint_in_sidecar(self, cluster: str) -> None:
        """Return once the client's sidecar holds an endpoint of ``cluster``. A new pod's
        endpoints reach the mesh a moment after the pod is Ready; the walkthrough starts on a
        settled mesh, and with reason: istiod of Istio master (1.31-dev) folds a mesh config
        change that lands in one debounce with an Endpoints update into an Endpoints-only push,
        and the change never reaches the sidecar (docs/how-it-works.md, "How it waits")."""

        def endpoint(text: str) -> str | None:
            if f"cluster.{cluster}.upstream_rq_total" in envoy.parse_cluster_hosts(text):
                return None
            return f"the client's sidecar has no endpoint of {cluster} yet"

        waits.until_consistent(lambda: self.workload.envoy_admin(envoy.CLUSTERS_PATH), endpoint, self.timing,
                               what=f"an endpoint of {cluster} in the client's sidecar")

    def probe(self, request: observe.Request) -> observe.Observation:
        """Make ``request`` once from the workload, with the sidecar's state and counters around it
        (and the egress gateway's, once the scenario uses it)."""
        args = [request.url]
        if request.url.startswith("https://") and self.workload.trusted_ca:
            args = ["--cacert", self.workload.trusted_ca, *args]
        if self.ztunnel is not None:
            return self._probe_through_ztunnel(request, args, self.ztunnel)
        gateway_before = self._gateway_counters()
        around = self._around(lambda: self.workload.curl(args, self.timing.request_timeout))
        return observe.Observation(request, *observe.classify(around.result),
                                   envoy.clusters_used(around.before, around.after), around.sidecar, around.generation,
                                   block_all=envoy.block_all_answers(around.before, around.after),
                                   no_cluster=envoy.no_cluster_answers(around.before, around.after),
                                   tls_from_sidecar=envoy.tls_handshakes(around.after),
                                   **self._gateway_moves(gateway_before))

    def _probe_through_ztunnel(self, request: observe.Request, args: list[str],
                               where: ztunnel.Ztunnel) -> observe.Observation:
        """As probe, for an ambient client: ztunnel's passthrough counter around the request, and
        its access-log lines of the client's connections straight to the address curl reached."""
        self.provider.ensure_healthy()
        before = ztunnel.passthrough_count(ztunnel.metrics(self.api, where), self.namespace)
        started = time.monotonic()
        record = self.workload.curl(args, self.timing.request_timeout)
        after = ztunnel.passthrough_count(ztunnel.metrics(self.api, where), self.namespace)
        lines: list[str] = []
        if record.get("remote_ip"):
            # The access log's line comes as the connection closes: the read above leaves it time to.
            logged = ztunnel.access_log(self.api, where, math.ceil(time.monotonic() - started) + 1)
            lines = ztunnel.passthrough_lines(logged, self.namespace, f"{record['remote_ip']}:{record['remote_port']}")
        evidence = ztunnel.Evidence(where.pod, after - before, tuple(lines))
        return observe.Observation(request, *observe.classify(record), ztunnel=evidence)

    def probe_from(self, pod: Workload, request: observe.Request, *args: str) -> observe.Observation:
        """Make ``request`` once from another pod's app container (curl ``args`` before the URL), with
        the egress gateway's clusters around it once the scenario uses it; that pod's sidecar is not read."""
        if request.url.startswith("https://") and pod.trusted_ca:
            args = ("--cacert", pod.trusted_ca, *args)
        gateway_before = self._gateway_counters()
        record = pod.curl([*args, request.url], self.timing.request_timeout)
        return observe.Observation(request, *observe.classify(record), from_pod=pod.name,
                                   **self._gateway_moves(gateway_before))

    def expect_from(self, step: str, pod: Workload, request: observe.Request, check,
                    *args: str) -> observe.Observation:
        """Wait until ``request`` from another pod consistently satisfies ``check`` (probe_from)."""
        __tracebackhide__ = True
        return self._expect(step, lambda: self.probe_from(pod, request, *args), check)

    def settle_from(self, step: str, pod: Workload, request: observe.Request,
                    check) -> tuple[bool, observe.Observation]:
        """What ``request`` from another pod gets once several observations in a row agree, either
        way (waits.until_settled): (whether it satisfies ``check``, the last observation), recorded as observed."""
        started = datetime.datetime.now(datetime.UTC)
        try:
            done = waits.until_settled(lambda: self.probe_from(pod, request), check, self.timing,
                                       what=f"{step}: {check.__name__}")
            matched, seen, attempts = True, done.observation, done.attempts
        except waits.Refuted as err:
            matched, seen, attempts = False, err.observation, err.attempts
        ended = datetime.datetime.now(datetime.UTC)
        log.info("SEEN %s: %s is %s\n       evidence: %s", step, check.__name__, matched, seen.summary())
        self.steps.append(Step(step, Verdict.OBSERVED, f"{check.__name__}: {'yes' if matched else 'no'}",
                               evidence=seen.summary(), check=check.__name__, attempts=attempts,
                               seconds=round((ended - started).total_seconds(), 2),
                               started=started.isoformat(timespec="milliseconds"),
                               ended=ended.isoformat(timespec="milliseconds"), observation=seen.record()))
        return matched, seen

    def _gateway_counters(self) -> dict[str, int] | None:
        if self.gateway is None:
            return None
        clusters, refusals = self.gateway.proxy.envoy_admin_many([envoy.CLUSTERS_PATH, envoy.GATEWAY_REFUSALS_PATH])
        return {**envoy.parse_cluster_hosts(clusters), **envoy.parse_counters(refusals)}

    def _gateway_moves(self, before: dict[str, int] | None) -> dict:
        """What the gateway's Envoy did since ``before``: the clusters it sent the request
        through, and the refusals it counted as its own (Observation fields)."""
        if before is None:
            return {}
        after = self._gateway_counters() or {}
        # Only the paths out: the gateway's own clusters (xDS, its agent) move on their own.
        served = tuple(c for c in envoy.clusters_used(before, after)
                       if c.startswith("outbound|") or c in (envoy.PASSTHROUGH, envoy.BLACKHOLE))
        no_route, unmatched = envoy.gateway_refusals(before, after)
        return {"gateway_served": served, "gateway_denied": envoy.rbac_denials(before, after),
                "gateway_no_route": no_route, "gateway_unmatched": unmatched}

    def probe_all(self, requests: list[observe.Request]) -> observe.Batch:
        """Make all ``requests`` at once from the workload (one curl, in parallel), with the
        sidecar's state and counters around the whole batch."""
        args = ["--cacert", self.workload.trusted_ca] if self.workload.trusted_ca else []
        around = self._around(lambda: self.workload.curl_many([r.url for r in requests], args,
                                                              self.timing.request_timeout))
        answers = tuple(observe.Answer(request, *observe.classify(record))
                        for request, record in zip(requests, around.result, strict=True))
        return observe.Batch(answers, envoy.cluster_moves(around.before, around.after), around.sidecar,
                             around.generation, block_all=envoy.block_all_answers(around.before, around.after),
                             unmatched=envoy.unmatched_connections(around.before, around.after),
                             no_cluster=envoy.no_cluster_answers(around.before, around.after))

    def _around(self, make_requests: Callable[[], T]) -> "_Around[T]":
        self.provider.ensure_healthy()
        # Counters and config in one round trip before the requests, counters again after them:
        # three round trips per observation, each part asking Envoy only for what the verdict reads.
        stats, *config = self.workload.envoy_admin_many([envoy.STATS_PATH, *envoy.CONFIG_PATHS])
        before = envoy.parse_counters(stats)
        result = make_requests()
        after = envoy.parse_counters(self.workload.envoy_admin(envoy.STATS_PATH))
        generation = (envoy.config_generation(before), envoy.config_generation(after))
        return _Around(before, after, envoy.sidecar_state(*config), generation if all(generation) else None, result)

    def expect(self, step: str, request: observe.Request, check) -> observe.Observation:
        """Wait until ``request`` consistently satisfies ``check``; log the verdict with its evidence."""
        __tracebackhide__ = True
        return self._expect(step, lambda: self.probe(request), check)

    def expect_all(self, step: str, requests: list[observe.Request], check) -> observe.Batch:
        """Wait until one batch of ``requests`` (probe_all) consistently satisfies ``check``."""
        __tracebackhide__ = True
        return self._expect(step, lambda: self.probe_all(requests), check)

    def verify_all(self, step: str, requests: list[observe.Request], check, *, sticky: bool = False) -> observe.Batch:
        """The verdict of the mesh as it is (nobody changing it): batches of ``requests`` until
        several in a row agree, either way; a settled mismatch fails at once (waits.until_settled;
        ``sticky``: one mismatch under the final configuration fails too)."""
        __tracebackhide__ = True
        return self.verify(step, lambda: self.probe_all(requests), check, sticky=sticky)

    def verify(self, step: str, probe: Callable[[], T], check, *, sticky: bool = False) -> T:
        """As verify_all, for any probe (e.g. walk)."""
        __tracebackhide__ = True
        return self._expect(step, probe, check, functools.partial(waits.until_settled, sticky=sticky))

    def walk(self) -> paths.Walk:
        """Every outbound path of the client's sidecar and every cluster it holds (paths.walk),
        with its config generation around the reading (one round trip)."""
        self.provider.ensure_healthy()
        before, *dump, after = self.workload.envoy_admin_many([envoy.STATS_PATH, *paths.CONFIG_PATHS,
                                                               envoy.STATS_PATH])
        generation = (envoy.config_generation(envoy.parse_counters(before)),
                      envoy.config_generation(envoy.parse_counters(after)))
        return paths.walk(*dump, generation=generation if all(generation) else None)

    def _expect(self, step: str, probe, check, wait=waits.until_consistent):
        __tracebackhide__ = True
        try:
            done = wait(probe, check, self.timing, what=f"{step}: {check.__name__}")
        except waits.NotConverged as err:
            # A step that wanted an answer may have failed only because the target is down: it is
            # asked again from outside the mesh before the mesh is blamed (then: target down). A
            # "blocked" step's mismatch, or a settled one of the mesh as it is (the audit), is a
            # finding whatever the target does.
            if wait is waits.until_consistent and checks.expects_answer(check):
                self.provider.check_target()
            log.info("FAIL %s: %s\n       last seen: %s\n       mismatch: %s", step, check.__name__,
                     err.observation.summary() if err.observation else "nothing", err.reason)
            served = err.observation.record().get("served_by", []) if err.observation else []
            reason = err.reason or "not consistent long enough (streak too short)"
            self._record(step, check.__name__, Verdict.FAILED, reason + self._behind(reason, tuple(served)),
                         err.observation, err.attempts, err.elapsed)
            raise
        log.info("PASS %s: %s (%d in a row, %d attempts, %.1fs)\n       evidence: %s", step, check.__name__,
                 self.timing.consecutive, done.attempts, done.elapsed, done.observation.summary())
        self._record(step, check.__name__, Verdict.PASSED, "", done.observation, done.attempts, done.elapsed)
        return done.observation

    def _behind(self, reason: str, served: tuple[str, ...]) -> str:
        """The Istio objects behind the clusters a failure names or a request used, " (...)"."""
        try:
            return effective.read(self.api, self.namespace, self.provider.mesh_config_map()).explain(reason, served)
        except Exception:  # evidence, not a verdict: a refused read leaves the clusters' names alone
            return ""

    def _record(self, step: str, check: str, verdict: Verdict, detail: str, observation, attempts: int,
                elapsed: float) -> None:
        ended = datetime.datetime.now(datetime.UTC)
        started = ended - datetime.timedelta(seconds=elapsed)
        self.steps.append(Step(
            step, verdict, detail, evidence=observation.summary() if observation else None, check=check,
            attempts=attempts, seconds=round(elapsed, 2), started=started.isoformat(timespec="milliseconds"),
            ended=ended.isoformat(timespec="milliseconds"),
            observation=observation.record() if observation else None,
        ))


def _now() -> str:
    """The time an API step read the API back, as waited steps' times are written (the report's timeline)."""
    return datetime.datetime.now(datetime.UTC).isoformat(timespec="milliseconds")


@dataclasses.dataclass(frozen=True)
class _Around(Generic[T]):
    """The sidecar around one observation's requests: counters before and after, its config
    before them, its config generation (None when it does not show one), and what the requests gave."""

    before: dict[str, int]
    after: dict[str, int]
    sidecar: envoy.SidecarState
    generation: tuple | None
    result: T
