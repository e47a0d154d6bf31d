"""The core flow's state changes timed against the xDS floor: for each change, the time
from the API write to Envoy having applied it (Envoy's own xDS update times) and to the
suite's confirmed verdict, under the evidence-driven wait, under a fixed interval, and
under the retry of Istio's own documentation tests (istio.io tests/util/verify.sh)."""

import dataclasses
import logging
import statistics
import time
from collections.abc import Callable
from typing import TypeVar

from egress_conformance.cluster.meshconfig import REGISTRY_ONLY
from egress_conformance.run import options, session
from egress_conformance.scenarios import core_egress
from egress_conformance.timing import Timing
from egress_conformance.verdicts import checks, envoy
from egress_conformance.verdicts.observe import Request

log = logging.getLogger("egress")

T = TypeVar("T")

UPDATE_TIMES = ("/stats?filter=^(cluster_manager%5C.cds|listener_manager%5C.lds|http%5C..*%5C.rds%5C..*)"
                "%5C.update_time$")
"""Envoy's gauges of when it last applied a CDS, LDS or RDS update (milliseconds since the epoch)."""

EVIDENCE = Timing()
FIXED = Timing(settled_interval=Timing().interval, retry_interval=Timing().interval)
"""The same N-in-a-row rule with a fixed 0.5 s between observations: the suite before evidence-driven waiting."""

DOCS = "istio.io retry"
"""istio.io's verify.sh: the first matching answer is accepted (one, not several in a row);
after a mismatch it sleeps 2**attempt seconds (2, 4, 8, ...), 7 attempts by default."""
DOCS_ATTEMPTS = 7

STEPS = ("restrict", "add ServiceEntry", "delete ServiceEntry", "restore")
STRATEGIES = (("evidence", EVIDENCE), ("fixed 0.5 s", FIXED), (DOCS, None))


@dataclasses.dataclass
class Sample:
    step: str
    strategy: str
    floor: float
    """Seconds from the API write to Envoy's last xDS update caused by it."""
    verdict: float
    """Seconds from the API write to the suite's confirmed verdict."""


def update_times(workload) -> dict[str, float]:
    """Envoy's last xDS update time per resource type, in seconds since the epoch."""
    gauges = envoy.parse_counters(workload.envoy_admin(UPDATE_TIMES))
    return {name: value / 1000 for name, value in gauges.items()}


def timed_step(t, step, strategy, change: Callable[[], T], check) -> tuple[Sample, T]:
    """Make ``change`` (an API write), wait for ``check`` on plain HTTP, return the sample."""
    before = update_times(t.context.workload)
    written = time.time()
    result = change()
    if strategy[0] == DOCS:
        docs_verify(t, step, check)
    else:
        t.context.timing = strategy[1]
        t.client.expect(step, _http(t), check)
    confirmed = time.time()
    after = update_times(t.context.workload)
    applied = [value for name, value in after.items() if value != before.get(name) and value >= written - 0.01]
    floor = (max(applied) - written) if applied else float("nan")
    return Sample(step, strategy[0], floor, confirmed - written), result


def docs_verify(t, step, check, sleep=time.sleep) -> None:
    """Wait the way istio.io's documentation tests do (DOCS): one match suffices."""
    for attempt in range(1, DOCS_ATTEMPTS + 1):
        reason = check(t.client.probe(_http(t)))
        if reason is None:
            return
        if attempt < DOCS_ATTEMPTS:
            sleep(2 ** attempt)
    raise AssertionError(f"{step}: {reason} after {DOCS_ATTEMPTS} attempts")


def one_flow(t, strategy, start: str) -> list[Sample]:
    """Restrict, add the ServiceEntry, delete it, restore: four timed steps."""
    blocked = checks.sidecar_policy(REGISTRY_ONLY)
    cluster = f"outbound|80||{t.targets.host}"
    samples = []
    sample, restriction = timed_step(t, "restrict", strategy, lambda: t.policy.set(REGISTRY_ONLY),
                                     checks.all_of(blocked, checks.blocked_http()))
    samples.append(sample)
    sample, entry = timed_step(t, "add ServiceEntry", strategy, lambda: t.resources.apply(core_egress.SERVICE_ENTRY),
                               checks.all_of(blocked, checks.reachable(via=cluster)))
    samples.append(sample)
    sample, _ = timed_step(t, "delete ServiceEntry", strategy, entry.run,
                           checks.all_of(blocked, checks.sidecar_has_cluster(cluster, present=False),
                                         checks.blocked_http()))
    samples.append(sample)
    sample, _ = timed_step(t, "restore", strategy, restriction.run, checks.enforces(start))
    samples.append(sample)
    return samples


def probe_cost(t, repetitions: int = 20) -> dict:
    """Median seconds of one observation, and what it is made of."""
    durations = []
    for _ in range(repetitions):
        started = time.monotonic()
        t.client.probe(_http(t))
        durations.append(time.monotonic() - started)
    parts = t.context.workload.envoy_admin_many([envoy.STATS_PATH, *envoy.CONFIG_PATHS])
    whole = t.context.workload.envoy_admin("/config_dump")
    started = time.monotonic()
    t.context.workload.envoy_admin("/config_dump")
    whole_seconds = time.monotonic() - started
    return {"probe": statistics.median(durations), "round trips": 3,
            "bytes read": sum(map(len, parts)) + len(parts[0]), "whole config dump bytes": len(whole),
            "whole config dump seconds": whole_seconds}


def run(repetitions: int) -> tuple[list[Sample], dict]:
    """``repetitions`` flows per strategy, interleaved, on one warm local mesh."""
    samples = []
    with session.mesh(options.defaults(timing=EVIDENCE)) as held:
        with session.test_context(held) as t:
            start = t.policy.starting()
            t.client.expect("warm-up", _http(t), checks.enforces(start))
            cost = probe_cost(t)
            for index in range(repetitions):
                for strategy in STRATEGIES:
                    log.info("flow %d/%d, %s", index + 1, repetitions, strategy[0])
                    samples += one_flow(t, strategy, start)
    return samples, cost


def tables(samples: list[Sample], cost: dict) -> str:
    """The figures as plain-text tables (medians and worst, in milliseconds)."""
    med = statistics.median
    others = [name for name, _ in STRATEGIES[1:]]
    lines = [f"{'state change':22s} {'floor med/worst':>17s} {'verdict med/worst':>19s} {'verdict/floor':>14s} "
             + " ".join(f"{name + ' med/worst':>26s} {'/evidence':>10s}" for name in others)]
    for step in STEPS:
        of = lambda strategy: [s for s in samples if s.step == step and s.strategy == strategy]  # noqa: B023, E731
        floor = [s.floor for s in samples if s.step == step and s.floor == s.floor]
        verdict = [s.verdict for s in of("evidence")]
        line = (f"{step:22s} {_ms(med(floor))}/{_ms(max(floor))} ms {_ms(med(verdict))}/{_ms(max(verdict))} ms "
                f"{med(verdict) / med(floor):13.1f}x")
        for name in others:
            slow = [s.verdict for s in of(name)]
            line += f" {_ms(med(slow)):>15s}/{_ms(max(slow))} ms {med(slow) / med(verdict):9.1f}x"
        lines.append(line)
    lines.append("")
    lines.append(f"one observation: {cost['probe'] * 1000:.0f} ms median, {cost['round trips']} round trips to the "
                 f"pod (counters + config parts; request; counters), {cost['bytes read']} bytes of admin data; "
                 f"the whole config dump would be {cost['whole config dump bytes']} bytes "
                 f"({cost['whole config dump seconds'] * 1000:.0f} ms)")
    return "\n".join(lines)


def _http(t) -> Request:
    return Request(t.targets.url("http"))


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:6.0f}"


def trace_delete(repetitions: int = 3) -> list[str]:
    """Delete the core flow's ServiceEntry ``repetitions`` times and describe every observation
    until the verdict: milliseconds since the write, outcome, config generation, mismatch;
    then when Envoy applied each xDS type."""
    lines = []
    with session.mesh(options.defaults(timing=EVIDENCE)) as held:
        with session.test_context(held) as t:
            http, cluster = _http(t), f"outbound|80||{t.targets.host}"
            blocked = checks.sidecar_policy(REGISTRY_ONLY)
            t.policy.set(REGISTRY_ONLY)
            t.client.expect("restricted", http, checks.all_of(blocked, checks.blocked_http()))
            closed = checks.all_of(blocked, checks.sidecar_has_cluster(cluster, present=False), checks.blocked_http())
            for _ in range(repetitions):
                entry = t.resources.apply(core_egress.SERVICE_ENTRY)
                t.client.expect("allowed", http, checks.all_of(blocked, checks.reachable(via=cluster)))
                before = update_times(t.context.workload)
                written = time.time()
                entry.run()
                streak = 0
                while streak < EVIDENCE.consecutive:
                    observation = t.client.probe(http)
                    reason = closed(observation)
                    streak = streak + 1 if reason is None else 0
                    generation = sum(value for _, value in (observation.generation or ((), ()))[1])
                    lines.append(f"{(time.time() - written) * 1000:6.0f} ms  {observation.outcome} "
                                 f"{observation.status or ''} via {', '.join(observation.served_by) or 'no cluster'}"
                                 f"  generation {generation}  {reason or 'matches'}")
                applied = {name.split(".")[0]: round((value - written) * 1000)
                           for name, value in update_times(t.context.workload).items() if value != before.get(name)}
                lines.append(f"Envoy applied (ms after the write): {applied}")
                lines.append("")
    return lines
