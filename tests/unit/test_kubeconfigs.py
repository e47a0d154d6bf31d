import base64

import pytest
import yaml

from egress_conformance.cluster import kubeconfigs


def write(tmp_path, config):
    path = tmp_path / "config"
    path.write_text(yaml.safe_dump(config))
    return path


def config(**current):
    return {
        "apiVersion": "v1", "kind": "Config", **current,
        "clusters": [{"name": "a", "cluster": {"server": "https://a:6443", "certificate-authority": "ca.crt"}},
                     {"name": "b", "cluster": {"server": "https://b:6443"}}],
        "users": [{"name": "u", "user": {"token": "t"}}],
        "contexts": [{"name": "ctx-a", "context": {"cluster": "a", "user": "u"}},
                     {"name": "ctx-b", "context": {"cluster": "b", "user": "u"}}],
    }


def test_the_copy_holds_one_context_with_files_inlined_and_the_original_is_untouched(tmp_path):
    (tmp_path / "ca.crt").write_text("CA")
    path = write(tmp_path, config(**{"current-context": "ctx-b"}))
    before = path.read_bytes()
    flat, context, server = kubeconfigs.flattened(path, "ctx-a")
    assert (context, server) == ("ctx-a", "https://a:6443")
    assert [c["name"] for c in flat["contexts"]] == ["ctx-a"] and flat["current-context"] == "ctx-a"
    assert base64.b64decode(flat["clusters"][0]["cluster"]["certificate-authority-data"]) == b"CA"
    (tmp_path / "out").mkdir()
    copy = kubeconfigs.write_copy(flat, tmp_path / "out")
    assert copy.stat().st_mode & 0o777 == 0o600
    assert path.read_bytes() == before


def test_the_current_context_is_the_default(tmp_path):
    (tmp_path / "ca.crt").write_text("CA")
    assert kubeconfigs.flattened(write(tmp_path, config(**{"current-context": "ctx-b"})), None)[1] == "ctx-b"


@pytest.mark.parametrize("content, message", [
    ("a: [unclosed", "not a kubeconfig"),
    ("kind: Config\n", "has no contexts"),
])
def test_what_is_not_a_kubeconfig_is_named(tmp_path, content, message):
    path = tmp_path / "config"
    path.write_text(content)
    with pytest.raises(kubeconfigs.KubeconfigError, match=message):
        kubeconfigs.flattened(path, None)


def test_an_unknown_context_lists_the_known_ones(tmp_path):
    with pytest.raises(kubeconfigs.KubeconfigError, match="no context 'nope' .*ctx-a, ctx-b"):
        kubeconfigs.flattened(write(tmp_path, config()), "nope")
