"""ci/templates are linted by real tools: actionlint (built by ci/setup) for the GitHub
workflow, check-jsonschema's vendored GitLab CI schema for the GitLab job. Each check is
shown to reject a broken copy, so a linter that accepts anything would fail here."""

import pathlib
import subprocess
import sys

import pytest

from egress_testbed.install import cache, components

TEMPLATES = pathlib.Path(__file__).parents[2] / "ci" / "templates"


def actionlint(path: pathlib.Path) -> subprocess.CompletedProcess:
    binary = cache.entry("actionlint", components.ACTIONLINT[1]) / "bin" / "actionlint"
    assert binary.exists(), f"{binary} missing: run ci/setup"
    return subprocess.run([str(binary), "-no-color", str(path)], capture_output=True, text=True, timeout=120)


def gitlab_schema(path: pathlib.Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.gitlab-ci", str(path)],
                          capture_output=True, text=True, timeout=120)


def test_the_github_workflow_passes_actionlint():
    result = actionlint(TEMPLATES / "github-actions.yml")
    assert result.returncode == 0, result.stdout + result.stderr


def test_actionlint_rejects_a_workflow_using_an_undefined_matrix_key(tmp_path):
    broken = tmp_path / "broken.yml"
    broken.write_text((TEMPLATES / "github-actions.yml").read_text().replace("matrix.node_image", "matrix.nodeimage"))
    result = actionlint(broken)
    assert result.returncode == 1 and "nodeimage" in result.stdout


def test_the_gitlab_job_matches_gitlabs_ci_schema():
    result = gitlab_schema(TEMPLATES / "gitlab-ci.yml")
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_gitlab_schema_rejects_a_job_with_an_unknown_artifacts_condition(tmp_path):
    broken = tmp_path / "broken.yml"
    broken.write_text((TEMPLATES / "gitlab-ci.yml").read_text().replace("when: always", "when: sometimes"))
    assert gitlab_schema(broken).returncode == 1


@pytest.mark.parametrize("template", ["github-actions.yml", "gitlab-ci.yml"])
def test_each_template_tests_more_than_one_istio_version(template):
    import yaml
    document = yaml.safe_load((TEMPLATES / template).read_text())
    matrix = (document["jobs"]["conformance"]["strategy"]["matrix"]["include"] if template.startswith("github")
              else document["egress-conformance"]["parallel"]["matrix"])
    versions = {entry.get("istio") or entry.get("ISTIO_VERSION") for entry in matrix}
    assert len(versions) >= 2


def load(template: str) -> dict:
    import yaml
    return yaml.safe_load((TEMPLATES / template).read_text())


def test_the_node_images_are_those_the_kind_provider_pins_for_each_istio_line():
    from egress_conformance.providers.kind import commands
    github = [(e["istio"], e["node_image"]) for e in load("github-actions.yml")["jobs"]["conformance"]["strategy"]
              ["matrix"]["include"]]
    gitlab = [(e["ISTIO_VERSION"], e["NODE_IMAGE"]) for e in load("gitlab-ci.yml")["egress-conformance"]["parallel"]
              ["matrix"]]
    for istio, image in github + gitlab:
        assert image == commands.node_image(istio), (istio, image)


DIND_KIND_CONFIG = {
    "kind": "Cluster",
    "apiVersion": "kind.x-k8s.io/v1alpha4",
    "networking": {"apiServerAddress": "0.0.0.0", "apiServerPort": 6443},
    "kubeadmConfigPatches": ["kind: ClusterConfiguration\napiServer:\n  certSANs:\n    - docker\n"],
}
"""kind inside Docker-in-Docker: the API server listens on every address of the dind host (kind's
default, 127.0.0.1, is that container's own loopback) and its certificate names `docker`, the
host name the job reaches the dind service by."""


def test_the_docker_in_docker_job_gives_kind_a_reachable_api_server_whose_certificate_names_docker():
    import re
    import textwrap

    import yaml
    script = load("gitlab-ci.yml")["egress-conformance"]["script"]
    [written] = [line for line in script if "kind-dind.yaml <<'EOF'" in line]
    body = textwrap.dedent(written.split("<<'EOF'\n", 1)[1].rsplit("EOF", 1)[0])
    config = yaml.safe_load(body)
    assert config == DIND_KIND_CONFIG
    patch = yaml.safe_load(config["kubeadmConfigPatches"][0])
    assert patch == {"kind": "ClusterConfiguration", "apiServer": {"certSANs": ["docker"]}}
    [create] = [line for line in script if line.startswith("kind create cluster")]
    assert "--config kind-dind.yaml" in create
    # The kubeconfig's server, as kind writes it for that address (and as older kinds did), is pointed at `docker`.
    [rewrite] = [line for line in script if line.startswith("sed -i -E")]
    pattern, replacement = re.fullmatch(r"sed -i -E 's#(.+)#(.+)#' \"\$HOME/\.kube/config\"", rewrite).groups()
    for written_by_kind in ("https://0.0.0.0:6443", "https://127.0.0.1:6443"):
        assert re.sub(pattern, replacement, f"    server: {written_by_kind}\n") == "    server: https://docker:6443\n"


def test_each_template_puts_the_markdown_summary_on_the_job_page_also_on_failure():
    steps = load("github-actions.yml")["jobs"]["conformance"]["steps"]
    [summary] = [s for s in steps if "GITHUB_STEP_SUMMARY" in s.get("run", "")]
    assert summary["if"] == "always()" and "--format markdown" in summary["run"]
    assert steps.index(summary) > next(i for i, s in enumerate(steps) if s.get("name") == "Run the suite")
    job = load("gitlab-ci.yml")["egress-conformance"]
    [made] = [line for line in job["after_script"] if "--format markdown" in line]
    assert '> "reports/istio-${ISTIO_VERSION}/summary.md"' in made
    assert job["artifacts"]["when"] == "always" and "reports/" in job["artifacts"]["paths"]
