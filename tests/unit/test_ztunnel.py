"""ztunnel's evidence read (egress_conformance.cluster.ztunnel) and judged (checks.through_ztunnel): an
ambient pod's request to an unlisted host under REGISTRY_ONLY fails, naming ztunnel's passthrough."""

from egress_conformance.cluster import meshconfig, ztunnel
from egress_conformance.verdicts import checks, observe

METRICS = """# TYPE istio_tcp_connections_opened counter
istio_tcp_connections_opened_total{reporter="source",source_workload="client",source_workload_namespace="team",destination_service="unknown",destination_workload="external"} 3
istio_tcp_connections_opened_total{reporter="source",source_workload="client",source_workload_namespace="team",destination_service="istiod.istio-system.svc.cluster.local"} 7
istio_tcp_connections_opened_total{reporter="destination",source_workload="client",source_workload_namespace="team",destination_service="unknown"} 5
istio_tcp_connections_opened_total{reporter="source",source_workload="other",source_workload_namespace="elsewhere",destination_service="unknown"} 11
"""

LOG = [
    '2026-12-08T01:40:00.1Z\tinfo\taccess\tconnection complete\tsrc.addr=198.19.0.20:40000 src.workload="client" '
    'src.namespace="team" dst.addr=198.19.0.21:80 dst.workload="external" direction="outbound" bytes_sent=80',
    '2026-12-08T01:40:00.2Z\tinfo\taccess\tconnection complete\tsrc.addr=198.19.0.20:40002 src.workload="client" '
    'src.namespace="team" dst.addr=198.19.0.30:80 dst.hbone_addr=198.19.0.30:80 direction="outbound"',
    '2026-12-08T01:40:00.3Z\tinfo\taccess\tconnection complete\tsrc.addr=198.19.0.40:40004 src.workload="x" '
    'src.namespace="elsewhere" dst.addr=198.19.0.21:80 direction="outbound"',
]

REQUEST = observe.Request("http://httpbin.org/get")


def _observation(outcome=observe.REACHABLE, status=200, passthrough=1, lines=(LOG[0],)):
    evidence = ztunnel.Evidence("ztunnel-abcde", passthrough, tuple(lines))
    return observe.Observation(REQUEST, outcome, status, "", ztunnel=evidence)


def test_passthrough_counts_only_the_namespaces_source_connections_to_unknown_services():
    assert ztunnel.passthrough_count(METRICS, "team") == 3
    assert ztunnel.passthrough_count(METRICS, "nobody") == 0


def test_passthrough_lines_are_the_namespaces_direct_connections_to_the_address():
    assert ztunnel.passthrough_lines(LOG, "team", "198.19.0.21:80") == [LOG[0]]
    # through a tunnel (dst.hbone_addr): not a passthrough
    assert ztunnel.passthrough_lines(LOG, "team", "198.19.0.30:80") == []


def test_find_workload_by_namespace_and_name():
    dump = {"workloads": [{"name": "client", "namespace": "team", "protocol": "HBONE"},
                          {"name": "client", "namespace": "other", "protocol": "TCP"}]}
    assert ztunnel.find_workload(dump, "team", "client")["protocol"] == "HBONE"
    assert ztunnel.find_workload(dump, "team", "nope") is None


def test_registry_only_never_matches_an_ambient_passthrough_and_names_ztunnels_evidence():
    reason = checks.sidecar_policy(meshconfig.REGISTRY_ONLY)(_observation())
    assert reason is not None and reason.startswith("not blocked: the host answered 200")
    assert 'istio_tcp_connections_opened_total{destination_service="unknown"} +1' in reason
    assert "connection complete src.addr=198.19.0.20:40000" in reason and "dst.addr=198.19.0.21:80" in reason
    assert "istio/istio#54281" in reason
    assert checks.enforces(meshconfig.REGISTRY_ONLY)(_observation()) == reason


def test_registry_only_blocked_by_something_else_still_fails_and_says_so():
    reason = checks.sidecar_policy(meshconfig.REGISTRY_ONLY)(_observation(observe.TIMEOUT, None, 0, ()))
    assert reason is not None and "not by REGISTRY_ONLY" in reason and "no access-log line" in reason


def test_allow_any_matches_only_a_passthrough_ztunnel_counted():
    assert checks.enforces(meshconfig.ALLOW_ANY)(_observation()) is None
    reason = checks.enforces(meshconfig.ALLOW_ANY)(_observation(passthrough=0, lines=()))
    assert reason is not None and "expected ztunnel to pass the request through" in reason
    assert "+0" in reason


def test_an_answer_ztunnel_did_not_count_is_not_called_a_passthrough():
    reason = checks.sidecar_policy(meshconfig.REGISTRY_ONLY)(_observation(passthrough=0, lines=()))
    assert reason is not None and "counted no passthrough" in reason


def test_the_observation_summary_carries_ztunnels_evidence():
    assert "ztunnel ztunnel-abcde" in _observation().summary()
