"""One request from the meshed workload, classified once, with the sidecar's evidence.

``classify`` is the only place that reads curl's exit codes and error texts; every
check works on the Observation it produces.
"""

import collections
import dataclasses
from typing import Protocol

from egress_conformance.cluster.ztunnel import Evidence as ZtunnelEvidence
from egress_conformance.verdicts import envoy

REACHABLE = "reachable"
HTTP_ERROR = "http-error"
RESET = "reset"
TLS_FAILURE = "tls-failure"
TIMEOUT = "timeout"
REFUSED = "refused"
UNRESOLVED = "unresolved"
ERROR = "error"

# curl's exit codes (man curl, EXIT CODES) -> outcome.
_CURL_EXITS = {
    6: UNRESOLVED,  # could not resolve host
    7: REFUSED,  # failed to connect
    28: TIMEOUT,  # operation timed out
    35: TLS_FAILURE,  # SSL connect error: the handshake was cut off
    52: RESET,  # empty reply: the peer accepted and closed (BlackHoleCluster over plain TCP)
    56: RESET,  # failure receiving network data: connection reset
    60: TLS_FAILURE,  # peer certificate cannot be authenticated
}



class Evidence(Protocol):
    """What an action observed, as a step's evidence: a summary line and a record for the report
    (an Observation, a Batch, a paths.Walk)."""

    def summary(self) -> str: ...

    def record(self) -> dict: ...

@dataclasses.dataclass(frozen=True)
class Request:
    """What to ask: a URL, with the CA to trust for HTTPS."""

    url: str
    description: str = ""

    def __str__(self) -> str:
        return f"GET {self.url}"


@dataclasses.dataclass(frozen=True)
class Observation:
    """What one request did, and what the sidecar showed about it."""

    request: Request
    outcome: str
    status: int | None
    error: str
    served_by: tuple[str, ...] = ()
    """Envoy clusters whose request/connection counters moved during the request."""
    sidecar: envoy.SidecarState | None = None
    generation: tuple | None = None
    """The sidecar's config generation (envoy.config_generation) before and after the request;
    None when the sidecar does not show it. Equal generations: the same configuration answered."""
    block_all: int = 0
    """Requests the port-80 route's block_all answered itself during the request (envoy.block_all_answers)."""
    no_cluster: int = 0
    """Requests the port-80 router answered 503 itself during the request, its route's cluster missing."""
    tls_from_sidecar: tuple[str, ...] = ()
    """Clusters over which the sidecar itself has completed TLS handshakes (it originates TLS), as
    its counters stood after the request (since each cluster was made: connections are pooled)."""
    gateway_served: tuple[str, ...] | None = None
    """Clusters of the egress gateway's Envoy that took the request; None when no gateway was watched."""
    gateway_denied: int = 0
    """Requests the egress gateway's RBAC filter (an AuthorizationPolicy) refused meanwhile."""
    gateway_no_route: int | None = None
    """Requests the egress gateway's routers answered 404 for want of a route meanwhile; None when
    the gateway keeps no such counter (envoy.GATEWAY_STATS_MATCHER) or none was watched."""
    gateway_unmatched: int | None = None
    """Connections the egress gateway's listeners closed for want of a filter chain (an SNI it has
    no server for) meanwhile; None when it keeps no such counter or none was watched."""
    from_pod: str = ""
    """The pod that made the request when it was not the client (its sidecar, if any, is not read)."""
    ztunnel: ZtunnelEvidence | None = None
    """What ztunnel showed about the request when the client is an ambient pod (it has no sidecar)."""

    def summary(self) -> str:
        """One line: outcome, status, serving cluster and sidecar state."""
        status = f" {self.status}" if self.status else ""
        via = f" via {', '.join(self.served_by)}" if self.served_by else " via no cluster"
        if self.from_pod:
            via = f" (from pod {self.from_pod})"
        if self.ztunnel:
            via = " (no sidecar: through ztunnel)"
        via += f" (block_all answered {self.block_all})" if self.block_all else ""
        via += f" (the router had no cluster for {self.no_cluster})" if self.no_cluster else ""
        via += f" (the sidecar has spoken TLS over {', '.join(self.tls_from_sidecar)})" if self.tls_from_sidecar else ""
        if self.gateway_served is not None:
            via += f", then the gateway via {', '.join(self.gateway_served) or 'no cluster'}"
            via += f" (its AuthorizationPolicy refused {self.gateway_denied})" if self.gateway_denied else ""
            via += f" (it had no route for {self.gateway_no_route})" if self.gateway_no_route else ""
            via += f" (no filter chain took {self.gateway_unmatched})" if self.gateway_unmatched else ""
        error = f" ({self.error})" if self.error and self.outcome != REACHABLE else ""
        state = f"; sidecar: {self.sidecar.summary()}" if self.sidecar else ""
        state += f"; {self.ztunnel.summary()}" if self.ztunnel else ""
        return f"{self.request} -> {self.outcome}{status}{via}{error}{state}"

    def record(self) -> dict:
        """The observation as report data."""
        return dataclasses.asdict(self)


@dataclasses.dataclass(frozen=True)
class Answer:
    """What one request of a batch did."""

    request: Request
    outcome: str
    status: int | None
    error: str

    def summary(self) -> str:
        status = f" {self.status}" if self.status else ""
        error = f" ({self.error})" if self.error and self.outcome != REACHABLE else ""
        return f"{self.request} -> {self.outcome}{status}{error}"


@dataclasses.dataclass(frozen=True)
class Batch:
    """Many requests made in one go (an allow-list of hundreds of hosts), with the sidecar's
    state and counters around them all. The counters cannot say which request used which
    cluster, only how many requests each cluster took: checks compare those counts."""

    answers: tuple[Answer, ...]
    moves: dict[str, int]
    """Cluster -> requests or connections it took during the batch (envoy.cluster_moves)."""
    sidecar: envoy.SidecarState | None = None
    generation: tuple | None = None
    """As Observation.generation, around the whole batch."""
    block_all: int = 0
    """Requests the port-80 route's block_all answered itself during the batch."""
    unmatched: int = 0
    """Connections a listener refused for want of a matching filter chain during the batch."""
    no_cluster: int = 0
    """Requests the port-80 router answered 503 itself, the cluster of their route missing."""

    def outcomes(self) -> str:
        """How the answers came out, e.g. '498 reachable, 2 timeout'."""
        counts = collections.Counter(answer.outcome for answer in self.answers)
        return ", ".join(f"{count} {outcome}" for outcome, count in counts.most_common())

    def summary(self) -> str:
        moved = ", ".join(f"{c} x{n}" if n > 1 else c for c, n in sorted(self.moves.items())[:5])
        more = f" and {len(self.moves) - 5} more" if len(self.moves) > 5 else ""
        state = f"; sidecar: {self.sidecar.policy or '?'} policy, {len(self.sidecar.clusters)} outbound clusters" \
            if self.sidecar else ""
        refused = f"; block_all answered {self.block_all}" if self.block_all else ""
        refused += f"; listeners refused {self.unmatched}" if self.unmatched else ""
        refused += f"; no cluster for {self.no_cluster}" if self.no_cluster else ""
        return (f"{len(self.answers)} requests -> {self.outcomes()}; clusters moved: {moved or 'none'}{more}"
                f"{refused}{state}")

    def record(self) -> dict:
        """The batch as report data: outcome and clusters in the fields a single observation has."""
        return {"outcome": self.outcomes(), "served_by": sorted(self.moves), "moves": dict(sorted(self.moves.items())),
                "block_all": self.block_all, "unmatched": self.unmatched, "no_cluster": self.no_cluster,
                "answers": [answer.summary() for answer in self.answers],
                "generation": self.generation}


def classify(curl_record: dict) -> tuple[str, int | None, str]:
    """(outcome, HTTP status or None, error text) from curl's ``%{json}`` record."""
    exit_code = int(curl_record.get("exitcode", -1))
    status = int(curl_record.get("http_code") or 0) or None
    error = str(curl_record.get("errormsg") or "")
    if exit_code == 0 and status is not None:
        return (REACHABLE if 200 <= status < 300 else HTTP_ERROR), status, error
    return _CURL_EXITS.get(exit_code, ERROR), status, error or f"curl exit code {exit_code}"
