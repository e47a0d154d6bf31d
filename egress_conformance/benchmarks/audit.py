"""The audit at scale on a cluster: for a generated allow-list of N hosts, a team namespace that
opens exactly them (REGISTRY_ONLY by its Sidecar, one ServiceEntry per host exported to it
alone), then `egress-conformance audit` on it, timed from the command's start to its exit
(client pod and simulated target start included), with the time of each of its steps.

  python -m egress_conformance.benchmarks.audit KUBECONFIG CLIENT_IMAGE EXTERNAL_IMAGE [N ...]   (ci/benchmark --audit)
"""

import pathlib
import subprocess
import sys
import tempfile
import time

import yaml

from egress_conformance.benchmarks import scale
from egress_conformance.cluster import kube
from egress_conformance.framework import scope
from egress_conformance.hosts import allowlist

NAMESPACE = "egress-conformance-audit-bench"


def measure(kubeconfig: pathlib.Path, size: int, directory: pathlib.Path,
            images: tuple[str, str]) -> tuple[float, int, list[tuple[str, float]]]:
    """(wall seconds, exit code, (step, seconds) of the audit's steps) for a list of ``size`` hosts."""
    api = kube.connect(kubeconfig)
    listed = scale.generated_list(size, directory)
    namespace = {"apiVersion": "v1", "kind": "Namespace",
                 "metadata": {"name": NAMESPACE, "labels": {"istio-injection": "enabled"}}}
    kube.create(api, namespace)
    try:
        kube.create(api, scope.policy_sidecar(NAMESPACE, "REGISTRY_ONLY"))
        for index, entry in enumerate(allowlist.load(listed)):
            obj = allowlist.service_entry(entry, f"team-{index:04d}")
            obj["metadata"]["namespace"], obj["spec"]["exportTo"] = NAMESPACE, ["."]
            kube.create(api, obj)
        report = directory / f"report-{size}"
        started = time.monotonic()
        done = subprocess.run([sys.executable, "-m", "egress_conformance.cli", "audit", "--provider", "existing",
                               "--kubeconfig", str(kubeconfig), "--test-namespace", NAMESPACE,
                               "--external", "simulated", "--client-image", images[0],
                               "--external-image", images[1], "--allow-list", str(listed),
                               "--report-dir", str(report)], capture_output=True, text=True)
        wall = time.monotonic() - started
    finally:
        kube.delete_and_wait(api, namespace)
    document = yaml.safe_load((report / "report.yaml").read_text())
    steps = [(s["step"], s.get("seconds") or 0.0) for p in document["profiles"] for t in p["tests"]
             for s in t["steps"]]
    return wall, done.returncode, steps


def main(argv: list[str]) -> int:
    kubeconfig, images, sizes = pathlib.Path(argv[0]), (argv[1], argv[2]), [int(n) for n in argv[3:]] or [10, 100]
    mixes = ", ".join(f"{protocol}/{port}" for protocol, port in scale.MIXES)
    print(f"audit of a namespace whose allow-list has N generated hosts ({mixes} in turn), on the cluster of "
          f"{kubeconfig}")
    print(f"{'N':>5} {'exit':>4} {'wall s':>7}  steps (s)")
    with tempfile.TemporaryDirectory() as directory:
        for size in sizes:
            wall, code, steps = measure(kubeconfig, size, pathlib.Path(directory), images)
            print(f"{size:>5} {code:>4} {wall:>7.1f}  " + "; ".join(f"{name}: {seconds:.1f}" for name, seconds in steps
                                                                if seconds))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
