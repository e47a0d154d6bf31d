"""The conformance report as a readable summary: the mesh, the result per profile, and why
each test did not pass."""

from egress_conformance.reports.model import MeshUnderTest, Report, Verdict

_UNREMARKABLE = (Verdict.PASSED, Verdict.OBSERVED)
"""Step verdicts the summary leaves out: only the steps that went wrong explain a result."""


def as_text(report: Report) -> str:
    lines = [f"egress conformance report of {report.date}", _mesh_line(report.mesh),
             f"result: {report.result.upper()}"]
    if report.claimed_scopes is not None:
        lines.append(f"claim: scopes {', '.join(report.claimed_scopes)}")
    lines += [f"finding: {finding}" for finding in report.findings]
    for profile in report.profiles:
        counts = ", ".join(f"{count} {result}" for result, count in profile.summary.items() if count)
        lines.append(f"profile {profile.name}: {profile.result} ({counts})")
        for test in profile.tests:
            lines.append(f"  {test.result:14s} {test.name}" + (f": {test.reason}" if test.reason else ""))
            for step in test.steps:
                if step.verdict not in _UNREMARKABLE:
                    lines.append(f"      {step.verdict} at step {step.name!r}: {step.detail}")
            if test.evidence:
                lines.append(f"      evidence: {test.evidence}")
    return "\n".join(lines)


def _mesh_line(mesh: MeshUnderTest) -> str:
    if not mesh.reached:
        return f"mesh: not run ({mesh.not_run})"
    line = (f"mesh: {mesh.provider} provider, Kubernetes {mesh.kubernetes_version}, "
            f"Istio {mesh.istio_version} (revision {mesh.revision})")
    if mesh.mesh_config:
        line += f"; mesh config {mesh.mesh_config}, starting policy {mesh.starting_policy}"
    return line
