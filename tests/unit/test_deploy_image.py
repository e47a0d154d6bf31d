"""deploy/Containerfile read with Docker's own parser (the `dockerfile` package): pinned base
images, and its first stage really builds the suite's wheel from exactly what it copies; and
the image assembled here for the node (testbed/egress_testbed/images/suite.py) installs the
same wheel, from the same sources, with the same entrypoint, command, user and state folder."""

import pathlib
import re
import shutil
import subprocess
import sys
import zipfile

import dockerfile

from egress_testbed.images import suite

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


def test_the_node_image_builds_the_wheel_from_what_the_containerfile_copies():
    first_stage = INSTRUCTIONS[:[i.cmd for i in INSTRUCTIONS].index("FROM", 1)]
    copied = [source for i in first_stage if i.cmd == "COPY" for source in i.value[:-1]]
    assert sorted(copied) == sorted(suite.SOURCES)
    wheel_command = next(i.value[0] for i in first_stage if i.cmd == "RUN")
    assert "pip wheel --no-deps" in wheel_command


def test_the_node_image_has_the_containerfiles_entrypoint_command_user_and_state():
    commands = {i.cmd: i.value for i in INSTRUCTIONS}
    assert list(commands["ENTRYPOINT"]) == suite.CONFIG["Entrypoint"]
    assert list(commands["CMD"]) == suite.CONFIG["Cmd"]
    assert commands["USER"] == (suite.CONFIG["User"],) and f"--uid {suite.UID}" in " ".join(commands["RUN"])
    assert commands["WORKDIR"] == (suite.HOME,)
    env = dict(pair.split("=", 1) for pair in suite.CONFIG["Env"])  # type: ignore[union-attr]
    assert dict(zip(commands["ENV"][::2], commands["ENV"][1::2], strict=True)).items() <= env.items()
    python_line = next(i.value[0] for i in INSTRUCTIONS if i.cmd == "FROM").split(":")[1]
    assert python_line.startswith(suite.PYTHON + ".") and "bookworm" in python_line


def test_the_node_image_runs_the_console_script_the_wheel_declares(tmp_path):
    wheel = tmp_path / "egress_conformance-0.1.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        archive.writestr("egress_conformance-0.1.0.dist-info/entry_points.txt",
                         "[console_scripts]\negress-conformance = egress_conformance.cli:main\n")
    assert suite.console_script(wheel) == "egress_conformance.cli:main"
    declared = (ROOT / "pyproject.toml").read_text()
    assert f'{suite.COMMAND} = "egress_conformance.cli:main"' in declared
