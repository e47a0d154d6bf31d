"""Checks: typed values, each a name, a description and a test of one kind of observation
(an Observation, a Batch, a Walk) that returns None when it matches, else the reason it does
not. Combine them with all_of / any_of.

Each check is named for what it asserts, so that a scenario reads as the walkthrough:
``expect(http, reachable(via=PASSTHROUGH))``; the name heads a step in the report, the
description says in a sentence what the check wants.
"""

import collections
import dataclasses
import urllib.parse
from collections.abc import Callable, Iterable
from typing import Generic, Protocol, TypeVar

from egress_conformance.cluster import meshconfig, ztunnel
from egress_conformance.verdicts import envoy, observe, paths

O = TypeVar("O", contravariant=True)  # noqa: E741  (what a check reads; a check of less reads more)


@dataclasses.dataclass(frozen=True)
class Check(Generic[O]):
    """A check: ``check(observed)`` is None when ``observed`` matches, else the reason it does not."""

    name: str
    """What it asserts, as a step names it ("blocked (HTTP)")."""
    description: str
    """What it wants, in one sentence, values filled in."""
    test: Callable[[O], str | None]
    expects_answer: bool = False
    """Does it want the host's answer? Only then can its mismatch mean the target is down
    (framework/actions.py asks the target again); a "blocked" check's mismatch never does."""

    def __call__(self, observed: O) -> str | None:
        return self.test(observed)

    def __str__(self) -> str:
        return self.name


class SidecarSeen(Protocol):
    """An observation that carries the sidecar's config (an Observation or a Batch)."""

    @property
    def sidecar(self) -> envoy.SidecarState | None: ...


def all_of(*checks: Check[O]) -> Check[O]:
    """Matches when every check matches; the reason is the first mismatch's."""

    def check(observed: O) -> str | None:
        for each in checks:
            reason = each(observed)
            if reason:
                return reason
        return None

    return Check(" and ".join(c.name for c in checks), "; and ".join(c.description for c in checks), check,
                 any(c.expects_answer for c in checks))


def any_of(*checks: Check[O]) -> Check[O]:
    """Matches when at least one check matches; the reason lists every mismatch."""

    def check(observed: O) -> str | None:
        reasons = [each(observed) for each in checks]
        if any(reason is None for reason in reasons):
            return None
        return "none matched: " + "; ".join(r for r in reasons if r)

    return Check(" or ".join(c.name for c in checks), "; or ".join(c.description for c in checks), check,
                 any(c.expects_answer for c in checks))


def reachable(*, via: str) -> Check[observe.Observation]:
    """The request got a 2xx answer, and the sidecar sent it to cluster ``via`` alone."""

    def check(obs: observe.Observation) -> str | None:
        if obs.outcome != observe.REACHABLE:
            return f"expected reachable, got {obs.outcome}" + (f" {obs.status}" if obs.status else "")
        if obs.served_by != (via,):
            return f"answered {obs.status}, but through {', '.join(obs.served_by) or 'no cluster'}, not {via} alone"
        return None

    return Check(f"reachable via {via}",
                 f"a 2xx answer, sent by the sidecar to {via} alone",
                 check, expects_answer=True)


def left_through_gateway(gateway: str, external: str) -> Check[observe.Observation]:
    """The request answered 2xx, sent by the sidecar to the egress gateway's cluster ``gateway``
    alone, and by the gateway's own Envoy to the external host's cluster ``external`` alone."""
    both = all_of(reachable(via=gateway), gateway_sent(external))
    return Check(f"through the egress gateway to {external}", both.description, both, both.expects_answer)


def gateway_sent(external: str) -> Check[observe.Observation]:
    """The egress gateway's own Envoy sent the request through the external host's cluster
    ``external`` alone (whatever the answer)."""

    def check(obs: observe.Observation) -> str | None:
        if obs.gateway_served != (external,):
            served = ", ".join(obs.gateway_served or ()) or "no cluster"
            return f"the gateway's Envoy sent it through {served}, not {external} alone"
        return None

    return Check(f"the gateway sent it through {external}",
                 f"the egress gateway's Envoy sent it through {external} alone, whatever the answer",
                 check)


def denied_by_gateway_policy(external: str) -> Check[observe.Observation]:
    """The egress gateway refused the request itself, as an AuthorizationPolicy does: a 403, its
    RBAC filter counting the refusal, nothing sent through the external host's cluster ``external``."""

    def check(obs: observe.Observation) -> str | None:
        if obs.outcome != observe.HTTP_ERROR or obs.status != 403:
            return f"expected the gateway's 403 (RBAC: access denied), got {_outcome(obs)}"
        if not obs.gateway_denied:
            return "a 403, but the gateway's RBAC filter counted no refusal: someone else said no"
        if external in (obs.gateway_served or ()):
            return f"the gateway's Envoy sent it on through {external}"
        return None

    return Check("refused by the gateway's AuthorizationPolicy (403, rbac.denied)",
                 f"the egress gateway's own 403, counted by its RBAC filter, nothing sent through {external}",
                 check)


def refused_by_host(status: int, *, via: str) -> Check[observe.Observation]:
    """The host itself answered ``status`` (not one Envoy gives for an upstream it cannot reach),
    through cluster ``via`` alone: the request reached it and it said no."""

    def check(obs: observe.Observation) -> str | None:
        if obs.outcome != observe.HTTP_ERROR or obs.status != status:
            return f"expected the host's own {status}, got {_outcome(obs)}"
        if obs.served_by != (via,):
            return f"answered {obs.status}, but through {', '.join(obs.served_by) or 'no cluster'}, not {via} alone"
        return None

    return Check(f"refused by the host ({status}) via {via}",
                 f"the host's own {status} (not an Envoy answer), through {via} alone",
                 check, expects_answer=True)


def tls_from_sidecar(cluster: str) -> Check[observe.Observation]:
    """The sidecar has completed TLS handshakes on ``cluster``: it originates TLS there."""

    def check(obs: observe.Observation) -> str | None:
        if cluster not in obs.tls_from_sidecar:
            return f"the sidecar has spoken no TLS on {cluster} (its ssl.handshake counter is 0)"
        return None

    return Check(f"TLS originated by the sidecar on {cluster}",
                 f"the sidecar completed TLS handshakes on {cluster}",
                 check)


def gateway_untouched() -> Check[observe.Observation]:
    """The egress gateway's Envoy took no part in the request."""

    def check(obs: observe.Observation) -> str | None:
        if obs.gateway_served:
            return f"the gateway's Envoy sent it through {', '.join(obs.gateway_served)}: it went through the gateway"
        return None

    return Check("not through the gateway", "the egress gateway's Envoy took no part in the request", check)


def sidecar_policy(policy: str) -> Check[SidecarSeen]:
    """The sidecar's catch-all outbound chain enforces ``policy`` (ALLOW_ANY or REGISTRY_ONLY)."""

    def check(obs: SidecarSeen) -> str | None:
        if isinstance(obs, observe.Observation) and obs.ztunnel is not None:  # a Batch has no ztunnel evidence
            return through_ztunnel(obs, policy)
        sidecar = obs.sidecar
        actual = sidecar.policy if sidecar else None
        if actual != policy:
            catch_all = f" (catch-all -> {sidecar.unknown_tcp})" if sidecar and sidecar.unknown_tcp else ""
            return f"sidecar still enforces {actual or 'unknown'}{catch_all}, not {policy}"
        return None

    return Check(f"sidecar enforces {policy}", f"the sidecar's catch-all outbound chain enforces {policy}", check)


def sidecar_has_cluster(cluster: str, present: bool = True) -> Check[observe.Observation]:
    """The sidecar has (or, with present=False, no longer has) the outbound cluster ``cluster``."""

    def check(obs: observe.Observation) -> str | None:
        has = obs.sidecar is not None and cluster in obs.sidecar.clusters
        if has != present:
            return f"sidecar {'lacks' if present else 'still has'} cluster {cluster}"
        return None

    return Check(f"sidecar {'has' if present else 'lacks'} {cluster}",
                 f"the sidecar {'has' if present else 'no longer has'} the outbound cluster {cluster}",
                 check)


def blocked_http() -> Check[observe.Observation]:
    """Plain HTTP to an unregistered host was refused by the sidecar, the way it should be.

    A route for the host whose cluster the sidecar lacks (a VirtualService without a
    ServiceEntry) makes the router answer 503 itself, counted as no_cluster. Otherwise, with
    an HTTP listener on the port, the route's catch-all ``block_all`` answers 502 itself, no
    cluster is used and the listener's own direct-response counter moves (a 502 from
    anywhere else is not the sidecar's refusal); without one, the catch-all TCP chain hands
    the connection to BlackHoleCluster, which closes it. A timeout is neither.
    """

    def check(obs: observe.Observation) -> str | None:
        port80 = obs.sidecar.http_port_80 if obs.sidecar else None
        if obs.outcome == observe.HTTP_ERROR and obs.status == 503 and not obs.served_by and obs.no_cluster:
            return None  # a route (someone's VirtualService) to a cluster the sidecar lacks: refused in it
        if port80 == "block_all":
            if obs.outcome == observe.HTTP_ERROR and obs.status == 502 and not obs.served_by and obs.block_all:
                return None
            if obs.status == 502 and not obs.served_by:
                return "got a 502 that the port-80 listener's block_all route did not give (its counter did not move)"
            return f"expected 502 from the block_all route, got {_outcome(obs)}"
        if obs.outcome == observe.RESET and envoy.BLACKHOLE in obs.served_by:
            return None
        return f"expected a reset by {envoy.BLACKHOLE}, got {_outcome(obs)}"

    return Check("blocked (HTTP)",
                 "plain HTTP refused by the sidecar itself: block_all's 502, a 503 for a route without its "
                 "cluster, or a reset by BlackHoleCluster",
                 check)


def blocked_tls() -> Check[observe.Observation]:
    """HTTPS to an unregistered host failed in the handshake, its connection sent to BlackHoleCluster."""

    def check(obs: observe.Observation) -> str | None:
        if obs.outcome in (observe.TLS_FAILURE, observe.RESET) and envoy.BLACKHOLE in obs.served_by:
            return None
        return f"expected a failed TLS handshake through {envoy.BLACKHOLE}, got {_outcome(obs)}"

    return Check("blocked (TLS)", "HTTPS failed in the handshake, its connection sent to BlackHoleCluster", check)


def _outcome(obs: observe.Observation) -> str:
    status = f" {obs.status}" if obs.status else ""
    # Another pod's sidecar is not read: its path is unknown, not "no cluster".
    via = "" if obs.from_pod else f" via {', '.join(obs.served_by) or 'no cluster'}"
    error = f" ({obs.error})" if obs.error and obs.outcome != observe.REACHABLE else ""
    return f"{obs.outcome}{status}{via}{error}"


def enforces(policy: str) -> Check[observe.Observation]:
    """What a request to an unknown host gets under ``policy``: through PassthroughCluster
    (ALLOW_ANY), or blocked (REGISTRY_ONLY); the sidecar's config must say the same."""
    outcome = reachable(via=envoy.PASSTHROUGH) if policy == meshconfig.ALLOW_ANY else blocked_http()
    sidecar = all_of(sidecar_policy(policy), outcome)

    def check(obs: observe.Observation) -> str | None:
        return through_ztunnel(obs, policy) if obs.ztunnel is not None else sidecar(obs)

    return Check(sidecar.name, sidecar.description + " (an ambient pod's: what ztunnel does under it)", check,
                 sidecar.expects_answer)


def through_ztunnel(obs: observe.Observation, policy: str) -> str | None:
    """What the outbound ``policy`` means for an ambient pod's request to an unlisted host: ztunnel
    passes destinations it knows no service for through, whatever the policy (the policy is a
    sidecar setting). So ALLOW_ANY matches a passthrough ztunnel counted, and REGISTRY_ONLY never
    matches: its mismatch says what ztunnel did instead (its counter and access log)."""
    if obs.ztunnel is None:
        return "no ztunnel evidence: the request did not come from an ambient pod"
    evidence = obs.ztunnel.summary()
    passed = obs.outcome in (observe.REACHABLE, observe.HTTP_ERROR) and obs.ztunnel.passthrough > 0
    if policy == meshconfig.ALLOW_ANY:
        if passed:
            return None
        return f"expected ztunnel to pass the request through to the unlisted host, got {_outcome(obs)}; {evidence}"
    if passed:
        return (f"not blocked: the host answered {obs.status} and ztunnel passed the connection through to a "
                f"destination it knows no service for ({evidence}): outboundTrafficPolicy {policy} does not "
                f"restrict ambient pods ({ztunnel.ISSUES}); restrict them with an egress waypoint and a NetworkPolicy")
    if obs.outcome in (observe.REACHABLE, observe.HTTP_ERROR):
        return (f"not blocked: the host answered {obs.status}, and ztunnel counted no passthrough for it ({evidence}): "
                "the request did not go through ztunnel (is the pod enrolled?)")
    return (f"{_outcome(obs)}, but not by {policy}: the pod is ambient and has no sidecar to enforce it "
            f"({ztunnel.ISSUES}); {evidence}: something else refused it (a NetworkPolicy, a waypoint)")


# -- checks of a Batch (observe.Batch): many requests, counted per cluster

_GATEWAY_STATUSES = (502, 503, 504)
"""Answers Envoy itself gives when it cannot reach an upstream: never proof that the host answered."""


def sidecar_has_clusters(clusters: Iterable[str], present: bool = True) -> Check[SidecarSeen]:
    """The sidecar has (or, with present=False, has none of) the outbound ``clusters``."""
    wanted = tuple(sorted(set(clusters)))

    def check(obs: SidecarSeen) -> str | None:
        have = set(obs.sidecar.clusters) if obs.sidecar else set()
        wrong = [c for c in wanted if (c in have) != present]
        if wrong:
            more = f" and {len(wrong) - 1} more" if len(wrong) > 1 else ""
            return f"sidecar {'lacks' if present else 'still has'} cluster {wrong[0]}{more}"
        return None

    return Check(f"sidecar {'has' if present else 'lacks'} the {len(wanted)} listed clusters",
                 f"the sidecar {'has' if present else 'has none of'} the {len(wanted)} listed outbound clusters",
                 check)


def each_answered(expected: dict[str, str]) -> Check[observe.Batch]:
    """Every request of the batch was answered by its host, and each listed cluster took
    exactly the requests meant for it (``expected``: URL -> cluster), no other cluster any.

    An answer counts when TLS ran end to end (curl verified the host's certificate,
    which Envoy cannot forge) or, over plain HTTP, when the status is not one Envoy
    gives itself for an unreachable upstream: a host need not serve 2xx on the path.
    """
    wanted = collections.Counter(expected.values())

    def check(batch: observe.Batch) -> str | None:
        for answer in batch.answers:
            gateway = answer.request.url.startswith("http://") and answer.status in _GATEWAY_STATUSES
            if answer.outcome not in (observe.REACHABLE, observe.HTTP_ERROR) or gateway:
                return f"{answer.summary()}, expected an answer from the host"
        for catch_all in (envoy.PASSTHROUGH, envoy.BLACKHOLE):
            if batch.moves.get(catch_all):
                return f"{catch_all} took {batch.moves[catch_all]}: a request bypassed the listed clusters"
        for cluster, count in sorted(wanted.items()):
            if batch.moves.get(cluster, 0) != count:
                return f"cluster {cluster} took {batch.moves.get(cluster, 0)}, expected {count}"
        others = sorted(set(batch.moves) - set(wanted))
        if others:
            return f"cluster {others[0]} took {batch.moves[others[0]]}: not one the list opens"
        return None

    return Check(f"each of {len(expected)} answered via its cluster",
                 f"each of {len(expected)} requests answered by its host, each listed cluster taking exactly its own",
                 check, expects_answer=True)


def each_blocked(clusters: Iterable[str]) -> Check[observe.Batch]:
    """No request of the batch got through: each was cut off (reset, failed handshake),
    answered 502 by the port-80 route's ``block_all``, or answered 503 by the port-80 router for
    a route whose cluster the sidecar lacks (a VirtualService with no ServiceEntry); none of ``clusters`` and not the
    PassthroughCluster took any of them, and the sidecar counted each refusal as its own:
    a BlackHoleCluster connection or a listener's refusal per cut-off request, a block_all
    answer per 502, a no_cluster answer per 503."""
    listed = set(clusters) | {envoy.PASSTHROUGH}

    def check(batch: observe.Batch) -> str | None:
        port80 = batch.sidecar.http_port_80 if batch.sidecar else None
        cut, block_all, no_cluster = 0, 0, 0
        for answer in batch.answers:
            if answer.outcome in (observe.RESET, observe.TLS_FAILURE):
                cut += 1
            elif (port80 == "block_all" and _plain_port_80(answer.request.url)
                  and answer.outcome == observe.HTTP_ERROR and answer.status == 502):
                block_all += 1
            elif _plain_port_80(answer.request.url) and answer.outcome == observe.HTTP_ERROR and answer.status == 503:
                no_cluster += 1  # a route to a cluster the sidecar lacks: counted below, or not the sidecar's
            else:
                return f"{answer.summary()}, expected it blocked"
        through = sorted(c for c in batch.moves if c in listed)
        if through:
            return f"{through[0]} took {batch.moves[through[0]]}: a request got through"
        if batch.no_cluster < no_cluster:
            return (f"{no_cluster} answered 503, but the port-80 router counted {batch.no_cluster} routes without "
                    "their cluster: the others came from elsewhere")
        return _refusals_counted(batch, cut, block_all)

    return Check(f"each of the {len(listed) - 1} listed blocked",
                 "each request refused, its refusal counted by the sidecar, none through a listed cluster or "
                 "PassthroughCluster",
                 check)


def _refusals_counted(batch: observe.Batch, cut: int, block_all: int) -> str | None:
    """Each refusal the answers show has its count in the sidecar, else something else refused them."""
    refused = batch.moves.get(envoy.BLACKHOLE, 0) + batch.unmatched
    if refused < cut:
        return (f"{cut} requests cut off, but the sidecar refused {refused} ({envoy.BLACKHOLE} and listeners): "
                "something outside the sidecar cut the others")
    if batch.block_all < block_all:
        return (f"{block_all} answered 502, but the port-80 listener's block_all answered {batch.block_all}: "
                "the others came from elsewhere")
    return None


def _plain_port_80(url: str) -> bool:
    parts = urllib.parse.urlsplit(url)
    return parts.scheme == "http" and (parts.port or 80) == 80


def no_leaking_paths(listed: Iterable[str], networks: paths.Networks) -> Check[paths.Walk]:
    """Every path out of the sidecar (paths.walk) goes to a cluster ``listed`` names, or stays inside
    the cluster's networks: none to PassthroughCluster, to a cluster that sends to any address
    (ORIGINAL_DST, a dynamic forward proxy) or to an endpoint outside (paths.leaks). Nothing is
    exempt by the shape of its name: a ``*.svc.*`` host counts as inside only by its endpoints."""
    allowed = tuple(listed)

    def check(walk: paths.Walk):
        found = paths.leaks(walk, allowed, networks)
        if found:
            return f"{len(found)} paths leave for hosts the list does not name: " + "; ".join(found)
        return None

    return Check("every path out of the sidecar listed or inside the cluster",
                 "every path out of the sidecar goes to a listed cluster or stays inside the cluster's networks",
                 check)


def each_contained(clusters: Iterable[str]) -> Check[observe.Batch]:
    """No request of the batch left for its own (unlisted) host: each was blocked, with the
    sidecar's own refusal counted for it (a BlackHoleCluster connection, a listener's refusal),
    or carried by one of ``clusters`` (a TCP entry without addresses takes every connection on
    its port, to the listed host, never to the one asked for). A listed cluster that sends to
    whatever address the connection asked for (ORIGINAL_DST) keeps nothing to the listed host."""
    kept = set(clusters)

    def check(batch: observe.Batch) -> str | None:
        for answer in batch.answers:
            if answer.outcome not in (observe.RESET, observe.TLS_FAILURE, observe.REACHABLE, observe.HTTP_ERROR):
                return f"{answer.summary()}, expected it blocked or kept to the port's listed host"
        if batch.moves.get(envoy.PASSTHROUGH):
            return f"{envoy.PASSTHROUGH} took {batch.moves[envoy.PASSTHROUGH]}: a request left for its own host"
        anywhere = sorted(c for c in kept if batch.moves.get(c) and batch.sidecar and c in batch.sidecar.any_address)
        if anywhere:
            return (f"cluster {anywhere[0]} took {batch.moves[anywhere[0]]}, but it is of type ORIGINAL_DST: it "
                    "sends to whatever address was asked for, not to the listed host")
        others = sorted(c for c in batch.moves if c not in kept and c != envoy.BLACKHOLE)
        if others:
            return f"cluster {others[0]} took {batch.moves[others[0]]}: not the port's listed host"
        answered = sum(1 for a in batch.answers if a.outcome in (observe.REACHABLE, observe.HTTP_ERROR))
        if answered > sum(batch.moves.get(c, 0) for c in kept):
            return f"{answered} answered, more than the listed clusters took: something outside the sidecar answered"
        cut = len(batch.answers) - answered
        refused = batch.moves.get(envoy.BLACKHOLE, 0) + batch.unmatched
        # A listed cluster may cut a connection too (the listed host refusing a stranger): each
        # cut-off needs a count, the sidecar's refusal or the listed cluster's connection.
        carried = sum(batch.moves.get(c, 0) for c in kept) - answered
        if cut > refused + carried:
            return (f"{cut} connections cut off, but the sidecar refused {refused} and the listed clusters carried "
                    f"{carried}: something outside the sidecar cut the others")
        return None

    return Check(f"each kept to the {len(kept)} listed TCP clusters",
                 "each connection blocked (counted by the sidecar) or carried by a listed TCP cluster, none to "
                 "its own host",
                 check)


def answered() -> Check[observe.Observation]:
    """The request got a 2xx answer (from a pod whose sidecar, if any, is not read: a bypass got out)."""

    def check(obs: observe.Observation) -> str | None:
        if obs.outcome != observe.REACHABLE:
            status = f" {obs.status}" if obs.status else ""
            return f"expected an answer, got {obs.outcome}{status}" + (f" ({obs.error})" if obs.error else "")
        return None

    return Check("answered",
                 "a 2xx answer (a pod whose sidecar is not read: the request got out)",
                 check, expects_answer=True)


def not_answered() -> Check[observe.Observation]:
    """Refused at connect: the connection was refused, or never made before the request's time
    ran out (a NetworkPolicy rejects or drops it). An answer of any kind (a proxy's 502/503, the
    host's redirect) and a name that did not resolve are not that. A timeout is a refusal only
    beside a control request that gets through meanwhile: the scenario makes one."""

    def check(obs: observe.Observation) -> str | None:
        if obs.outcome in (observe.REFUSED, observe.TIMEOUT):
            return None
        if obs.outcome == observe.REACHABLE:
            return f"expected no answer, got {obs.status} from the host"
        if obs.outcome == observe.UNRESOLVED:
            return "the name did not resolve: no connection was tried, so nothing refused it"
        return f"expected a refusal at connect, got {_outcome(obs)}: something answered or cut it after connecting"

    return Check("refused at connect",
                 "refused at connect (connection refused, or never made in time): not an answer of any kind",
                 check)


def upstream_failed() -> Check[observe.Observation]:
    """The proxy on the way answered for an upstream it could not talk to (502/503/504): the
    request was tried and the far end said no at the connection (used with the cluster it was
    sent through, e.g. gateway_sent)."""

    def check(obs: observe.Observation) -> str | None:
        if obs.outcome != observe.HTTP_ERROR or obs.status not in _GATEWAY_STATUSES:
            return f"expected a proxy's upstream failure (502/503/504), got {_outcome(obs)}"
        return None

    return Check("upstream failed",
                 "the proxy on the way answered 502/503/504 for an upstream it could not talk to",
                 check)


def answered_by_gateway(external: str) -> Check[observe.Observation]:
    """A request sent straight to the egress gateway answered 2xx, and the gateway's own Envoy
    sent a request through the external host's cluster ``external`` meanwhile (the gateway is
    shared: other clients' requests may move its other clusters at the same time)."""

    def check(obs: observe.Observation) -> str | None:
        reason = answered()(obs)
        if reason:
            return reason
        if external not in (obs.gateway_served or ()):
            return f"the gateway's Envoy sent nothing through {external} (it used " \
                   f"{', '.join(obs.gateway_served or ()) or 'no cluster'})"
        return None

    return Check(f"answered by the gateway via {external}",
                 f"a 2xx answer from the egress gateway reached straight, its Envoy sending through {external}",
                 check, expects_answer=True)


def refused_by_gateway(host: str) -> Check[observe.Observation]:
    """A request sent straight to the egress gateway for ``host``, which it does not list, was
    refused by the gateway itself, counted by its own Envoy: no route for it (a 404 its routers
    counted as no_route), its AuthorizationPolicy (a 403 counted as rbac.denied), or a TLS
    connection closed for an SNI no filter chain takes (no_filter_chain_match); and nothing of the
    gateway's Envoy sent it on (no cluster for that host, no PassthroughCluster): not an open proxy.
    A 404 or a closed connection the gateway did not count came from further on, or cannot be told
    apart: never a pass (a gateway without envoy.GATEWAY_STATS_MATCHER keeps no such counter)."""

    def check(obs: observe.Observation) -> str | None:
        if obs.outcome == observe.REACHABLE:
            return f"expected the gateway to refuse it, got {obs.status}"
        onward = [c for c in obs.gateway_served or () if c == envoy.PASSTHROUGH or _names(c.rsplit("|", 1)[-1], host)]
        if onward:
            return f"the gateway's Envoy sent it on through {', '.join(onward)}"
        if obs.outcome == observe.HTTP_ERROR and obs.status == 403 and obs.gateway_denied:
            return None
        if obs.outcome == observe.HTTP_ERROR and obs.status == 404:
            return _counted(obs.gateway_no_route, "a 404", "no_route", obs)
        if obs.outcome in (observe.TLS_FAILURE, observe.RESET):
            return _counted(obs.gateway_unmatched, "a closed TLS connection", "no_filter_chain_match", obs)
        return (f"expected the gateway's own refusal (404 counted as no_route, 403 counted by its RBAC filter, or "
                f"a TLS connection closed counted as no_filter_chain_match), got {_outcome(obs)}")

    return Check(f"refused by the gateway for {host}",
                 f"the egress gateway refused {host} itself, counted by its Envoy (a 404 as no_route, a 403 as "
                 "rbac.denied, a closed TLS connection as no_filter_chain_match), sending nothing on",
                 check)


def _counted(count: int | None, what: str, counter: str, obs: observe.Observation) -> str | None:
    """None when the gateway counted the refusal ``what`` as its own ``counter``, else why not."""
    if count is None:
        return (f"{what}, but the gateway keeps no {counter} counter, so its own refusal cannot be told from one "
                f"sent back from further on: give the gateway proxyStatsMatcher inclusionSuffixes "
                f"[no_route, no_filter_chain_match] (docs/scenarios.md, egress-bypass)")
    if not count:
        served = ", ".join(obs.gateway_served or ()) or "no cluster"
        return f"{what}, but the gateway counted no {counter}: not its own refusal (it sent through {served})"
    return None


def _names(pattern: str, host: str) -> bool:
    """Whether a ServiceEntry host (exact, ``*.suffix`` or ``*``) covers ``host``: a wildcard
    entry's cluster (e.g. a dynamic forward proxy's) sends any host under it."""
    if pattern == "*":
        return True
    return pattern == host or (pattern.startswith("*.") and host.endswith(pattern[1:]))
