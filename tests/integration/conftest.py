"""Integration tests drive the real local mesh; they need root and a finished set-up.

Outside CI, a test that lacks them is skipped with the reason. Under CI (CI=true),
where the project's own set-up provides both, it fails with the reason instead:
a CI run must never turn green without having run them.
"""

import os
import pathlib
import signal
import subprocess
import sys
import time

import pytest

from egress_conformance import installed
from tests.integration import traces

ROOT = pathlib.Path(__file__).resolve().parents[2]


def _missing_prerequisite() -> str | None:
    if os.geteuid() != 0:
        return "the local mesh needs root; run the project's tests as root"
    if installed.load() is None:
        return "the local mesh's components are not installed: run ci/setup"
    return None


def _under_ci() -> bool:
    return os.environ.get("CI", "").lower() == "true"


def pytest_collection_modifyitems(config, items):
    reason = _missing_prerequisite()
    if reason and not _under_ci():
        for item in items:
            if "integration" in str(item.fspath):
                item.add_marker(pytest.mark.skip(reason=reason))


@pytest.fixture(autouse=True)
def prerequisites():
    """Under CI, a missing prerequisite fails the test (outside CI it was skipped at collection)."""
    reason = _missing_prerequisite()
    if reason:
        pytest.fail(f"{reason} (CI=true: the project's own set-up provides this, so CI fails without it)",
                    pytrace=False)


@pytest.fixture(autouse=True)
def own_journals(tmp_path, monkeypatch):
    """Each test's runs journal into a folder of its own, never the user's."""
    monkeypatch.setenv("EGRESS_CONFORMANCE_STATE", str(tmp_path / "state"))


@pytest.fixture
def clean_machine():
    """The test starts and must end with no trace of any local-mesh run."""
    assert traces.leftovers() == [], "a previous run left traces; fix that first"
    yield
    assert traces.leftovers() == []


SUITE = [sys.executable, "-m", "pytest", "egress_conformance/suites"]
"""The suite through pytest directly."""
CLI_RUN = [sys.executable, "-m", "egress_conformance.cli", "run"]
"""The suite through `egress-conformance run`."""


class SuiteRun:
    """The core suite running as a separate process (pytest, or ``command``), its output collected line by line."""

    def __init__(self, *extra: str, command: list[str] = SUITE):
        self.lines: list[str] = []
        # Unbuffered: a step's line must reach us when the step happens, not with a later block
        # of output (a signal sent "at" a step that was read late lands after the run's end).
        self.process = subprocess.Popen(
            [*command, *extra],
            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
            # A job started in the background (nohup, `&`, some CI runners) inherits SIGINT
            # ignored, and Python then never turns Ctrl-C into KeyboardInterrupt: give the run
            # the disposition a user's terminal gives it, or the Ctrl-C test tests nothing.
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
        )

    def wait_for_line(self, text: str, timeout: float = 180.0) -> None:
        """Read output until a line containing ``text`` appears (the run reached that step)."""
        deadline = time.monotonic() + timeout
        for line in self.process.stdout:
            self.lines.append(line.rstrip())
            if text in line:
                return
            if time.monotonic() > deadline:
                break
        raise AssertionError(f"the suite never printed {text!r}; output:\n" + "\n".join(self.lines[-30:]))

    def finish(self, timeout: float = 180.0) -> int:
        """Read the rest of the output and return the exit code."""
        rest, _ = self.process.communicate(timeout=timeout)
        self.lines += rest.splitlines()
        return self.process.returncode

    @property
    def output(self) -> str:
        return "\n".join(self.lines)


@pytest.fixture
def suite_run():
    """Start the core suite in a subprocess; killed at teardown if still running."""
    runs = []

    def start(*extra: str, command: list[str] = SUITE) -> SuiteRun:
        run = SuiteRun(*extra, command=command)
        runs.append(run)
        return run

    yield start
    for run in runs:
        if run.process.poll() is None:
            run.process.kill()
            run.process.wait()
