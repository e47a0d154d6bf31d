"""CONTRIBUTING.md's example scenario (tests/integration/example_scenario/) on the local mesh:
it passes on a sound mesh, and its "listed" check fails, with the sidecar's own refusal and the
cluster it holds instead, on the broken mesh for that check: one whose ServiceEntry opens
another host than the run's."""

import dataclasses

import pytest

from egress_conformance import waits
from egress_conformance.framework import scope
from egress_conformance.reports.model import Verdict
from egress_conformance.run import options, session
from egress_conformance.timing import Timing
from tests.integration import example_scenario

WAITED = ["restricted: the host is blocked", "listed: the host answers through its entry",
          "listed: another host is still blocked", "unlisted again: the host is blocked"]


def test_the_example_passes_and_its_listed_check_fails_when_the_entry_opens_another_host(clean_machine, tmp_path,
                                                                                         monkeypatch):
    with session.mesh(options.defaults()) as held:
        with session.test_context(held, scope.NAMESPACE) as t:
            example_scenario.SCENARIO.execute(t)
        assert [s.name for s in t.steps if s.waited] == WAITED
        # The starting policy is a fact read from the API (observed); every other step passed.
        assert {s.verdict for s in t.steps} == {Verdict.OBSERVED, Verdict.PASSED}, [(s.name, s.verdict) for s in t.steps]
        assert {s.verdict for s in t.steps if s.waited} == {Verdict.PASSED}

        other_host = t.targets.unlisted[-1]
        wrong = tmp_path / "service-entry.yaml"
        wrong.write_text(example_scenario.SERVICE_ENTRY.read_text().replace("${host}", other_host))
        monkeypatch.setattr(example_scenario, "SERVICE_ENTRY", wrong)
        impatient = dataclasses.replace(held, timing=Timing(convergence_timeout=10.0))
        with pytest.raises(waits.NotConverged) as failed:
            with session.test_context(impatient, scope.NAMESPACE) as broken:
                example_scenario.SCENARIO.execute(broken)
    assert str(failed.value).startswith("listed: the host answers through its entry"), failed.value
    [last] = [s for s in broken.steps if s.verdict == Verdict.FAILED]
    assert last.name == "listed: the host answers through its entry"
    # The sidecar refused it itself (block_all's 502) and holds only the other host's cluster.
    assert last.detail.startswith("expected reachable, got http-error 502"), last.detail
    assert f"clusters: outbound|443||kubernetes.default.svc.cluster.local, outbound|80||{other_host}" in (last.evidence or "")
