"""A scenario's scope follows from what it writes (issue 26, item 1): each scenario's flow is run
against a handle that records where every object it writes would land, and a scenario that writes
outside the test namespace (the shared egress gateway's, say) needs the user's consent in every
one of its forms, the namespace-scoped one included."""

import pathlib
from unittest import mock

from egress_conformance.fixtures import selection
from egress_conformance.framework import scope
from egress_conformance.providers.base import EgressGateway
from egress_conformance.reports.model import Result
from egress_conformance.run import options
from egress_conformance.scenarios import ALL, broken_meshes

# The matrix's shapes derive their scope from their catalogue objects (broken_meshes.scope_of, tested on its own).
FLOWS = [s for s in ALL if s.run not in {m.run for m in broken_meshes.SCENARIOS}]

TEAM = "team-namespace"
GATEWAY = EgressGateway("gateway-namespace", "egress", {"istio": "egressgateway"}, {80: "http", 443: "https"},
                        proxy=mock.MagicMock(), image="istio/proxyv2")


class Recorder(mock.MagicMock):
    """The suite's handle for a scenario's flow: its resources record each write's namespace and do nothing."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.namespace = TEAM
        self.targets = mock.MagicMock(host="httpbin.example", aliases=(), unlisted=("unlisted.example",))
        self.resources = Writes(self)
        self.written = self.resources.written

    def _get_child_mock(self, **kwargs):
        return mock.MagicMock(**kwargs)


class Writes(mock.MagicMock):
    """``t.resources``: where each object the flow creates would land."""

    def __init__(self, t, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.namespace = TEAM
        self.written: list[tuple[str, str]] = []
        self.egress_gateway = lambda *a, **k: GATEWAY
        self.deploy_gateway = lambda *a, **k: GATEWAY

    def _get_child_mock(self, **kwargs):
        return mock.MagicMock(**kwargs)

    def apply(self, manifest, *, namespace=None, **substitutions):
        self.written.append((namespace or self.namespace, pathlib.Path(str(manifest)).name))
        return mock.MagicMock()

    def apply_objects(self, objects, what, *, namespace=None):
        self.written.append((namespace or self.namespace, what))
        return mock.MagicMock()

    def create(self, obj):
        self.written.append((obj["metadata"].get("namespace") or self.namespace,
                             f"{obj['kind']} {obj['metadata']['name']}"))
        return mock.MagicMock()


def written_outside(scenario) -> list[tuple[str, str]]:
    """The writes of ``scenario``'s flow that land outside the test namespace (its policy change
    through the scope, the mesh config or a Sidecar, is the scope's own and not counted here)."""
    t = Recorder()
    try:
        scenario.run(t)
    except Exception:  # noqa: BLE001 -- a flow that needs a real answer stops; what it wrote so far counts
        pass
    return [w for w in t.written if w[0] != TEAM]


def test_a_scenario_that_writes_outside_the_test_namespace_needs_consent_in_every_form():
    provider = mock.MagicMock(**{"mesh_wide_changes_allowed.return_value": False,
                                 "features.return_value": frozenset()})
    chosen = options.RunOptions(force_features=frozenset({f for s in ALL for f in s.features}))
    outside = {s.name: written_outside(s) for s in FLOWS}
    assert outside["egress-gateway-authz-in-namespace"] and outside["tls-origination-mutual-in-namespace"], outside
    for scenario in FLOWS:
        refused = selection.skip_reason(chosen, scenario, provider)
        if outside[scenario.name] or scenario.scope == scope.MESH_WIDE:
            assert refused is not None and refused[0] == Result.SKIPPED, (scenario.name, outside[scenario.name])
            assert "--allow-mesh-wide-changes" in refused[1], refused
        else:
            assert refused is None, (scenario.name, refused)


def test_a_scenario_that_writes_outside_the_test_namespace_is_a_mesh_wide_claim():
    # Seen on the node: a namespace-scoped run skipped the two gateway scenarios for want of consent
    # and called its gateway profile "partial" (exit 3), though it never claimed them.
    for scenario in FLOWS:
        expected = scope.MESH_WIDE if written_outside(scenario) else scenario.scope
        assert scenario.claimed_scope == expected, scenario.name
