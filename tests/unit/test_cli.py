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
    assert code == 2 and "unknown Istio version '1.20.0': use 1.31 or an istio.io/istio pseudo-version" in err


def test_an_unknown_policy_word_lists_the_choices(capsys):
    with pytest.raises(SystemExit) as exit_:
        cli.main(["policy", "deny"])
    assert exit_.value.code == 2
    assert "choose from 'allowed', 'restricted'" in capsys.readouterr().err
