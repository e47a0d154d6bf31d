"""Checks: small functions of an Observation that return None when it matches,
else the reason it does not. Combine them with all_of / any_of.

Each check is named for what it asserts, so that a scenario reads as the
walkthrough: ``expect(http, reachable(via=PASSTHROUGH))``.
"""

from collections.abc import Callable

from egress_conformance import envoy, meshconfig, observe

Check = Callable[[observe.Observation], str | None]
"""A check: None when the observation matches, else the reason it does not."""


def all_of(*checks):
    """Matches when every check matches; the reason is the first mismatch's."""

    def check(obs):
        for each in checks:
            reason = each(obs)
            if reason:
                return reason
        return None

    check.__name__ = " and ".join(c.__name__ for c in checks)
    return check


def any_of(*checks):
    """Matches when at least one check matches; the reason lists every mismatch."""

    def check(obs):
        reasons = [each(obs) for each in checks]
        if any(reason is None for reason in reasons):
            return None
        return "none matched: " + "; ".join(reasons)

    check.__name__ = " or ".join(c.__name__ for c in checks)
    return check


def _named(name, function):
    function.__name__ = name
    return function


def reachable(*, via: str):
    """The request got a 2xx answer, and the sidecar sent it to cluster ``via``."""

    def check(obs):
        if obs.outcome != observe.REACHABLE:
            return f"expected reachable, got {obs.outcome}" + (f" {obs.status}" if obs.status else "")
        if via not in obs.served_by:
            return f"answered {obs.status}, but through {', '.join(obs.served_by) or 'no cluster'}, not {via}"
        return None

    return _named(f"reachable via {via}", check)


def sidecar_policy(policy: str):
    """The sidecar's catch-all outbound chain enforces ``policy`` (ALLOW_ANY or REGISTRY_ONLY)."""

    def check(obs):
        actual = obs.sidecar.policy if obs.sidecar else None
        if actual != policy:
            return f"sidecar still enforces {actual or 'unknown'}, not {policy}"
        return None

    return _named(f"sidecar enforces {policy}", check)


def sidecar_has_cluster(cluster: str, present: bool = True):
    """The sidecar has (or, with present=False, no longer has) the outbound cluster ``cluster``."""

    def check(obs):
        has = bool(obs.sidecar) and cluster in obs.sidecar.clusters
        if has != present:
            return f"sidecar {'lacks' if present else 'still has'} cluster {cluster}"
        return None

    return _named(f"sidecar {'has' if present else 'lacks'} {cluster}", check)


def blocked_http():
    """Plain HTTP to an unregistered host was refused by the sidecar, the way it should be.

    With an HTTP listener on the port, the route's catch-all ``block_all`` answers
    502 itself and no cluster is used; without one, the catch-all TCP chain hands
    the connection to BlackHoleCluster, which closes it. A timeout is neither.
    """

    def check(obs):
        port80 = obs.sidecar.http_port_80 if obs.sidecar else None
        if port80 == "block_all":
            if obs.outcome == observe.HTTP_ERROR and obs.status == 502 and not obs.served_by:
                return None
            return f"expected 502 from the block_all route, got {_outcome(obs)}"
        if obs.outcome == observe.RESET and envoy.BLACKHOLE in obs.served_by:
            return None
        return f"expected a reset by {envoy.BLACKHOLE}, got {_outcome(obs)}"

    return _named("blocked (HTTP)", check)


def blocked_tls():
    """HTTPS to an unregistered host failed in the handshake, its connection sent to BlackHoleCluster."""

    def check(obs):
        if obs.outcome in (observe.TLS_FAILURE, observe.RESET) and envoy.BLACKHOLE in obs.served_by:
            return None
        return f"expected a failed TLS handshake through {envoy.BLACKHOLE}, got {_outcome(obs)}"

    return _named("blocked (TLS)", check)


def _outcome(obs) -> str:
    status = f" {obs.status}" if obs.status else ""
    via = ", ".join(obs.served_by) or "no cluster"
    error = f" ({obs.error})" if obs.error and obs.outcome != observe.REACHABLE else ""
    return f"{obs.outcome}{status} via {via}{error}"


def enforces(policy: str):
    """What a request to an unknown host gets under ``policy``: through PassthroughCluster
    (ALLOW_ANY), or blocked (REGISTRY_ONLY); the sidecar's config must say the same."""
    outcome = reachable(via=envoy.PASSTHROUGH) if policy == meshconfig.ALLOW_ANY else blocked_http()
    return all_of(sidecar_policy(policy), outcome)
