"""The core flow's state changes against the xDS floor with the evidence wait only, and what
one observation costs, split into its admin reads and its request: on the local mesh, or on
a cluster through the existing provider, namespace-scoped (``ci/benchmark --split [--node K]``).
On a cluster, once per way of reaching the client pod (--pod-channel exec, then stream).

  python -m egress_conformance.benchmarks.split [--node KUBECONFIG --client-image I --external-image I]
      [--repetitions N] [--runs N]

On a cluster it also times the namespace-scoped core + extended run (``--runs`` per channel): the
whole command, and the part after the client pod was ready (the run's own line saying how the pod
is reached marks it).
"""

import argparse
import dataclasses
import datetime
import logging
import os
import statistics
import subprocess
import sys
import tempfile
import time

from egress_conformance.benchmarks import flow
from egress_conformance.framework import scope
from egress_conformance.providers.base import Workload
from egress_conformance.run import options, session
from egress_conformance.verdicts import checks

log = logging.getLogger("egress")

EVIDENCE = ("evidence", flow.EVIDENCE)
OBSERVATIONS = 20
"""Observations timed for the per-observation split."""


class Timed(Workload):
    """The workload, with the time of each admin read and each request kept."""

    def __init__(self, inner: Workload):
        self._inner = inner
        self.namespace, self.name, self.trusted_ca = inner.namespace, inner.name, inner.trusted_ca
        self.admin: list[float] = []
        self.request: list[float] = []

    def exec(self, container, argv, timeout):
        return self._inner.exec(container, argv, timeout)

    def _timed(self, into: list[float], call, *args):
        started = time.monotonic()
        try:
            return call(*args)
        finally:
            into.append(time.monotonic() - started)

    def envoy_admin(self, path):
        return self._timed(self.admin, self._inner.envoy_admin, path)

    def envoy_admin_many(self, paths):
        return self._timed(self.admin, self._inner.envoy_admin_many, paths)

    def curl(self, args, timeout):
        return self._timed(self.request, self._inner.curl, args, timeout)

    def curl_many(self, urls, args, timeout, parallel=16):
        return self._timed(self.request, self._inner.curl_many, urls, args, timeout, parallel)


@dataclasses.dataclass
class Cost:
    """Medians of one observation, in seconds: the whole, its admin reads, its request."""

    observation: float
    admin: float
    request: float


def observation_cost(t, workload: Timed) -> Cost:
    whole, admin, request = [], [], []
    for _ in range(OBSERVATIONS):
        workload.admin.clear()
        workload.request.clear()
        started = time.monotonic()
        t.client.probe(flow._http(t))
        whole.append(time.monotonic() - started)
        admin.append(sum(workload.admin))
        request.append(sum(workload.request))
    return Cost(statistics.median(whole), statistics.median(admin), statistics.median(request))


def measure(run_options, scope_name: str, repetitions: int) -> tuple[list[flow.Sample], Cost]:
    """``repetitions`` core flows (restrict, add ServiceEntry, delete it, restore) on one mesh."""
    samples = []
    with session.mesh(run_options) as held:
        with session.test_context(held, scope_name) as t:
            t.context.workload = workload = Timed(t.context.workload)
            start = t.policy.starting()
            t.client.expect("warm-up", flow._http(t), checks.enforces(start))
            cost = observation_cost(t, workload)
            for index in range(repetitions):
                log.info("flow %d/%d", index + 1, repetitions)
                samples += flow.one_flow(t, EVIDENCE, start)
    return samples, cost


def table(where: str, samples: list[flow.Sample], cost: Cost) -> str:
    med = statistics.median
    lines = [f"{where}: {len(samples) // len(flow.STEPS)} flows (milliseconds; floor = API write -> Envoy applied)",
             f"  {'state change':22s} {'floor med/worst':>17s} {'verdict med/worst':>19s} {'verdict/floor':>14s}"]
    for step in flow.STEPS:
        floor = [s.floor for s in samples if s.step == step and s.floor == s.floor]
        verdict = [s.verdict for s in samples if s.step == step]
        lines.append(f"  {step:22s} {_ms(med(floor))}/{_ms(max(floor))} ms {_ms(med(verdict))}/{_ms(max(verdict))} ms "
                     f"{med(verdict) / med(floor):13.1f}x")
    floors = [s.floor for s in samples if s.floor == s.floor]
    verdicts = [s.verdict for s in samples]
    lines.append(f"  {'all':22s} {_ms(med(floors))}/{_ms(max(floors))} ms {_ms(med(verdicts))}/{_ms(max(verdicts))} ms "
                 f"{med(verdicts) / med(floors):13.1f}x")
    lines.append(f"  one observation: {cost.observation * 1000:.0f} ms median, of which admin reads "
                 f"{cost.admin * 1000:.0f} ms (two), the request {cost.request * 1000:.0f} ms, the rest (API health "
                 f"check, parsing) {(cost.observation - cost.admin - cost.request) * 1000:.0f} ms")
    return "\n".join(lines)


def suite_wall(kubeconfig: str, channel: str, images: tuple[str, str]) -> tuple[int, float, float]:
    """(exit code, wall seconds, seconds after the client pod was ready) of the namespace-scoped
    core + extended run on a cluster, the test namespace and its pods started and removed within it."""
    argv = [sys.executable, "-m", "egress_conformance.cli", "run", "--provider", "existing", "--kubeconfig",
            kubeconfig, "--external", "simulated", "--client-image", images[0], "--external-image",
            images[1], "--profile", "core", "--profile", "extended", "--pod-channel", channel]
    with tempfile.TemporaryDirectory() as report:
        started = time.monotonic()
        ready = None
        with subprocess.Popen([*argv, "--report-dir", report], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              text=True) as run:
            for line in run.stdout or ():
                if ready is None and "client pod reached by" in line:
                    ready = time.monotonic()
        ended = time.monotonic()
    return run.returncode, ended - started, ended - (ready or started)


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:6.0f}"


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--node", metavar="KUBECONFIG", help="a cluster's kubeconfig (else: the local mesh)")
    parser.add_argument("--client-image", help="with --node: the client pod's image (ci/benchmark: the node's)")
    parser.add_argument("--external-image", help="with --node: the simulated host's image (ci/benchmark: the node's)")
    parser.add_argument("--repetitions", type=int, default=5)
    parser.add_argument("--channels", nargs="+", default=["exec", "stream"], help="--pod-channel values, in turn")
    parser.add_argument("--runs", type=int, default=3, help="namespace-scoped core + extended runs per channel")
    args = parser.parse_args(argv)
    if args.node and not (args.client_image and args.external_image):
        parser.error("--node needs --client-image and --external-image (images the cluster has)")
    logging.basicConfig(level=logging.WARNING)
    print(f"{datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M} UTC, {os.cpu_count()} cores, evidence wait")
    if not args.node:
        print(table("local mesh, mesh-wide", *measure(options.defaults(timing=flow.EVIDENCE), scope.MESH_WIDE,
                                                      args.repetitions)))
        return 0
    for channel in args.channels:
        run_options = options.defaults(timing=flow.EVIDENCE, provider="existing", kubeconfig=args.node,
                                       external="simulated", client_image=args.client_image,
                                       external_image=args.external_image, pod_channel=channel)
        print(table(f"node, namespace-scoped, --pod-channel {channel}",
                    *measure(run_options, scope.NAMESPACE, args.repetitions)), flush=True)
    for channel in args.channels:
        runs = [suite_wall(args.node, channel, (args.client_image, args.external_image)) for _ in range(args.runs)]
        print(f"core + extended on the node, namespace-scoped, --pod-channel {channel}: exit "
              f"{','.join(str(code) for code, _, _ in runs)}; wall {_s([w for _, w, _ in runs])}; after the client "
              f"pod was ready {_s([r for _, _, r in runs])}", flush=True)
    return 0


def _s(values: list[float]) -> str:
    return f"{statistics.median(values):.1f} s (median of {len(values)}: {min(values):.1f}-{max(values):.1f})"


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
