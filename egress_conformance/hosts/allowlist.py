"""A platform team's allow-list: the external hosts its mesh must reach, read from the
file the team already keeps (CSV or YAML rows of host, port, protocol, or the
ServiceEntries themselves), and turned into the ServiceEntries that open them.

Pure data, no mesh: the allow-list scenario (scenarios/allow_list) applies it.
"""

import csv
import dataclasses
import io
import pathlib

import yaml

PROTOCOLS = ("HTTP", "HTTPS", "TLS", "TCP")
TLS_PROTOCOLS = ("HTTPS", "TLS")
"""Protocols whose ServiceEntry Envoy routes by SNI: the client speaks TLS end to end."""


class AllowListError(ValueError):
    """The file cannot be read as an allow-list; the message says what to fix."""


@dataclasses.dataclass(frozen=True, order=True)
class Entry:
    host: str
    port: int
    protocol: str


def load(path: pathlib.Path) -> list[Entry]:
    """Entries of a CSV (``host,port,protocol``), a YAML list of such mappings, or YAML ServiceEntries."""
    try:
        text = path.read_text()
    except OSError as err:
        raise AllowListError(f"cannot read the allow-list {path}: {err.strerror}") from None
    if path.suffix == ".csv":
        rows = [row for row in csv.DictReader(io.StringIO(text)) if any(row.values())]
        return _entries(rows, path)
    documents = [d for d in yaml.safe_load_all(text) if d]
    if documents and all(isinstance(d, dict) and d.get("kind") == "ServiceEntry" for d in documents):
        entries = {Entry(host, int(port["number"]), port.get("protocol", "TCP").upper())
                   for d in documents for host in d["spec"]["hosts"] for port in d["spec"]["ports"]}
        _check_tcp_ports(entries, path)
        return sorted(entries)
    if len(documents) == 1 and isinstance(documents[0], list):
        return _entries(documents[0], path)
    raise AllowListError(f"{path}: expected CSV rows host,port,protocol, a YAML list of them, or ServiceEntries")


def _entries(rows, path) -> list[Entry]:
    entries = set()
    for number, row in enumerate(rows, start=1):
        try:
            entry = Entry(str(row["host"]).strip().lower(), int(row["port"]), str(row["protocol"]).strip().upper())
        except (KeyError, TypeError, ValueError):
            raise AllowListError(f"{path}: entry {number} needs host, port (a number) and protocol: {row}") from None
        if entry.protocol not in PROTOCOLS:
            raise AllowListError(f"{path}: entry {number} ({entry.host}): protocol {entry.protocol} is not one of "
                                 f"{', '.join(PROTOCOLS)}")
        entries.add(entry)
    if not entries:
        raise AllowListError(f"{path}: the allow-list is empty")
    _check_tcp_ports(entries, path)
    return sorted(entries)


def _check_tcp_ports(entries, path) -> None:
    # A TCP connection carries no SNI and no Host header: without addresses, Envoy has one
    # catch-all chain per port, so two TCP hosts on a port cannot be told apart (or proven).
    by_port: dict[int, Entry] = {}
    for entry in sorted(entries):
        if entry.protocol == "TCP":
            other = by_port.setdefault(entry.port, entry)
            if other != entry:
                raise AllowListError(f"{path}: {other.host} and {entry.host} are both TCP on port {entry.port}: "
                                     "Envoy cannot tell them apart without addresses (no SNI, no Host header); "
                                     "list them as TLS, or give each its own port")


def is_tls(entry: Entry) -> bool:
    return entry.protocol in TLS_PROTOCOLS


def cluster(entry: Entry) -> str:
    """The Envoy cluster Istio builds for an entry's ServiceEntry."""
    return f"outbound|{entry.port}||{entry.host}"


def service_entry(entry: Entry, name: str) -> dict:
    """The MESH_EXTERNAL, DNS-resolved ServiceEntry that opens one entry."""
    return {"apiVersion": "networking.istio.io/v1", "kind": "ServiceEntry", "metadata": {"name": name},
            "spec": {"hosts": [entry.host], "location": "MESH_EXTERNAL", "resolution": "DNS",
                     "ports": [{"number": entry.port, "name": f"{entry.protocol.lower()}-{entry.port}",
                                "protocol": entry.protocol}]}}
