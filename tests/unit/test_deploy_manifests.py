"""deploy/ checked against the Kubernetes API's structure as the `kubernetes` client's
models describe it: every field must exist in its model (a typo fails), required fields
must be there (the models' own validation); and the RBAC, evaluated as the API server's
authorizer would, grants what a run does where it does it and nothing else: writes only
in the test namespace, cluster-wide only reads."""

import pathlib
import re

import kubernetes.client
import pytest
import yaml

DEPLOY = pathlib.Path(__file__).parents[2] / "deploy"
MODELS = {("v1", "Namespace"): "V1Namespace", ("v1", "ServiceAccount"): "V1ServiceAccount",
          ("rbac.authorization.k8s.io/v1", "ClusterRole"): "V1ClusterRole",
          ("rbac.authorization.k8s.io/v1", "ClusterRoleBinding"): "V1ClusterRoleBinding",
          ("rbac.authorization.k8s.io/v1", "Role"): "V1Role",
          ("rbac.authorization.k8s.io/v1", "RoleBinding"): "V1RoleBinding",
          ("batch/v1", "Job"): "V1Job", ("batch/v1", "CronJob"): "V1CronJob"}
PRIMITIVES = {"str": str, "int": int, "bool": bool, "float": (int, float), "object": object, "datetime": str, "bytes": str}


def unknown_fields(data, type_name: str, path: str = "") -> list[str]:
    """Fields of ``data`` that its model does not have, or of the wrong shape, as paths."""
    if type_name in PRIMITIVES:
        return [] if isinstance(data, PRIMITIVES[type_name]) else [f"{path}: not a {type_name}"]
    if match := re.fullmatch(r"List\[(.+)\]", type_name):
        if not isinstance(data, list):
            return [f"{path}: not a list"]
        return [e for i, item in enumerate(data) for e in unknown_fields(item, match[1], f"{path}[{i}]")]
    if match := re.fullmatch(r"Dict\[str, (.+)\]", type_name):
        if not isinstance(data, dict):
            return [f"{path}: not a map"]
        return [e for k, v in data.items() for e in unknown_fields(v, match[1], f"{path}.{k}")]
    model = getattr(kubernetes.client.models, type_name)
    if not isinstance(data, dict):
        return [f"{path}: not an object"]
    by_json = {json: attr for attr, json in model.attribute_map.items()}
    errors = []
    for key, value in data.items():
        if key not in by_json:
            errors.append(f"{path}.{key}: no such field in {type_name}")
        else:
            errors += unknown_fields(value, model.openapi_types[by_json[key]], f"{path}.{key}")
    return errors


def documents(name: str) -> list[dict]:
    return [d for d in yaml.safe_load_all((DEPLOY / name).read_text()) if d]


@pytest.mark.parametrize("name", ["job.yaml", "mesh-wide.yaml", "egress-gateway.yaml", "cronjob.yaml"])
def test_every_object_fits_its_kubernetes_model(name):
    for document in documents(name):
        type_name = MODELS[(document["apiVersion"], document["kind"])]
        assert unknown_fields(document, type_name, document["kind"]) == []
        # The models refuse a missing required field (e.g. a container without a name).
        kubernetes.client.ApiClient()._ApiClient__deserialize(document, type_name)


def test_the_checker_catches_a_misspelt_field_and_a_missing_required_one():
    job = next(d for d in documents("job.yaml") if d["kind"] == "Job")
    job["spec"]["template"]["spec"]["containers"][0]["imagePullPolicyy"] = "Never"
    assert unknown_fields(job, "V1Job", "Job") == [
        "Job.spec.template.spec.containers[0].imagePullPolicyy: no such field in V1Container"]
    del job["spec"]["template"]["spec"]["containers"][0]["name"]
    with pytest.raises(ValueError, match="name"):
        kubernetes.client.ApiClient()._ApiClient__deserialize(job, "V1Job")


READ = {"get", "list", "watch"}
PLURALS = {"Pod": "pods", "Secret": "secrets", "ConfigMap": "configmaps", "Telemetry": "telemetries",
           "Sidecar": "sidecars", "ServiceEntry": "serviceentries", "Namespace": "namespaces",
           "Gateway": "gateways", "DestinationRule": "destinationrules", "VirtualService": "virtualservices",
           "NetworkPolicy": "networkpolicies", "ServiceAccount": "serviceaccounts", "HTTPRoute": "httproutes"}
"""Kind -> resource, for the kinds the run creates (a new kind fails here until it is added)."""


class Permissions:
    """What the Job's service account may do, evaluated from the manifests as RBAC does: a
    ClusterRoleBinding grants its ClusterRole everywhere, a RoleBinding its (Cluster)Role in
    its own namespace; a rule matches on group, resource, verb and (if given) resourceNames."""

    def __init__(self, *names: str):
        self.objects = [d for name in names for d in documents(name)]
        self.account = next(d for d in self.objects if d["kind"] == "ServiceAccount")

    def role(self, ref: dict, namespace: str | None) -> dict:
        return next(d for d in self.objects if d["kind"] == ref["kind"] and d["metadata"]["name"] == ref["name"]
                    and (ref["kind"] == "ClusterRole" or d["metadata"]["namespace"] == namespace))

    def bindings(self) -> list[tuple[str | None, dict]]:
        """(namespace or None for cluster-wide, role) of every binding of the service account."""
        subject = {"kind": "ServiceAccount", "name": self.account["metadata"]["name"],
                   "namespace": self.account["metadata"]["namespace"]}
        found = []
        for binding in (d for d in self.objects if d["kind"] in ("RoleBinding", "ClusterRoleBinding")):
            assert binding["subjects"] == [subject], binding["metadata"]["name"]
            namespace = binding["metadata"].get("namespace") if binding["kind"] == "RoleBinding" else None
            found.append((namespace, self.role(binding["roleRef"], namespace)))
        return found

    def allowed(self, verb: str, group: str, resource: str, namespace: str | None, name: str | None = None) -> bool:
        """May it ``verb`` ``resource`` (in ``namespace``; None: cluster-scoped or all namespaces)?"""
        return any(where in (None, namespace) and any(_matches(rule, verb, group, resource, name)
                                                      for rule in role["rules"])
                   for where, role in self.bindings())

    def rules(self, scope: str | None) -> list[dict]:
        """The rules granted in ``scope`` (a namespace, or None: cluster-wide)."""
        return [rule for where, role in self.bindings() if where == scope for rule in role["rules"]]


def _matches(rule: dict, verb: str, group: str, resource: str, name: str | None) -> bool:
    return ("resources" in rule and group in rule["apiGroups"] and resource in rule["resources"]
            and verb in rule["verbs"] and (not rule.get("resourceNames") or name in rule["resourceNames"]))


def job_command() -> str:
    job = next(d for d in documents("job.yaml") if d["kind"] == "Job")
    return " ".join(job["spec"]["template"]["spec"]["containers"][0]["args"])


def the_test_namespace() -> dict:
    name = re.search(r"--test-namespace (\S+)", job_command())[1]
    return next(d for d in documents("job.yaml") if d["kind"] == "Namespace" and d["metadata"]["name"] == name)


IN_THE_GATEWAY_NAMESPACE = {"AuthorizationPolicy"}
"""Kinds a scenario creates in the egress gateway's namespace (deploy/egress-gateway.yaml grants those)."""


def created_by_a_run() -> set[tuple[str, str]]:
    """(group, resource) of every object a run creates in its test namespace, from the code and manifests."""
    from egress_conformance import scenarios
    from egress_conformance.cluster import kube
    from egress_conformance.framework import scope
    from egress_conformance.hosts import allowlist, targets
    from egress_conformance.providers.existing import clientpod, external_target
    from egress_conformance.scenarios import allow_list

    chosen = targets.from_options({}, allow_list.DEFAULT_LIST)
    objects = [clientpod.manifest("n", "image"), clientpod.access_log_telemetry("n"),
               *external_target.SimulatedTarget("image", chosen).objects("n"), scope.policy_sidecar("n", "ALLOW_ANY"),
               *(allowlist.service_entry(entry, "allow") for entry in chosen.allow_list),
               {"apiVersion": "v1", "kind": "ServiceAccount"}]  # a second client's (framework/context.start_pod)
    for scenario in scenarios.DECLARED:
        for manifest in sorted(scenario.manifests.glob("*.yaml")) if scenario.manifests else ():
            objects += kube.load_manifests(manifest, namespace="n", mode="ALLOW_ANY", **chosen.substitutions(),
                                           endpoints="[]", gateway_namespace="g", gateway_host="gw.g.svc.cluster.local",
                                           gateway_selector="{istio: egressgateway}", target_ca="/ca.pem",
                                           target_ca_credential="configmap://n/ca", test_namespace="n", image="proxy",
                                           address="10.0.0.1", credential="c", tls_mode="SIMPLE",
                                           istiod_namespace="i")
    return {(o["apiVersion"].rpartition("/")[0], PLURALS[o["kind"]]) for o in objects
            if o["kind"] not in IN_THE_GATEWAY_NAMESPACE}


def test_the_job_runs_the_existing_provider_in_cluster_in_its_labelled_test_namespace():
    objects = {d["kind"]: d for d in documents("job.yaml")}
    pod = objects["Job"]["spec"]["template"]["spec"]
    assert pod["serviceAccountName"] == objects["ServiceAccount"]["metadata"]["name"]
    command = job_command()
    assert "--provider existing --in-cluster" in command and "--kubeconfig" not in command
    assert "--allow-mesh-wide-changes" not in command
    assert the_test_namespace()["metadata"]["labels"] == {"istio-injection": "enabled"}
    assert {m["mountPath"] for m in pod["containers"][0]["volumeMounts"]} == {"/reports"}


def test_the_jobs_exit_status_is_the_runs_and_its_report_goes_to_a_configmap_not_a_sleeping_pod():
    job = next(d for d in documents("job.yaml") if d["kind"] == "Job")
    container = job["spec"]["template"]["spec"]["containers"][0]
    assert "command" not in container, "the image's entrypoint (egress-conformance) must be the container's process"
    assert container["args"][0] == "run" and "sleep" not in job_command() and "--accept-partial" not in job_command()
    assert "--report-configmap egress-conformance-report" in job_command()
    assert job["spec"]["backoffLimit"] == 0 and job["spec"]["activeDeadlineSeconds"] > 0
    assert job["spec"]["template"]["spec"]["terminationGracePeriodSeconds"] >= 30  # the run undoes on SIGTERM


def test_the_cronjob_runs_the_jobs_pod_and_never_two_at_once():
    job = next(d for d in documents("job.yaml") if d["kind"] == "Job")
    cron, = documents("cronjob.yaml")
    assert cron["spec"]["jobTemplate"]["spec"] == job["spec"]
    assert cron["metadata"]["namespace"] == job["metadata"]["namespace"]
    assert cron["spec"]["concurrencyPolicy"] == "Forbid"


def test_the_report_may_be_written_only_as_configmaps_in_the_runners_own_namespace():
    permissions = Permissions("job.yaml")
    runner = permissions.account["metadata"]["namespace"]
    for verb in ("get", "list", "create", "update", "delete"):
        assert permissions.allowed(verb, "", "configmaps", runner, name="egress-conformance-report")
    assert [rule["resources"] for rule in permissions.rules(runner)] == [["configmaps"]]
    assert not permissions.allowed("create", "", "configmaps", "default")


def test_the_job_may_create_and_delete_what_a_run_creates_in_its_test_namespace_and_nowhere_else():
    allowed, namespace = Permissions("job.yaml").allowed, the_test_namespace()["metadata"]["name"]
    needed = created_by_a_run()
    assert ("", "pods") in needed and ("networking.istio.io", "serviceentries") in needed
    for group, resource in needed:
        for verb in ("create", "get", "delete"):
            assert allowed(verb, group, resource, namespace), (verb, group, resource)
            assert not allowed(verb, group, resource, "default"), (verb, group, resource, "default")
    assert allowed("create", "", "pods/exec", namespace) and allowed("get", "", "pods/proxy", namespace)
    # The admin channel (clientpod: port-forward to Envoy's admin port), in the test namespace only.
    assert allowed("create", "", "pods/portforward", namespace) and allowed("get", "", "pods/portforward", namespace)
    assert not allowed("create", "", "pods/portforward", "default")
    assert allowed("get", "", "namespaces", namespace, name=namespace)
    for verb in ("create", "delete", "patch", "update"):  # the namespace itself is the user's
        assert not allowed(verb, "", "namespaces", namespace, name=namespace)


def test_cluster_wide_the_job_only_reads_what_finds_istiod_and_what_decides_a_namespaces_egress():
    permissions = Permissions("job.yaml")
    cluster_wide = permissions.rules(None)
    assert all(set(rule["verbs"]) <= READ for rule in cluster_wide), cluster_wide
    assert {(g, r) for rule in cluster_wide if "resources" in rule for g in rule["apiGroups"]
            for r in rule["resources"]} == {("apps", "deployments"),
                                            ("admissionregistration.k8s.io", "mutatingwebhookconfigurations"),
                                            *(("networking.istio.io", kind) for kind in (
                                                "serviceentries", "sidecars", "destinationrules", "virtualservices",
                                                "envoyfilters", "workloadentries")),
                                            ("security.istio.io", "authorizationpolicies"),
                                            # the audit's walk: what is inside the cluster (docs/audit.md)
                                            ("", "nodes"), ("", "services"), ("discovery.k8s.io", "endpointslices"),
                                            ("networking.k8s.io", "servicecidrs")}
    assert [rule["nonResourceURLs"] for rule in cluster_wide if "nonResourceURLs" in rule] == [["/version"]]
    istiod_namespace = permissions.rules("istio-system")
    assert all(set(rule["verbs"]) <= READ for rule in istiod_namespace), istiod_namespace
    assert permissions.allowed("get", "", "configmaps", "istio-system", name="istio")
    assert not permissions.allowed("get", "", "configmaps", "istio-system", name="other")
    assert not permissions.allowed("get", "", "secrets", "istio-system", name="istio-ca-secret")


def test_no_rule_uses_a_wildcard():
    for name in ("job.yaml", "mesh-wide.yaml", "egress-gateway.yaml"):
        for document in documents(name):
            for rule in document.get("rules", []):
                assert not any("*" in rule.get(key, []) for key in ("verbs", "resources", "apiGroups",
                                                                    "nonResourceURLs")), (name, rule)


def test_the_gateway_opt_in_only_finds_the_gateway_and_execs_in_its_namespace():
    job, with_opt_in = Permissions("job.yaml"), Permissions("job.yaml", "egress-gateway.yaml")
    assert not job.allowed("create", "", "pods/exec", "istio-system")
    assert with_opt_in.allowed("create", "", "pods/exec", "istio-system")
    assert not with_opt_in.allowed("create", "", "pods/exec", "default")
    assert with_opt_in.allowed("list", "", "services", None) and not with_opt_in.allowed("get", "", "secrets", None)
    # egress-gateway-authz's AuthorizationPolicy and tls-origination-mutual's client Secret, in the
    # gateway's namespace only.
    for verb in ("create", "get", "delete"):
        for group, resource in (("security.istio.io", "authorizationpolicies"), ("", "secrets")):
            assert with_opt_in.allowed(verb, group, resource, "istio-system")
            assert not with_opt_in.allowed(verb, group, resource, "default")
            assert not job.allowed(verb, group, resource, "istio-system")


def test_by_default_the_job_may_not_change_any_mesh_config_and_the_opt_in_only_the_istio_one():
    job, with_opt_in = Permissions("job.yaml"), Permissions("job.yaml", "mesh-wide.yaml")
    assert not job.allowed("patch", "", "configmaps", "istio-system", name="istio")
    assert with_opt_in.allowed("patch", "", "configmaps", "istio-system", name="istio")
    assert not with_opt_in.allowed("patch", "", "configmaps", "istio-system", name="istio-sidecar-injector")
    role = next(d for d in documents("mesh-wide.yaml") if d["kind"] == "Role")
    assert role["metadata"]["namespace"] == "istio-system"
    assert role["rules"][0] == {"apiGroups": [""], "resources": ["configmaps"], "resourceNames": ["istio"],
                                "verbs": ["get", "patch", "update"]}
    assert with_opt_in.allowed("update", "coordination.k8s.io", "leases", "istio-system",
                               name="egress-conformance-istio")
    assert not with_opt_in.allowed("update", "coordination.k8s.io", "leases", "istio-system", name="other")


def test_the_permission_checker_sees_a_grant_and_its_limits():
    permissions = Permissions("job.yaml")
    assert permissions.allowed("list", "apps", "deployments", "any-namespace")
    assert not permissions.allowed("create", "apps", "deployments", "any-namespace")
    assert not permissions.allowed("get", "", "pods", "kube-system")
