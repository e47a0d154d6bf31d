"""OCI archives as `ctr images import` reads them: named by the index, layers by digest."""

import hashlib
import json
import tarfile

from egress_conformance import versions
from egress_conformance.verdicts import envoy
from egress_testbed import images
from egress_testbed.images import oci
from egress_testbed.node import istio


def test_an_archive_names_its_image_and_every_blob_matches_its_digest(tmp_path):
    (tmp_path / "root").mkdir()
    (tmp_path / "root" / "hello").write_text("hi")
    layer = oci.layer_from_directory(tmp_path / "root", tmp_path / "layer.tar")
    archive = oci.write_archive(tmp_path / "image.tar", "egress.local/hello:1", [layer], {"Cmd": ["/hello"]})
    with tarfile.open(archive) as tar:
        files = {m.name: tar.extractfile(m).read() for m in tar.getmembers() if m.isfile()}
    index = json.loads(files["index.json"])
    [descriptor] = index["manifests"]
    assert descriptor["annotations"]["io.containerd.image.name"] == "egress.local/hello:1"
    for name, data in files.items():
        if name.startswith("blobs/sha256/"):
            assert hashlib.sha256(data).hexdigest() == name.rsplit("/", 1)[1]
    manifest = json.loads(files["blobs/sha256/" + descriptor["digest"].split(":")[1]])
    config = json.loads(files["blobs/sha256/" + manifest["config"]["digest"].split(":")[1]])
    assert config["rootfs"]["diff_ids"] == [layer["digest"] for layer in manifest["layers"]]
    assert config["config"] == {"Cmd": ["/hello"]}


def test_a_layer_is_reproducible(tmp_path):
    (tmp_path / "root").mkdir()
    (tmp_path / "root" / "a").write_text("a")
    first = oci.layer_from_directory(tmp_path / "root", tmp_path / "1.tar").read_bytes()
    assert oci.layer_from_directory(tmp_path / "root", tmp_path / "2.tar").read_bytes() == first


def test_image_names_are_pinned_and_follow_istioctls_hub_and_tag():
    names = images.names(versions.istio())
    assert all(not name.endswith(":latest") for name in names.values())
    tag = images.istio_tag(versions.istio())
    assert names["proxyv2"] == f"egress.local/proxyv2:{tag}" and names["pilot"] == f"egress.local/pilot:{tag}"
    assert "+" not in tag


def test_istioctl_installs_with_the_local_images_and_only_the_stock_envoy_switches():
    flags = istio.install_flags("canary", versions.istio())
    sets = [flags[i + 1] for i, flag in enumerate(flags) if flag == "--set"]
    assert "hub=egress.local" in sets and f"tag={images.istio_tag(versions.istio())}" in sets
    assert "values.pilot.env.PILOT_ENABLE_METADATA_EXCHANGE=false" in sets and "revision=canary" in sets
    assert "values.telemetry.enabled=false" in sets
    assert not any(switch.startswith("components.egressGateways") for switch in sets)


def test_the_default_install_brings_the_egress_gateway_and_a_revision_none():
    flags = istio.install_flags(None, versions.istio())
    sets = [flags[i + 1] for i, flag in enumerate(flags) if flag == "--set"]
    assert "components.egressGateways[0].enabled=true" in sets
    assert "components.egressGateways[0].name=istio-egressgateway" in sets
    # The gateway keeps the counters "refused by the gateway" is judged from (envoy.GATEWAY_STATS_MATCHER).
    kept = [s.split("=", 1)[1] for s in sets if s.startswith("meshConfig.defaultConfig.proxyStatsMatcher.")]
    assert kept == envoy.GATEWAY_STATS_MATCHER["inclusionSuffixes"]


def test_the_injection_probe_selects_the_revisions_object_webhook():
    assert istio.probe_pod(None)["metadata"]["labels"] == {"istio.io/rev": "default"}
    assert istio.probe_pod("canary")["metadata"]["labels"] == {"istio.io/rev": "canary"}


def test_a_pod_counts_as_injected_only_with_istios_sidecar():
    sidecar = {"spec": {"initContainers": [{"name": "istio-init"}, {"name": "istio-proxy"}],
                        "containers": [{"name": "probe"}]}}
    assert istio.injected(sidecar) is None
    assert "['probe']" in istio.injected({"spec": {"containers": [{"name": "probe"}]}})
