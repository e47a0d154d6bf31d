"""What the existing provider creates in its test namespace: exactly these objects, no Service."""

import json

from egress_conformance.framework import scope
from egress_conformance.hosts import targets
from egress_conformance.providers.existing import clientpod, external_target
from egress_conformance.scenarios import allow_list
from egress_conformance.verdicts import envoy


def test_the_client_pod_asks_for_the_counters_the_evidence_needs_and_maps_the_external_names():
    aliases = [{"ip": "198.19.0.9", "hostnames": list(targets.from_options({}, allow_list.DEFAULT_LIST).names())}]
    pod = clientpod.manifest("ns", "curl:1", aliases, external_target.CA_CONFIG_MAP)
    config = json.loads(pod["metadata"]["annotations"]["proxy.istio.io/config"])
    assert config["proxyStatsMatcher"]["inclusionPrefixes"] == list(envoy.STATS_INCLUSION_PREFIXES)
    assert "cluster.BlackHoleCluster" in config["proxyStatsMatcher"]["inclusionPrefixes"]
    assert pod["spec"]["hostAliases"] == aliases
    [app] = pod["spec"]["containers"]
    assert app["name"] == "client" and app["imagePullPolicy"] == "IfNotPresent"
    assert app["volumeMounts"][0]["mountPath"] + "/ca.crt" == external_target.SimulatedTarget.trusted_ca


def test_the_simulated_host_is_a_non_injected_pod_with_no_service_serving_every_port_of_the_list(tmp_path):
    (tmp_path / "list.csv").write_text("host,port,protocol\nrepo.example.net,8443,TLS\nweb.example.net,8080,HTTP\n")
    objects = external_target.SimulatedTarget("httpbin:1", targets.from_options({"allow_list": str(tmp_path / "list.csv")})).objects("ns")
    kinds = [o["kind"] for o in objects]
    assert "Service" not in kinds and kinds.count("Pod") == 1
    [pod] = [o for o in objects if o["kind"] == "Pod"]
    assert pod["metadata"]["labels"]["sidecar.istio.io/inject"] == "false"
    assert all(o["metadata"]["namespace"] == "ns" for o in objects)
    [tls] = [o for o in objects if o["kind"] == "Secret"]
    assert "BEGIN CERTIFICATE" in tls["stringData"]["tls.crt"]
    servers = {c["name"]: c for c in pod["spec"]["containers"]}
    assert sorted(servers) == ["http-80", "http-8080", "https-443", "https-8443"]
    assert servers["http-8080"]["command"] == [external_target.SERVER, "-port", "8080"]
    assert servers["https-8443"]["command"] == [external_target.SERVER, "-port", "8443", "-https-cert-file",
                                                "/tls/tls.crt", "-https-key-file", "/tls/tls.key"]
    assert all(c["readinessProbe"]["tcpSocket"]["port"] == int(name.split("-")[1]) for name, c in servers.items())


def test_the_access_log_is_turned_on_for_the_client_pod_only():
    # Changed on purpose (issue 23, item 7): a namespace-wide Telemetry changed what every team
    # workload of an audited namespace logs; the selector keeps it to the suite's own client.
    telemetry = clientpod.access_log_telemetry("ns")
    assert telemetry["metadata"]["namespace"] == "ns"
    assert telemetry["spec"]["selector"] == {"matchLabels": {"app": "egress-conformance-client"}}
    assert telemetry["spec"]["selector"]["matchLabels"] == clientpod.manifest("ns", "image")["metadata"]["labels"]
    assert telemetry["spec"]["accessLogging"] == [{"providers": [{"name": "envoy"}]}]


def test_a_policy_sidecar_refuses_an_unknown_mode():
    try:
        scope.policy_sidecar("ns", "DENY_ALL")
    except ValueError as err:
        assert "unknown outbound traffic policy 'DENY_ALL'" in str(err)
    else:
        raise AssertionError("accepted an unknown mode")
