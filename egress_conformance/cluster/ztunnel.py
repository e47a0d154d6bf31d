"""ztunnel's own evidence: what ambient mode's node proxy knows and what it did.

- its workloads (admin ``/config_dump`` on localhost:15000: each pod it knows, ``protocol`` HBONE
  when the pod is enrolled in ambient mode);
- its counters (``/stats/prometheus`` on 15020): ``istio_tcp_connections_opened_total`` reported
  by the source with ``destination_service="unknown"`` is a connection passed through to a
  destination ztunnel knows no service for;
- its access log: a "connection complete" line per connection, with ``dst.addr`` and, when it went
  through a tunnel (a waypoint, another ztunnel), ``dst.hbone_addr``.

Both admin ports listen inside ztunnel's pod only (15000 on localhost), so they are read with an
exec of curl in its container (the images built here and upstream's both carry no shell needs beyond it).
"""

import dataclasses
import json
import re

from kubernetes import client
from kubernetes.stream import stream

CONTAINER = "istio-proxy"
LABEL = "app=ztunnel"
PASSTHROUGH_METRIC = "istio_tcp_connections_opened_total"
ISSUES = "istio/istio#54281, istio/ztunnel#369"
"""Where upstream says that ztunnel passes unknown destinations through whatever the outbound policy."""


@dataclasses.dataclass(frozen=True)
class Ztunnel:
    """One ztunnel pod (the one on the node of the pod under test)."""

    namespace: str
    pod: str


def find(api: client.ApiClient, node: str | None = None) -> Ztunnel | None:
    """The running ztunnel pod (on ``node`` when given), or None when no ztunnel runs."""
    pods = client.CoreV1Api(api).list_pod_for_all_namespaces(label_selector=LABEL).items
    running = [p for p in pods if p.status.phase == "Running" and (node is None or p.spec.node_name == node)]
    if not running:
        return None
    return Ztunnel(running[0].metadata.namespace, running[0].metadata.name)


def _curl(api: client.ApiClient, where: Ztunnel, url: str) -> str:
    # An API client of its own: the stream helper swaps the request method of the client it is given,
    # which would fail the run's Lease renewals made meanwhile on the shared one.
    with client.ApiClient(api.configuration) as own:
        return stream(client.CoreV1Api(own).connect_get_namespaced_pod_exec, where.pod, where.namespace,
                      container=CONTAINER, command=["curl", "-sS", "--max-time", "10", url],
                      stdout=True, stderr=True, stdin=False, tty=False)


def config_dump(api: client.ApiClient, where: Ztunnel) -> dict:
    """ztunnel's admin /config_dump (workloads, services, policies, certificates)."""
    return json.loads(_curl(api, where, "http://localhost:15000/config_dump"))


def workload(api: client.ApiClient, namespace: str, name: str, where: Ztunnel | None = None) -> dict | None:
    """The pod ``namespace/name`` as ztunnel knows it (``protocol`` HBONE: enrolled), or None."""
    where = where or find(api)
    if where is None:
        return None
    return find_workload(config_dump(api, where), namespace, name)


def find_workload(dump: dict, namespace: str, name: str) -> dict | None:
    """The workload ``namespace/name`` of a config dump (pure)."""
    return next((w for w in dump.get("workloads") or [] if w.get("namespace") == namespace
                 and w.get("name") == name), None)


REDIRECTION = "ambient.istio.io/redirection"
"""The annotation istio-cni sets to "enabled" on a pod once it has moved the pod's traffic into ztunnel."""


def enrolled(api: client.ApiClient, namespace: str, name: str, where: Ztunnel) -> str | None:
    """None when the pod is enrolled in ambient mode (istio-cni redirected it, ztunnel lists it as
    HBONE), else what is missing."""
    pod = client.CoreV1Api(api).read_namespaced_pod(name, namespace)
    redirection = (pod.metadata.annotations or {}).get(REDIRECTION)
    if redirection != "enabled":
        return f"istio-cni has not redirected it ({REDIRECTION}: {redirection or 'absent'})"
    found = workload(api, namespace, name, where)
    if not found or found.get("protocol") != "HBONE":
        return f"ztunnel {where.pod} says {'protocol ' + str(found.get('protocol')) if found else 'nothing of it'}"
    return None


def metrics(api: client.ApiClient, where: Ztunnel) -> str:
    """ztunnel's Prometheus text (15020)."""
    return _curl(api, where, "http://localhost:15020/stats/prometheus")


def passthrough_count(text: str, namespace: str) -> int:
    """Connections ztunnel opened for workloads of ``namespace`` to destinations it knows no service
    for (reporter source, destination_service "unknown"), summed over its series (pure)."""
    total = 0
    for line in text.splitlines():
        if not line.startswith(PASSTHROUGH_METRIC + "{"):
            continue
        labels = dict(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', line[:line.rindex("}")]))
        if (labels.get("reporter") == "source" and labels.get("destination_service") == "unknown"
                and labels.get("source_workload_namespace") == namespace):
            total += int(float(line.rsplit(" ", 1)[1]))
    return total


def access_log(api: client.ApiClient, where: Ztunnel, since_seconds: int) -> list[str]:
    """ztunnel's "connection complete" lines of the last ``since_seconds`` seconds."""
    text = client.CoreV1Api(api).read_namespaced_pod_log(where.pod, where.namespace, container=CONTAINER,
                                                         since_seconds=max(1, since_seconds))
    return [line for line in text.splitlines() if "connection complete" in line]


def passthrough_lines(lines: list[str], namespace: str, destination: str) -> list[str]:
    """Access-log lines of connections from a workload of ``namespace`` to ``destination``
    (address:port) sent straight to it, not through a tunnel (no ``dst.hbone_addr``) (pure)."""
    return [line for line in lines if f"src.namespace={namespace}" in line.replace('"', "")
            and f"dst.addr={destination}" in line and "dst.hbone_addr" not in line]


@dataclasses.dataclass(frozen=True)
class Evidence:
    """What ztunnel showed about one request from an ambient pod."""

    pod: str
    """The ztunnel pod read."""
    passthrough: int
    """Connections it passed through to unknown destinations for the client during the request."""
    log_lines: tuple[str, ...] = ()
    """Its access-log lines of the client's connections straight to the destination (no tunnel)."""

    def summary(self) -> str:
        line = f"; access log: {_short(self.log_lines[-1])}" if self.log_lines else "; no access-log line"
        return (f"ztunnel {self.pod}: {PASSTHROUGH_METRIC}{{destination_service=\"unknown\"}} +{self.passthrough}"
                f"{line}")


def _short(line: str) -> str:
    # "<time>\tinfo\taccess\tconnection complete\tsrc.addr=... dst.addr=..." from its message on
    text = line.replace("\t", " ")
    return text[text.find("connection complete"):][:300] if "connection complete" in text else text[:300]
