"""deploy/Containerfile read with Docker's own parser (the `dockerfile` package): pinned base
images, and its first stage really builds the suite's wheel from exactly what it copies."""

import pathlib
import re
import shutil
import subprocess
import sys
import zipfile

import dockerfile

ROOT = pathlib.Path(__file__).resolve().parents[2]
INSTRUCTIONS = dockerfile.parse_file(str(ROOT / "deploy" / "Containerfile"))


def test_every_base_image_is_pinned_to_an_exact_version():
    bases = [i.value[0] for i in INSTRUCTIONS if i.cmd == "FROM"]
    assert bases and all(re.fullmatch(r"[\w./-]+:\d+\.\d+\.\d+[\w.-]*(@sha256:[0-9a-f]{64})?", b) for b in bases), bases


def test_the_first_stage_builds_the_wheel_from_only_what_it_copies(tmp_path):
    first_stage = INSTRUCTIONS[:[i.cmd for i in INSTRUCTIONS].index("FROM", 1)]
    context = tmp_path / "context"
    context.mkdir()
    for copy in (i for i in first_stage if i.cmd == "COPY"):
        *sources, _ = copy.value
        for source in sources:
            origin = ROOT / source
            if origin.is_dir():
                shutil.copytree(origin, context / source, ignore=shutil.ignore_patterns("__pycache__"))
            else:
                shutil.copy(origin, context / source)
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path), str(context)],
                   check=True, capture_output=True)
    wheel, = tmp_path.glob("egress_conformance-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    assert {"egress_conformance/suites/core/test_core.py", "egress_conformance/fixtures/mesh.py",
            "egress_conformance/cli.py", "egress_conformance/scenarios/core_egress/httpbin-service-entry.yaml"} <= names


def test_the_image_runs_the_existing_provider_as_a_non_root_user():
    commands = {i.cmd: i.value for i in INSTRUCTIONS}
    assert commands["USER"] != ("root",) and commands["ENTRYPOINT"] == ("egress-conformance",)
    assert commands["CMD"][:3] == ("run", "--provider", "existing")
