"""The cluster's egress map at scale: N namespaces of its own (names ``ecmap-<run>-NNN``, labelled
``egress-conformance-bench=<run>``), each with a Sidecar (REGISTRY_ONLY, or ALLOW_ANY for every
tenth), M ServiceEntries exported to it alone and a Deployment scaled to zero (a template, no
pod: the node is shared); then ``audit --all-namespaces`` and ``audit --namespace-selector``
on them, each in its own process: wall time, the map's own time and API calls (from its
report), and the process's peak RSS. Everything it made is deleted at the end, also after an
error or SIGTERM (a leftover is found by its label: kubectl delete ns -l egress-conformance-bench).

  python -m egress_conformance.benchmarks.egress_map KUBECONFIG [NAMESPACES [ENTRIES_PER_NAMESPACE]]
  (ci/benchmark --egress-map KUBECONFIG)
"""

import json
import os
import pathlib
import secrets
import signal
import subprocess
import sys
import tempfile
import time

from kubernetes import client, watch

from egress_conformance.cluster import kube

LABEL = "egress-conformance-bench"


def objects_of(namespace: str, run: str, index: int, entries: int) -> list[dict]:
    mode = "ALLOW_ANY" if index % 10 == 0 else "REGISTRY_ONLY"
    made: list[dict] = [
        {"apiVersion": "v1", "kind": "Namespace",
         "metadata": {"name": namespace, "labels": {LABEL: run, "istio-injection": "enabled"}}},
        {"apiVersion": "networking.istio.io/v1", "kind": "Sidecar", "metadata": {"name": "default",
                                                                                "namespace": namespace},
         "spec": {"outboundTrafficPolicy": {"mode": mode}}},
        {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": namespace},
         "spec": {"replicas": 0, "selector": {"matchLabels": {"app": "web"}},
                  "template": {"metadata": {"labels": {"app": "web"}},
                               "spec": {"containers": [{"name": "app", "image": "none.invalid/app"}]}}}}]
    for n in range(entries):
        made.append({"apiVersion": "networking.istio.io/v1", "kind": "ServiceEntry",
                     "metadata": {"name": f"host-{n}", "namespace": namespace},
                     "spec": {"hosts": [f"h{n}.{namespace}.example"], "exportTo": ["."], "location": "MESH_EXTERNAL",
                              "resolution": "DNS", "ports": [{"number": 443, "name": "tls", "protocol": "TLS"}]}})
    return made


def measure(kubeconfig: pathlib.Path, argv: list[str], folder: pathlib.Path) -> dict:
    """Run the map in its own process: wall seconds, exit code, its report's seconds and API calls,
    the rows, and the process's peak RSS (MiB)."""
    started = time.monotonic()
    with tempfile.TemporaryFile("w+") as err:
        child = subprocess.Popen([sys.executable, "-m", "egress_conformance.cli", "audit", "--kubeconfig",
                                  str(kubeconfig), "--report-dir", str(folder), *argv],
                                 stdout=subprocess.DEVNULL, stderr=err, text=True)
        _, status, usage = os.wait4(child.pid, 0)  # this child's own rusage: its peak RSS alone
        child.returncode = os.waitstatus_to_exitcode(status)
        wall = time.monotonic() - started
        err.seek(0)
        stderr = err.read()
    peak = usage.ru_maxrss / 1024
    try:
        saved = json.loads((folder / "report.json").read_text())["egressMap"]
    except (OSError, KeyError, ValueError):
        raise SystemExit(f"the map wrote no report (exit {child.returncode}): {stderr.strip()[-500:]}") from None
    verdicts: dict[str, int] = {}
    for row in saved["namespaces"]:
        verdicts[row["verdict"]] = verdicts.get(row["verdict"], 0) + 1
    return {"wall": wall, "exit": child.returncode, "seconds": saved["seconds"], "calls": saved["apiCalls"],
            "namespaces": len(saved["namespaces"]), "verdicts": verdicts, "peak_mib": peak}


def main(argv: list[str]) -> int:
    kubeconfig = pathlib.Path(argv[0])
    if len(argv) > 3 or not kubeconfig.is_file():
        print(__doc__.strip().splitlines()[-2].strip(), file=sys.stderr)
        return 2
    count = int(argv[1]) if len(argv) > 1 else 100
    entries = int(argv[2]) if len(argv) > 2 else 5
    run = secrets.token_hex(3)
    api = kube.connect(kubeconfig)
    names = [f"ecmap-{run}-{i:03d}" for i in range(count)]
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # run the finally below
    made = 0
    try:
        started = time.monotonic()
        for index, namespace in enumerate(names):
            for obj in objects_of(namespace, run, index, entries):
                kube.create(api, obj)
                made += 1
        print(f"created {count} namespaces, {count * entries} ServiceEntries, {count} Sidecars, {count} "
              f"Deployments (0 replicas): {made} objects in {time.monotonic() - started:.0f} s")
        total = len(client.CoreV1Api(api).list_namespace().items)
        entries_total = len(kube.list_everywhere(api, "networking.istio.io/v1", "ServiceEntry"))
        print(f"the cluster now: {total} namespaces, {entries_total} ServiceEntries")
        with tempfile.TemporaryDirectory(prefix="egress-map-bench-") as tmp:
            for label, args in (("--all-namespaces", ["--all-namespaces"]),
                                (f"--namespace-selector {LABEL}={run}", ["--namespace-selector", f"{LABEL}={run}"])):
                got = measure(kubeconfig, args, pathlib.Path(tmp) / label.split()[0].strip("-"))
                print(f"audit {label}: {got['namespaces']} namespaces {got['verdicts']}, exit {got['exit']}; "
                      f"wall {got['wall']:.1f} s (map {got['seconds']:.1f} s), {got['calls']} API calls, peak RSS "
                      f"{got['peak_mib']:.0f} MiB")
    finally:
        started = time.monotonic()
        for namespace in names:
            try:
                client.CoreV1Api(api).delete_namespace(namespace)
            except client.ApiException as err:
                if err.status != 404:
                    print(f"could not delete namespace {namespace}: {err.reason}", file=sys.stderr)
        left = _wait_gone(api, run)
        print(f"deleted the {count} namespaces in {time.monotonic() - started:.0f} s"
              + (f"; {left} still terminating: kubectl delete ns -l {LABEL}={run}" if left else ""))
    return 0


def _wait_gone(api: client.ApiClient, run: str, timeout: float = 300.0) -> int:
    """Namespaces of this run still present once they are all gone, or at the timeout; watched, not slept."""
    core = client.CoreV1Api(api)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = core.list_namespace(label_selector=f"{LABEL}={run}")
        if not found.items:
            return 0
        # A watch wakes on each change (a deletion) instead of polling on a timer.
        for _ in watch.Watch().stream(core.list_namespace, label_selector=f"{LABEL}={run}",
                                      resource_version=found.metadata.resource_version,
                                      timeout_seconds=max(1, int(deadline - time.monotonic()))):
            break
    return len(core.list_namespace(label_selector=f"{LABEL}={run}").items)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
