import pytest

from egress_conformance.cluster import meshconfig

REAL_INSTALL = """accessLogFile: /dev/stdout
defaultConfig:
  discoveryAddress: istiod.istio-system.svc:15012
  proxyMetadata: {}
enablePrometheusMerge: true
rootNamespace: istio-system
trustDomain: cluster.local
"""


def test_unset_policy_means_allow_any():
    assert meshconfig.policy_of(REAL_INSTALL) == meshconfig.ALLOW_ANY
    assert meshconfig.policy_of("") == meshconfig.ALLOW_ANY


def test_with_policy_changes_only_the_mode():
    import yaml

    restricted = meshconfig.with_policy(REAL_INSTALL, meshconfig.REGISTRY_ONLY)
    assert meshconfig.policy_of(restricted) == meshconfig.REGISTRY_ONLY
    before, after = yaml.safe_load(REAL_INSTALL), yaml.safe_load(restricted)
    assert after.pop("outboundTrafficPolicy") == {"mode": "REGISTRY_ONLY"}
    assert after == before


def test_with_policy_keeps_other_fields_of_outbound_traffic_policy():
    text = "outboundTrafficPolicy:\n  mode: ALLOW_ANY\n  egressProxy: {host: egress.example}\n"
    changed = meshconfig.with_policy(text, meshconfig.REGISTRY_ONLY)
    assert "egress.example" in changed and meshconfig.policy_of(changed) == meshconfig.REGISTRY_ONLY


def test_unknown_policy_is_refused_with_the_valid_choices():
    with pytest.raises(ValueError, match="ALLOW_ANY or REGISTRY_ONLY"):
        meshconfig.with_policy(REAL_INSTALL, "DENY")


def test_message_matches_the_seed():
    assert meshconfig.message("REGISTRY_ONLY") == "mesh wide outbound traffic policy is set to 'REGISTRY_ONLY'"


def test_root_namespace_defaults_to_istio_system():
    assert meshconfig.root_namespace(REAL_INSTALL) == "istio-system"
    assert meshconfig.root_namespace("rootNamespace: mesh-root\n") == "mesh-root"
    assert meshconfig.root_namespace("") == "istio-system"
