"""ci/templates are linted by real tools: actionlint (built by ci/setup) for the GitHub
workflow, check-jsonschema's vendored GitLab CI schema for the GitLab job. Each check is
shown to reject a broken copy, so a linter that accepts anything would fail here."""

import pathlib
import subprocess
import sys

import pytest

from egress_conformance.install import cache, components

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
