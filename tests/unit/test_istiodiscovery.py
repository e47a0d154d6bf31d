import pytest

from egress_conformance.cluster import istiodiscovery as d


def test_injection_enabled_selects_the_revision_behind_the_default_tag():
    assert d.choose(None, ["1-30", "1-31"], {"default": "1-31", "prod": "1-30"}, None) == (
        "1-31", {"istio-injection": "enabled"})


def test_without_a_default_tag_the_untagged_injector_decides():
    assert d.choose(None, ["canary", "default"], {}, "default") == ("default", {"istio-injection": "enabled"})


def test_a_single_revision_is_selected_by_its_own_label():
    assert d.choose(None, ["canary"], {}, None) == ("canary", {"istio.io/rev": "canary"})


def test_a_tag_is_resolved_to_its_revision_and_the_namespace_labelled_with_the_tag():
    assert d.choose("prod", ["1-30", "1-31"], {"prod": "1-30"}, None) == ("1-30", {"istio.io/rev": "prod"})


def test_a_named_revision_is_used_as_it_is():
    assert d.choose("canary", ["canary", "default"], {}, "default") == ("canary", {"istio.io/rev": "canary"})


def test_several_revisions_and_no_default_ask_for_one():
    with pytest.raises(d.DiscoveryError, match="pass --revision"):
        d.choose(None, ["a", "b"], {}, None)


def test_an_unknown_revision_lists_what_exists():
    with pytest.raises(d.DiscoveryError, match="revisions a, b, tags prod"):
        d.choose("nope", ["a", "b"], {"prod": "a"}, None)


@pytest.mark.parametrize("revision, name", [("default", "istio"), ("", "istio"), ("canary", "istio-canary")])
def test_the_config_map_that_counts_is_named_after_the_revision(revision, name):
    assert d.mesh_config_map_name(revision) == name
