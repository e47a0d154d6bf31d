"""Checks of a batch of requests: counts per cluster decide, since counters cannot say
which request used which cluster."""

from egress_conformance.providers import base
from egress_conformance.verdicts import checks, envoy, observe

A, B = "http://a.example.org/get", "https://b.example.org/get"
CLUSTERS = {A: "outbound|80||a.example.org", B: "outbound|443||b.example.org"}


def batch(answers, moves, port80=None, block_all=0, unmatched=0):
    state = envoy.SidecarState("BlackHoleCluster", port80, (), tuple(sorted(CLUSTERS.values())))
    return observe.Batch(tuple(observe.Answer(observe.Request(url), outcome, status, "")
                               for url, outcome, status in answers), moves, state, block_all=block_all,
                         unmatched=unmatched)


def test_each_answered_needs_every_host_and_exactly_its_own_cluster_count():
    check = checks.each_answered(CLUSTERS)
    ok = [(A, observe.REACHABLE, 200), (B, observe.HTTP_ERROR, 404)]
    assert check(batch(ok, {CLUSTERS[A]: 1, CLUSTERS[B]: 1})) is None
    assert "took 2, expected 1" in check(batch(ok, {CLUSTERS[A]: 2, CLUSTERS[B]: 1}))
    assert "took 0, expected 1" in check(batch(ok, {CLUSTERS[A]: 1}))
    assert "PassthroughCluster took 1" in check(batch(ok, {**dict.fromkeys(CLUSTERS.values(), 1),
                                                            envoy.PASSTHROUGH: 1}))
    # Envoy's own 503 for an unreachable upstream is not the host's answer.
    gateway = [(A, observe.HTTP_ERROR, 503), (B, observe.REACHABLE, 200)]
    assert "expected an answer from the host" in check(batch(gateway, dict.fromkeys(CLUSTERS.values(), 1)))
    # Answered via its cluster alone: a cluster the list does not open took nothing.
    stray = {**dict.fromkeys(CLUSTERS.values(), 1), "outbound|80||c.example.org": 1}
    assert check(batch(ok, stray)) == "cluster outbound|80||c.example.org took 1: not one the list opens"


def test_each_blocked_accepts_resets_and_block_all_on_port_80_only():
    check = checks.each_blocked(CLUSTERS.values())
    refused = [(A, observe.HTTP_ERROR, 502), (B, observe.TLS_FAILURE, None)]
    assert check(batch(refused, {envoy.BLACKHOLE: 1}, port80="block_all", block_all=1)) is None
    assert "expected it blocked" in check(batch(refused, {envoy.BLACKHOLE: 1}, port80=None))
    assert "got through" in check(batch(refused, {CLUSTERS[A]: 1}, port80="block_all", block_all=1))
    on_8080 = [("http://a.example.org:8080/get", observe.HTTP_ERROR, 502)]
    assert "expected it blocked" in check(batch(on_8080, {}, port80="block_all"))


def test_each_blocked_needs_the_sidecar_to_have_counted_every_refusal():
    check = checks.each_blocked(CLUSTERS.values())
    cut = [(A, observe.RESET, None), (B, observe.TLS_FAILURE, None)]
    assert check(batch(cut, {envoy.BLACKHOLE: 2})) is None
    assert check(batch(cut, {envoy.BLACKHOLE: 1}, unmatched=1)) is None  # a listener with no chain for B's SNI
    assert check(batch(cut, {envoy.BLACKHOLE: 1})) == (
        "2 requests cut off, but the sidecar refused 1 (BlackHoleCluster and listeners): something outside the "
        "sidecar cut the others")
    answered_502 = [(A, observe.HTTP_ERROR, 502), ("http://c.example.org/get", observe.HTTP_ERROR, 502)]
    assert check(batch(answered_502, {}, port80="block_all", block_all=1)) == (
        "2 answered 502, but the port-80 listener's block_all answered 1: the others came from elsewhere")


def test_sidecar_has_clusters_names_the_first_missing_one():
    check = checks.sidecar_has_clusters([*CLUSTERS.values(), "outbound|80||c.example.org"])
    assert check(batch([], {})) == "sidecar lacks cluster outbound|80||c.example.org"
    assert checks.sidecar_has_clusters(CLUSTERS.values(), present=False)(batch([], {})).startswith(
        "sidecar still has cluster outbound|443||b.example.org and 1 more")


class Recorded(base.Workload):
    namespace, name = "ns", "client"

    def __init__(self, stdout):
        self.stdout, self.argv = stdout, None

    def exec(self, container, argv, timeout):
        self.argv = argv
        return base.ExecResult(0, self.stdout, "")


def test_curl_many_orders_records_by_url_and_names_a_missing_one():
    workload = Recorded('{"url": "%s", "exitcode": 0, "http_code": 200}\n' % B)
    first, second = workload.curl_many([A, B], [], 5)
    assert second["http_code"] == 200 and "no answer recorded" in first["errormsg"]
    assert workload.argv.count("-o") == 2 and workload.argv[-1] == B


def test_cluster_moves_counts_requests_per_cluster():
    before = {"cluster.outbound|80||a.example.org;.upstream_rq_total": 1}
    after = {"cluster.outbound|80||a.example.org;.upstream_rq_total": 3,
             "cluster.outbound|80||a.example.org;.upstream_cx_total": 1}
    assert envoy.cluster_moves(before, after) == {"outbound|80||a.example.org": 2}
