"""Bad input to the command line: one line on stderr that says what to do, exit 1 or 2."""

import pytest

from egress_conformance import cli


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


@pytest.mark.parametrize("result, code", [("success", 0), ("failure", 1), ("partial", 3), ("not run", 4),
                                          ("infrastructure-error", 5)])
def test_report_exits_with_the_code_of_its_result(capsys, tmp_path, result, code):
    path = tmp_path / "report.yaml"
    path.write_text(f"apiVersion: egress-conformance.dev/v1alpha1\nkind: ConformanceReport\ndate: x\n"
                    f"mesh: {{notRun: x}}\nresult: {result}\nprofiles: []\n")
    assert run(capsys, "report", str(path))[0] == code
    assert run(capsys, "report", "--accept-partial", str(path))[0] == (0 if result == "partial" else code)


@pytest.mark.parametrize("argv, message", [
    (["--allow-list", "/nonexistent/list.csv"], "--allow-list: cannot read the allow-list /nonexistent/list.csv"),
    (["--external-host", "https://api.example.org/"], "is not a DNS host name"),
    (["--external-path", "healthz"], "must start with /"),
])
def test_bad_targets_are_a_usage_error_before_anything_starts(capsys, argv, message):
    code, err = run(capsys, "run", *argv)
    assert code == 2 and message in err and err.count("\n") == 0
