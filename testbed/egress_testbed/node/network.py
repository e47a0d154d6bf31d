"""The node's network on the host: the pod bridge with the node address, the FORWARD
rules that let bridged pod traffic through a host whose policy may be DROP (Docker
leaves it so, with br_netfilter on), the CNI configuration, and the host sysctls the
node's components change, recorded first so that the sweep can put them back."""

import json
import pathlib
import subprocess

from egress_testbed.node import layout
from egress_testbed.node.errors import NodeError

SYSCTLS = (
    "net.ipv4.ip_forward",  # the CNI bridge plugin (isGateway) turns it on
    "net.bridge.bridge-nf-call-iptables",  # kube-proxy needs it for Services between pods of one bridge
    # kubelet's kernel tunables (protectKernelDefaults=false lets it set them):
    "vm.overcommit_memory", "vm.panic_on_oom", "kernel.panic", "kernel.panic_on_oops",
    "kernel.keys.root_maxkeys", "kernel.keys.root_maxbytes",
)
"""Host sysctls the node may change; their values before the first ``up`` are restored by the sweep."""

HOST_DIRS = (layout.HOST_CNI_CACHE, layout.HOST_CONTAINER_LOGS)

FORWARD_RULES = (("-i", layout.BRIDGE), ("-o", layout.BRIDGE))


def record_host() -> None:
    """Write what the host looks like before the node changes anything (kept if already written:
    a second ``up`` must not record the node's own values as the host's)."""
    if layout.HOST_BEFORE.exists():
        return
    layout.STATE.mkdir(parents=True, exist_ok=True)
    before = {
        "sysctls": {name: _sysctl_path(name).read_text().strip() for name in SYSCTLS if _sysctl_path(name).exists()},
        "existing_dirs": [str(d) for d in HOST_DIRS if d.exists()],
    }
    tmp = layout.HOST_BEFORE.with_suffix(".tmp")
    tmp.write_text(json.dumps(before, indent=2))
    tmp.rename(layout.HOST_BEFORE)


def _sysctl_path(name: str) -> pathlib.Path:
    return pathlib.Path("/proc/sys") / name.replace(".", "/")


def set_sysctl(name: str, value: str) -> None:
    _sysctl_path(name).write_text(value)


def restore_host() -> list[str]:
    """Put the recorded sysctls back; returns what it restored."""
    try:
        before = json.loads(layout.HOST_BEFORE.read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return []
    restored = []
    for name, value in before["sysctls"].items():
        path = _sysctl_path(name)
        if path.exists() and path.read_text().strip() != value:
            path.write_text(value)
            restored.append(f"{name}={value}")
    return restored


def host_dirs_before() -> list[str]:
    try:
        return json.loads(layout.HOST_BEFORE.read_text())["existing_dirs"]
    except (FileNotFoundError, json.JSONDecodeError, KeyError):
        return []


def ensure_bridge() -> None:
    """The bridge with the node's address (the CNI bridge plugin reuses it), and the FORWARD rules."""
    if not pathlib.Path(f"/sys/class/net/{layout.BRIDGE}").exists():
        _ip("link", "add", layout.BRIDGE, "type", "bridge")
    prefix = layout.POD_CIDR.split("/")[1]
    addresses = subprocess.run(["ip", "-o", "-4", "addr", "show", "dev", layout.BRIDGE],
                               capture_output=True, text=True).stdout
    if f"{layout.NODE_IP}/{prefix}" not in addresses:
        _ip("addr", "add", f"{layout.NODE_IP}/{prefix}", "dev", layout.BRIDGE)
    _ip("link", "set", layout.BRIDGE, "up")
    # Service IPs are virtual: kube-proxy's rules translate them. The route keeps a packet
    # that no rule matches on the node's bridge instead of the host's default route.
    _ip("route", "replace", layout.SERVICE_CIDR, "dev", layout.BRIDGE, "src", layout.NODE_IP)
    for direction, device in FORWARD_RULES:
        rule = ["FORWARD", direction, device, "-m", "comment", "--comment", layout.NAME, "-j", "ACCEPT"]
        if subprocess.run(["iptables", "-C", *rule], capture_output=True).returncode != 0:
            _run(["iptables", "-I", *rule])


def write_cni_config() -> None:
    """The CNI network: bridge + host-local IPAM (its state under the node's dirs), no masquerade
    (pods only talk to the node and to each other) and hairpin for a pod reaching itself via a Service."""
    layout.CNI_CONF_DIR.mkdir(parents=True, exist_ok=True)
    conf = {
        "cniVersion": "1.0.0",
        "name": layout.NAME,
        "plugins": [{
            "type": "bridge", "bridge": layout.BRIDGE, "isGateway": True, "ipMasq": False, "hairpinMode": True,
            "ipam": {
                "type": "host-local", "dataDir": str(layout.CNI_IPAM_DIR),
                "ranges": [[{"subnet": layout.POD_CIDR, "rangeStart": layout.POD_RANGE_START,
                             "gateway": layout.NODE_IP}]],
                "routes": [{"dst": "0.0.0.0/0"}],
            },
        }],
    }
    (layout.CNI_CONF_DIR / "10-egress-node.conflist").write_text(json.dumps(conf, indent=2))


def forward_rules_present() -> list[str]:
    """The node's FORWARD rules still in the host's filter table."""
    out = subprocess.run(["iptables", "-S", "FORWARD"], capture_output=True, text=True).stdout
    return [line for line in out.splitlines() if f"--comment {layout.NAME}" in line or layout.BRIDGE in line]


def remove_forward_rules() -> None:
    for line in forward_rules_present():
        if line.startswith("-A "):
            subprocess.run(["iptables", "-D", *line.split()[1:]], capture_output=True)


def _ip(*args: str) -> None:
    _run(["ip", *args])


def _run(argv: list[str]) -> None:
    result = subprocess.run(argv, capture_output=True, text=True)
    if result.returncode != 0:
        raise NodeError(f"`{' '.join(argv)}` failed: {result.stderr.strip()[-200:]}; run `ci/node down`, then up again")
