""""Blocked" is a refusal, never any non-2xx: not_answered() wants a refusal at connect (a
NetworkPolicy's), and refused_by_gateway() the gateway's own refusal with nothing sent on,
PassthroughCluster included."""

from egress_conformance.verdicts import checks, observe

HTTP = observe.Request("http://unlisted.example/get")


def seen(outcome, status=None, **fields):
    return observe.Observation(HTTP, outcome, status, "", **fields)


def test_not_answered_wants_a_refusal_at_connect():
    check = checks.not_answered()
    assert check(seen(observe.REFUSED)) is None
    assert check(seen(observe.TIMEOUT)) is None
    for answered in (seen(observe.HTTP_ERROR, 503), seen(observe.HTTP_ERROR, 502), seen(observe.HTTP_ERROR, 301),
                     seen(observe.UNRESOLVED), seen(observe.REACHABLE, 200)):
        assert check(answered) is not None, answered.summary()
    assert "did not resolve" in check(seen(observe.UNRESOLVED))


def test_refused_by_gateway_wants_its_own_refusal_and_nothing_sent_on():
    check = checks.refused_by_gateway("unlisted.example")
    assert check(seen(observe.HTTP_ERROR, 404, gateway_served=())) is None  # no route for the Host
    assert check(seen(observe.HTTP_ERROR, 403, gateway_served=(), gateway_denied=1)) is None  # RBAC, counted
    assert check(seen(observe.TLS_FAILURE, gateway_served=())) is None  # no filter chain for the SNI: closed
    assert check(seen(observe.HTTP_ERROR, 403, gateway_served=())) is not None  # a 403 nobody counted
    assert check(seen(observe.HTTP_ERROR, 502, gateway_served=())) is not None  # an upstream failure: tried
    assert "PassthroughCluster" in check(seen(observe.HTTP_ERROR, 404, gateway_served=("PassthroughCluster",)))
    assert "PassthroughCluster" in check(seen(observe.TLS_FAILURE, gateway_served=("PassthroughCluster",)))
