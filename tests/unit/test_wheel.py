"""The built wheel carries the whole suite inside the egress_conformance package and none of its
test bed, puts nothing else at the top of site-packages, and `egress-conformance run` finds the
suite from there."""

import pathlib
import shutil
import site
import subprocess
import sys
import zipfile

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> pathlib.Path:
    # Built from a copy: setuptools writes build/ and *.egg-info beside the sources.
    scratch = tmp_path_factory.mktemp("wheel")
    source = scratch / "source"
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(".git", ".venv", "results", "build", "__pycache__"))
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(scratch), str(source)],
                   check=True, capture_output=True)
    built, = scratch.glob("egress_conformance-*.whl")
    return built


def test_the_wheel_carries_suites_fixtures_scenarios_and_their_manifests_inside_the_package(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    for expected in ("suites/core/test_core.py", "suites/extended/test_extended.py", "fixtures/mesh.py",
                     "scenarios/core_egress/__init__.py", "scenarios/core_egress/httpbin-service-entry.yaml",
                     "scenarios/allow_list/allow-list.yaml", "run/suite.py", "providers/local/httpbin_server.py",
                     "reports/templates/report.html.j2", "reports/templates/diff.html.j2",
                     "reports/templates/summary.html.j2", "reports/templates/style.css.j2"):
        assert f"egress_conformance/{expected}" in names, expected
    assert {name.split("/")[0] for name in names} == {"egress_conformance", wheel.name.split("-py3")[0] + ".dist-info"}


def test_the_wheel_carries_none_of_the_test_bed(wheel):
    """The node, the component builders and the image builders are the project's test bed
    (testbed/), not the suite's: the wheel a user installs holds no module of theirs."""
    names = zipfile.ZipFile(wheel).namelist()
    modules = [name for name in names if name.endswith(".py")]
    assert modules and not [name for name in modules if set(name.split("/")[1:-1]) & {"node", "install", "images"}
                            or name.split("/")[0] == "egress_testbed"]
    assert not [name for name in names if "egress_testbed" in name or name.startswith("testbed/")]


def test_installed_into_a_clean_environment_only_the_package_and_its_command_land_and_the_suite_runs_from_there(
        wheel, tmp_path):
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    subprocess.run([sys.executable, "-m", "pip", "--python", str(venv / "bin" / "python"), "install", "--no-deps",
                    "-q", str(wheel)], check=True, capture_output=True)
    installed, = venv.glob("lib/python3*/site-packages")
    assert sorted(p.name for p in installed.iterdir() if not p.name.endswith(".dist-info")) == ["egress_conformance"]
    assert (venv / "bin" / "egress-conformance").exists()

    # The dependencies come from this environment's site-packages (a path entry: its .pth files,
    # among them this checkout's editable finder, are not read), the suite from the wheel.
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text("apiVersion: v1\nkind: Config\nclusters: []\ncontexts: []\nusers: []\n")
    run = subprocess.run(
        [str(venv / "bin" / "egress-conformance"), "run", "--provider", "existing", "--kubeconfig", str(kubeconfig),
         "--profile", "core", "--profile", "extended", "--report-dir", str(tmp_path / "report"), "--", "--collect-only"],
        capture_output=True, text=True, cwd=tmp_path, timeout=120,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": ":".join(site.getsitepackages())})
    assert f"rootdir: {installed / 'egress_conformance'}" in run.stdout, run.stdout + run.stderr
    assert "test_core[core-egress]" in run.stdout and "test_extended[allow-list]" in run.stdout, run.stdout
