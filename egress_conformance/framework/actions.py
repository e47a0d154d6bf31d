"""One action and its evidence: a request made from a workload (the meshed client, whose sidecar
is read around it, or another pod), the observation it gives, and the wait for a check to hold
on several observations in a row. A verdict is recorded as a step with its last observation and
the Istio objects behind a failure."""

import dataclasses
import datetime
import functools
import logging
import math
import secrets
import time
import typing
from collections.abc import Callable
from typing import Generic, TypeVar

from egress_conformance import waits
from egress_conformance.cluster import ztunnel
from egress_conformance.framework import effective
from egress_conformance.framework.context import RunContext
from egress_conformance.framework.recorder import Recorder
from egress_conformance.providers.base import EgressGateway, Workload
from egress_conformance.reports.model import Step, Verdict
from egress_conformance.verdicts import checks, envoy, observe, paths

log = logging.getLogger("egress")

T = TypeVar("T")


E = TypeVar("E", bound=observe.Evidence)
Wait = Callable[..., waits.Converged]


class GatewayView:
    """The egress gateway whose Envoy each observation also reads, once the test uses one: which
    of its clusters took the request, and which requests its AuthorizationPolicies refused."""

    def __init__(self) -> None:
        self.gateway: EgressGateway | None = None

    def counters(self) -> dict[str, int] | None:
        if self.gateway is None:
            return None
        clusters, refusals = self.gateway.proxy.envoy_admin_many([envoy.CLUSTERS_PATH, envoy.GATEWAY_REFUSALS_PATH])
        return {**envoy.parse_cluster_hosts(clusters), **envoy.parse_counters(refusals)}

    def moves(self, before: dict[str, int] | None) -> dict:
        """What the gateway's Envoy did since ``before``: the clusters it sent the request
        through, and the refusals it counted as its own (Observation fields)."""
        if before is None:
            return {}
        after = self.counters() or {}
        # Only the paths out: the gateway's own clusters (xDS, its agent) move on their own.
        served = tuple(c for c in envoy.clusters_used(before, after)
                       if c.startswith("outbound|") or c in (envoy.PASSTHROUGH, envoy.BLACKHOLE))
        no_route, unmatched = envoy.gateway_refusals(before, after)
        return {"gateway_served": served, "gateway_denied": envoy.rbac_denials(before, after),
                "gateway_no_route": no_route, "gateway_unmatched": unmatched}


class Waiter:
    """Waits for a check on a probe's observations and records the verdict as a step."""

    def __init__(self, context: RunContext, record: Recorder):
        self._context, self._record = context, record

    def wait(self, step: str, probe: Callable[[], E], check: checks.Check[E],
             wait: Wait = waits.until_consistent) -> E:
        __tracebackhide__ = True
        name = check.name
        try:
            done = wait(probe, check, self._context.timing, what=f"{step}: {name}")
        except waits.NotConverged as err:
            # A step that wanted an answer may have failed only because the target is down: it is
            # asked again from outside the mesh before the mesh is blamed (then: target down). A
            # "blocked" step's mismatch, or a settled one of the mesh as it is (the audit), is a
            # finding whatever the target does.
            if wait is waits.until_consistent and check.expects_answer:
                self._context.provider.check_target()
            log.info("FAIL %s: %s\n       last seen: %s\n       mismatch: %s", step, name,
                     err.observation.summary() if err.observation else "nothing", err.reason)
            served = err.observation.record().get("served_by", []) if err.observation else []
            reason = err.reason or "not consistent long enough (streak too short)"
            self._waited(step, name, Verdict.FAILED, reason + self._behind(reason, tuple(served)),
                         err.observation, err.attempts, err.elapsed)
            raise
        log.info("PASS %s: %s (%d in a row, %d attempts, %.1fs)\n       evidence: %s", step, name,
                 self._context.timing.consecutive, done.attempts, done.elapsed, done.observation.summary())
        self._waited(step, name, Verdict.PASSED, "", done.observation, done.attempts, done.elapsed)
        return done.observation

    def settle(self, step: str, probe: Callable[[], observe.Observation],
               check: checks.Check[observe.Observation]) -> tuple[bool, observe.Observation]:
        name = check.name
        started = datetime.datetime.now(datetime.UTC)
        try:
            done = waits.until_settled(probe, check, self._context.timing, what=f"{step}: {name}")
            matched, seen, attempts = True, done.observation, done.attempts
        except waits.Refuted as err:
            matched, seen, attempts = False, err.observation, err.attempts
        ended = datetime.datetime.now(datetime.UTC)
        log.info("SEEN %s: %s is %s\n       evidence: %s", step, name, matched, seen.summary())
        self._record.step(Step(step, Verdict.OBSERVED, f"{name}: {'yes' if matched else 'no'}",
                               evidence=seen.summary(), check=name, attempts=attempts,
                               seconds=round((ended - started).total_seconds(), 2),
                               started=started.isoformat(timespec="milliseconds"),
                               ended=ended.isoformat(timespec="milliseconds"), observation=seen.record()))
        return matched, seen

    def _behind(self, reason: str, served: tuple[str, ...]) -> str:
        """The Istio objects behind the clusters a failure names or a request used, " (...)"."""
        try:
            return effective.read(self._context.api, self._context.namespace,
                                  self._context.mesh_config_map()).explain(reason, served)
        except Exception:  # evidence, not a verdict: a refused read leaves the clusters' names alone
            return ""

    def _waited(self, step: str, check: str, verdict: Verdict, detail: str, observation: observe.Evidence | None,
                attempts: int, elapsed: float) -> None:
        ended = datetime.datetime.now(datetime.UTC)
        started = ended - datetime.timedelta(seconds=elapsed)
        self._record.step(Step(
            step, verdict, detail, evidence=observation.summary() if observation else None, check=check,
            attempts=attempts, seconds=round(elapsed, 2), started=started.isoformat(timespec="milliseconds"),
            ended=ended.isoformat(timespec="milliseconds"),
            observation=observation.record() if observation else None,
        ))


class Client:
    """Requests from the meshed client, with its sidecar's state and counters read around them
    (and the egress gateway's, once the test uses one)."""

    def __init__(self, context: RunContext, waiter: Waiter, gateway: GatewayView):
        self._context, self._waiter, self._gateway = context, waiter, gateway
        self.ztunnel = context.provider.ztunnel()
        """The ztunnel carrying the client's egress when the test namespace is ambient (the client has
        no sidecar then: each observation reads ztunnel instead), else None."""

    def probe(self, request: observe.Request) -> observe.Observation:
        """Make ``request`` once from the workload, with the sidecar's state and counters around it
        (and the egress gateway's, once the scenario uses it)."""
        args = [request.url]
        if request.url.startswith("https://") and self._context.workload.trusted_ca:
            args = ["--cacert", self._context.workload.trusted_ca, *args]
        if self.ztunnel is not None:
            return self._probe_through_ztunnel(request, args, self.ztunnel)
        gateway_before = self._gateway.counters()
        around = self._around(lambda: self._context.workload.curl(args, self._context.timing.request_timeout))
        return observe.Observation(request, *observe.classify(around.result),
                                   envoy.clusters_used(around.before, around.after), around.sidecar, around.generation,
                                   block_all=envoy.block_all_answers(around.before, around.after),
                                   no_cluster=envoy.no_cluster_answers(around.before, around.after),
                                   tls_from_sidecar=envoy.tls_handshakes(around.after),
                                   **self._gateway.moves(gateway_before))

    def _probe_through_ztunnel(self, request: observe.Request, args: list[str],
                               where: ztunnel.Ztunnel) -> observe.Observation:
        """As probe, for an ambient client: ztunnel's passthrough counter around the request, and
        its access-log lines of the client's connections straight to the address curl reached."""
        context = self._context
        context.provider.ensure_healthy()
        before = ztunnel.passthrough_count(ztunnel.metrics(context.api, where), context.namespace)
        started = time.monotonic()
        record = context.workload.curl(args, context.timing.request_timeout)
        after = ztunnel.passthrough_count(ztunnel.metrics(context.api, where), context.namespace)
        lines: list[str] = []
        if record.get("remote_ip"):
            # The access log's line comes as the connection closes: the read above leaves it time to.
            logged = ztunnel.access_log(context.api, where, math.ceil(time.monotonic() - started) + 1)
            lines = ztunnel.passthrough_lines(logged, context.namespace,
                                              f"{record['remote_ip']}:{record['remote_port']}")
        evidence = ztunnel.Evidence(where.pod, after - before, tuple(lines))
        return observe.Observation(request, *observe.classify(record), ztunnel=evidence)

    def probe_all(self, requests: list[observe.Request]) -> observe.Batch:
        """Make all ``requests`` at once from the workload (one curl, in parallel), with the
        sidecar's state and counters around the whole batch."""
        args = ["--cacert", self._context.workload.trusted_ca] if self._context.workload.trusted_ca else []
        around = self._around(lambda: self._context.workload.curl_many([r.url for r in requests], args,
                                                               self._context.timing.request_timeout))
        answers = tuple(observe.Answer(request, *observe.classify(record))
                        for request, record in zip(requests, around.result, strict=True))
        return observe.Batch(answers, envoy.cluster_moves(around.before, around.after), around.sidecar,
                             around.generation, block_all=envoy.block_all_answers(around.before, around.after),
                             unmatched=envoy.unmatched_connections(around.before, around.after),
                             no_cluster=envoy.no_cluster_answers(around.before, around.after))

    def walk(self) -> paths.Walk:
        """Every outbound path of the client's sidecar and every cluster it holds (paths.walk),
        with its config generation around the reading (one round trip)."""
        self._context.provider.ensure_healthy()
        before, *dump, after = self._context.workload.envoy_admin_many([envoy.STATS_PATH, *paths.CONFIG_PATHS,
                                                                envoy.STATS_PATH])
        generation = (envoy.config_generation(envoy.parse_counters(before)),
                      envoy.config_generation(envoy.parse_counters(after)))
        return paths.walk(*dump, generation=generation if all(generation) else None)

    @typing.overload
    def expect(self, step: str, request: observe.Request,
               check: checks.Check[observe.Observation]) -> observe.Observation: ...

    @typing.overload
    def expect(self, step: str, request: list[observe.Request],
               check: checks.Check[observe.Batch]) -> observe.Batch: ...

    def expect(self, step: str, request: observe.Request | list[observe.Request],
               check: checks.Check[observe.Observation] | checks.Check[observe.Batch]
               ) -> observe.Observation | observe.Batch:
        """After the test changed the mesh: wait until ``request`` (one Request, or a list made as
        one batch, probe_all) satisfies ``check`` on several observations in a row; a wrong answer
        meanwhile means "not yet". Fails when it never does within the convergence timeout."""
        __tracebackhide__ = True
        if isinstance(request, list):
            batch, of_batch = request, typing.cast(checks.Check[observe.Batch], check)
            return self._waiter.wait(step, lambda: self.probe_all(batch), of_batch)
        one, of_one = request, typing.cast(checks.Check[observe.Observation], check)
        return self._waiter.wait(step, lambda: self.probe(one), of_one)

    def verify(self, step: str, probe: Callable[[], E], check: checks.Check[E], *, sticky: bool = False) -> E:
        """The mesh as it is, nobody changing it (the audit): ``probe()`` (a batch, a walk) until
        several observations in a row agree, either way; a settled mismatch fails at once
        (waits.until_settled; ``sticky``: one mismatch under the final configuration fails too)."""
        __tracebackhide__ = True
        return self._waiter.wait(step, probe, check, functools.partial(waits.until_settled, sticky=sticky))

    def sync(self) -> None:
        """Return once the sidecar's config holds every change made to the API so far, whether or
        not those changes touch it: istiod applies config events in order, so a marker
        ServiceEntry created now, seen in the sidecar, deleted, and seen gone, comes after them."""
        host = f"sync-{secrets.token_hex(4)}.egress-conformance.invalid"
        cluster = f"outbound|80||{host}"
        marker = self._context.create({
            "apiVersion": "networking.istio.io/v1", "kind": "ServiceEntry",
            "metadata": {"name": host.split(".")[0], "namespace": self._context.namespace},
            "spec": {"hosts": [host], "exportTo": ["."], "location": "MESH_EXTERNAL", "resolution": "NONE",
                     "ports": [{"number": 80, "name": "http", "protocol": "HTTP"}]}})
        for present in (True, False):
            waits.until_consistent(self._sidecar_only, checks.sidecar_has_cluster(cluster, present),
                                   self._context.timing,
                                   what=f"sync: marker {cluster} {'in' if present else 'gone from'} the sidecar")
            if present:
                marker.run()

    def until_endpoint_in_sidecar(self, cluster: str) -> None:
        """Return once the client's sidecar holds an endpoint of ``cluster``. A new pod's
        endpoints reach the mesh a moment after the pod is Ready; the walkthrough starts on a
        settled mesh, and with reason: istiod of Istio master (1.31-dev) folds a mesh config
        change that lands in one debounce with an Endpoints update into an Endpoints-only push,
        and the change never reaches the sidecar (docs/how-it-works.md, "How it waits")."""

        def endpoint(text: str) -> str | None:
            if f"cluster.{cluster}.upstream_rq_total" in envoy.parse_cluster_hosts(text):
                return None
            return f"the client's sidecar has no endpoint of {cluster} yet"

        waits.until_consistent(lambda: self._context.workload.envoy_admin(envoy.CLUSTERS_PATH), endpoint,
                               self._context.timing, what=f"an endpoint of {cluster} in the client's sidecar")

    def _sidecar_only(self) -> observe.Observation:
        """The sidecar's config alone, as an observation with no request."""
        self._context.provider.ensure_healthy()
        state = envoy.sidecar_state(*self._context.workload.envoy_admin_many(list(envoy.CONFIG_PATHS)))
        return observe.Observation(observe.Request("(sidecar config only)"), "observed", None, "", sidecar=state)

    def _around(self, make_requests: Callable[[], T]) -> "_Around[T]":
        self._context.provider.ensure_healthy()
        # Counters and config in one round trip before the requests, counters again after them:
        # three round trips per observation, each part asking Envoy only for what the verdict reads.
        stats, *config = self._context.workload.envoy_admin_many([envoy.STATS_PATH, *envoy.CONFIG_PATHS])
        before = envoy.parse_counters(stats)
        result = make_requests()
        after = envoy.parse_counters(self._context.workload.envoy_admin(envoy.STATS_PATH))
        generation = (envoy.config_generation(before), envoy.config_generation(after))
        return _Around(before, after, envoy.sidecar_state(*config), generation if all(generation) else None, result)


class Pod:
    """Requests from another pod's app container (a bypass, a second identity); that pod's
    sidecar is not read, the egress gateway's Envoy is once the test uses one."""

    def __init__(self, context: RunContext, waiter: Waiter, gateway: GatewayView, pod: Workload):
        self._context, self._waiter, self._gateway, self.pod = context, waiter, gateway, pod

    def probe(self, request: observe.Request, *args: str) -> observe.Observation:
        """Make ``request`` once (curl ``args`` before the URL), with the egress gateway's clusters
        around it once the scenario uses it."""
        if request.url.startswith("https://") and self.pod.trusted_ca:
            args = ("--cacert", self.pod.trusted_ca, *args)
        gateway_before = self._gateway.counters()
        record = self.pod.curl([*args, request.url], self._context.timing.request_timeout)
        return observe.Observation(request, *observe.classify(record), from_pod=self.pod.name,
                                   **self._gateway.moves(gateway_before))

    def expect(self, step: str, request: observe.Request, check: checks.Check[observe.Observation],
               *args: str) -> observe.Observation:
        """As the client's expect, from this pod (curl ``args`` before the URL)."""
        __tracebackhide__ = True
        return self._waiter.wait(step, lambda: self.probe(request, *args), check)

    def settle(self, step: str, request: observe.Request,
               check: checks.Check[observe.Observation]) -> tuple[bool, observe.Observation]:
        """To learn a fact, not to judge: what ``request`` from this pod gets once several
        observations in a row agree, either way (waits.until_settled): (whether it satisfies
        ``check``, the last observation), recorded as observed. The caller decides what it means
        (a bypass that gets out is a finding; a proof that did not hold is "not supported")."""
        return self._waiter.settle(step, lambda: self.probe(request), check)


@dataclasses.dataclass(frozen=True)
class _Around(Generic[T]):
    """The sidecar around one observation's requests: counters before and after, its config
    before them, its config generation (None when it does not show one), and what the requests gave."""

    before: dict[str, int]
    after: dict[str, int]
    sidecar: envoy.SidecarState
    generation: tuple | None
    result: T
