"""Soak: the core flow K times on one local mesh, with what each iteration left behind.

Reports false verdicts (any failed iteration), leaked objects (anything in the test
namespace or the mesh config that differs from before the first iteration), and the
growth of processes, open files and memory (RSS) of every component from the first
iteration to the last.
"""

import dataclasses
import logging
import os
import pathlib

from kubernetes import client

from egress_conformance.framework import scope
from egress_conformance.run import options, session
from egress_conformance.scenarios import core_egress
from egress_conformance.timing import Timing

log = logging.getLogger("egress")


@dataclasses.dataclass(frozen=True)
class Usage:
    """One component's footprint: its process group's processes, open files and RSS."""

    processes: int
    open_files: int
    rss_kib: int


def usage(group: int, proc: pathlib.Path = pathlib.Path("/proc")) -> Usage:
    """Sum over every live process of process group ``group``."""
    count = files = rss = 0
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            if int(fields[2]) != group:  # fields after the command: state, ppid, pgrp
                continue
            status = (entry / "status").read_text()
            files += len(os.listdir(entry / "fd"))
        except (FileNotFoundError, ProcessLookupError, PermissionError, IndexError):
            continue
        count += 1
        rss += next((int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:")), 0)
    return Usage(count, files, rss)


def footprint(provider) -> dict[str, Usage]:
    return {name: usage(pid) for name, pid in provider.component_pids().items()}


def objects(provider) -> list[str]:
    """Every object in the test namespace and the mesh config text, to compare across iterations."""
    api = provider.api()
    found = []
    custom = client.CustomObjectsApi(api)
    namespace = provider.workload().namespace
    for group, version, plural in (("networking.istio.io", "v1", "serviceentries"),
                                   ("networking.istio.io", "v1", "sidecars")):
        for item in custom.list_namespaced_custom_object(group, version, namespace, plural)["items"]:
            found.append(f"{plural}/{item['metadata']['name']}")
    core = client.CoreV1Api(api)
    found += [f"configmaps/{c.metadata.name}" for c in core.list_namespaced_config_map(namespace).items]
    namespace_cm, name = provider.mesh_config_map()
    found.append("mesh config: " + core.read_namespaced_config_map(name, namespace_cm).data.get("mesh", ""))
    return sorted(found)


def run(iterations: int, timing: Timing | None = None) -> dict:
    """Run the core flow ``iterations`` times on one mesh (default timing unless given); return the soak's
    findings."""
    timing = timing or Timing()
    failures, leaks, first, last = [], [], None, None
    with session.mesh(options.defaults(timing=timing)) as held:
        provider = held.provider
        baseline = objects(provider)
        for index in range(1, iterations + 1):
            try:
                with session.test_context(held, scope.MESH_WIDE) as t:
                    core_egress.run(t)
            except AssertionError as err:
                failures.append(f"iteration {index}: {str(err).splitlines()[0][:300]}")
            now = objects(provider)
            if now != baseline:
                leaks.append(f"iteration {index}: {sorted(set(now) ^ set(baseline))}")
            if index == 1:
                first = footprint(provider)
            last = footprint(provider)
            log.warning("iteration %d/%d: %d false verdicts, %d leaks so far", index, iterations, len(failures),
                        len(leaks))
    return {"iterations": iterations, "failures": failures, "leaks": leaks, "first": first, "last": last}


def table(findings: dict) -> str:
    lines = [f"soak: core flow x{findings['iterations']} on one local mesh: "
             f"{len(findings['failures'])} false verdicts, {len(findings['leaks'])} iterations with leaked objects"]
    lines += [f"  {line}" for line in findings["failures"][:10] + findings["leaks"][:10]]
    lines.append(f"{'component':26s} {'processes':>12s} {'open files':>12s} {'RSS MiB first -> last':>24s}")
    for name, first in findings["first"].items():
        last = findings["last"][name]
        lines.append(f"{name:26s} {first.processes:5d} -> {last.processes:<4d} {first.open_files:5d} -> "
                     f"{last.open_files:<4d} {first.rss_kib / 1024:9.1f} -> {last.rss_kib / 1024:<7.1f} "
                     f"({(last.rss_kib - first.rss_kib) / 1024:+.1f})")
    return "\n".join(lines)
