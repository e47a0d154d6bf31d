"""The egress map's page (egress-map.html) in a real browser, as the report pages are checked
(tests/cdp.py, Debian's Chromium): made by the map's own code from a cluster's objects (one
namespace leaking by ALLOW_ANY, one sound, one unjudged by an EnvoyFilter); each row's verdict
is on screen in its colour, a click on a leaking namespace goes to its findings, which name the
object, and the browser logs no error, with JavaScript on and off. Needs no mesh."""

import pathlib
import time

import pytest

from egress_conformance.reports.model import MeshUnderTest
from egress_conformance.run import egress_map_report as egress_map
from egress_conformance.scenarios.audit import cluster_map
from tests import cdp
from tests.integration.test_report_browser import chromium_present, finish, opened  # noqa: F401 (a fixture)


def _sidecar(namespace):
    return {"metadata": {"namespace": namespace, "name": "default"},
            "spec": {"outboundTrafficPolicy": {"mode": "REGISTRY_ONLY"}}}


@pytest.fixture(scope="module")
def map_page(tmp_path_factory) -> pathlib.Path:
    namespaces = tuple({"metadata": {"name": n, "labels": {"istio-injection": "enabled"}}}
                       for n in ("team-leaky", "team-sound", "team-filtered"))
    found = cluster_map.Objects(namespaces=namespaces, sidecars=(_sidecar("team-sound"), _sidecar("team-filtered")),
                                envoy_filters=({"metadata": {"namespace": "team-filtered", "name": "tweak"},
                                                "spec": {}},),
                                mesh_config="istio-system/istio")
    rows = cluster_map.build(found)
    measure = egress_map.Measure(1.2, 21)
    report = egress_map.as_report(rows, MeshUnderTest(provider="existing", cluster="https://node:6443"),
                                  "2026-12-08T01:00:00+00:00", None, measure)
    folder = tmp_path_factory.mktemp("map")
    egress_map.write(folder, report, rows, measure)
    return folder / egress_map.PAGE


@pytest.fixture(scope="module")
def browser(chromium_present, tmp_path_factory):  # noqa: F811 (the fixture imported above)
    chrome = cdp.Chromium(tmp_path_factory.mktemp("chromium-profile"))
    yield chrome
    chrome.close()


def _background(page: cdp.Page, selector: str) -> str:
    page.send("DOM.enable")
    page.send("CSS.enable")
    style = page.send("CSS.getComputedStyleForNode", {"nodeId": page.node(selector)})["computedStyle"]
    return next(p["value"] for p in style if p["name"] == "background-color")


@pytest.mark.parametrize("javascript", [True, False], ids=["js", "no-js"])
def test_each_namespace_in_its_colour_and_a_click_leads_to_its_findings(map_page, browser, tmp_path, javascript):
    page = opened(browser, map_page, javascript)
    assert page.visible("#namespaces") and "1 leaking, 1 unjudged, 1 sound of 3" in page.text("#counts")
    colours = {verdict: _background(page, f"#row-team-{name} .badge") for verdict, name in (
        ("leaking", "leaky"), ("sound", "sound"), ("unjudged", "filtered"))}
    assert colours["leaking"] == "rgb(207, 34, 46)" and colours["sound"] == "rgb(26, 127, 55)", colours
    assert colours["unjudged"] not in (colours["leaking"], colours["sound"]), colours
    assert not page.send("DOM.querySelectorAll", {"nodeId": page.root(), "selector": ":target"})["nodeIds"]
    page.click("#row-team-leaky .badge")
    deadline = time.monotonic() + 5
    while not (targets := page.send("DOM.querySelectorAll", {"nodeId": page.root(), "selector": ":target"})["nodeIds"]):
        assert time.monotonic() < deadline, "the click led nowhere"
        time.sleep(0.05)
    root = page.root()
    targets = page.send("DOM.querySelectorAll", {"nodeId": root, "selector": ":target"})["nodeIds"]
    assert targets == [page.node("#ns-team-leaky", root)]
    assert page.visible("#ns-team-leaky li")
    assert "PassthroughCluster: mesh config istio-system/istio sets ALLOW_ANY" in page.text("#ns-team-leaky")
    assert "EnvoyFilter team-filtered/tweak" in page.text("#ns-team-filtered")
    finish(page, tmp_path, f"egress-map-{'js' if javascript else 'no-js'}")
