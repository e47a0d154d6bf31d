"""Small helpers over the official Kubernetes client: connect, load manifests, create, read back, delete and wait."""

import pathlib
import re
import time
import weakref

import yaml
from kubernetes import client, config, dynamic
from kubernetes.client.rest import ApiException
from kubernetes.dynamic.exceptions import ResourceNotFoundError


def connect(kubeconfig: pathlib.Path | None, context: str | None = None) -> client.ApiClient:
    """An API client for one kubeconfig file (never the process-wide default); with no
    file, the pod's own service account (the suite running as a Job in the cluster)."""
    if kubeconfig is None:
        configuration = client.Configuration()
        config.load_incluster_config(client_configuration=configuration)
        return client.ApiClient(configuration)
    return config.new_client_from_config(config_file=str(kubeconfig), context=context)


def load_manifests(path: pathlib.Path, **substitutions: str) -> list[dict]:
    """The YAML documents of a manifest file, with ``${name}`` placeholders filled in; a
    placeholder left unfilled is an error (it would name an object that never exists)."""
    text = path.read_text()
    for key, value in substitutions.items():
        text = text.replace("${" + key + "}", value)
    left = re.findall(r"\$\{(\w+)\}", text)
    if left:
        raise ValueError(f"{path.name}: no value given for ${{{left[0]}}}")
    return [doc for doc in yaml.safe_load_all(text) if doc]


_DYNAMIC: "weakref.WeakKeyDictionary[client.ApiClient, dynamic.DynamicClient]" = weakref.WeakKeyDictionary()


def resource(api: client.ApiClient, obj: dict):
    """The dynamic-client resource for an object's apiVersion and kind."""
    # One dynamic client per API client: each new one reads the discovery cache again, which
    # made creating an allow-list of hundreds of ServiceEntries cost tens of milliseconds each.
    if api not in _DYNAMIC:
        _DYNAMIC[api] = dynamic.DynamicClient(api)
    return _DYNAMIC[api].resources.get(api_version=obj["apiVersion"], kind=obj["kind"])


def create(api: client.ApiClient, obj: dict) -> None:
    """Create ``obj``; the caller registers its undo (see framework/context.py, EgressTest.apply)."""
    resource(api, obj).create(body=obj, namespace=obj["metadata"].get("namespace"))


def get(api: client.ApiClient, obj: dict) -> dict | None:
    """The live object with the same kind, namespace and name, or None if absent."""
    res = resource(api, obj)
    try:
        return res.get(name=obj["metadata"]["name"], namespace=obj["metadata"].get("namespace")).to_dict()
    except ApiException as err:
        if err.status == 404:
            return None
        raise


def list_everywhere(api: client.ApiClient, api_version: str, kind: str) -> list[dict]:
    """Every object of a kind, in all namespaces."""
    found = resource(api, {"apiVersion": api_version, "kind": kind}).get()
    return [item.to_dict() for item in found.items]


def list_in(api: client.ApiClient, api_version: str, kind: str, namespace: str) -> list[dict]:
    """Every object of a kind in one namespace; none when the cluster does not serve the kind."""
    try:
        found = resource(api, {"apiVersion": api_version, "kind": kind}).get(namespace=namespace)
    except ResourceNotFoundError:
        return []
    return [item.to_dict() for item in found.items]


def delete_and_wait(api: client.ApiClient, obj: dict, timeout: float = 120.0,
                    preconditions: dict | None = None) -> None:
    """Delete an object and return once the API no longer has it (namespaces take a while).
    ``preconditions`` (uid, resourceVersion): the API deletes only that object, else 409."""
    res = resource(api, obj)
    name, namespace = obj["metadata"]["name"], obj["metadata"].get("namespace")
    body = {"preconditions": preconditions} if preconditions else None
    try:
        res.delete(name=name, namespace=namespace, body=body)
    except ApiException as err:
        if err.status != 404:
            raise
    deadline = time.monotonic() + timeout
    while get(api, obj) is not None:
        if time.monotonic() > deadline:
            raise TimeoutError(f"{obj['kind']} {name} still present {timeout:.0f}s after deletion")
        time.sleep(0.2)
