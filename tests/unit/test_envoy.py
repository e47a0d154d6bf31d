"""Parsing the sidecar's evidence, on config dumps and stats captured from a real
local-mesh run (trimmed to the listeners, clusters and routes that matter)."""

import json
import pathlib
import re

from egress_conformance.verdicts import envoy

DATA = pathlib.Path(__file__).parent / "data"


def state(name):
    return envoy.sidecar_state((DATA / f"{name}.json").read_text())


def test_allow_any_sends_unknown_hosts_to_passthrough():
    s = state("config_dump_allow_any")
    assert (s.unknown_tcp, s.policy, s.http_port_80) == (envoy.PASSTHROUGH, "ALLOW_ANY", None)


def test_registry_only_sends_unknown_hosts_to_blackhole():
    s = state("config_dump_registry_only")
    assert (s.unknown_tcp, s.policy, s.http_port_80) == (envoy.BLACKHOLE, "REGISTRY_ONLY", None)
    assert "outbound|80||httpbin.org" not in s.clusters


def test_a_service_entry_adds_its_cluster_and_an_http_listener_with_block_all():
    s = state("config_dump_registry_only_service_entry")
    assert s.policy == "REGISTRY_ONLY"
    assert s.http_port_80 == "block_all"
    assert "httpbin.org:80" in s.virtual_hosts_80
    assert "outbound|80||httpbin.org" in s.clusters


def test_counters_of_istio_tagged_cluster_names_are_parsed():
    counters = envoy.parse_counters((DATA / "stats_passthrough.txt").read_text())
    assert counters["cluster.PassthroughCluster;.upstream_rq_total"] >= 1


def test_clusters_used_names_only_clusters_whose_counters_grew():
    before = {"cluster.PassthroughCluster;.upstream_cx_total": 2, "cluster.BlackHoleCluster;.upstream_cx_none_healthy": 1,
              "cluster.outbound|80||httpbin.org;.upstream_rq_total": 4}
    after = dict(before, **{"cluster.BlackHoleCluster;.upstream_cx_none_healthy": 2,
                            "cluster.outbound|80||httpbin.org;.upstream_rq_total": 5,
                            "cluster.outbound|80||httpbin.org;.upstream_cx_active": 9})
    assert envoy.clusters_used(before, after) == ("BlackHoleCluster", "outbound|80||httpbin.org")
    assert envoy.clusters_used(after, after) == ()


def _as_resources(name):
    """The same dump as the three ``?resource=`` answers of CONFIG_PATHS give it."""
    import json
    dump = json.loads((DATA / f"{name}.json").read_text())
    parts = {"dynamic_listeners": [], "dynamic_route_configs": [], "dynamic_active_clusters": []}
    for section in dump["configs"]:
        for key in parts:
            parts[key] += section.get(key, [])
    types = {"dynamic_listeners": "ListenersConfigDump.DynamicListener",
             "dynamic_route_configs": "RoutesConfigDump.DynamicRouteConfig",
             "dynamic_active_clusters": "ClustersConfigDump.DynamicCluster"}
    return [json.dumps({"configs": [dict(item, **{"@type": f"type.googleapis.com/envoy.admin.v3.{types[key]}"})
                                    for item in items]}) for key, items in parts.items()]


def test_the_resource_parts_give_the_same_state_as_the_whole_dump():
    for name in ("config_dump_allow_any", "config_dump_registry_only", "config_dump_registry_only_service_entry"):
        assert envoy.sidecar_state(*_as_resources(name)) == state(name)


def test_config_generation_is_the_xds_update_counters_only():
    counters = envoy.parse_counters(
        "cluster_manager.cds.update_success: 3\nlistener_manager.lds.update_success: 2\n"
        "http.outbound_0.0.0.0_80.rds.80.update_success: 1\n"
        "cluster.outbound|80||httpbin.org;.update_success: 7\ncluster.BlackHoleCluster;.upstream_cx_total: 4\n")
    assert envoy.config_generation(counters) == (
        ("cluster_manager.cds.update_success", 3), ("http.outbound_0.0.0.0_80.rds.80.update_success", 1),
        ("listener_manager.lds.update_success", 2))


def test_a_draining_port_80_listener_no_longer_counts_as_an_http_listener():
    dump = json.loads((DATA / "config_dump_registry_only_service_entry.json").read_text())
    for section in dump["configs"]:
        for item in section.get("dynamic_listeners", []):
            if item.get("name") == "0.0.0.0_80":
                item["draining_state"] = item.pop("active_state")
    state = envoy.sidecar_state(json.dumps(dump))
    assert state.http_port_80 is None and state.virtual_hosts_80 == ()


def test_the_sidecars_own_refusals_are_counted_from_real_stats():
    # Captured from Envoy 1.40 (the local mesh's) with Istio's port-80 HTTP listener (stat prefix
    # "outbound_0.0.0.0_80;", route 80 with block_all's direct 502) and a TLS listener whose only
    # chain is for one SNI, through STATS_PATH, before and after one request to each.
    before, after = (envoy.parse_counters((DATA / f"stats_refusals_{when}.txt").read_text())
                     for when in ("before", "after"))
    assert envoy.block_all_answers(before, after) == 1 and envoy.unmatched_connections(before, after) == 1
    assert envoy.block_all_answers(after, after) == envoy.unmatched_connections(after, after) == 0


def test_the_stats_asked_for_are_the_ones_the_sidecar_is_told_to_keep():
    import urllib.parse

    query = urllib.parse.parse_qs(urllib.parse.urlsplit(envoy.STATS_PATH).query, keep_blank_values=True)
    asked = re.compile(query["filter"][0])
    for name in ("http.outbound_0.0.0.0_80;.rq_direct_response", "listener.0.0.0.0_443.no_filter_chain_match",
                 "cluster.BlackHoleCluster;.upstream_cx_none_healthy", "cluster.outbound|80||a.org;.upstream_rq_total"):
        assert asked.search(name) and name.startswith(envoy.STATS_INCLUSION_PREFIXES), name


def test_the_clusters_page_counts_requests_per_cluster_whatever_the_stats_matcher_keeps():
    text = "\n".join([
        "outbound|80||httpbin.org::observability_name::outbound|80||httpbin.org",
        "outbound|80||httpbin.org::default_priority::max_connections::4294967295",
        "outbound|80||httpbin.org::10.244.0.7:80::cx_total::2",
        "outbound|80||httpbin.org::10.244.0.7:80::rq_total::3",
        "outbound|80||httpbin.org::10.244.0.8:80::rq_total::1",
        "agent::127.0.0.1:15020::rq_total::9",
    ])
    counters = envoy.parse_cluster_hosts(text)
    assert counters["cluster.outbound|80||httpbin.org.upstream_rq_total"] == 4
    before = {**counters, "cluster.outbound|80||httpbin.org.upstream_rq_total": 3}
    assert envoy.clusters_used(before, counters) == ("outbound|80||httpbin.org",)


def test_rbac_denials_are_summed_over_the_gateways_listeners():
    before = envoy.parse_counters("http.outbound_0.0.0.0_8080;.rbac.denied: 2\nhttp.outbound_0.0.0.0_8443;.rbac.denied: 0\n")
    after = envoy.parse_counters("http.outbound_0.0.0.0_8080;.rbac.denied: 3\nhttp.outbound_0.0.0.0_8443;.rbac.denied: 1\n"
                                 "http.outbound_0.0.0.0_8443;.rbac.allowed: 9\n")
    assert envoy.rbac_denials(before, after) == 2
    assert envoy.rbac_denials(after, after) == 0


def test_the_gateways_own_refusals_are_counted_or_said_not_kept():
    """As a gateway under GATEWAY_STATS_MATCHER shows them (the node's istio-egressgateway, /stats
    filtered by GATEWAY_REFUSALS_PATH); a gateway with Istio's default stats matcher shows none."""
    before = envoy.parse_counters("http.agent.no_route: 0\nhttp.outbound_0.0.0.0_8080.no_route: 2\n"
                                  "http.outbound_0.0.0.0_8080.passthrough_internal_redirect_no_route: 0\n"
                                  "listener.0.0.0.0_8443.no_filter_chain_match: 0\n")
    after = {**before, "http.outbound_0.0.0.0_8080.no_route": 3, "listener.0.0.0.0_8443.no_filter_chain_match": 1,
             "http.outbound_0.0.0.0_8080.passthrough_internal_redirect_no_route": 5}
    assert envoy.gateway_refusals(before, after) == (1, 1)
    assert envoy.gateway_refusals(before, before) == (0, 0)
    assert envoy.gateway_refusals({}, {"istio-system.rbac.denied": 1}) == (None, None)
