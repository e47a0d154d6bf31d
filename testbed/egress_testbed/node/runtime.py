"""containerd (with runc) as the node's runtime: its own root, state, sockets and runc
root under the node's dirs, never the system's /var/lib/containerd or /run/containerd;
and the import of the locally built images under their pinned names."""

import json
import pathlib
import socket
import subprocess
import tarfile

from egress_testbed.node import builds, daemons, layout
from egress_testbed.node.errors import NodeError

NAMESPACE = "k8s.io"
"""containerd namespace of the CRI plugin: images the kubelet can see."""

READY_TIMEOUT_SECONDS = 60.0

REGISTRY_HOSTS = layout.STATE / "registry-hosts"

SHIM_SOCKETS = layout.RUN / "s"
"""Shim sockets: containerd's default is /run/containerd/s whatever the state dir (a socket
path must stay short), so the node sets its own."""


def config(binaries: builds.NodeBinaries, sandbox_image: str) -> str:
    """containerd's config (version 4, what `containerd config default` of 2.4 writes: servers are
    plugins, CRI is split into images and runtime plugins)."""
    state = layout.RUN / "containerd"
    return f"""version = 4
root = "{layout.STATE / 'containerd'}"
state = "{state}"
# Never the host's /etc/containerd/conf.d drop-ins.
imports = []

[plugins."io.containerd.server.v1.grpc"]
  address = "{layout.CONTAINERD_SOCKET}"
[plugins."io.containerd.server.v1.ttrpc"]
  address = "{layout.CONTAINERD_SOCKET}.ttrpc"

[plugins."io.containerd.internal.v1.opt"]
  path = "{layout.STATE / 'containerd-opt'}"
[plugins."io.containerd.nri.v1.nri"]
  disable = true
[plugins."io.containerd.shim.v1.manager"]
  socket_dir = "{SHIM_SOCKETS}"

[plugins."io.containerd.cri.v1.images"]
  snapshotter = "overlayfs"
  [plugins."io.containerd.cri.v1.images".pinned_images]
    sandbox = "{sandbox_image}"
  [plugins."io.containerd.cri.v1.images".registry]
    config_path = "{REGISTRY_HOSTS}"

[plugins."io.containerd.cri.v1.runtime"]
  # No CAP_SYS_RESOURCE here: containers may not get a lower OOM score than containerd's.
  restrict_oom_score_adj = true
  # Pod network namespaces under the state dir, not /var/run/netns.
  netns_mounts_under_state_dir = true
  [plugins."io.containerd.cri.v1.runtime".cni]
    bin_dirs = ["{binaries.cni_bin}"]
    conf_dir = "{layout.CNI_CONF_DIR}"
  [plugins."io.containerd.cri.v1.runtime".containerd]
    default_runtime_name = "runc"
    [plugins."io.containerd.cri.v1.runtime".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.cri.v1.runtime".containerd.runtimes.runc.options]
        BinaryName = "{binaries.binary('runc')}"
        Root = "{layout.RUN / 'runc'}"
        SystemdCgroup = false

[plugins."io.containerd.grpc.v1.cri"]
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
"""


def _write_registry_hosts() -> None:
    # No registry exists here: a pull of a missing image must fail at once on loopback, not
    # send DNS queries and connections out of the machine.
    default = REGISTRY_HOSTS / "_default"
    default.mkdir(parents=True, exist_ok=True)
    (default / "hosts.toml").write_text('server = "http://127.0.0.1:9"\n\n[host."http://127.0.0.1:9"]\n'
                                        '  capabilities = ["pull", "resolve"]\n')


def start(binaries: builds.NodeBinaries, sandbox_image: str) -> None:
    """Start containerd unless it runs, and wait until its socket answers."""
    if daemons.pid("containerd") is not None:
        return
    _write_registry_hosts()
    conf = layout.STATE / "containerd.toml"
    conf.write_text(config(binaries, sandbox_image))
    for directory in (layout.CONTAINERD_SOCKET.parent, SHIM_SOCKETS):
        directory.mkdir(parents=True, exist_ok=True)
    # containerd finds the shim on PATH; the shim finds runc through BinaryName.
    path = f"{binaries.containerd_bin}:/usr/sbin:/usr/bin:/sbin:/bin"
    daemons.start("containerd", [str(binaries.binary("containerd")), f"--config={conf}"], env={"PATH": path})
    daemons.wait_ready("containerd", _socket_answers, timeout=READY_TIMEOUT_SECONDS, what="its socket")


def _socket_answers() -> bool:
    with socket.socket(socket.AF_UNIX) as sock:
        sock.settimeout(1)
        sock.connect(str(layout.CONTAINERD_SOCKET))
        return True


def ctr(binaries: builds.NodeBinaries, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(binaries.binary("ctr")), f"--address={layout.CONTAINERD_SOCKET}",
                           f"--namespace={NAMESPACE}", *args], capture_output=True, text=True)


def images(binaries: builds.NodeBinaries) -> dict[str, str]:
    """Image name -> target digest of what containerd holds in the CRI namespace."""
    result = ctr(binaries, "images", "list")
    if result.returncode != 0:
        raise NodeError(f"ctr images list failed: {result.stderr.strip()[-200:]}; see {daemons.log_path('containerd')}")
    rows = [line.split() for line in result.stdout.splitlines()[1:]]
    return {row[0]: row[2] for row in rows if len(row) > 2}


def archive_digests(archive: pathlib.Path) -> set[str]:
    """Digests of the manifests an OCI archive's index names."""
    with tarfile.open(archive) as tar:
        member = tar.extractfile("index.json")
        if member is None:
            raise NodeError(f"{archive}: its index.json is not a file; rebuild the images (remove the archive)")
        index = json.load(member)
    return {manifest["digest"] for manifest in index.get("manifests", [])}


def import_images(binaries: builds.NodeBinaries, archives: dict[str, pathlib.Path]) -> None:
    """Import each OCI archive whose image containerd does not already hold at the same digest
    (a second ``up`` imports nothing), then check that every pinned name is there."""
    present = images(binaries)
    for name, archive in sorted(archives.items()):
        if present.get(name) in archive_digests(archive):
            continue
        result = ctr(binaries, "images", "import", str(archive))
        if result.returncode != 0:
            raise NodeError(f"importing {name} from {archive} failed: {result.stderr.strip()[-200:]}; "
                            "rebuild the images (remove the archive) and run `ci/node up` again")
    missing = sorted(set(archives) - set(images(binaries)))
    if missing:
        raise NodeError(f"image {', '.join(missing)} missing from containerd after import: the archive's index "
                        "must name it (annotation io.containerd.image.name); rebuild the images, run `ci/node up` "
                        "again")
