"""The kind provider past its own commands, for real on the node: its readiness probe, its
image loading, and the existing provider it hands the cluster to (the simulated httpbin.org
in the test namespace, mesh-wide changes allowed), running the walkthrough on a real cluster.

kind, Docker and istioctl cannot run here, so only the provider's command runner is stood
in for, answering as those tools do for a kept cluster: `kind get clusters` names it, `kind
get kubeconfig` gives the node's kubeconfig, `istioctl install` is done (the node's Istio is
installed), and Docker has neither image (the node has them). Everything else is real: the
API, istiod, the injected client pod, go-httpbin, Envoy. What this cannot prove is kind
itself; tests/kind does, where Docker exists."""

import subprocess

from egress_conformance.changes import cleanup, journal
from egress_conformance.framework import scope
from egress_conformance.providers.kind import commands
from egress_conformance.providers.kind import provider as kind
from egress_conformance.run import options, session
from egress_conformance.scenarios import core_egress
from egress_conformance.timing import Timing
from tests.cluster import snapshot

CLUSTER = commands.CLUSTER_PREFIX + kind.CLUSTER_NAME


class KeptCluster:
    """The command runner, answering for a kept kind cluster whose API is the node's."""

    def __init__(self, kubeconfig_text: str):
        self.kubeconfig_text = kubeconfig_text
        self.issued: list[list[str]] = []

    def run(self, argv: list[str], timeout: float) -> subprocess.CompletedProcess:
        self.issued.append(argv)
        if argv == commands.list_clusters():
            return subprocess.CompletedProcess(argv, 0, f"{CLUSTER}\n", "")
        if argv == commands.get_kubeconfig(CLUSTER):
            return subprocess.CompletedProcess(argv, 0, self.kubeconfig_text, "")
        if argv[:2] == ["istioctl", "install"]:
            return subprocess.CompletedProcess(argv, 0, "", "")
        if argv[:3] == ["docker", "image", "inspect"]:
            raise subprocess.CalledProcessError(1, argv, "", f"Error response from daemon: No such image: {argv[-1]}")
        raise AssertionError(f"the kind provider issued a command a kept cluster does not need: {argv}")


def test_on_a_kept_cluster_the_kind_provider_runs_the_walkthrough_and_leaves_the_cluster_as_it_was(
        kubeconfig, api, images, own_journals):
    before = snapshot.take(api)
    given = {"client_image": images["client"], "external_image": images["external"], "keep_cluster": True}
    chosen = options.defaults(provider=kind.KindProvider.name, **given)
    tools = KeptCluster(kubeconfig.read_text())
    provider = kind.KindProvider(chosen.provider_options, chosen.targets, tools.run)
    undo, run_journal = cleanup.Stack(), journal.Journal()
    try:
        provider.start(undo, run_journal)
        assert provider.info().provider == "kind"
        assert run_journal.data["cluster"]["kindCluster"] == CLUSTER
        with session.test_context(session.Mesh(provider, run_journal, Timing()), scope.MESH_WIDE) as t:
            core_egress.run(t)
    finally:
        undo.close()

    installed = next(argv for argv in tools.issued if argv[0] == "istioctl")
    assert tools.issued == [commands.list_clusters(), commands.get_kubeconfig(CLUSTER), installed,
                            commands.local_image(images["client"]), commands.local_image(images["external"])]
    assert journal.pending() == [] and not run_journal.path.exists()
    assert snapshot.differences(before, snapshot.take(api)) == []
