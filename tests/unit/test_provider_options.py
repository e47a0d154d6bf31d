import pytest

from egress_conformance import providers
from egress_conformance.providers import options


def values(**given):
    return lambda dest: given.get(dest)


def test_an_option_of_another_provider_is_a_usage_error():
    with pytest.raises(options.OptionError, match="--kubeconfig applies to --provider existing, not to local"):
        options.chosen("local", values(kubeconfig="k"))


def test_options_that_apply_get_their_defaults():
    chosen = options.chosen("existing", values(kubeconfig="k"))
    assert chosen["kubeconfig"] == "k" and chosen["external"] == "live" and chosen["allow_mesh_wide_changes"] is None


def test_every_provider_option_names_registered_providers():
    for option in options.OPTIONS:
        assert option.providers <= set(providers.PROVIDERS) | {options.KIND}, option.flag


def test_existing_needs_a_kubeconfig_outside_a_cluster(monkeypatch):
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    with pytest.raises(options.OptionError, match="needs --kubeconfig FILE"):
        providers.get("existing").parse_options(options.chosen("existing", values()))


def test_a_missing_kubeconfig_file_is_named(tmp_path):
    with pytest.raises(options.OptionError, match="no such file"):
        providers.get("existing").parse_options(options.chosen("existing", values(kubeconfig=str(tmp_path / "x"))))


def test_a_test_namespace_is_for_the_existing_provider_and_must_be_a_namespace_name(tmp_path):
    with pytest.raises(options.OptionError, match="--test-namespace applies to --provider existing, not to kind"):
        options.chosen("kind", values(test_namespace="ns"))
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text("")
    existing = providers.get("existing")
    assert existing.parse_options(options.chosen("existing", values(kubeconfig=str(kubeconfig),
                                                                    test_namespace="team-a"))).test_namespace == "team-a"
    with pytest.raises(options.OptionError, match="--test-namespace Team_A: not a namespace name"):
        existing.parse_options(options.chosen("existing", values(kubeconfig=str(kubeconfig), test_namespace="Team_A")))


def test_a_namespace_s_injection_label_selects_its_revision_as_istio_does():
    from egress_conformance.providers.existing.provider import _selected_revision
    assert _selected_revision({"istio-injection": "enabled"}) == ""  # the default revision
    assert _selected_revision({"istio.io/rev": "canary"}) == "canary"
    assert _selected_revision({"istio-injection": "enabled", "istio.io/rev": "canary"}) == ""  # Istio: it wins
    assert _selected_revision({"istio-injection": "disabled", "istio.io/rev": "canary"}) is None
    assert _selected_revision({"team": "a"}) is None


def test_in_cluster_is_asked_for_never_assumed(tmp_path, monkeypatch):
    existing = providers.get("existing")
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", "10.0.0.1")  # as in any pod
    with pytest.raises(options.OptionError, match="or --in-cluster in a pod"):
        existing.parse_options(options.chosen("existing", values()))
    with pytest.raises(options.OptionError, match="--in-cluster: this is not a pod"):
        existing.parse_options(options.chosen("existing", values(in_cluster=True)))
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text("")
    with pytest.raises(options.OptionError, match="give one"):
        existing.parse_options(options.chosen("existing", values(in_cluster=True, kubeconfig=str(kubeconfig))))


def test_the_pod_channel_is_kept_open_unless_exec_is_asked_for(tmp_path):
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text("")
    existing = providers.get("existing")
    assert existing.parse_options(options.chosen("existing", values(kubeconfig=str(kubeconfig)))).pod_channel == "stream"
    assert existing.parse_options(options.chosen("existing", values(kubeconfig=str(kubeconfig),
                                                                    pod_channel="exec"))).pod_channel == "exec"
    with pytest.raises(options.OptionError, match="--pod-channel applies to --provider existing, not to local"):
        options.chosen("local", values(pod_channel="exec"))
