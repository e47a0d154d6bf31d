"""A Sidecar resource overrides the mesh-wide policy for its namespace only: a namespace
Sidecar with the opposite of the mesh's policy (REGISTRY_ONLY on an ALLOW_ANY mesh, and
ALLOW_ANY on a mesh its owners keep restricted) takes effect there, while the mesh
config stays as it was."""

import pathlib

from egress_conformance.cluster.meshconfig import ALLOW_ANY, REGISTRY_ONLY
from egress_conformance.framework import scope
from egress_conformance.framework.handle import EgressTest
from egress_conformance.framework.scenario import Scenario
from egress_conformance.providers import features
from egress_conformance.verdicts import checks
from egress_conformance.verdicts.observe import Request

SIDECAR = pathlib.Path(__file__).parent / "namespace-sidecar.yaml"


def run(t: EgressTest) -> None:
    http = Request(t.targets.url("http"))
    start = t.policy.starting()
    other = REGISTRY_ONLY if start == ALLOW_ANY else ALLOW_ANY
    t.client.expect(f"namespace follows the mesh: {start}", http, checks.enforces(start))

    sidecar = t.resources.apply(SIDECAR, mode=other)
    t.policy.expect_mesh(start)  # the mesh-wide setting is untouched
    t.client.expect(f"namespace Sidecar: {other}", http, checks.enforces(other))

    t.resources.restore(sidecar)
    t.client.expect(f"Sidecar removed: {start} again", http, checks.enforces(start))


SCENARIO = Scenario(
    name="sidecar-scoped-policy",
    description="A namespace Sidecar with the opposite of the mesh's policy takes effect there; the mesh config "
                "stays as it was.",
    features=frozenset({features.SIDECAR_SCOPED_POLICY}),
    run=run,
    manifests=SIDECAR.parent,
    scopes=(scope.NAMESPACE,),
)
