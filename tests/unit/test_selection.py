"""skip_reason on plain scenario and provider records (pure logic: no mesh involved)."""

import types

from egress_conformance.fixtures import selection
from egress_conformance.framework.scenario import Scenario
from egress_conformance.providers import features
from egress_conformance.reports.model import Result
from egress_conformance.run.options import RunOptions

SCENARIO = Scenario("s", "d", frozenset({features.MESH_WIDE_POLICY, features.EGRESS_GATEWAY}), run=None)


def Options(skip_test=(), skip_feature=(), force_feature=()):
    return RunOptions(skip_tests=tuple(skip_test), skip_features=frozenset(skip_feature),
                      force_features=frozenset(force_feature))


PROVIDER = types.SimpleNamespace(name="local", features=lambda: frozenset({features.MESH_WIDE_POLICY}),
                                 lacking=lambda feature: "")


def test_a_missing_feature_is_not_supported_unless_forced():
    assert selection.skip_reason(Options(), SCENARIO, PROVIDER) == (
        Result.NOT_SUPPORTED, "the local provider lacks feature egress-gateway")
    assert selection.skip_reason(Options(force_feature=["egress-gateway"]), SCENARIO, PROVIDER) is None


def test_the_provider_says_why_it_lacks_a_feature():
    provider = types.SimpleNamespace(name="existing", features=frozenset, lacking=lambda feature: f"no {feature} here")
    assert selection.skip_reason(Options(), SCENARIO, provider) == (
        Result.NOT_SUPPORTED, "the existing provider lacks feature egress-gateway, mesh-wide-policy: "
                              "no egress-gateway here; no mesh-wide-policy here")


def test_user_skips_say_skipped_and_win_over_support():
    result, reason = selection.skip_reason(Options(skip_feature=["mesh-wide-policy"]), SCENARIO, PROVIDER)
    assert result == Result.SKIPPED and reason.startswith("feature mesh-wide-policy")
    assert selection.skip_reason(Options(skip_test=["s"]), SCENARIO, PROVIDER) == (Result.SKIPPED, "--skip-test s")
