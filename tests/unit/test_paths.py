"""Every path out of a sidecar, walked from its config dump (verdicts/paths.py): the dumps the
unit tests of envoy.py use, captured from a sidecar, and fragments shaped as Istio builds them
for the leaks a name-only reading missed."""

import json
import pathlib

from egress_conformance.framework import networks
from egress_conformance.verdicts import paths
from tests import fakemesh

DATA = pathlib.Path(__file__).parent / "data"
LISTED = ["outbound|80||httpbin.org"]
NETWORKS = paths.Networks(cidrs=("10.244.0.0/16", "10.96.0.0/12"), addresses=frozenset({"172.18.0.2"}),
                          services=frozenset({"kubernetes.default", "reviews.team-b"}))


def dump(*items: dict) -> str:
    return json.dumps({"configs": list(items)})


def tcp_proxy(cluster=None, weighted=None) -> dict:
    config = {"@type": "type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy",
              "stat_prefix": cluster or "weighted"}
    config.update({"cluster": cluster} if cluster else {"weighted_clusters": {"clusters": weighted}})
    return {"name": "envoy.filters.network.tcp_proxy", "typed_config": config}


def listener(name: str, *chains: dict, direction="OUTBOUND") -> dict:
    return {"@type": "type.googleapis.com/envoy.admin.v3.ListenersConfigDump.DynamicListener", "name": name,
            "active_state": {"listener": {"name": name, "filter_chains": list(chains), "traffic_direction": direction}}}


def http_listener(name: str, route: str) -> dict:
    hcm = {"name": "envoy.filters.network.http_connection_manager", "typed_config": {
        "@type": "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3."
                 "HttpConnectionManager", "stat_prefix": f"outbound_{name};", "rds": {"route_config_name": route}}}
    return listener(name, {"filter_chain_match": {"transport_protocol": "raw_buffer"}, "filters": [hcm]})


def route_config(name: str, *vhosts: dict) -> dict:
    return {"@type": "type.googleapis.com/envoy.admin.v3.RoutesConfigDump.DynamicRouteConfig",
            "route_config": {"name": name, "virtual_hosts": list(vhosts)}}


def vhost(name: str, domains: list[str], action: dict) -> dict:
    return {"name": name, "domains": domains, "routes": [{"match": {"prefix": "/"}, **action}]}


def cluster(name: str, kind: str, *endpoints: str, custom: str = "") -> dict:
    body: dict = {"name": name, "type": kind}
    if custom:
        body = {"name": name, "cluster_type": {"name": custom}}
    if endpoints and kind != "EDS":
        body["load_assignment"] = {"cluster_name": name, "endpoints": [{"lb_endpoints": [
            {"endpoint": {"address": {"socket_address": {"address": e, "port_value": 80}}}} for e in endpoints]}]}
    return {"@type": "type.googleapis.com/envoy.admin.v3.ClustersConfigDump.DynamicCluster", "cluster": body}


def eds(name: str, *addresses: str) -> dict:
    return {"@type": "type.googleapis.com/envoy.admin.v3.EndpointsConfigDump.DynamicEndpointConfig",
            "endpoint_config": {"cluster_name": name, "endpoints": [{"lb_endpoints": [
                {"endpoint": {"address": {"socket_address": {"address": a, "port_value": 9080}}}}
                for a in addresses]}]}}


def leaks(*items: dict, listed=LISTED) -> list[str]:
    return paths.leaks(paths.walk(dump(*items)), listed, NETWORKS)


def test_a_captured_restricted_sidecar_has_no_leaking_path():
    for name in ("config_dump_registry_only", "config_dump_registry_only_service_entry"):
        walked = paths.walk((DATA / f"{name}.json").read_text())
        assert {p.cluster for p in walked.paths} >= {"BlackHoleCluster"}
        # The captured dumps mask clusters to their names: a cluster of unknown type reads as STATIC, no endpoint.
        assert paths.leaks(walked, ["outbound|80||httpbin.org", "outbound|80||www.httpbin.org"], NETWORKS) == []


def test_a_captured_allow_any_sidecar_leaks_through_its_catch_all_chain():
    walked = paths.walk((DATA / "config_dump_allow_any.json").read_text())
    assert paths.leaks(walked, [], NETWORKS) == [
        "listener virtualOutbound, chain virtualOutbound-catchall-tcp -> PassthroughCluster (STATIC): passes "
        "connections through to any address"]  # (the capture masks clusters to their names: no type, read as STATIC)


def test_a_virtual_host_to_passthrough_for_a_domain_no_probe_uses_is_a_leak():
    found = leaks(http_listener("0.0.0.0_80", "80"),
                  route_config("80", vhost("httpbin.org:80", ["httpbin.org"], {"route": {"cluster": LISTED[0]}}),
                               vhost("internal-mirror", ["mirror.corp.example"],
                                     {"route": {"cluster": "PassthroughCluster"}}),
                               vhost("block_all", ["*"], {"direct_response": {"status": 502}})),
                  cluster(LISTED[0], "STRICT_DNS", "httpbin.org"), cluster("PassthroughCluster", "ORIGINAL_DST"))
    assert found == ["listener 0.0.0.0_80, chain #0, route 80, virtual host internal-mirror (mirror.corp.example), "
                     "route / -> PassthroughCluster (ORIGINAL_DST): passes connections through to any address"]


def test_weighted_clusters_are_each_a_path():
    found = leaks(http_listener("0.0.0.0_80", "80"),
                  route_config("80", vhost("httpbin.org:80", ["httpbin.org"], {"route": {"weighted_clusters": {
                      "clusters": [{"name": LISTED[0], "weight": 99}, {"name": "outbound|80||canary.example.net",
                                                                       "weight": 1}]}}})),
                  cluster(LISTED[0], "STRICT_DNS", "httpbin.org"),
                  cluster("outbound|80||canary.example.net", "STRICT_DNS", "canary.example.net"))
    assert len(found) == 1 and found[0].startswith("listener 0.0.0.0_80, chain #0, route 80, virtual host httpbin.org:80")
    assert "-> outbound|80||canary.example.net (STRICT_DNS): endpoint canary.example.net outside" in found[0]


def test_a_matched_chain_is_walked_whatever_it_matches_on():
    chains = [{"name": "to-partner", "filter_chain_match": {"prefix_ranges": [{"address_prefix": "203.0.113.0",
                                                                                "prefix_len": 24}]},
               "filters": [tcp_proxy("partner-egress")]},
              {"name": "sni", "filter_chain_match": {"destination_port": 443, "server_names": ["*.partner.example"]},
               "filters": [tcp_proxy(weighted=[{"name": "outbound|443||*.partner.example", "weight": 100}])]},
              {"name": "virtualOutbound-catchall-tcp", "filters": [tcp_proxy("BlackHoleCluster")]}]
    found = leaks(listener("virtualOutbound", *chains), cluster("partner-egress", "ORIGINAL_DST"),
                  cluster("outbound|443||*.partner.example", "ORIGINAL_DST"), cluster("BlackHoleCluster", "STATIC"))
    assert found == [
        "listener virtualOutbound, chain to-partner (to 203.0.113.0/24) -> partner-egress (ORIGINAL_DST): sends to "
        "whatever address the connection asked for, for hosts the list does not name",
        "listener virtualOutbound, chain sni (port 443; server names *.partner.example) -> "
        "outbound|443||*.partner.example (ORIGINAL_DST): sends to whatever address the connection asked for, for "
        "hosts the list does not name"]


def test_a_listed_original_dst_cluster_passes_only_behind_its_server_names():
    sni = {"name": "sni", "filter_chain_match": {"server_names": ["files.pythonhosted.org"]},
           "filters": [tcp_proxy("outbound|443||files.pythonhosted.org")]}
    tcp = {"name": "tcp", "filter_chain_match": {"destination_port": 5432},
           "filters": [tcp_proxy("outbound|5432||db.example.org")]}
    held = [cluster("outbound|443||files.pythonhosted.org", "ORIGINAL_DST"),
            cluster("outbound|5432||db.example.org", "ORIGINAL_DST")]
    found = leaks(listener("0.0.0.0_443", sni), listener("0.0.0.0_5432", tcp), *held,
                  listed=["outbound|443||files.pythonhosted.org", "outbound|5432||db.example.org"])
    assert found == ["listener 0.0.0.0_5432, chain tcp (port 5432) -> outbound|5432||db.example.org (ORIGINAL_DST): "
                     "sends to whatever address the connection asked for, on a path no listed server name guards"]


def test_a_svc_name_is_inside_only_by_its_endpoints():
    service = "outbound|9080||reviews.team-b.svc.cluster.local"
    selectorless = "outbound|443||legacy.team-b.svc.cluster.local"
    external_name = "outbound|443||mirror.team-b.svc.cluster.local"
    entry = "outbound|443||api.svc.example.com"
    found = leaks(cluster(service, "EDS"), eds(service, "10.244.1.7"),
                  cluster(selectorless, "EDS"), eds(selectorless, "198.51.100.20"),
                  cluster(external_name, "STRICT_DNS", "mirror.example.org"),
                  cluster(entry, "STRICT_DNS", "api.svc.example.com"),
                  cluster("outbound|443||kubernetes.default.svc.cluster.local", "EDS"),
                  eds("outbound|443||kubernetes.default.svc.cluster.local", "172.18.0.2"))
    assert found == [
        f"cluster {selectorless} (EDS): endpoint 198.51.100.20 outside the cluster's networks, for a host the list "
        "does not name",
        f"cluster {external_name} (STRICT_DNS): endpoint mirror.example.org outside the cluster's networks, for a "
        "host the list does not name",
        f"cluster {entry} (STRICT_DNS): endpoint api.svc.example.com outside the cluster's networks, for a host the "
        "list does not name"]


def test_a_dynamic_forward_proxy_and_a_cluster_header_send_anywhere():
    dfp = cluster("dynamic_forward_proxy_cluster", "", custom="envoy.clusters.dynamic_forward_proxy")
    found = leaks(http_listener("0.0.0.0_8080", "8080"),
                  route_config("8080", vhost("proxy", ["*"], {"route": {"cluster": "dynamic_forward_proxy_cluster"}}),
                               vhost("by-header", ["pick.example"], {"route": {"cluster_header": "x-cluster"}})), dfp)
    assert [f.split(" -> ")[1] for f in found] == [
        "dynamic_forward_proxy_cluster (dynamic-forward-proxy): sends to whatever address the connection asked for, "
        "for hosts the list does not name",
        "PassthroughCluster: passes connections through to any address"]


def test_inbound_listeners_are_no_path_out_and_a_route_not_yet_received_sends_nothing():
    inbound = listener("virtualInbound", {"filters": [tcp_proxy("InboundPassthroughCluster")]}, direction="INBOUND")
    assert leaks(inbound, http_listener("0.0.0.0_80", "80"), cluster("InboundPassthroughCluster", "ORIGINAL_DST")) == []


def test_an_internal_listener_is_no_entry_point():
    # Seen on the node once ambient was on: istiod gives every sidecar connect_originate, an internal
    # listener to an ORIGINAL_DST cluster that only the sidecar's own HBONE clusters hand connections to.
    internal = listener("connect_originate", {"filters": [tcp_proxy("connect_originate")]}, direction=None)
    internal["active_state"]["listener"]["internal_listener"] = {}
    assert leaks(internal, cluster("connect_originate", "ORIGINAL_DST")) == []
    internal["active_state"]["listener"].pop("internal_listener")
    assert leaks(internal, cluster("connect_originate", "ORIGINAL_DST")) != []


def test_a_walk_reads_the_dump_whole_or_per_resource():
    whole = {"configs": [{"@type": "type.googleapis.com/envoy.admin.v3.ClustersConfigDump",
                          "dynamic_active_clusters": [cluster("PassthroughCluster", "ORIGINAL_DST")]},
                         {"@type": "type.googleapis.com/envoy.admin.v3.ListenersConfigDump",
                          "dynamic_listeners": [listener("virtualOutbound", {"filters": [tcp_proxy("PassthroughCluster")]})]}]}
    walked = paths.walk(json.dumps(whole), generation=(("cds", 1),))
    assert walked.paths == (paths.Path("listener virtualOutbound, chain #0", "PassthroughCluster"),)
    assert walked.summary() == "1 outbound paths; clusters: 1 ORIGINAL_DST"
    assert walked.record()["generation"] == (("cds", 1),)


def test_networks_say_inside_by_address_range_and_service_name():
    assert NETWORKS.inside("10.244.3.4") and NETWORKS.inside("172.18.0.2")
    assert not NETWORKS.inside("198.51.100.1")
    assert NETWORKS.inside("reviews.team-b.svc.cluster.local")
    assert not NETWORKS.inside("evil.team-b.svc.cluster.local") and not NETWORKS.inside("httpbin.org")


def test_the_clusters_networks_are_read_from_its_nodes_services_and_pod_endpoints():
    server = fakemesh.ApiServer()
    server.store[("Node", "", "node-1")] = {"metadata": {"name": "node-1", "namespace": ""},
                                           "spec": {"podCIDRs": ["10.244.0.0/24"]},
                                           "status": {"addresses": [{"type": "InternalIP", "address": "172.18.0.2"}]}}
    server.store[("Service", "team-b", "legacy")] = {"metadata": {"name": "legacy", "namespace": "team-b"},
                                                     "spec": {"clusterIPs": ["10.96.7.7"]}}
    server.store[("EndpointSlice", "team-b", "legacy-1")] = {
        "metadata": {"name": "legacy-1", "namespace": "team-b", "labels": {"kubernetes.io/service-name": "legacy"}},
        "endpoints": [{"addresses": ["203.0.113.60"]},
                      {"addresses": ["10.1.2.3"], "targetRef": {"kind": "Pod", "name": "legacy-0"}}]}
    found = networks.read(fakemesh.ApiClient(server))
    assert found.cidrs == ("10.244.0.0/24",)
    assert found.inside("10.244.0.9") and found.inside("172.18.0.2") and found.inside("10.96.7.7")
    assert found.inside("10.1.2.3") and found.inside(fakemesh.API_SERVER_IP)  # a pod's; the API server's own
    assert not found.inside("203.0.113.60")  # written by hand, no pod behind it
    assert found.inside("legacy.team-b.svc.cluster.local") and not found.inside("other.team-b.svc.cluster.local")


def test_a_destination_rules_subset_of_a_listed_host_is_the_listed_host():
    subset = "outbound|80|v1|httpbin.org"
    assert leaks(cluster(subset, "STRICT_DNS", "httpbin.org")) == []
    assert leaks(cluster("outbound|80|v1|example.org", "STRICT_DNS", "example.org")) == [
        "cluster outbound|80|v1|example.org (STRICT_DNS): endpoint example.org outside the cluster's networks, for a "
        "host the list does not name"]


CAPTURED_LIST = ["outbound|443||api.github.com", "outbound|443||files.pythonhosted.org", "outbound|443||proxy.golang.org",
                 "outbound|443||pypi.org", "outbound|80||httpbin.org"]
"""The team's list in the captured dumps below: each is a sidecar of the local mesh (Istio master, Envoy 1.40)
under one catalogue shape, trimmed to what a walk reads (tests/unit/data, captured by the matrix's evidence)."""


def captured(name: str) -> list[str]:
    return paths.leaks(paths.walk((DATA / f"config_dump_{name}.json").read_text()), CAPTURED_LIST, paths.Networks())


def test_captured_sidecars_of_broken_meshes_leak_exactly_where_the_shape_opened_a_path():
    assert captured("envoyfilter_original_dst_chain") == [
        "listener virtualOutbound, chain to-partner (to 203.0.113.0/24) -> partner-egress (ORIGINAL_DST): sends to "
        "whatever address the connection asked for, for hosts the list does not name"]
    assert captured("envoyfilter_virtual_host_to_passthrough") == [
        "listener 0.0.0.0_80, chain #0, route 80, virtual host internal-mirror (mirror.corp.example), route / -> "
        "PassthroughCluster (ORIGINAL_DST): passes connections through to any address"]
    [selectorless] = captured("service_without_selector_outside")
    assert selectorless.startswith("listener 10.96.93.72_5432, chain #0 -> outbound|5432||legacy-db.")
    assert selectorless.endswith("svc.cluster.local (EDS): endpoint 203.0.113.60 outside the cluster's networks, for "
                                 "a host the list does not name")
    [sni] = captured("envoyfilter_sni_chain_to_passthrough")
    assert sni.startswith("listener 10.96.0.1_443, chain partner-sni (server names *.partner.example) -> "
                          "PassthroughCluster (ORIGINAL_DST): passes connections through to any address (and ")


def test_a_captured_sound_sidecar_walks_every_listener_and_finds_no_leak():
    walked = paths.walk((DATA / "config_dump_envoyfilter_virtual_host_to_passthrough.json").read_text())
    listeners = {p.via.split(",")[0] for p in walked.paths}
    assert listeners == {"listener virtualOutbound", "listener 0.0.0.0_80", "listener 0.0.0.0_443",
                         "listener 10.96.0.1_443"}
    sound = [p for p in walked.paths if "internal-mirror" not in p.via]
    assert paths.leaks(paths.Walk(tuple(sound), walked.clusters), CAPTURED_LIST, paths.Networks()) == []
