"""Which ServiceEntries already open a test's hosts to its namespace: Istio's exportTo and
host-wildcard rules, as pure logic."""

from egress_conformance.framework import preexisting


def entry(namespace, hosts, export=None, name="se"):
    spec = {"hosts": hosts} | ({"exportTo": export} if export is not None else {})
    return {"metadata": {"namespace": namespace, "name": name}, "spec": spec}


def test_wildcards_cover_the_names_below_them_only():
    assert preexisting.covers("*", "httpbin.org")
    assert preexisting.covers("*.httpbin.org", "www.httpbin.org")
    assert not preexisting.covers("*.httpbin.org", "httpbin.org")
    assert preexisting.covers("HTTPBIN.org", "httpbin.org") and not preexisting.covers("httpbin.org", "example.com")


def test_export_rules_decide_who_sees_an_entry():
    assert preexisting.visible_to(entry("a", ["h"]), "test") == "every namespace"  # no exportTo: the mesh default
    assert preexisting.visible_to(entry("a", ["h"], ["*"]), "test") == "every namespace"
    assert preexisting.visible_to(entry("a", ["h"], ["."]), "test") is None
    assert preexisting.visible_to(entry("test", ["h"], ["."]), "test") == "namespace test"
    assert preexisting.visible_to(entry("a", ["h"], ["test", "b"]), "test") == "namespace test"
    assert preexisting.visible_to(entry("a", ["h"], ["~"]), "test") is None


def test_each_entry_that_opens_a_host_is_named_with_the_hosts_it_opens():
    entries = [entry("team", ["httpbin.org"], name="httpbin"), entry("team", ["*.example.com"], ["."], "own"),
               entry("shared", ["*.httpbin.org", "example.com"], name="wild")]
    found = preexisting.opening(entries, "test", ("httpbin.org", "www.httpbin.org", "example.com"))
    assert found == ["ServiceEntry team/httpbin exports httpbin.org to every namespace",
                     "ServiceEntry shared/wild exports www.httpbin.org, example.com to every namespace"]
    assert preexisting.opening(entries, "test", ("pypi.org",)) == []
