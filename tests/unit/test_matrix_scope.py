"""The broken-mesh matrix's scope follows from what each shape writes: a shape with any object
outside the test namespace changes the mesh for everyone (a root Sidecar, an EnvoyFilter,
another team's ServiceEntry), so it is mesh-wide: it needs --allow-mesh-wide-changes and
runs under the mesh Lease; without that consent it is skipped with the reason."""

import types

from egress_conformance.fixtures import selection
from egress_conformance.framework import scope
from egress_conformance.reports.model import Result
from egress_conformance.run.options import RunOptions
from egress_conformance.scenarios import broken_meshes

TEST_NAMESPACE = "team-under-test"


def outside_the_test_namespace(shape: broken_meshes.Shape) -> list[dict]:
    """Derived here from the objects alone, by the namespace each lands in."""
    objects = shape.manifests(root="istio-system", shared="another-team", team=TEST_NAMESPACE)
    return [o for o in objects if o["metadata"].get("namespace") != TEST_NAMESPACE]


def test_each_shapes_scope_is_derived_from_the_objects_it_writes():
    scenarios = {s.name: s for s in broken_meshes.SCENARIOS}
    for shape in broken_meshes.load():
        expected = scope.MESH_WIDE if outside_the_test_namespace(shape) else scope.NAMESPACE
        assert scenarios[f"matrix-{shape.name}"].scopes == (expected,), shape.name
    # The shapes the issue saw change the mesh for every team are among the mesh-wide ones.
    for name in ("root-sidecar-allow-any", "envoyfilter-catch-all-passthrough", "destination-rule-in-root-namespace"):
        assert scenarios[f"matrix-{name}"].scopes == (scope.MESH_WIDE,)
    assert scenarios["matrix-clean-before"].scopes == (scope.NAMESPACE,)


def test_a_shape_that_writes_outside_the_test_namespace_is_skipped_without_consent():
    [shape] = [s for s in broken_meshes.SCENARIOS if s.name == "matrix-root-sidecar-allow-any"]
    [case] = shape.variants()
    provider = types.SimpleNamespace(name="existing", features=lambda: frozenset(shape.features),
                                     lacking=lambda feature: "", mesh_wide_changes_allowed=lambda: False)
    result, reason = selection.skip_reason(RunOptions(), case, provider)
    assert result == Result.SKIPPED and "--allow-mesh-wide-changes" in reason
    provider.mesh_wide_changes_allowed = lambda: True
    assert selection.skip_reason(RunOptions(), case, provider) is None


def test_an_object_without_a_namespace_or_in_the_test_namespace_is_judged_by_where_it_lands():
    cluster_wide = broken_meshes.Shape("x", "a Namespace", broken_meshes.PASSES,
                                       "- {apiVersion: v1, kind: Namespace, metadata: {name: n}}\n")
    own = broken_meshes.Shape("y", "own", broken_meshes.PASSES,
                              "- {apiVersion: v1, kind: ConfigMap, metadata: {name: c, namespace: '${team}'}}\n")
    assert broken_meshes.scope_of(cluster_wide) == scope.MESH_WIDE
    assert broken_meshes.scope_of(own) == scope.NAMESPACE
