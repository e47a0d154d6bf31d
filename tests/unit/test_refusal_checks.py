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
    assert check(seen(observe.HTTP_ERROR, 404, gateway_served=(), gateway_no_route=1)) is None  # no route, counted
    assert check(seen(observe.HTTP_ERROR, 403, gateway_served=(), gateway_denied=1)) is None  # RBAC, counted
    assert check(seen(observe.TLS_FAILURE, gateway_served=(), gateway_unmatched=1)) is None  # no chain for the SNI
    assert check(seen(observe.HTTP_ERROR, 403, gateway_served=())) is not None  # a 403 nobody counted
    assert check(seen(observe.HTTP_ERROR, 502, gateway_served=())) is not None  # an upstream failure: tried
    assert "PassthroughCluster" in check(seen(observe.HTTP_ERROR, 404, gateway_served=("PassthroughCluster",)))
    assert "PassthroughCluster" in check(seen(observe.TLS_FAILURE, gateway_served=("PassthroughCluster",)))


def test_a_404_or_a_closed_connection_the_gateway_did_not_count_is_not_its_refusal():
    """The 404 of a host further on (a VirtualService sending the unlisted host to another host's
    path), or one from a gateway that keeps no no_route counter, was accepted as is before."""
    check = checks.refused_by_gateway("unlisted.example")
    upstream = seen(observe.HTTP_ERROR, 404, gateway_served=("outbound|80||httpbin.org",), gateway_no_route=0)
    assert check(upstream) == ("a 404, but the gateway counted no no_route: not its own refusal "
                               "(it sent through outbound|80||httpbin.org)")
    assert "keeps no no_route counter" in check(seen(observe.HTTP_ERROR, 404, gateway_served=()))
    closed = seen(observe.TLS_FAILURE, gateway_served=(), gateway_unmatched=0)
    assert check(closed).startswith("a closed TLS connection, but the gateway counted no no_filter_chain_match")
    assert "keeps no no_filter_chain_match counter" in check(seen(observe.RESET, gateway_served=()))
    assert "(it had no route for 1)" in seen(observe.HTTP_ERROR, 404, gateway_served=(), gateway_no_route=1).summary()
