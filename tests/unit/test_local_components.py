"""The suite never builds the local mesh's components (the test bed does, `ci/setup`): a run
whose components are missing stops before pytest, "not run" (exit 4), in one line naming the
set-up to run; with them recorded, the local provider finds them where set-up put them."""

import json

from egress_conformance import cli, installed, versions
from egress_conformance.providers.local import provider as local


def test_a_run_without_the_components_is_not_run_and_names_the_set_up(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("EGRESS_CONFORMANCE_CACHE", str(tmp_path / "empty-cache"))
    monkeypatch.setattr(local, "_require_root", lambda: None)  # the root check comes first, on its own
    code = cli.main(["run", "--istio-version", "1.30", "--report-dir", str(tmp_path / "report")])
    err = capsys.readouterr().err.strip()
    release = versions.istio("1.30")
    assert code == 4 and err.count("\n") == 0, err
    assert (f"the local mesh's components for Istio {release.label} are not installed: run "
            f"`ci/setup --istio {release.module_version}`") in err


def test_the_recorded_layout_is_read_from_the_cache_once_every_binary_exists(tmp_path, monkeypatch):
    monkeypatch.setenv("EGRESS_CONFORMANCE_CACHE", str(tmp_path))
    release = versions.istio()
    paths = {"kubernetes_bin": tmp_path / "k8s", "istio_bin": tmp_path / "istio", "istio_source": tmp_path / "src",
             "envoy": tmp_path / "envoy"}
    installed.record(release).write_text(json.dumps({k: str(v) for k, v in paths.items()}))
    assert installed.load(release) is None, "a binary is missing: not installed"
    for name in ("kube-apiserver", "etcd"):
        (tmp_path / "k8s").mkdir(exist_ok=True)
        (tmp_path / "k8s" / name).touch()
    (tmp_path / "istio").mkdir()
    for name in ("pilot-discovery", "pilot-agent"):
        (tmp_path / "istio" / name).touch()
    (tmp_path / "envoy").touch()
    found = installed.load(release)
    assert found is not None and found.binary("pilot-agent") == tmp_path / "istio" / "pilot-agent"
    assert found.crds == tmp_path / "src" / "manifests" / "charts" / "base" / "files" / "crd-all.gen.yaml"


def test_what_the_test_bed_records_is_what_the_suite_reads(tmp_path, monkeypatch):
    from egress_testbed.install import layout  # the writer side lives in the test bed

    monkeypatch.setenv("EGRESS_CONFORMANCE_CACHE", str(tmp_path))
    written = installed.Layout(kubernetes_bin=tmp_path / "k8s", istio_bin=tmp_path / "istio",
                               istio_source=tmp_path / "src", envoy=tmp_path / "envoy")
    layout.save(written, versions.istio("1.30"))
    for binary in ("k8s/kube-apiserver", "k8s/etcd", "istio/pilot-discovery", "istio/pilot-agent", "envoy"):
        (tmp_path / binary).parent.mkdir(exist_ok=True)
        (tmp_path / binary).touch()
    assert installed.load(versions.istio("1.30")) == written
    assert installed.load(versions.istio("1.31")) is None, "each release has a record of its own"
