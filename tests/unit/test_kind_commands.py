"""The exact commands of the kind provider. Docker cannot run here: what is
pinned is what the provider would issue; nothing about Kubernetes or Istio is mocked."""

import subprocess

import pytest

from egress_conformance.providers.kind import cluster, commands


def test_each_istio_line_pins_a_node_image_and_unknown_ones_are_refused():
    assert commands.node_image("1.31.2") == "kindest/node:v1.35.0"
    with pytest.raises(ValueError, match="no kind node image pinned for Istio 1.20.0: use one of 1.30, 1.31"):
        commands.node_image("1.20.0")


def test_the_cluster_commands_are_argv_lists():
    assert commands.create_cluster("pytest-ec", "kindest/node:v1.35.0", "/run/kc") == [
        "kind", "create", "cluster", "--name", "pytest-ec", "--kubeconfig", "/run/kc", "--image", "kindest/node:v1.35.0"]
    assert commands.delete_cluster("pytest-ec") == ["kind", "delete", "cluster", "--name", "pytest-ec"]
    assert commands.export_logs("pytest-ec", "out/kind-logs") == ["kind", "export", "logs", "out/kind-logs",
                                                                 "--name", "pytest-ec"]


def test_istio_is_installed_with_the_settings_the_evidence_needs():
    assert commands.istioctl_install("/opt/istioctl", "/run/kc") == [
        "/opt/istioctl", "install", "--kubeconfig", "/run/kc", "--skip-confirmation",
        "--set", "profile=minimal", "--set", "meshConfig.accessLogFile=/dev/stdout",
        "--set", "meshConfig.accessLogEncoding=JSON", "--set", "meshConfig.outboundTrafficPolicy.mode=ALLOW_ANY"]


def test_images_the_local_docker_has_are_loaded_into_the_node():
    assert commands.local_image("mccutchen/go-httpbin:v2.15.0") == [
        "docker", "image", "inspect", "--format", "{{.Id}}", "mccutchen/go-httpbin:v2.15.0"]
    assert commands.load_image("mccutchen/go-httpbin:v2.15.0", "pytest-ec") == [
        "kind", "load", "docker-image", "mccutchen/go-httpbin:v2.15.0", "--name", "pytest-ec"]


def test_the_manager_runs_kind_without_a_shell_and_leaves_the_environment_alone(monkeypatch):
    issued = []

    def runner(argv, timeout):
        issued.append((argv, timeout))
        return subprocess.CompletedProcess(argv, 0, "", "")

    import os
    before = dict(os.environ)
    kind = cluster.KindCluster("ec", "/run/kc", "kindest/node:v1.35.0", runner)
    kind._on_create(kind._cluster_options)
    kind._on_delete()
    assert kind.cluster_name == "pytest-ec"
    assert [argv for argv, _ in issued] == [commands.create_cluster("pytest-ec", "kindest/node:v1.35.0", "/run/kc"),
                                            commands.delete_cluster("pytest-ec")]
    assert dict(os.environ) == before


def test_the_kind_provider_pins_the_node_image_of_the_istio_line_and_refuses_others():
    from egress_conformance.providers import options
    from egress_conformance.providers.kind import provider as kind
    assert kind.KindProvider.parse_options({"istio_version": "1.30"}).node_image == "kindest/node:v1.34.0"
    with pytest.raises(options.OptionError, match="no kind node image pinned for Istio 1.2"):
        kind.KindProvider.parse_options({"istio_version": "1.2"})


def test_without_a_running_docker_the_kind_provider_stops_with_one_line(monkeypatch):
    from egress_conformance.providers.base import ProviderError
    from egress_conformance.providers.kind import provider as kind
    monkeypatch.setattr(kind.shutil, "which", lambda tool: f"/usr/bin/{tool}")

    def no_daemon(argv, timeout):
        raise subprocess.CalledProcessError(1, argv, "", "Cannot connect to the Docker daemon at unix:///var/run/docker.sock")

    with pytest.raises(ProviderError, match="needs a running Docker daemon .Cannot connect to the Docker daemon"):
        kind.KindProvider.prepare(kind.KindProvider.parse_options({"istio_version": "1.31"}), no_daemon)
    monkeypatch.setattr(kind.shutil, "which", lambda tool: None if tool == "istioctl" else f"/usr/bin/{tool}")
    with pytest.raises(ProviderError, match="needs istioctl on PATH: put istioctl 1.31 on PATH"):
        kind.KindProvider.prepare(kind.KindProvider.parse_options({"istio_version": "1.31"}), no_daemon)


def test_a_kept_cluster_is_found_by_name_and_its_kubeconfig_read():
    assert commands.list_clusters() == ["kind", "get", "clusters"]
    assert commands.get_kubeconfig("pytest-egress-conformance") == ["kind", "get", "kubeconfig", "--name",
                                                                    "pytest-egress-conformance"]
