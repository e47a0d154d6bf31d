"""The external hosts the scenarios call, as data chosen for the run.

By default they are the walkthrough's: httpbin.org (and www.httpbin.org in its
ServiceEntry), with example.com and friends as hosts that nothing opens. A team
can point the walkthrough at its own host (``--external-host``, ``--external-path``)
and give its allow-list (``--allow-list``). Providers that simulate the internet
(the local mesh, a simulated target) make every name here answer: each name is
mapped to their httpbin, which listens on every port the names need. On a live
target they are the real hosts.
"""

import dataclasses
import json
import pathlib
import re

import yaml

from egress_conformance.hosts import allowlist

HTTPBIN = "httpbin.org"
HTTPBIN_WWW = "www.httpbin.org"
UNLISTED = ("example.com", "example.org", "example.net")
"""Hosts no scenario ever opens: the negative controls for 'only what was allowed'. Real
names (IANA's examples), so that a run against the live internet can resolve them too."""

_HOSTNAME = re.compile(r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z][a-z0-9-]{0,61}[a-z0-9]$")


class TargetError(ValueError):
    """A host, path or allow-list the suite cannot use; str(err) is one line for the user."""


@dataclasses.dataclass(frozen=True)
class Targets:
    host: str = HTTPBIN
    """The walkthrough's external host."""
    aliases: tuple[str, ...] = (HTTPBIN_WWW,)
    """Further names its ServiceEntry opens (the seed's www.httpbin.org)."""
    path: str = "/get"
    """What the walkthrough asks the host for: a path that answers 2xx over HTTP and HTTPS."""
    unlisted: tuple[str, ...] = UNLISTED
    allow_list: tuple[allowlist.Entry, ...] = ()

    def url(self, scheme: str, host: str | None = None, port: int | None = None) -> str:
        """``scheme://host[:port]path``, the port left out where it is the scheme's own."""
        default = {"http": 80, "https": 443}[scheme]
        where = host or self.host
        return f"{scheme}://{where}{'' if port in (None, default) else f':{port}'}{self.path}"

    def substitutions(self) -> dict[str, str]:
        """Placeholders a scenario's manifest may use: ${host}, and ${hosts} (a YAML flow list
        of the host and its aliases)."""
        return {"host": self.host, "hosts": json.dumps([self.host, *self.aliases])}

    def names(self) -> tuple[str, ...]:
        """Every name a simulated internet must answer for (over TLS too: its certificate carries them all)."""
        listed = [entry.host for entry in self.allow_list]
        return tuple(dict.fromkeys([self.host, *self.aliases, *self.unlisted, *listed]))

    def ports(self) -> tuple[tuple[int, ...], tuple[int, ...]]:
        """(plain ports, TLS ports) a simulated target listens on: 80 and 443, and the allow-list's."""
        plain = {80} | {e.port for e in self.allow_list if not allowlist.is_tls(e)}
        tls = {443} | {e.port for e in self.allow_list if allowlist.is_tls(e)}
        return tuple(sorted(plain)), tuple(sorted(tls))


def _probe_hosts(given) -> list[str]:
    """The names of a --probe-hosts file: one per line (# comments), or a YAML list."""
    if not given:
        return []
    try:
        text = pathlib.Path(given).read_text()
    except OSError as err:
        raise TargetError(f"--probe-hosts: cannot read {given}: {err.strerror}") from None
    loaded = yaml.safe_load(text) if text.lstrip().startswith("-") else None
    names = [str(n) for n in loaded] if isinstance(loaded, list) else [
        line.split("#", 1)[0].strip() for line in text.splitlines()]
    names = [n.strip().lower() for n in names if n.strip()]
    bad = [n for n in names if not _HOSTNAME.match(n)]
    if bad or not names:
        raise TargetError(f"--probe-hosts: {bad[0] + ' is not a DNS host name' if bad else 'no host in ' + str(given)}"
                          ": list one name per line, e.g. example.io")
    return names


def from_options(options: dict, default_allow_list: pathlib.Path | None = None) -> Targets:
    """The run's targets from the options ``external_host``, ``external_path``, ``allow_list``
    (a file; ``default_allow_list`` when not given, else none). Raises TargetError with one line."""
    host = (options.get("external_host") or HTTPBIN).strip().lower()
    if not _HOSTNAME.match(host):
        raise TargetError(f"--external-host {host!r} is not a DNS host name: give a name such as api.example.org "
                          "(no scheme, port or path)")
    path = options.get("external_path") or "/get"
    if not path.startswith("/") or any(c.isspace() for c in path):
        raise TargetError(f"--external-path {path!r} must start with / and hold no spaces, e.g. /healthz")
    given = options.get("allow_list") or default_allow_list
    try:
        entries = allowlist.load(pathlib.Path(given)) if given else []
    except allowlist.AllowListError as err:
        raise TargetError(f"--allow-list: {err}") from None
    bad = [e.host for e in entries if not _HOSTNAME.match(e.host)]
    if bad:
        raise TargetError(f"--allow-list: {bad[0]} is not a DNS host name (wildcards and addresses are not "
                          "checked by this suite): list the names the workloads call")
    aliases = (HTTPBIN_WWW,) if host == HTTPBIN else ()
    probes = (*UNLISTED, *_probe_hosts(options.get("probe_hosts")))
    opened = {host, *aliases, *(e.host for e in entries)}
    unlisted = tuple(u for u in dict.fromkeys(probes) if u not in opened)
    if not unlisted:
        raise TargetError(f"--allow-list lists every negative control ({', '.join(UNLISTED)}): "
                          "keep at least one of them off the list")
    targets = Targets(host=host, aliases=aliases, path=path, unlisted=unlisted, allow_list=tuple(entries))
    plain, tls = targets.ports()
    both = sorted(set(plain) & set(tls))
    if both:
        raise TargetError(f"--allow-list: port {both[0]} is listed both as plain (HTTP/TCP) and as TLS "
                          "(HTTPS/TLS), or clashes with 80/443: a simulated target serves one protocol per port")
    return targets
