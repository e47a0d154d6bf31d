"""The user's kubeconfig, read once and never written: the run works on a flattened
copy that holds one context, with every referenced file inlined."""

import base64
import os
import pathlib
import tempfile

import yaml

from egress_conformance.cluster import kube

FILE_KEYS = {
    "certificate-authority": "certificate-authority-data",
    "client-certificate": "client-certificate-data",
    "client-key": "client-key-data",
}


class KubeconfigError(Exception):
    """The kubeconfig cannot be used; str(err) is one line saying what to do."""


def flattened(path: pathlib.Path, context: str | None) -> tuple[dict, str, str]:
    """(kubeconfig with only ``context``, its context name, its server URL)."""
    try:
        config = yaml.safe_load(path.read_text())
    except OSError as err:
        raise KubeconfigError(f"cannot read kubeconfig {path}: {err.strerror}; pass --kubeconfig FILE") from None
    except yaml.YAMLError:
        raise KubeconfigError(f"{path} is not a kubeconfig (not YAML); pass the file kubectl uses") from None
    if not isinstance(config, dict) or not config.get("contexts"):
        raise KubeconfigError(f"{path} has no contexts; pass the file kubectl uses")
    name = context or config.get("current-context")
    if not name:
        raise KubeconfigError(f"{path} has no current-context: pass --context")
    entry = _named(config, "contexts", name, path)
    cluster = _named(config, "clusters", entry["context"]["cluster"], path)
    user = _named(config, "users", entry["context"]["user"], path) if entry["context"].get("user") else None
    base = path.resolve().parent
    flat = {
        "apiVersion": "v1", "kind": "Config", "current-context": name,
        "contexts": [entry],
        "clusters": [{"name": cluster["name"], "cluster": _inline(cluster["cluster"], base)}],
        "users": [{"name": user["name"], "user": _inline(user.get("user") or {}, base)}] if user else [],
    }
    return flat, name, cluster["cluster"].get("server", "")


def connect_through_copy(path: pathlib.Path, context: str | None):
    """An API client on a flattened copy of ``path`` (a token refresh writes the copy, never the
    user's file); raises KubeconfigError for a file that cannot be used."""
    flat, _, _ = flattened(path, context)
    with tempfile.TemporaryDirectory(prefix="egress-conformance-") as scratch:
        return kube.connect(write_copy(flat, pathlib.Path(scratch)))  # the client holds what it needs


def write_copy(config: dict, directory: pathlib.Path) -> pathlib.Path:
    """Write a flattened kubeconfig, readable by the owner only (it holds credentials)."""
    path = directory / "kubeconfig"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        yaml.safe_dump(config, out, sort_keys=False)
    return path


def _named(config: dict, section: str, name: str, path: pathlib.Path) -> dict:
    for item in config.get(section) or []:
        if item.get("name") == name:
            return item
    known = ", ".join(item.get("name", "?") for item in config.get(section) or [])
    raise KubeconfigError(f"{path} has no {section[:-1]} {name!r} (it has: {known or 'none'}); pass --context")


def _inline(section: dict, base: pathlib.Path) -> dict:
    inlined = dict(section)
    for key, data_key in FILE_KEYS.items():
        if key in inlined:
            file = pathlib.Path(inlined.pop(key)).expanduser()
            file = file if file.is_absolute() else base / file
            try:
                inlined[data_key] = base64.b64encode(file.read_bytes()).decode()
            except OSError as err:
                raise KubeconfigError(f"the kubeconfig's {key} {file} cannot be read: {err.strerror}") from None
    return inlined
