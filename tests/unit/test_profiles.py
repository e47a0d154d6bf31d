"""Features are typed values with a level; the conformance profiles are sets of them, and each
scenario's profile is derived from the features it needs; audit and matrix are commands."""

import pytest
import yaml

from egress_conformance import cli, scenarios
from egress_conformance.framework import profiles
from egress_conformance.framework.scenario import Mode, Scenario
from egress_conformance.providers import features
from egress_conformance.providers.features import Level
from egress_conformance.reports.model import Result, TestResult

BEFORE = {
    "core": {"core-egress", "core-egress-in-namespace"},
    "extended": {"https-service-entry", "https-service-entry-in-namespace", "sidecar-scoped-policy", "allow-list",
                 "allow-list-in-namespace", "tls-origination-sidecar", "tls-origination-sidecar-in-namespace"},
    "gateway": {"egress-gateway-http", "egress-gateway-http-in-namespace", "egress-gateway-https",
                "egress-gateway-https-in-namespace", "egress-gateway-gateway-api",
                "egress-gateway-gateway-api-in-namespace", "egress-gateway-authz", "egress-gateway-authz-in-namespace",
                "tls-origination-gateway", "tls-origination-gateway-in-namespace", "tls-origination-mutual",
                "tls-origination-mutual-in-namespace", "egress-bypass"},
}
"""Each profile's test cases when profiles were written by hand on each scenario (reports name them so)."""


def test_every_feature_has_a_level_and_is_still_the_string_options_and_reports_spell():
    assert all(isinstance(f.level, Level) and f.proves for f in features.ALL.values())
    assert features.MESH_WIDE_POLICY == "mesh-wide-policy" and "mesh-wide-policy" in {features.MESH_WIDE_POLICY}
    assert profiles.CORE.features == features.at(Level.CORE)


def test_profiles_grow_from_core_and_derive_each_scenarios_profile_as_before():
    assert profiles.CORE.features < profiles.EXTENDED.features < profiles.GATEWAY.features
    derived = {name: {s.name for s in scenarios.ALL if s.profile == name} for name in profiles.NAMES}
    assert derived == BEFORE


def test_audit_and_matrix_are_modes_run_by_their_own_commands_not_profiles():
    assert {"audit", "matrix"}.isdisjoint(profiles.NAMES)
    assert {s.profile for s in scenarios.ALL if s.mode == Mode.AUDIT} == {"audit"}
    assert {s.profile for s in scenarios.ALL if s.mode == Mode.MATRIX} == {"matrix"}
    parser = cli._parser()
    assert parser.parse_args(["audit"]).command is cli.audit and parser.parse_args(["matrix"]).command is cli.matrix
    assert parser.parse_args(["run", "--profile", "audit"]).profile == ["audit"]  # old scripts keep working


def test_a_scenario_needing_a_feature_no_profile_has_is_refused_at_declaration():
    with pytest.raises(ValueError, match="no profile covers features workloads"):
        Scenario("s", "d", frozenset({features.MESH_WIDE_POLICY, features.WORKLOADS}), run=lambda t: None)


def test_a_test_record_with_typed_features_dumps_as_the_plain_names_reports_have_always_held():
    # yaml.safe_dump refuses a str subclass: a report of a gateway scenario once crashed on it.
    record = TestResult("s", "d", "gateway", "namespace", (features.EGRESS_GATEWAY,), (), Result.PASSED)
    assert yaml.safe_load(yaml.safe_dump(record.to_dict()))["features"] == ["egress-gateway"]
