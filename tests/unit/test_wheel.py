"""The built wheel carries the whole suite, so `egress-conformance run` works where it is installed."""

import pathlib
import shutil
import subprocess
import sys
import zipfile

ROOT = pathlib.Path(__file__).resolve().parents[2]


def test_the_wheel_carries_suites_fixtures_scenarios_and_their_manifests(tmp_path):
    # Built from a copy: setuptools writes build/ and *.egg-info beside the sources.
    source = tmp_path / "source"
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(".git", ".venv", "results", "build", "__pycache__"))
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path), str(source)],
                   check=True, capture_output=True)
    wheel, = tmp_path.glob("egress_conformance-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for expected in ("suites/core/test_core.py", "suites/extended/test_extended.py", "fixtures/mesh.py",
                     "scenarios/core_egress/__init__.py", "scenarios/core_egress/httpbin-service-entry.yaml",
                     "egress_conformance/suite.py", "egress_conformance/providers/local/httpbin_server.py"):
        assert expected in names, expected
    assert not any(name.startswith("tests/") for name in names)
