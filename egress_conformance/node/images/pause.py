"""The pod sandbox image: Kubernetes' own pause.c (build/pause/linux in the k8s.io/kubernetes
module), compiled statically; the image holds that one binary."""

import hashlib
import json
import pathlib
import subprocess
import tempfile

from egress_conformance import versions
from egress_conformance.install import cache
from egress_conformance.install.errors import InstallError
from egress_conformance.node.images import oci

TAG = "3.10"


def layer() -> pathlib.Path:
    source = _source()
    version = f"{TAG}-{hashlib.sha256(source.read_bytes()).hexdigest()[:8]}"
    entry = cache.entry("image-layer-pause", version)
    out = entry / "layer.tar"
    if cache.is_complete(entry):
        return out
    cache.begin(entry)
    with tempfile.TemporaryDirectory() as scratch:
        root = pathlib.Path(scratch)
        result = subprocess.run(["gcc", "-Os", "-static", "-o", str(root / "pause"), str(source)],
                                capture_output=True, text=True)
        if result.returncode != 0:
            raise InstallError(f"gcc could not build pause: {result.stderr.strip()[-200:]}")
        oci.layer_from_directory(root, out)
    cache.finish(entry)
    return out


def _source() -> pathlib.Path:
    result = subprocess.run(["go", "mod", "download", "-json", f"k8s.io/kubernetes@{versions.KUBERNETES}"],
                            capture_output=True, text=True)
    if result.returncode != 0:
        raise InstallError(f"cannot fetch k8s.io/kubernetes@{versions.KUBERNETES}: {result.stderr.strip()[-200:]}")
    return pathlib.Path(json.loads(result.stdout)["Dir"]) / "build" / "pause" / "linux" / "pause.c"
