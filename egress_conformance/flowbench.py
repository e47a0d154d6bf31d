"""The core flow's state changes timed against the xDS floor: for each change, the time
from the API write to Envoy having applied it (Envoy's own xDS update times) and to the
suite's confirmed verdict, under the evidence-driven wait and under a fixed interval."""

import dataclasses
import logging
import statistics
import time

from egress_conformance import checks, envoy, session
from egress_conformance.meshconfig import REGISTRY_ONLY
from egress_conformance.observe import Request
from egress_conformance.settings import Timing
from scenarios import core_egress

log = logging.getLogger("egress")

UPDATE_TIMES = ("/stats?filter=^(cluster_manager%5C.cds|listener_manager%5C.lds|http%5C..*%5C.rds%5C..*)"
                "%5C.update_time$")
"""Envoy's gauges of when it last applied a CDS, LDS or RDS update (milliseconds since the epoch)."""

EVIDENCE = Timing()
FIXED = Timing(settled_interval=Timing().interval, retry_interval=Timing().interval)
"""The same N-in-a-row rule with a fixed 0.5 s between observations: the suite before evidence-driven waiting."""

STEPS = ("restrict", "add ServiceEntry", "delete ServiceEntry", "restore")


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


def timed_step(t, step, strategy, change, check) -> tuple[Sample, object]:
    """Make ``change`` (an API write), wait for ``check`` on plain HTTP, return the sample."""
    before = update_times(t.workload)
    written = time.time()
    result = change()
    t.timing = strategy[1]
    t.expect(step, _http(t), check)
    confirmed = time.time()
    after = update_times(t.workload)
    applied = [value for name, value in after.items() if value != before.get(name) and value >= written - 0.01]
    floor = (max(applied) - written) if applied else float("nan")
    return Sample(step, strategy[0], floor, confirmed - written), result


def one_flow(t, strategy, start: str) -> list[Sample]:
    """Restrict, add the ServiceEntry, delete it, restore: four timed steps."""
    blocked = checks.sidecar_policy(REGISTRY_ONLY)
    cluster = f"outbound|80||{t.targets.host}"
    samples = []
    sample, restriction = timed_step(t, "restrict", strategy, lambda: t.set_outbound_policy(REGISTRY_ONLY),
                                     checks.all_of(blocked, checks.blocked_http()))
    samples.append(sample)
    sample, entry = timed_step(t, "add ServiceEntry", strategy, lambda: t.apply(core_egress.SERVICE_ENTRY),
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
        t.probe(_http(t))
        durations.append(time.monotonic() - started)
    parts = t.workload.envoy_admin_many([envoy.STATS_PATH, *envoy.CONFIG_PATHS])
    whole = t.workload.envoy_admin("/config_dump")
    started = time.monotonic()
    t.workload.envoy_admin("/config_dump")
    whole_seconds = time.monotonic() - started
    return {"probe": statistics.median(durations), "round trips": 3,
            "bytes read": sum(map(len, parts)) + len(parts[0]), "whole config dump bytes": len(whole),
            "whole config dump seconds": whole_seconds}


def run(repetitions: int) -> tuple[list[Sample], dict]:
    """``repetitions`` flows per strategy, interleaved, on one warm local mesh."""
    samples = []
    with session.mesh() as (provider, run_journal):
        with session.egress_test(provider, run_journal, EVIDENCE) as t:
            start = t.starting_policy()
            t.expect("warm-up", _http(t), checks.enforces(start))
            cost = probe_cost(t)
            for index in range(repetitions):
                for strategy in (("evidence", EVIDENCE), ("fixed 0.5 s", FIXED)):
                    log.info("flow %d/%d, %s", index + 1, repetitions, strategy[0])
                    samples += one_flow(t, strategy, start)
    return samples, cost


def tables(samples: list[Sample], cost: dict) -> str:
    """The figures as plain-text tables (medians and worst, in milliseconds)."""
    lines = [f"{'state change':22s} {'floor med/worst':>17s} {'verdict med/worst':>19s} {'verdict/floor':>14s} "
             f"{'fixed 0.5 s med/worst':>23s} {'fixed/evidence':>15s}"]
    for step in STEPS:
        mine = [s for s in samples if s.step == step and s.strategy == "evidence"]
        fixed = [s for s in samples if s.step == step and s.strategy != "evidence"]
        floor = [s.floor for s in mine + fixed if s.floor == s.floor]
        verdict, slow = [s.verdict for s in mine], [s.verdict for s in fixed]
        med = statistics.median
        lines.append(f"{step:22s} {_ms(med(floor))}/{_ms(max(floor))} ms {_ms(med(verdict))}/{_ms(max(verdict))} ms "
                     f"{med(verdict) / med(floor):13.1f}x {_ms(med(slow))}/{_ms(max(slow))} ms "
                     f"{med(slow) / med(verdict):14.1f}x")
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
