"""deploy/ checked against the Kubernetes API's structure as the `kubernetes` client's
models describe it: every field must exist in its model (a typo fails), required fields
must be there (the models' own validation), and the RBAC is what the README promises."""

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
          ("batch/v1", "Job"): "V1Job"}
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


@pytest.mark.parametrize("name", ["job.yaml", "mesh-wide.yaml"])
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


def test_the_job_runs_the_existing_provider_in_cluster_and_keeps_its_report_for_kubectl_cp():
    objects = {d["kind"]: d for d in documents("job.yaml")}
    pod = objects["Job"]["spec"]["template"]["spec"]
    assert pod["serviceAccountName"] == objects["ServiceAccount"]["metadata"]["name"]
    command = " ".join(pod["containers"][0]["args"])
    assert "--provider existing" in command and "--kubeconfig" not in command
    assert "--allow-mesh-wide-changes" not in command
    assert {m["mountPath"] for m in pod["containers"][0]["volumeMounts"]} == {"/reports"}


def test_by_default_the_job_may_not_change_any_mesh_config_and_the_opt_in_only_the_istio_one():
    rules = next(d for d in documents("job.yaml") if d["kind"] == "ClusterRole")["rules"]
    assert not any("configmaps" in r["resources"] and {"patch", "update"} & set(r["verbs"]) for r in rules)
    assert not any("*" in r["verbs"] or "*" in r["resources"] for r in rules)
    role = next(d for d in documents("mesh-wide.yaml") if d["kind"] == "Role")
    assert role["metadata"]["namespace"] == "istio-system"
    assert role["rules"] == [{"apiGroups": [""], "resources": ["configmaps"], "resourceNames": ["istio"],
                              "verbs": ["get", "patch", "update"]}]
