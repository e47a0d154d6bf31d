"""Whether this cluster enforces NetworkPolicy, proven by the audit itself before it calls a
path around a sidecar "covered": a pod of its own without a sidecar reaches the run's host;
then, under a NetworkPolicy that denies that pod alone all egress, it no longer does. Nothing a
team's workload sees changes (the pod and the policy are the run's, removed at the end), and
the proof runs only when a NetworkPolicy would cover some path."""

from egress_conformance.framework import inventory
from egress_conformance.framework.handle import EgressTest
from egress_conformance.providers import features
from egress_conformance.verdicts import checks
from egress_conformance.verdicts.observe import Request

POD = "netpol-proof"
"""The proof's pod (the provider names it egress-conformance-netpol-proof: the audit's own)."""


def proven(t: EgressTest) -> tuple[bool, str]:
    """(whether NetworkPolicy is enforced here, in words why or why not)."""
    if features.NETWORK_POLICY not in t.provider.features():
        return False, f"the {t.provider.name} provider lacks feature {features.NETWORK_POLICY}"
    pod = t.resources.start_pod(POD, sidecar=False)
    label = t.provider.side_pod(POD, sidecar=False, annotations={}, run_as_user=1001)["metadata"]["labels"]
    host = Request(t.targets.url("http"))
    out, seen = t.pod(pod).settle(f"NetworkPolicy proof: pod {POD} without a sidecar reaches the host", host,
                                  checks.answered())
    if not out:
        return False, f"the proof's pod without a sidecar did not reach the host to begin with ({seen.summary()})"
    t.resources.create({"apiVersion": inventory.NETWORK_POLICY[0], "kind": inventory.NETWORK_POLICY[1],
                        "metadata": {"name": f"egress-conformance-{POD}", "namespace": t.namespace},
                        "spec": {"podSelector": {"matchLabels": label}, "policyTypes": ["Egress"], "egress": []}})
    blocked, seen = t.pod(pod).settle(f"NetworkPolicy proof: pod {POD} under a deny-all egress policy", host,
                                      checks.not_answered())
    if not blocked:
        return False, f"a deny-all egress NetworkPolicy did not stop the proof's pod ({seen.summary()})"
    return True, "a deny-all egress NetworkPolicy stopped the audit's own unmeshed pod"
