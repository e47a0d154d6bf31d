"""The allow-list scenario at scale: for a generated list of N hosts, on a fresh local mesh,
the wall time of each phase (apply N ServiceEntries, see each host answer, check the
unlisted sample, delete them, see them blocked again) and the peak memory of every
component and of the suite itself, so that growth with N is visible.

Run one N per process (ci/benchmark --scale does): the suite's own peak (ru_maxrss) is
a high-water mark of the whole process.
"""

import dataclasses
import datetime
import json
import pathlib
import resource
import tempfile
import threading
import time
import urllib.request

from kubernetes import client

from egress_conformance import waits
from egress_conformance.benchmarks import soak
from egress_conformance.framework import scope
from egress_conformance.reports.model import Step
from egress_conformance.run import options, session
from egress_conformance.scenarios import allow_list
from egress_conformance.timing import Timing

MIXES = (("HTTP", 80), ("HTTPS", 443), ("TLS", 8443), ("HTTP", 8080))
"""The generated list cycles through these: both protocols the suite proves, on well-known and other ports."""

TIMING = Timing(convergence_timeout=300.0)
"""The suite's rule (3 in a row) with room for hundreds of ServiceEntries to reach the sidecar."""


def generated_list(size: int, directory: pathlib.Path) -> pathlib.Path:
    """A CSV allow-list of ``size`` distinct hosts."""
    rows = ["host,port,protocol"]
    for index in range(size):
        protocol, port = MIXES[index % len(MIXES)]
        rows.append(f"host-{index:04d}.allow.example,{port},{protocol}")
    path = directory / f"allow-list-{size}.csv"
    path.write_text("\n".join(rows) + "\n")
    return path


class PeakSampler(threading.Thread):
    """Samples every component's RSS a few times a second and keeps each one's peak."""

    def __init__(self, provider, every: float = 0.2):
        super().__init__(daemon=True)
        self.provider, self.every = provider, every
        self.peak_kib: dict[str, int] = {}
        self._done = threading.Event()

    def run(self) -> None:
        while not self._done.is_set():
            for name, usage in soak.footprint(self.provider).items():
                self.peak_kib[name] = max(self.peak_kib.get(name, 0), usage.rss_kib)
            self._done.wait(self.every)

    def stop(self) -> dict[str, int]:
        self._done.set()
        self.join()
        return self.peak_kib


@dataclasses.dataclass
class Figures:
    size: int
    phases: dict[str, float]
    """Phase -> seconds."""
    observation: float
    """Seconds per batch observation of all N hosts (the 'answers' phase / its attempts)."""
    idle_kib: dict[str, int]
    """Component -> RSS before the scenario."""
    peak_kib: dict[str, int]
    """Component (and 'suite') -> peak RSS during the scenario."""


def measure(size: int, scope_name: str = scope.MESH_WIDE) -> Figures:
    """Run the allow-list scenario once with ``size`` generated hosts on a fresh local mesh."""
    with tempfile.TemporaryDirectory() as scratch:
        listed = generated_list(size, pathlib.Path(scratch))
        with session.mesh(options.defaults(allow_list=str(listed), timing=TIMING)) as held:
            provider = held.provider
            idle = {name: usage.rss_kib for name, usage in soak.footprint(provider).items()}
            sampler = PeakSampler(provider)
            sampler.start()
            started = time.monotonic()
            try:
                with session.test_context(held, scope_name) as t:
                    try:
                        allow_list.run(t)
                    except waits.NotConverged as err:
                        # Before the clean-up: who still holds the listed hosts, the API or istiod?
                        raise RuntimeError(f"{err}; at that moment {_holders(provider, t)}") from None
            finally:
                peak = sampler.stop()
            total = time.monotonic() - started
    peak["suite"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    phases, observation = _phases(t.steps, total)
    return Figures(size, phases, observation, idle, peak)


def _holders(provider, t) -> str:
    """How many of the allow-list's ServiceEntries the API and istiod still have."""
    items = client.CustomObjectsApi(t.context.api).list_namespaced_custom_object(
        "networking.istio.io", "v1", t.namespace, "serviceentries")["items"]
    in_api = sum(1 for item in items if item["metadata"]["name"].startswith("allow-list-"))
    with urllib.request.urlopen(f"{provider.istiod.debug_url}/debug/configz", timeout=30) as answer:
        configs = json.load(answer)
    in_istiod = sum(1 for c in configs if c.get("kind") == "ServiceEntry"
                    and c.get("metadata", {}).get("name", "").startswith("allow-list-"))
    return f"the API had {in_api} of the list's ServiceEntries, istiod's configz {in_istiod}"


def _phases(steps: list[Step], total: float) -> tuple[dict[str, float], float]:
    """Phase durations from the scenario's step records (each timed expectation has start and end)."""
    timed = [_Timed.of(s) for s in steps if s.started]
    restricted, answered = timed[0], timed[1]
    unlisted, again = timed[2:-1], timed[-1]
    phases = {
        "apply N entries": answered.started - restricted.ended,
        "each answers (wait)": answered.seconds,
        "unlisted blocked": unlisted[-1].ended - unlisted[0].started,
        "delete N entries": again.started - unlisted[-1].ended,
        "blocked again (wait)": again.seconds,
        "whole scenario": total,
    }
    return phases, answered.seconds / max(answered.attempts, 1)


@dataclasses.dataclass(frozen=True)
class _Timed:
    """A timed expectation's step record: start and end (seconds since the epoch), its wait and attempts."""

    started: float
    ended: float
    seconds: float
    attempts: int

    @classmethod
    def of(cls, step: Step) -> "_Timed":
        if step.started is None or step.ended is None or step.seconds is None or step.attempts is None:
            raise ValueError(f"step {step.name!r} is not a timed expectation (no start, end, seconds or attempts)")
        at = lambda moment: datetime.datetime.fromisoformat(moment).timestamp()  # noqa: E731
        return cls(at(step.started), at(step.ended), step.seconds, step.attempts)


def table(figures: list[Figures]) -> str:
    """Seconds per phase and peak MiB per component, one column per N."""
    header = f"{'':28s}" + "".join(f"{'N=' + str(f.size):>10s}" for f in figures)
    lines = [header, "seconds"]
    for phase in figures[0].phases:
        lines.append(f"  {phase:26s}" + "".join(f"{f.phases[phase]:10.1f}" for f in figures))
    lines.append(f"  {'one batch observation':26s}" + "".join(f"{f.observation:10.2f}" for f in figures))
    lines.append("peak RSS, MiB (idle -> peak)")
    for name in [*figures[0].idle_kib, "suite"]:
        cells = []
        for f in figures:
            idle = f.idle_kib.get(name)
            cells.append(f"{f.peak_kib[name] / 1024:10.0f}" if idle is None else
                         f"{idle / 1024:5.0f}->{f.peak_kib[name] / 1024:<4.0f}".rjust(10))
        lines.append(f"  {name:26s}" + "".join(cells))
    return "\n".join(lines)
