"""deploy/egress-map.yaml: with job.yaml, the Job's service account may list, cluster-wide, every
kind the egress map reads (scenarios/audit/cluster_read.py), and it adds nothing but list."""

import kubernetes.client

from egress_conformance.framework import effective, inventory, networks, preexisting
from tests.unit.test_deploy_manifests import MODELS, READ, Permissions, documents, unknown_fields

MAP_READS = [*inventory.KINDS, inventory.NETWORK_POLICY, effective.SIDECAR, effective.ENVOY_FILTER,
             preexisting.SERVICE_ENTRY, ("v1", "Service"), networks.ENDPOINT_SLICE, ("v1", "Node"),
             networks.SERVICE_CIDR, ("v1", "Namespace")]
"""(apiVersion, kind) of every list the map makes cluster-wide."""


def _plural(api_version: str, kind: str) -> tuple[str, str]:
    group = api_version.rpartition("/")[0]
    plural = kind.lower()
    plural = plural[:-1] + "ies" if plural.endswith("y") else plural + ("es" if plural.endswith("s") else "s")
    return group, plural


def test_the_map_may_list_every_kind_it_reads_everywhere_with_the_opt_in_and_not_without():
    job, with_map = Permissions("job.yaml"), Permissions("job.yaml", "egress-map.yaml")
    for api_version, kind in MAP_READS:
        group, resource = _plural(api_version, kind)
        assert with_map.allowed("list", group, resource, None), (group, resource)
    assert not job.allowed("list", "", "pods", None), "without the opt-in the Job lists no pod outside its namespace"
    assert with_map.allowed("get", "", "configmaps", "istio-system", name="istio")  # the mesh config, job.yaml's


def test_the_opt_in_only_lists():
    for document in documents("egress-map.yaml"):
        assert MODELS[(document["apiVersion"], document["kind"])]
        assert unknown_fields(document, MODELS[(document["apiVersion"], document["kind"])], document["kind"]) == []
        kubernetes.client.ApiClient()._ApiClient__deserialize(document, MODELS[(document["apiVersion"],
                                                                                document["kind"])])
        for rule in document.get("rules", []):
            assert set(rule["verbs"]) <= READ and not any("*" in rule[key] for key in ("verbs", "resources",
                                                                                        "apiGroups")), rule
