"""The base layer of every image but pause: a minimal Debian (debootstrap --variant=minbase)
with the packages the images run: curl (the client), iptables (istio-init's capture),
CA certificates; the suite's own image asks for python3 instead (node/images/suite.py)."""

import hashlib
import os
import pathlib
import shutil
import subprocess
import tempfile

from egress_testbed.images import oci
from egress_testbed.install import cache, progress
from egress_testbed.install.errors import InstallError

SUITE = "bookworm"
PACKAGES = ("ca-certificates", "curl", "iptables")


def version(packages: tuple[str, ...] = PACKAGES) -> str:
    """The cache key of a base with ``packages``: the suite and the package list."""
    return f"{SUITE}-" + hashlib.sha256(" ".join(packages).encode()).hexdigest()[:8]


VERSION = version()
"""The node's images' base: its cache key, part of the curl image's tag."""


def base_layer(packages: tuple[str, ...] = PACKAGES) -> pathlib.Path:
    """The base layer's tar with ``packages`` (default: the node's images' base), built once per version."""
    entry = cache.entry("image-layer-debian", version(packages))
    layer = entry / "layer.tar"
    if cache.is_complete(entry):
        return layer
    if shutil.which("debootstrap") is None:
        raise InstallError("debootstrap is missing: the node's set-up installs it (apt-get install debootstrap)")
    cache.begin(entry)
    with tempfile.TemporaryDirectory(prefix="egress-node-rootfs-") as scratch:
        rootfs = pathlib.Path(scratch) / "rootfs"
        with progress.step(f"debian base layer ({SUITE}, {', '.join(packages)}): debootstrap") as state:
            result = progress.run_counting(
                ["debootstrap", "--variant=minbase", f"--include={','.join(packages)}", SUITE, str(rootfs), mirror()],
                state=state, env=dict(os.environ, DEBIAN_FRONTEND="noninteractive"))
        if result.returncode != 0:
            raise InstallError(f"debootstrap of the image base failed: {result.stdout.strip()[-300:]}; check that "
                               f"the Debian mirror {mirror()} is reachable, then run again")
        for leftover in ("var/cache/apt/archives", "var/lib/apt/lists"):
            shutil.rmtree(rootfs / leftover, ignore_errors=True)
            (rootfs / leftover).mkdir(parents=True, exist_ok=True)
        oci.layer_from_directory(rootfs, layer)
        subprocess.run(["rm", "-rf", "--one-file-system", str(rootfs)], check=False)
    cache.finish(entry)
    return layer


def mirror() -> str:
    """The Debian mirror apt uses on this machine (so the same reachable archive serves both)."""
    for sources in sorted(pathlib.Path("/etc/apt/sources.list.d").glob("*.sources")):
        for line in sources.read_text().splitlines():
            if line.startswith("URIs:") and "security" not in line:
                return line.split()[1]
    return "http://deb.debian.org/debian"
