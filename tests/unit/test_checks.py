from egress_conformance.verdicts import checks, envoy, observe

REQUEST = observe.Request("http://httpbin.org/get")
NO_HTTP_LISTENER = envoy.SidecarState(envoy.BLACKHOLE, None, (), ())
BLOCK_ALL = envoy.SidecarState(envoy.BLACKHOLE, "block_all", ("httpbin.org:80",), ("outbound|80||httpbin.org",))


def obs(outcome, status=None, served_by=(), sidecar=NO_HTTP_LISTENER, block_all=0):
    return observe.Observation(REQUEST, outcome, status, "", tuple(served_by), sidecar, block_all=block_all)


ok = checks.Check("ok", "always matches", lambda _: None)
bad = checks.Check("bad", "never matches", lambda _: "bad", expects_answer=True)


def test_all_of_needs_every_check_and_any_of_needs_one():
    # Istio once shipped an Or identical to its And: the two must differ exactly here.
    assert checks.all_of(ok, ok)(None) is None
    assert checks.all_of(ok, bad)(None) == "bad"
    assert checks.any_of(ok, bad)(None) is None
    assert checks.any_of(bad, bad)(None) == "none matched: bad; bad"


def test_a_combination_is_named_and_described_from_its_parts_and_wants_an_answer_if_any_part_does():
    both, either = checks.all_of(ok, bad), checks.any_of(ok, bad)
    assert (both.name, either.name) == ("ok and bad", "ok or bad")
    assert both.description == "always matches; and never matches"
    assert both.expects_answer and either.expects_answer and not checks.all_of(ok, ok).expects_answer
    assert str(checks.blocked_tls()) == "blocked (TLS)"


def test_reachable_requires_the_named_cluster_alone():
    check = checks.reachable(via=envoy.PASSTHROUGH)
    assert check(obs(observe.REACHABLE, 200, [envoy.PASSTHROUGH])) is None
    assert "not PassthroughCluster" in check(obs(observe.REACHABLE, 200, ["outbound|80||httpbin.org"]))
    assert "expected reachable" in check(obs(observe.RESET, None, [envoy.BLACKHOLE]))
    both = obs(observe.REACHABLE, 200, [envoy.PASSTHROUGH, "outbound|80||httpbin.org"])
    assert check(both) == ("answered 200, but through PassthroughCluster, outbound|80||httpbin.org, not "
                           "PassthroughCluster alone")


def test_blocked_http_without_listener_means_blackhole_reset():
    check = checks.blocked_http()
    assert check(obs(observe.RESET, None, [envoy.BLACKHOLE])) is None
    assert check(obs(observe.TIMEOUT)) is not None
    assert check(obs(observe.RESET)) is not None  # a reset that did not go through BlackHoleCluster


def test_blocked_http_with_listener_means_502_from_block_all():
    check = checks.blocked_http()
    assert check(obs(observe.HTTP_ERROR, 502, sidecar=BLOCK_ALL, block_all=1)) is None
    assert "block_all" in check(obs(observe.RESET, None, [envoy.BLACKHOLE], sidecar=BLOCK_ALL))
    # A 502 the port-80 listener did not count is not block_all's (a proxy in the path, say).
    assert check(obs(observe.HTTP_ERROR, 502, sidecar=BLOCK_ALL)) == (
        "got a 502 that the port-80 listener's block_all route did not give (its counter did not move)")
    # A 502 produced by an upstream (a cluster was used) is not the sidecar's refusal.
    assert check(obs(observe.HTTP_ERROR, 502, ["outbound|80||httpbin.org"], sidecar=BLOCK_ALL)) is not None


def test_blocked_tls_and_timeout_differ():
    check = checks.blocked_tls()
    assert check(obs(observe.TLS_FAILURE, None, [envoy.BLACKHOLE])) is None
    assert "timeout" in check(obs(observe.TIMEOUT))


def test_sidecar_checks_read_the_sidecar_state():
    assert checks.sidecar_policy("REGISTRY_ONLY")(obs(observe.RESET)) is None
    assert checks.sidecar_policy("ALLOW_ANY")(obs(observe.RESET)) == "sidecar still enforces REGISTRY_ONLY (catch-all -> BlackHoleCluster), not ALLOW_ANY"
    assert checks.sidecar_has_cluster("outbound|80||httpbin.org")(obs(observe.RESET, sidecar=BLOCK_ALL)) is None
    assert checks.sidecar_has_cluster("outbound|80||httpbin.org", present=False)(obs(observe.RESET, sidecar=BLOCK_ALL))


def test_a_503_is_the_sidecars_refusal_only_when_its_router_had_no_cluster_for_the_route():
    # Someone's VirtualService for an unregistered host: its route points at a cluster the sidecar lacks.
    state = envoy.SidecarState(envoy.BLACKHOLE, "block_all", ("example.com:80",), ())
    counted = observe.Observation(observe.Request("http://example.com/"), observe.HTTP_ERROR, 503, "", (), state,
                                  no_cluster=1)
    assert checks.blocked_http()(counted) is None
    uncounted = observe.Observation(observe.Request("http://example.com/"), observe.HTTP_ERROR, 503, "", (), state)
    assert checks.blocked_http()(uncounted) == "expected 502 from the block_all route, got http-error 503 via no cluster"


def test_through_the_gateway_means_both_envoys_took_their_own_cluster_alone():
    check = checks.left_through_gateway("outbound|80|external|gw.istio-system.svc.cluster.local",
                                        "outbound|80||httpbin.org")
    base = dict(request=observe.Request("http://httpbin.org/get"), outcome=observe.REACHABLE, status=200, error="",
                served_by=("outbound|80|external|gw.istio-system.svc.cluster.local",))
    assert check(observe.Observation(**base, gateway_served=("outbound|80||httpbin.org",))) is None
    assert check(observe.Observation(**base, gateway_served=("PassthroughCluster",))) == (
        "the gateway's Envoy sent it through PassthroughCluster, not outbound|80||httpbin.org alone")
    assert checks.gateway_untouched()(observe.Observation(**base, gateway_served=())) is None


def test_tls_origination_is_read_from_the_hosts_refusal_and_the_sidecars_handshakes():
    cluster = "outbound|80||httpbin.org"
    plain = observe.Observation(observe.Request("http://httpbin.org/get"), observe.HTTP_ERROR, 400, "", (cluster,))
    assert checks.refused_by_host(400, via=cluster)(plain) is None
    gateway_error = observe.Observation(observe.Request("http://httpbin.org/get"), observe.HTTP_ERROR, 503, "",
                                        (cluster,))
    assert checks.refused_by_host(400, via=cluster)(gateway_error).startswith("expected the host's own 400")
    answered = observe.Observation(observe.Request("http://httpbin.org/get"), observe.REACHABLE, 200, "", (cluster,),
                                   tls_from_sidecar=envoy.tls_handshakes({f"cluster.{cluster};.ssl.handshake": 2}))
    assert checks.tls_from_sidecar(cluster)(answered) is None
    assert checks.tls_from_sidecar(cluster)(plain) == (
        "the sidecar has spoken no TLS on outbound|80||httpbin.org (its ssl.handshake counter is 0)")


def test_a_bypass_answered_or_not_and_the_gateway_answering_only_for_listed_hosts():
    base = dict(request=REQUEST, status=None, error="", from_pod="bypass-no-sidecar")
    answer = observe.Observation(**{**base, "status": 200}, outcome=observe.REACHABLE)
    dropped = observe.Observation(**base, outcome=observe.REFUSED)
    assert checks.answered()(answer) is None and checks.answered()(dropped).startswith("expected an answer, got refused")
    assert checks.not_answered()(dropped) is None and "200" in checks.not_answered()(answer)
    listed = "outbound|80||httpbin.org"
    assert checks.answered_by_gateway(listed)(observe.Observation(
        **{**base, "status": 200}, outcome=observe.REACHABLE, gateway_served=(listed,))) is None
    assert "sent nothing through outbound|80||httpbin.org" in checks.answered_by_gateway(listed)(observe.Observation(
        **{**base, "status": 200}, outcome=observe.REACHABLE, gateway_served=("outbound|443||httpbin.org",)))
    not_found = observe.Observation(**{**base, "status": 404}, outcome=observe.HTTP_ERROR, gateway_served=(listed,),
                                    gateway_no_route=1)
    assert checks.refused_by_gateway("example.com")(not_found) is None  # another client's request, at the same time
    passed_on = observe.Observation(**{**base, "status": 502}, outcome=observe.HTTP_ERROR,
                                    gateway_served=("outbound|80||example.com",))
    assert "sent it on through outbound|80||example.com" in checks.refused_by_gateway("example.com")(passed_on)
    assert "200" in checks.refused_by_gateway("example.com")(answer)
    assert "(from pod bypass-no-sidecar)" in dropped.summary() and "via no cluster" not in dropped.summary()


def test_a_refusal_by_the_gateways_policy_needs_its_403_its_rbac_counter_and_nothing_sent_on():
    check = checks.denied_by_gateway_policy("outbound|80||httpbin.org")
    base = dict(request=REQUEST, outcome=observe.HTTP_ERROR, status=403, error="", from_pod="other-client")
    assert check(observe.Observation(**base, gateway_served=(), gateway_denied=1)) is None
    assert check(observe.Observation(**base, gateway_served=(), gateway_denied=0)) == (
        "a 403, but the gateway's RBAC filter counted no refusal: someone else said no")
    assert check(observe.Observation(**base, gateway_served=("outbound|80||httpbin.org",), gateway_denied=1)) == (
        "the gateway's Envoy sent it on through outbound|80||httpbin.org")
    answered = observe.Observation(**{**base, "outcome": observe.REACHABLE, "status": 200},
                                   gateway_served=("outbound|80||httpbin.org",))
    assert check(answered) == "expected the gateway's 403 (RBAC: access denied), got reachable 200"
    assert "its AuthorizationPolicy refused 1" in observe.Observation(**base, gateway_served=(),
                                                                      gateway_denied=1).summary()


def test_what_the_gateway_sent_on_is_judged_whatever_the_answer():
    check = checks.gateway_sent("outbound|443||httpbin.org")
    refused = observe.Observation(REQUEST, observe.HTTP_ERROR, 400, "", gateway_served=("outbound|443||httpbin.org",))
    assert check(refused) is None
    assert check(observe.Observation(REQUEST, observe.HTTP_ERROR, 400, "", gateway_served=())) == (
        "the gateway's Envoy sent it through no cluster, not outbound|443||httpbin.org alone")


def test_a_wildcard_cluster_of_the_gateway_counts_as_sending_the_unlisted_host_on():
    refused = checks.refused_by_gateway("example.com")
    for cluster in ("outbound|80||*.com", "outbound|80||*"):
        sent = observe.Observation(REQUEST, observe.HTTP_ERROR, 503, "", gateway_served=(cluster,), from_pod="p")
        assert refused(sent) == f"the gateway's Envoy sent it on through {cluster}"
    other = observe.Observation(REQUEST, observe.HTTP_ERROR, 404, "", gateway_served=("outbound|80||*.org",),
                                from_pod="p", gateway_no_route=1)
    assert refused(other) is None
