"""Evidence of a failed test, collected before anything is undone: the sidecar's
config dump and stats, its access log, istiod's log, the mesh config, the test
namespace's Istio objects and events. Each piece is best-effort: collecting
evidence must never hide the failure it documents."""

import datetime
import json
import pathlib
import time
from collections.abc import Callable

import yaml
from kubernetes import client, dynamic

from egress_conformance.cluster import meshconfig
from egress_conformance.reports.model import Step, Verdict

ISTIO_KINDS = (("networking.istio.io/v1", "ServiceEntry"), ("networking.istio.io/v1", "Sidecar"))


MISSING = "not-collected.txt"
"""One line per piece of evidence that could not be collected, and why."""


def collect(t, directory: pathlib.Path) -> list[str]:
    """Write every piece of evidence into ``directory``, each on its own (one that fails is a line
    in MISSING, never the end of the others); return the files written."""
    directory.mkdir(parents=True, exist_ok=True)
    pieces: dict[str, Callable[[], str]] = {
        "config_dump.json": lambda: t.context.workload.envoy_admin("/config_dump"),
        "stats.txt": lambda: t.context.workload.envoy_admin("/stats"),
        "mesh-config.yaml": lambda: meshconfig.read(t.context.api, t.provider.mesh_config_map()),
        "istio-objects.yaml": lambda: _istio_objects(t.context.api, t.namespace),
        # A Sidecar in the root namespace sets every namespace's default: a classic
        # reason why a mesh-wide policy change seems to have no effect.
        "root-namespace-istio-objects.yaml": lambda: _istio_objects(
            t.context.api, meshconfig.root_namespace(meshconfig.read(t.context.api, t.provider.mesh_config_map()))),
        "events.txt": lambda: _events(t.context.api, t.namespace),
        "steps.json": lambda: json.dumps([step.to_dict() for step in t.steps], indent=2),
    }
    missing: list[str] = []
    failed = [step for step in t.steps if step.verdict == Verdict.FAILED and step.started]
    try:
        logs = _flushed_logs(t.provider, failed[-1] if failed else None)
    except Exception as err:  # a dead component must not mask the test's own failure
        logs = {}
        missing.append(_could_not("the provider's logs", err))
    for name, text in logs.items():
        pieces[name] = _collected(text)
    if failed and "access-log.jsonl" in logs:
        pieces["failing-step-access-log.jsonl"] = lambda: during(logs["access-log.jsonl"], failed[-1])
    written = []
    for name, produce in pieces.items():
        try:
            content = produce()
        except Exception as err:
            missing.append(_could_not(name, err))
            content = missing[-1] + "\n"
        (directory / name).write_text(content)
        written.append(name)
    if missing:
        (directory / MISSING).write_text("\n".join(missing) + "\n")
        written.append(MISSING)
    return written


def _collected(text: str) -> Callable[[], str]:
    """A piece already in hand (one of the provider's logs), produced as it is."""
    return lambda: text


def _could_not(what: str, err: Exception) -> str:
    lines = str(err).strip().splitlines()
    return f"could not collect {what}: {type(err).__name__}: {lines[0] if lines else 'no message'}"


ACCESS_LOG_FLUSH_SECONDS = 3.0
"""Envoy writes its access log once a second: how long to wait for the failing step's last lines."""


def _flushed_logs(provider, step: Step | None) -> dict[str, str]:
    """The provider's logs, once the access log holds a line per request of the failing step
    (or after ACCESS_LOG_FLUSH_SECONDS, whichever comes first)."""
    deadline = time.monotonic() + ACCESS_LOG_FLUSH_SECONDS
    while True:
        logs = provider.logs()
        if step is None or step.attempts is None or "access-log.jsonl" not in logs or time.monotonic() > deadline:
            return logs  # (a step without attempts made no requests to wait for)
        if len(_lines_during(logs["access-log.jsonl"], step)) >= step.attempts:
            return logs
        time.sleep(0.2)


def during(access_log: str, step: Step) -> str:
    """The JSON access-log lines of requests that started while ``step`` was being observed."""
    kept = _lines_during(access_log, step)
    return "\n".join(kept) + "\n" if kept else "no access-log line falls within the failing step\n"


def _lines_during(access_log: str, step: Step) -> list[str]:
    if step.started is None or step.ended is None:
        raise ValueError(f"step {step.name!r} has no start and end time: only a step that waited has them")
    started = datetime.datetime.fromisoformat(step.started)
    ended = datetime.datetime.fromisoformat(step.ended)
    kept = []
    for line in access_log.splitlines():
        try:
            at = datetime.datetime.fromisoformat(json.loads(line)["start_time"])
        except (ValueError, KeyError, TypeError):
            continue
        if started <= at <= ended:
            kept.append(line)
    return kept


def _istio_objects(api: client.ApiClient, namespace: str) -> str:
    dyn = dynamic.DynamicClient(api)
    docs = []
    for api_version, kind in ISTIO_KINDS:
        for item in dyn.resources.get(api_version=api_version, kind=kind).get(namespace=namespace).items:
            docs.append(item.to_dict())
    return yaml.safe_dump_all(docs, sort_keys=False) if docs else "# no ServiceEntry or Sidecar in the namespace\n"


def _events(api: client.ApiClient, namespace: str) -> str:
    events = client.CoreV1Api(api).list_namespaced_event(namespace).items
    lines = [f"{e.last_timestamp or e.event_time} {e.type} {e.reason} {e.involved_object.kind}/"
             f"{e.involved_object.name}: {e.message}" for e in events]
    return "\n".join(lines) + "\n" if lines else "no events\n"
