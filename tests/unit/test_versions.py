import pytest

from egress_conformance import versions


def test_a_release_line_its_label_and_its_pseudo_version_name_the_same_release():
    default = versions.istio()
    assert versions.istio("1.31") == default == versions.istio(default.label) == versions.istio(default.module_version)
    assert default.commit == "eed52ebb66ad" and default.label == "1.31-dev+eed52ebb66ad"


def test_any_pseudo_version_is_accepted_as_a_custom_build():
    release = versions.istio("v0.0.0-20260826214018-9739e10eb9d7")
    assert (release.line, release.commit, release.replaces) == ("custom", "9739e10eb9d7", ())


def test_a_known_commit_carries_its_module_pins():
    release = versions.istio("v0.0.0-20260423205519-b01690e6db7d")
    assert release == versions.istio("1.30") and release.label == "1.30-dev+b01690e6db7d"
    assert dict(release.replaces)["istio.io/api"] == "v1.30.8"


def test_anything_else_is_refused_with_the_valid_forms():
    with pytest.raises(ValueError, match="use 1.30, 1.31 or an istio.io/istio pseudo-version"):
        versions.istio("1.29.3")
