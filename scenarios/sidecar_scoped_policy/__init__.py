"""A Sidecar resource overrides the mesh-wide policy for its namespace only: with the
mesh at ALLOW_ANY, a namespace Sidecar with REGISTRY_ONLY blocks httpbin.org there."""

import pathlib

from egress_conformance import checks, features, targets
from egress_conformance.envoy import PASSTHROUGH
from egress_conformance.meshconfig import ALLOW_ANY, REGISTRY_ONLY
from egress_conformance.observe import Request
from egress_conformance.scenario import EXTENDED, Scenario

HTTP = Request(f"http://{targets.HTTPBIN}/get")
SIDECAR = pathlib.Path(__file__).parent / "registry-only-sidecar.yaml"


def run(t):
    t.expect_configured_policy(ALLOW_ANY)
    t.expect("mesh allows: HTTP reachable", HTTP,
             checks.all_of(checks.sidecar_policy(ALLOW_ANY), checks.reachable(via=PASSTHROUGH)))

    sidecar = t.apply(SIDECAR)
    t.expect_configured_policy(ALLOW_ANY)  # the mesh-wide setting is untouched
    t.expect("namespace restricted: HTTP blocked", HTTP,
             checks.all_of(checks.sidecar_policy(REGISTRY_ONLY), checks.blocked_http()))

    t.restore(sidecar)
    t.expect("Sidecar removed: HTTP reachable", HTTP,
             checks.all_of(checks.sidecar_policy(ALLOW_ANY), checks.reachable(via=PASSTHROUGH)))


SCENARIO = Scenario(
    name="sidecar-scoped-policy",
    description="A namespace Sidecar with REGISTRY_ONLY blocks unknown hosts there while the mesh allows them.",
    profile=EXTENDED,
    features=frozenset({features.SIDECAR_SCOPED_POLICY}),
    run=run,
    manifests=SIDECAR.parent,
)
