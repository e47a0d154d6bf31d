import pytest

from egress_conformance import versions


def test_a_release_line_its_label_and_its_pseudo_version_name_the_same_release():
    default = versions.istio()
    assert versions.istio("1.31") == default == versions.istio(default.label) == versions.istio(default.module_version)
    assert default.commit == "eed52ebb66ad" and default.label == "1.31-dev+eed52ebb66ad"


def test_any_pseudo_version_is_accepted_as_a_custom_build():
    release = versions.istio("v0.0.0-20260423205519-b01690e6db7d")
    assert (release.line, release.commit) == ("custom", "b01690e6db7d")


def test_anything_else_is_refused_with_the_valid_forms():
    with pytest.raises(ValueError, match="use 1.31 or an istio.io/istio pseudo-version"):
        versions.istio("1.29.3")
