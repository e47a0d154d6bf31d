"""The pod sandbox image: Kubernetes' own pause.c (build/pause/linux in the k8s.io/kubernetes
module), compiled statically; the image holds that one binary."""

import hashlib
import json
import pathlib
import subprocess

from egress_conformance import versions
from egress_testbed.images import layers
from egress_testbed.install.errors import InstallError

TAG = "3.10"


def layer() -> pathlib.Path:
    source = _source()

    def compile_pause(root: pathlib.Path) -> None:
        result = subprocess.run(["gcc", "-Os", "-static", "-o", str(root / "pause"), str(source)],
                                capture_output=True, text=True)
        if result.returncode != 0:
            raise InstallError(f"gcc could not build pause: {result.stderr.strip()[-200:]}")

    return layers.cached("pause", f"{TAG}-{hashlib.sha256(source.read_bytes()).hexdigest()[:8]}", compile_pause)


def _source() -> pathlib.Path:
    result = subprocess.run(["go", "mod", "download", "-json", f"k8s.io/kubernetes@{versions.KUBERNETES}"],
                            capture_output=True, text=True)
    if result.returncode != 0:
        raise InstallError(f"cannot fetch k8s.io/kubernetes@{versions.KUBERNETES}: {result.stderr.strip()[-200:]}")
    return pathlib.Path(json.loads(result.stdout)["Dir"]) / "build" / "pause" / "linux" / "pause.c"
