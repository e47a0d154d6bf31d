"""Bad input to the command line: one line on stderr that says what to do, exit 1 or 2."""

import dataclasses

import pytest

from egress_conformance import cli, providers
from egress_conformance.reports import report
from egress_conformance.reports.model import Result, RunResult, TestResult


def run(capsys, *argv):
    code = cli.main(list(argv))
    err = capsys.readouterr().err.strip()
    return code, err


def test_a_missing_report_says_what_to_pass(capsys, tmp_path):
    code, err = run(capsys, "report", str(tmp_path / "nope.yaml"))
    assert code == 1 and err.count("\n") == 0
    assert "pass a report.yaml/report.json or its run folder" in err


def test_a_file_that_is_not_a_report_is_named(capsys, tmp_path):
    path = tmp_path / "pod.yaml"
    path.write_text("kind: Pod\n")
    code, err = run(capsys, "report", str(path))
    assert code == 1 and "is not a conformance report" in err


def test_policy_without_a_kubeconfig_asks_for_one(capsys, tmp_path):
    code, err = run(capsys, "policy", "restricted", f"--kubeconfig={tmp_path / 'missing'}")
    assert code == 1 and err.endswith("pass --kubeconfig FILE")


def test_an_istio_version_the_local_mesh_does_not_have_is_refused(capsys):
    code, err = run(capsys, "run", "--istio-version", "1.20.0")
    assert code == 2 and "unknown Istio version '1.20.0': use 1.30, 1.31 or an istio.io/istio pseudo-version" in err


def test_an_unknown_policy_word_lists_the_choices(capsys):
    with pytest.raises(SystemExit) as exit_:
        cli.main(["policy", "deny"])
    assert exit_.value.code == 2
    assert "choose from 'allowed', 'restricted'" in capsys.readouterr().err


def test_a_truncated_journal_is_named_and_kept(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("EGRESS_CONFORMANCE_STATE", str(tmp_path))
    (tmp_path / "journals").mkdir()
    truncated = tmp_path / "journals" / "20260101-000000-abcdef.json"
    truncated.write_text('{"cluster": {"provider": "local"}, "entries": [{"kind": "mesh-con')
    code, err = run(capsys, "restore", "--no-sweep")
    assert code == 1 and err.count("\n") == 0 and "is corrupt or truncated" in err and truncated.exists()


def test_a_kubeconfig_that_points_nowhere_is_one_line(capsys, tmp_path):
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text("apiVersion: v1\nkind: Config\nclusters: [{name: c, cluster: {server: 'https://127.0.0.1:9'}}]\n"
                          "users: [{name: u, user: {token: t}}]\ncontexts: [{name: x, context: {cluster: c, user: u}}]\n"
                          "current-context: x\n")
    code, err = run(capsys, "policy", "restricted", f"--kubeconfig={kubeconfig}")
    assert code == 1 and err.count("\n") == 0 and "127.0.0.1:9" in err


def test_an_unknown_policy_value_in_the_mesh_config_is_a_usage_error(capsys, tmp_path):
    mesh = tmp_path / "mesh.yaml"
    mesh.write_text("outboundTrafficPolicy:\n  mode: DENY_ALL\n")
    code, err = run(capsys, "run", f"--local-mesh-config={mesh}")
    assert code == 2 and err.count("\n") == 0 and "unknown outboundTrafficPolicy.mode 'DENY_ALL'" in err


def test_a_truncated_report_is_not_a_report(capsys, tmp_path):
    path = tmp_path / "report.yaml"
    path.write_text("apiVersion: egress-conformance.dev/v1alpha1\nkind: ConformanceReport\ndate: x\n")
    code, err = run(capsys, "report", str(path))
    assert code == 1 and err.count("\n") == 0 and "is not a conformance report" in err


def a_report(path, *results, stored=None):
    """A saved report of one test per result; its stored result is the one they give unless ``stored``."""
    tests = [TestResult(f"t{index}", "", "core", "mesh-wide", (), (), result) for index, result in enumerate(results)]
    document = report.build(date="x", mesh=None, not_run_reason="x", tests=tests, evidence_dir="e")
    if stored is not None:
        document = dataclasses.replace(document, result=stored)
    path.write_text(report.dump_yaml(document))
    return path


@pytest.mark.parametrize("results, code", [
    ([Result.PASSED], 0), ([Result.PASSED, Result.FAILED], 1), ([Result.PASSED, Result.SKIPPED], 3),
    ([Result.NOT_RUN], 4), ([Result.PASSED, Result.INFRASTRUCTURE_ERROR], 5),
])
def test_report_exits_with_the_code_of_its_result(capsys, tmp_path, results, code):
    path = a_report(tmp_path / "report.yaml", *results)
    assert run(capsys, "report", str(path)) == (code, "")
    assert run(capsys, "report", "--accept-partial", str(path))[0] == (0 if code == 3 else code)


@pytest.mark.parametrize("results, stored, code", [
    ([Result.PASSED, Result.FAILED], RunResult.SUCCESS, 1),
    ([], RunResult.SUCCESS, 4),  # no test at all is no success
    ([Result.PASSED, Result.NOT_RUN], RunResult.PARTIAL, 4),  # what the old rules stored for a test not run
])
def test_report_recomputes_the_result_from_the_tests_and_says_when_the_stored_one_disagrees(
        capsys, tmp_path, results, stored, code):
    path = a_report(tmp_path / "report.yaml", *results, stored=stored)
    exit_code, err = run(capsys, "report", "--accept-partial", str(path))
    assert exit_code == code and err.count("\n") == 0
    assert f"says result '{stored}' but its tests give" in err


@pytest.fixture
def prepare_refused(monkeypatch):
    """Preparing any provider fails the test: a usage error must come before it."""
    for name in providers.PROVIDERS:
        monkeypatch.setattr(providers.get(name), "prepare",
                            classmethod(lambda cls, options: pytest.fail("a provider was prepared")))


@pytest.mark.parametrize("argv, message", [
    (["--run-test", "core-egres"], "unknown test core-egres: choose from core-egress, core-egress-in-namespace"),
    (["--skip-test", "nope"], "unknown test nope: choose from "),
    (["--profile", "extnded"], "unknown profile extnded: choose from core, extended"),
])
def test_an_unknown_test_or_profile_is_a_usage_error_before_any_provider_is_prepared(capsys, prepare_refused, argv,
                                                                                     message):
    code, err = run(capsys, "run", *argv)
    assert code == 2 and message in err and err.count("\n") == 0


@pytest.fixture
def suite_run(monkeypatch, tmp_path):
    """`run` with the local provider's prepare a no-op and pytest.main replaced by ``pytest_main``."""
    monkeypatch.setattr(providers.get("local"), "prepare", classmethod(lambda cls, options: None))

    def start(capsys, pytest_main):
        monkeypatch.setattr(pytest, "main", pytest_main)
        return run(capsys, "run", f"--report-dir={tmp_path}")

    return start


def test_run_removes_a_stale_report_and_a_pytest_that_wrote_none_is_not_run(capsys, suite_run, tmp_path):
    a_report(tmp_path / "report.yaml", Result.PASSED)
    (tmp_path / "report.json").write_text("{}")
    code, err = suite_run(capsys, lambda args, plugins: pytest.ExitCode.INTERNAL_ERROR)
    assert code == 4 and err.count("\n") == 0 and "without writing its report (pytest exit code 3)" in err
    assert not (tmp_path / "report.yaml").exists() and not (tmp_path / "report.json").exists()


def test_a_run_that_crashes_before_its_report_is_not_run_with_the_reason(capsys, suite_run, tmp_path):
    def crash(args, plugins):
        raise RuntimeError("a plugin fell over")

    code, err = suite_run(capsys, crash)
    assert code == 4 and err.count("\n") == 0 and "RuntimeError: a plugin fell over" in err
    assert "a plugin fell over" in (tmp_path / "crash.txt").read_text()


@pytest.mark.parametrize("pytest_code, results, code", [
    (0, [Result.PASSED, Result.FAILED], 1),  # a report that fails is never exit 0
    (1, [Result.PASSED], 1),  # pytest's failure outside the scenarios is not hidden by the report
    (130, [Result.PASSED, Result.NOT_RUN], 130),  # interrupted: the signal's code, after the undo
    (0, [Result.PASSED], 0),
])
def test_run_combines_pytests_exit_code_with_the_reports(capsys, suite_run, tmp_path, pytest_code, results, code):
    def pytest_main(args, plugins):
        a_report(tmp_path / "report.yaml", *results)
        return pytest_code

    assert suite_run(capsys, pytest_main)[0] == code


@pytest.mark.parametrize("argv, message", [
    (["--allow-list", "/nonexistent/list.csv"], "--allow-list: cannot read the allow-list /nonexistent/list.csv"),
    (["--external-host", "https://api.example.org/"], "is not a DNS host name"),
    (["--external-path", "healthz"], "must start with /"),
])
def test_bad_targets_are_a_usage_error_before_anything_starts(capsys, argv, message):
    code, err = run(capsys, "run", *argv)
    assert code == 2 and message in err and err.count("\n") == 0


@pytest.mark.parametrize("argv, message", [
    (["report", "cluster:runner"], "cluster:runner: name the report's ConfigMap as cluster:NAMESPACE/NAME"),
    (["run", "--report-configmap", "runner/report"],
     "--report-configmap keeps the report in the cluster under test: it needs --provider existing, not local"),
])
def test_a_report_in_the_cluster_named_wrongly_is_a_usage_error(capsys, argv, message):
    assert cli.main(argv) == report.USAGE_ERROR_EXIT
    assert capsys.readouterr().err == f"egress-conformance: {message}\n"


@pytest.mark.parametrize("command", [("policy", "restricted"), ("restore", "--no-sweep"),
                                     ("report", "cluster:ns/report")])
def test_a_kubeconfig_not_named_on_the_command_line_is_said_in_one_line(capsys, tmp_path, monkeypatch, command):
    monkeypatch.setenv("EGRESS_CONFORMANCE_STATE", str(tmp_path / "state"))
    kubeconfig = tmp_path / "from-env"
    kubeconfig.write_text("apiVersion: v1\nkind: Config\nclusters: [{name: c, cluster: {server: 'https://127.0.0.1:9'}}]\n"
                          "users: [{name: u, user: {token: t}}]\ncontexts: [{name: x, context: {cluster: c, user: u}}]\n"
                          "current-context: x\n")
    monkeypatch.setenv("KUBECONFIG", str(kubeconfig))
    code, err = run(capsys, *command)
    if command[0] == "restore":
        # restore reaches a cluster only when told which: never the environment's by surprise.
        assert code == 0 and "from-env" not in err
        return
    assert f"using kubeconfig {kubeconfig} (from $KUBECONFIG), context x (its current context)" in err.splitlines()[0]
    assert code == 1


def test_restore_refuses_while_another_holders_lease_is_live_unless_forced(capsys, tmp_path, monkeypatch):
    from egress_conformance.changes import cluster_journal, journal, lease

    monkeypatch.setenv("EGRESS_CONFORMANCE_STATE", str(tmp_path))
    left = journal.Journal({"provider": "existing", "server": "https://node:6443", "kubeconfig": "/k"})
    left.data["pid"] = 1  # a run of another process (pid 1 never wrote it: its start time differs)
    left.data["leases"] = [["istio-system", "egress-conformance-istio"]]
    left.mesh_config_changing(("istio-system", "istio"), "a: 1\n", "b: 2\n")
    monkeypatch.setattr(providers.get("existing"), "reconnect", classmethod(lambda cls, cluster: object()))
    holder = lease.Holder("20261207-other-run", None, None)
    monkeypatch.setattr(cluster_journal, "live_holders",
                        lambda api, journals: [[("istio-system/egress-conformance-istio", holder)]])
    code, err = run(capsys, "restore", "--no-sweep")
    assert code == 1 and "Lease istio-system/egress-conformance-istio is held by run 20261207-other-run" in err
    assert "pass --force" in err and left.path.exists()
    restored = []
    monkeypatch.setattr(journal, "restore", lambda entry, connect, force: (restored.append(force), ([], []))[1])
    monkeypatch.setattr(cluster_journal, "release", lambda entry, api: [])
    code, err = run(capsys, "restore", "--no-sweep", "--force")
    assert code == 0 and restored == [True]


@pytest.mark.parametrize("node_id", ["egress_conformance/suites/matrix/test_matrix.py::test_matrix[matrix-clean-before]",
                                     "egress_conformance/suites/matrix/test_matrix.py",
                                     "egress_conformance/suites/core/test_core.py::test_core[no-such-test]"])
def test_a_node_id_outside_the_runs_profiles_is_a_usage_error_before_anything_starts(capsys, monkeypatch, node_id):
    monkeypatch.setattr(providers.get("local"), "prepare", lambda options: pytest.fail("a provider was prepared"))
    code, err = run(capsys, "run", "--", node_id)
    assert code == 2 and err.count("\n") == 0, err
    assert ("profile matrix" in err and "--profile matrix" in err) if "matrix" in node_id else "no-such-test" in err
