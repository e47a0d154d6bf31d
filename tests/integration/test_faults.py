"""Faults give one clear line that says what to do, and still leave nothing behind."""

import os
import pathlib
import signal
import socket
import subprocess
import sys
import time
import xml.etree.ElementTree as ET

import pytest
import yaml

from egress_conformance import providers
from egress_conformance.changes import cleanup, journal, objects
from egress_conformance.cluster import kube
from egress_conformance.framework.handle import EgressTest
from egress_conformance.providers.base import ProviderError
from egress_conformance.providers.local import processes, proctable
from egress_conformance.providers.local.errors import ComponentCrashed
from egress_conformance.run import options
from egress_conformance.timing import Timing
from egress_conformance.verdicts import faults
from egress_conformance.verdicts.observe import Request

LOCAL = options.defaults()
"""A default run's options: the local mesh as `egress-conformance run` starts it."""


def test_a_crashed_istiod_is_named_with_its_log(clean_machine):
    undo = cleanup.Stack()
    try:
        provider = providers.create("local", LOCAL.provider_options, LOCAL.targets)
        provider.start(undo, journal.Journal())
        provider.istiod.process.popen.kill()
        provider.istiod.process.popen.wait()
        t = EgressTest(provider, undo, Timing(), None)
        with pytest.raises(ProviderError) as err:
            t.client.probe(Request("http://httpbin.org/get"))
    finally:
        undo.close()
    message = str(err.value)
    assert message.startswith("control plane unavailable: istiod exited with code -9") and "istiod.log" in message
    assert "\n" not in message


RESTRICTED = "mesh wide outbound traffic policy is set to 'REGISTRY_ONLY'"
# The component killed once the run has restricted the mesh, how to recognise it among the run's
# processes, and the fault the run must report.
KILLED = {
    "istiod": (lambda argv0, cmd: argv0 == "pilot-discovery", faults.CONTROL_PLANE),
    "envoy": (lambda argv0, cmd: argv0 == "envoy", faults.SIDECAR),
    "external-target": (lambda argv0, cmd: "httpbin_server" in cmd, faults.TARGET),
}


@pytest.mark.parametrize("component", KILLED)
def test_a_component_killed_mid_run_is_an_infrastructure_error(clean_machine, suite_run, tmp_path, component):
    run = suite_run(f"--report-dir={tmp_path}", "--run-test=core-egress")
    run.wait_for_line(RESTRICTED)
    matches, fault = KILLED[component]
    victims = [pid for pid, cmd in proctable.marked().items()
               if matches(pathlib.Path(cmd.split(" ")[0]).name, cmd)]
    assert len(victims) == 1, f"expected one {component} of the run: {proctable.marked()}"
    os.kill(victims[0], 9)
    code = run.finish(timeout=180)
    document = yaml.safe_load((tmp_path / "report.yaml").read_text())
    [test] = document["profiles"][0]["tests"]
    assert (code, document["result"], test["result"]) == (5, "infrastructure-error", "infrastructure-error"), (
        run.output[-3000:])
    assert test["reason"].startswith(fault) and "\n" not in test["reason"]
    assert "Traceback" not in run.output and f"infrastructure-error: {fault}" in run.output
    junit = ET.parse(tmp_path / "junit.xml").getroot().find("testsuite")
    assert (junit.get("errors"), junit.get("failures")) == ("1", "0")
    # clean_machine then checks that the mesh was restored and nothing is left.


def test_an_invalid_service_entry_is_refused_in_one_line_and_changes_nothing(clean_machine, tmp_path, monkeypatch):
    monkeypatch.setenv("EGRESS_CONFORMANCE_STATE", str(tmp_path / "state"))
    undo = cleanup.Stack()
    run_journal = journal.Journal()
    invalid = {"apiVersion": "networking.istio.io/v1", "kind": "ServiceEntry",
               "metadata": {"name": "broken", "namespace": "default"},
               "spec": {"hosts": ["httpbin.org"], "resolution": "SOMETIMES", "ports": [{"number": 80}]}}
    try:
        provider = providers.create("local", LOCAL.provider_options, LOCAL.targets)
        provider.start(undo, run_journal)
        with pytest.raises(objects.InvalidObject) as err:
            objects.create(provider.api(), invalid, undo, run_journal)
        assert kube.get(provider.api(), invalid) is None and journal.pending() == []
    finally:
        undo.close()
    message = str(err.value)
    assert message.startswith("ServiceEntry broken is invalid, the API refused it: ") and "\n" not in message
    assert message.endswith("fix the manifest")


def test_a_port_in_use_is_reported_as_such(tmp_path):
    undo = cleanup.Stack()
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        server = processes.start("http-server", [sys.executable, "-m", "http.server", "--bind", "127.0.0.1",
                                                 str(port)], log_dir=tmp_path, undo=undo)
        server.popen.wait(30)
        with pytest.raises(ComponentCrashed, match="could not bind its port \\(address already in use\\)"):
            server.ensure_running()
    undo.close()


def test_without_root_the_local_mesh_says_so():
    code = ("from egress_conformance import providers\nfrom egress_conformance.changes import cleanup, journal\n"
            "from egress_conformance.run import options\nlocal = options.defaults()\n"
            "try:\n    providers.create('local', local.provider_options, local.targets).start(cleanup.Stack(), "
            "journal.Journal())\n"
            "except Exception as err:\n    print(err)\n")
    result = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", sys.executable, "-c", code],
                            capture_output=True, text=True, cwd=os.getcwd())
    assert result.stdout.startswith("the local mesh needs root"), result.stdout + result.stderr


def _install(env_changes: dict, tmp_path) -> subprocess.CompletedProcess:
    env = dict(os.environ, EGRESS_CONFORMANCE_CACHE=str(tmp_path / "cache"), **env_changes)
    return subprocess.run([sys.executable, "-m", "egress_testbed.install"], capture_output=True, text=True,
                          env=env, timeout=300)


def test_set_up_without_go_says_how_to_get_it(tmp_path):
    path = ":".join(p for p in os.environ["PATH"].split(":") if not os.path.exists(os.path.join(p, "go")))
    result = _install({"PATH": path}, tmp_path)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1].startswith("set-up failed: no Go toolchain on PATH: install Go")


def test_set_up_with_an_unreachable_module_proxy_names_it(tmp_path):
    result = _install({"GOPROXY": "http://127.0.0.1:9", "GOMODCACHE": str(tmp_path / "gomod"),
                       "GOFLAGS": "-mod=mod"}, tmp_path)
    subprocess.run(["chmod", "-R", "u+w", str(tmp_path)])
    last = result.stderr.strip().splitlines()[-1]
    assert result.returncode == 1
    assert "GOPROXY=http://127.0.0.1:9" in last and "check that the Go module proxy is reachable" in last


def test_a_second_set_up_rebuilds_nothing():
    result = subprocess.run([sys.executable, "-m", "egress_testbed.install"], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    for component in ("kubernetes", "istio", "envoy"):
        assert f"{component} " in result.stderr and "cached in" in result.stderr
    assert "compiling" not in result.stderr and "installing" not in result.stderr


def test_an_istio_commit_whose_dependencies_are_not_served_fails_in_one_line(tmp_path):
    # The release-1.30 commit needs an istio.io/api version the module proxy refuses.
    result = subprocess.run(
        [sys.executable, "-m", "egress_testbed.install", "--istio", "v0.0.0-20260826214018-9739e10eb9d7"],
        capture_output=True, text=True, timeout=300,
        env=dict(os.environ, EGRESS_CONFORMANCE_CACHE=str(tmp_path / "cache")))
    last = result.stderr.strip().splitlines()[-1]
    assert result.returncode == 1
    assert last.startswith("set-up failed: go mod tidy for istio failed") and "Go module proxy" in last


def test_without_root_run_fails_at_once_in_one_line_before_any_build(tmp_path):
    result = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", sys.executable, "-m",
                             "egress_conformance.cli", "run"], capture_output=True, text=True, cwd=os.getcwd(), timeout=60,
                            env=dict(os.environ, EGRESS_CONFORMANCE_CACHE=str(tmp_path / "empty-cache")))
    assert result.returncode == 4, result.stderr
    assert result.stderr.count("\n") == 1 and "the local mesh needs root" in result.stderr
    assert not (tmp_path / "empty-cache").exists(), "nothing may be built before the prerequisites are checked"


def test_an_api_server_restarted_mid_run_is_api_unavailable_and_the_mesh_is_restored(clean_machine, suite_run,
                                                                                     tmp_path):
    run = suite_run(f"--report-dir={tmp_path}", "--run-test=core-egress")
    run.wait_for_line(RESTRICTED)
    # Between two observations of the run (paused meanwhile), the API server goes down and comes back.
    run.process.send_signal(signal.SIGSTOP)
    try:
        [pid] = [p for p, cmd in proctable.marked().items() if pathlib.Path(cmd.split(" ")[0]).name == "kube-apiserver"]
        restarted = _restart(pid, tmp_path / "kube-apiserver-restarted.log")
        [kubeconfig] = pathlib.Path("/tmp").glob("egress-conformance-*/kubeconfig")
        _wait_until_serving(kube.connect(kubeconfig))
    finally:
        run.process.send_signal(signal.SIGCONT)
    code = run.finish(timeout=180)
    restarted.wait(30)  # the run's own teardown stops it: it carries the run's marker
    document = yaml.safe_load((tmp_path / "report.yaml").read_text())
    [test] = document["profiles"][0]["tests"]
    assert (code, test["result"]) == (5, "infrastructure-error"), run.output[-3000:]
    assert test["reason"].startswith(f"{faults.API}: kube-apiserver exited"), test["reason"]
    assert "mesh torn down" in run.output and "Traceback" not in run.output
    # clean_machine: the mesh config was restored (no journal left) and no process is left.


def test_a_failed_expectation_stays_failed_when_the_clean_up_then_loses_the_api(clean_machine, suite_run, tmp_path):
    # 1000 agreeing observations cannot happen within 5 s: the baseline fails for real, then the API server dies.
    run = suite_run(f"--report-dir={tmp_path}", "--run-test=core-egress", "--consecutive=1000",
                    "--convergence-timeout=5")
    run.wait_for_line("FAIL 0 baseline")
    [pid] = [p for p, cmd in proctable.marked().items() if pathlib.Path(cmd.split(" ")[0]).name == "kube-apiserver"]
    os.kill(pid, signal.SIGKILL)
    code = run.finish(timeout=180)
    document = yaml.safe_load((tmp_path / "report.yaml").read_text())
    [test] = document["profiles"][0]["tests"]
    assert (code, document["result"], test["result"]) == (1, "failure", "failed"), run.output[-3000:]
    assert "0 baseline" in test["reason"] and f"; clean-up then: {faults.API}" in test["reason"], test["reason"]
    # Its evidence is there all the same (what the dead API could not give is a line in not-collected.txt).
    assert (pathlib.Path(test["evidence"]) / "config_dump.json").stat().st_size > 0
    assert "mesh torn down" in run.output
    # clean_machine: no process or journal is left.


def _restart(pid: int, log: pathlib.Path) -> subprocess.Popen:
    """Kill a process and start it again as it was: same argv, environment and directory."""
    proc = pathlib.Path(f"/proc/{pid}")
    argv = [a.decode() for a in (proc / "cmdline").read_bytes().split(b"\0") if a]
    env = dict(e.decode().split("=", 1) for e in (proc / "environ").read_bytes().split(b"\0") if b"=" in e)
    cwd = os.readlink(proc / "cwd")
    proctable.kill_until_gone(lambda: [pid] if proc.exists() and not proctable.is_zombie(pid) else [],
                              timeout=30, what="kube-apiserver")
    with open(log, "ab") as out:
        return subprocess.Popen(argv, env=env, cwd=cwd, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)


def _wait_until_serving(api, timeout: float = 90.0) -> None:
    from kubernetes import client
    deadline = time.monotonic() + timeout
    while True:
        try:
            client.VersionApi(api).get_code(_request_timeout=2)
            return
        except Exception as err:
            if time.monotonic() > deadline:
                raise AssertionError(f"the restarted API server did not serve within {timeout:.0f}s: {err}") from None
            time.sleep(0.2)
