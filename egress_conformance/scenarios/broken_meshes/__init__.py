"""The broken-mesh matrix: meshes that leak (or look as if they might) and what the audit
must say about each. The catalogue (catalogue.yaml) is data; ``run`` is the one function:
the team's clean egress, the shape's objects (outside the team's namespace, or the team's own
workloads in it: ${team}), a sync until the sidecar holds them, then the audit, judged against what the shape expects.

A shape the audit misses, or catches with a diagnosis lacking its words, fails its test; so
does a false failure on a shape the mesh survives, and on the clean mesh before and after.
"""

import dataclasses
import functools
import pathlib
import secrets
import string

import yaml

from egress_conformance.cluster import meshconfig
from egress_conformance.cluster.meshconfig import REGISTRY_ONLY
from egress_conformance.framework import scope
from egress_conformance.framework.handle import EgressTest
from egress_conformance.framework.scenario import Mode, Scenario
from egress_conformance.hosts import allowlist
from egress_conformance.providers import features
from egress_conformance.scenarios import audit

CATALOGUE = pathlib.Path(__file__).parent / "catalogue.yaml"
CAUGHT, PASSES = "caught", "passes"


@dataclasses.dataclass(frozen=True)
class Shape:
    """One broken (or harmless-looking) mesh: the objects that make it, and the audit's due verdict."""

    name: str
    what: str
    expect: str
    objects: str
    """The objects as YAML text, ${shared}, ${root} (and ${team}, the test namespace) still to fill in."""
    diagnosis: tuple[str, ...] = ()
    reported: str = ""
    needs: tuple[str, ...] = ()
    """Features beyond the matrix's own (features.WORKLOADS: real pods beside the client)."""
    pods: tuple[dict, ...] = ()
    """Pods of the team started for the shape, made like the client (name, sidecar, annotations,
    run_as_user, host_network): real workloads, for a mesh that runs pods (needs workloads)."""

    def manifests(self, **where: str) -> list[dict]:
        return yaml.safe_load(string.Template(self.objects).substitute(where)) or []

    def words(self, **where: str) -> list[str]:
        return [string.Template(word).substitute(where) for word in self.diagnosis]

    def judge(self, failed: bool, said: str, **where: str) -> str | None:
        """None when the audit did what this shape demands, else what went wrong, in words."""
        if self.expect == PASSES:
            return f"false failure: the mesh is sound here, but the audit said: {said}" if failed else None
        if not failed:
            return "missed: the audit passed a mesh that leaks"
        missing = [word for word in self.words(**where) if word not in said]
        return f"caught with the wrong diagnosis (lacks {missing}): {said}" if missing else None


def scope_of(shape: Shape) -> str:
    """Mesh-wide when any of the shape's objects lands outside the test namespace (in the root
    namespace, another team's, or cluster-wide): it changes egress for every team, so it needs
    the user's consent and the mesh Lease; else namespace-scoped."""
    test_namespace = "egress-conformance-test-namespace"
    objects = shape.manifests(root="root-namespace", shared="another-team", team=test_namespace)
    return scope.MESH_WIDE if any(o["metadata"].get("namespace") != test_namespace for o in objects) \
        else scope.NAMESPACE


def load(path: pathlib.Path = CATALOGUE) -> list[Shape]:
    shapes = []
    for entry in yaml.safe_load(path.read_text()):
        if entry["expect"] not in (CAUGHT, PASSES) or (entry["expect"] == CAUGHT) != bool(entry.get("diagnosis")):
            raise ValueError(f"{path}: shape {entry['name']}: expect is {CAUGHT} (with a diagnosis) or {PASSES}")
        needs = tuple(entry.get("needs") or ())
        if entry.get("pods") and features.WORKLOADS not in needs:
            raise ValueError(f"{path}: shape {entry['name']}: pods need 'needs: [{features.WORKLOADS}]'")
        shapes.append(Shape(entry["name"], entry["what"], entry["expect"], yaml.safe_dump(entry["objects"]),
                            tuple(entry.get("diagnosis") or ()), entry.get("reported", ""), needs,
                            tuple(entry.get("pods") or ())))
    return shapes


def run(shape: Shape, t: EgressTest) -> None:
    where = {"root": meshconfig.root_namespace(t.policy.mesh_config()),
             "shared": f"egress-conformance-shared-{secrets.token_hex(3)}", "team": t.namespace}
    # The team's egress as a platform team keeps it: restricted by its namespace's Sidecar, its
    # list's ServiceEntries exported to its namespace alone (the scope adapts them), also when
    # the shape itself is mesh-wide (scope_of): the shape, not the team, changes the mesh.
    t.policy.confine_to_namespace()
    t.policy.set(REGISTRY_ONLY)
    t.resources.apply_objects([allowlist.service_entry(e, f"team-{i:04d}") for i, e in enumerate(t.targets.allow_list)],
                              "the team's allow-list")
    objects = shape.manifests(**where)
    if any(o["metadata"].get("namespace") == where["shared"] for o in objects):
        t.resources.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": where["shared"]}})
    for obj in objects:
        t.resources.create(obj)
    for pod in shape.pods:
        _start_team_pod(t, pod)
    t.client.sync()
    failed, said = _audit(t)
    wrong = shape.judge(failed, said, **where)
    t.record.judged(f"matrix: {shape.name} ({shape.expect})", wrong is None,
                    wrong or (f"caught: {said}" if failed else "the audit passed, as it should"))
    assert wrong is None, wrong


def _start_team_pod(t: EgressTest, pod: dict) -> None:
    """One of the team's own pods, made like the client but labelled as the team's (the audit
    leaves its own probe pods out), on the node's network when ``host_network``; once Ready."""
    name, sidecar = pod["name"], pod.get("sidecar", True) and not pod.get("host_network")
    manifest = t.provider.side_pod(name, sidecar=sidecar, annotations=pod.get("annotations") or {},
                                   run_as_user=pod.get("run_as_user", 1001))
    manifest["metadata"]["labels"] = {"app": name}
    if pod.get("host_network"):
        manifest["spec"]["hostNetwork"] = True
    t.resources.create(manifest)
    t.provider.side_workload(name, sidecar=sidecar)


def _audit(t: EgressTest) -> tuple[bool, str]:
    """Run the audit; (did it fail, what it said). Its failed steps are what the shape asked for:
    kept in the report as observations, its findings as this test's words, not the run's."""
    said = t.record.trial(lambda: audit.run(t))
    return said is not None, said or ""


SCENARIOS = tuple(Scenario(
    name=f"matrix-{shape.name}",
    description=f"{shape.what} ({shape.expect}{', reported in ' + shape.reported if shape.reported else ''})",
    mode=Mode.MATRIX,
    features=frozenset({features.SIDECAR_SCOPED_POLICY, *shape.needs}),
    run=functools.partial(run, shape),
    scopes=(scope_of(shape),),
    hosts=lambda targets: (),
) for shape in load())
