"""The Gateway API variant's wiring, read from its manifests: the routes name the ServiceEntry
and the Gateway the scenario creates, and the Service istiod deploys for it; both scopes."""

from egress_conformance.cluster import kube
from egress_conformance.providers import features
from egress_conformance.providers.existing import gateway as gateways
from egress_conformance.scenarios import egress_gateway, egress_gateway_api

PLACEHOLDERS = {"host": "httpbin.org", "endpoints": "[]"}


def load(name: str) -> list[dict]:
    return kube.load_manifests(egress_gateway_api.MANIFESTS / name, **PLACEHOLDERS)


def test_the_routes_join_the_entry_the_gateway_and_the_service_istiod_deploys_for_it():
    [gateway] = load("gateway.yaml")
    [entry] = load(egress_gateway_api.DEPLOYED.service_entry(egress_gateway.HTTP).name)
    to_gateway, from_gateway = load(egress_gateway_api.DEPLOYED.routing(egress_gateway.HTTP).name)
    assert gateway["spec"]["gatewayClassName"] == gateways.ISTIO_CLASS
    assert gateway["metadata"]["annotations"] == {"networking.istio.io/service-type": "ClusterIP"}
    assert to_gateway["spec"]["parentRefs"] == [{"group": "networking.istio.io", "kind": "ServiceEntry",
                                                 "name": entry["metadata"]["name"]}]
    [[backend]] = [rule["backendRefs"] for rule in to_gateway["spec"]["rules"]]
    assert (backend["name"], backend["port"]) == (f"{gateway['metadata']['name']}-istio", 80)
    assert from_gateway["spec"]["parentRefs"][0]["name"] == gateway["metadata"]["name"]
    assert from_gateway["spec"]["hostnames"] == ["httpbin.org"] == entry["spec"]["hosts"]
    [[forward]] = [rule["backendRefs"] for rule in from_gateway["spec"]["rules"]]
    assert (forward["kind"], forward["name"]) == ("Hostname", "httpbin.org")


def test_the_entry_is_exported_to_the_test_namespace_alone_where_the_gateway_runs_in_either_scope():
    # The namespace scope leaves a given exportTo as written: mesh-wide, the entry is the same.
    [entry] = load("service-entry-http.yaml")
    assert entry["spec"]["exportTo"] == ["."]


def test_it_runs_in_both_scopes_and_needs_the_gateway_api_not_the_shared_gateway():
    mesh_wide, in_namespace = egress_gateway_api.SCENARIO.variants()
    assert (mesh_wide.name, in_namespace.name) == ("egress-gateway-gateway-api", "egress-gateway-gateway-api-in-namespace")
    assert features.GATEWAY_API in mesh_wide.features and features.EGRESS_GATEWAY not in mesh_wide.features
    assert in_namespace.features == {features.SIDECAR_SCOPED_POLICY, features.GATEWAY_API, features.SERVICE_ENTRY_HTTP}
