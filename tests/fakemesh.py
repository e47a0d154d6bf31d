"""A fake mesh for unit tests of scenario wiring: an in-memory Kubernetes API behind the
official client, and a client pod whose curl and Envoy admin answers follow Istio's
documented egress rules, in milliseconds.

It proves wiring only: that a scenario drives ``t`` through its steps, that the verdicts
read what the sidecar shows and that everything changed is undone. It never proves egress
behaviour; only the real runs (tests/integration, tests/cluster, tests/kind) do, and these
tests stand beside them, never in their place. Whatever the fake is asked and does not
model raises NotModelled instead of answering something plausible.
"""

import dataclasses
import io
import itertools
import json
import re
import urllib.parse

import urllib3
import yaml
from kubernetes import client

from egress_conformance.providers import base, features
from egress_conformance.providers.base import ExecResult, MeshInfo

ALLOW_ANY, REGISTRY_ONLY = "ALLOW_ANY", "REGISTRY_ONLY"
BLACKHOLE, PASSTHROUGH = "BlackHoleCluster", "PassthroughCluster"
KUBERNETES_CLUSTER = "outbound|443||kubernetes.default.svc.cluster.local"
"""Every mesh has the kubernetes Service: its cluster is in every sidecar, as in the real captures."""

ISTIO_NAMESPACE, MESH_CONFIG_MAP = "istio-system", "istio"
TEST_NAMESPACE, CLIENT_POD = "egress-test", "client"
TRUSTED_CA = "/etc/fake-mesh/ca.pem"
"""The CA the simulated internet's certificates chain to: HTTPS without it fails verification."""

MESH_TEXT = """\
# Kept by the platform team: a restore must give back this comment too.
accessLogFile: /dev/stdout
defaultConfig:
  discoveryAddress: istiod.istio-system.svc:15012
rootNamespace: istio-system
"""
"""The mesh config a fake mesh starts with: no outboundTrafficPolicy, so ALLOW_ANY."""

RESTRICTED_MESH_TEXT = MESH_TEXT + "outboundTrafficPolicy:\n  mode: REGISTRY_ONLY\n"
"""A mesh its owners keep at REGISTRY_ONLY."""


class NotModelled(Exception):
    """The fake was asked something it does not model; answering anyway would prove nothing."""


# -- the Kubernetes API


@dataclasses.dataclass(frozen=True)
class _Kind:
    api_version: str
    kind: str
    plural: str


KINDS = (_Kind("v1", "ConfigMap", "configmaps"),
         _Kind("networking.istio.io/v1", "ServiceEntry", "serviceentries"),
         _Kind("networking.istio.io/v1", "Sidecar", "sidecars"),
         _Kind("networking.istio.io/v1", "DestinationRule", "destinationrules"),
         _Kind("networking.istio.io/v1", "VirtualService", "virtualservices"),
         _Kind("networking.istio.io/v1alpha3", "EnvoyFilter", "envoyfilters"),
         _Kind("security.istio.io/v1", "AuthorizationPolicy", "authorizationpolicies"),
         _Kind("v1", "Node", "nodes"),
         _Kind("v1", "Service", "services"),
         _Kind("discovery.k8s.io/v1", "EndpointSlice", "endpointslices"),
         _Kind("v1", "Pod", "pods"),
         _Kind("apps/v1", "Deployment", "deployments"),
         _Kind("apps/v1", "StatefulSet", "statefulsets"),
         _Kind("apps/v1", "DaemonSet", "daemonsets"),
         _Kind("apps/v1", "ReplicaSet", "replicasets"),
         _Kind("batch/v1", "Job", "jobs"),
         _Kind("batch/v1", "CronJob", "cronjobs"),
         _Kind("networking.k8s.io/v1", "NetworkPolicy", "networkpolicies"))
"""The only kinds the scenarios touch; the API answers 404 for any other, as for a missing CRD.
DestinationRules, VirtualServices, EnvoyFilters and AuthorizationPolicies are only listed (a failure's explanation
reads them); the fake's sidecar does not model what they do, and none is ever created."""

_OBJECT_PATH = re.compile(r"^/(?:api/(?P<core>v1)|apis/(?P<group>[^/]+)/(?P<version>[^/]+))"
                          r"/namespaces/(?P<namespace>[^/]+)/(?P<plural>[^/]+)(?:/(?P<name>[^/]+))?$")
_EVERYWHERE_PATH = re.compile(r"^/(?:api/(?P<core>v1)|apis/(?P<group>[^/]+)/(?P<version>[^/]+))/(?P<plural>[^/]+)$")
"""A kind's objects in every namespace (what a cluster-wide list asks for)."""
_NAMESPACE_PATH = re.compile(r"^/api/v1/namespaces/(?P<name>[^/]+)$")


class ApiServer:
    """An in-memory API server answering the HTTP requests the official client sends, in
    place of urllib3's pool manager: everything above the socket is the real client."""

    def __init__(self, mesh_text: str = MESH_TEXT):
        self.namespaces = {ISTIO_NAMESPACE, TEST_NAMESPACE}
        self.namespace_labels: dict[str, dict[str, str]] = {}
        self.store: dict[tuple[str, str, str], dict] = {}
        """(kind, namespace, name) -> the object as the API holds it."""
        self.history: list[tuple[str, str, str, str]] = []
        """Every write: (verb, kind, namespace, name)."""
        self.created: list[dict] = []
        """Every object created through the API, as it was stored."""
        self._versions = itertools.count(1)
        self._put("ConfigMap", {"apiVersion": "v1", "kind": "ConfigMap",
                                "metadata": {"name": MESH_CONFIG_MAP, "namespace": ISTIO_NAMESPACE},
                                "data": {"mesh": mesh_text}})
        # As every API server does: the default/kubernetes Service, its endpoint the API server itself.
        self._put("Service", {"apiVersion": "v1", "kind": "Service",
                              "metadata": {"name": "kubernetes", "namespace": "default"},
                              "spec": {"clusterIPs": ["10.96.0.1"], "ports": [{"port": 443}]}})
        self._put("EndpointSlice", {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
                                    "metadata": {"name": "kubernetes", "namespace": "default",
                                                 "labels": {"kubernetes.io/service-name": "kubernetes"}},
                                    "endpoints": [{"addresses": [API_SERVER_IP]}]})

    def mesh_text(self) -> str:
        """The mesh ConfigMap's ``mesh`` key, as stored."""
        return self.store[("ConfigMap", ISTIO_NAMESPACE, MESH_CONFIG_MAP)]["data"]["mesh"]

    def objects(self, kind: str) -> list[dict]:
        """The live objects of one kind, oldest first (the store keeps creation order; a patch keeps its place)."""
        return [obj for (each, _, _), obj in self.store.items() if each == kind]

    # urllib3.PoolManager's interface, as far as kubernetes.client.rest uses it

    def request(self, method, url, body=None, headers=None, **_transport_options) -> urllib3.HTTPResponse:
        path = urllib.parse.urlsplit(url).path
        payload = json.loads(body) if body else None
        status, answer = self._answer(method, path, (headers or {}).get("Content-Type", ""), payload)
        return urllib3.HTTPResponse(body=io.BytesIO(json.dumps(answer).encode()), status=status,
                                    headers={"Content-Type": "application/json"}, preload_content=False)

    def clear(self) -> None:
        """Nothing pooled to drop."""

    # the API's answers

    def _answer(self, method: str, path: str, content_type: str, payload) -> tuple[int, dict]:
        discovery = self._discovery(path)
        if discovery is not None and method == "GET":
            return 200, discovery
        listed = _kind_of(_EVERYWHERE_PATH.match(path))
        if listed is not None and method == "GET":
            return 200, {"kind": f"{listed.kind}List", "apiVersion": listed.api_version, "metadata": {},
                         "items": self.objects(listed.kind)}
        named = _NAMESPACE_PATH.match(path)
        if named and method == "GET":
            return 200, {"apiVersion": "v1", "kind": "Namespace",
                         "metadata": {"name": named["name"], "labels": self.namespace_labels.get(named["name"], {})}}
        match = _OBJECT_PATH.match(path)
        kind = _kind_of(match)
        if kind is None:
            return _status(404, "NotFound", f"the server could not find the requested resource ({method} {path})")
        namespace, name = match["namespace"], match["name"]
        if method == "POST" and name is None:
            return self._create(kind, namespace, payload)
        if name is None and method == "GET":
            items = [obj for obj in self.objects(kind.kind) if namespace in (None, obj["metadata"]["namespace"])]
            return 200, {"kind": f"{kind.kind}List", "apiVersion": kind.api_version, "metadata": {}, "items": items}
        if name is None:
            raise NotModelled(f"{method} of a collection ({path})")
        if method == "GET":
            return self._get(kind, namespace, name)
        if method == "DELETE":
            return self._delete(kind, namespace, name, (payload or {}).get("preconditions") or {})
        if method == "PATCH":
            return self._patch(kind, namespace, name, content_type, payload)
        raise NotModelled(f"{method} {path}")

    def _discovery(self, path: str) -> dict | None:
        if path == "/version":
            return {"major": "1", "minor": "33", "gitVersion": "v1.33.0-fake", "platform": "linux/amd64"}
        groups = sorted({k.api_version for k in KINDS if "/" in k.api_version})
        if path == "/apis":
            by_group: dict[str, list[dict]] = {}
            for group_version in groups:
                by_group.setdefault(group_version.split("/")[0], []).append(
                    {"groupVersion": group_version, "version": group_version.split("/")[1]})
            listed = [{"name": name, "versions": versions, "preferredVersion": versions[0]}
                      for name, versions in by_group.items()]
            return {"kind": "APIGroupList", "apiVersion": "v1", "groups": listed}
        for group_version in ["v1", *groups]:
            if path == ("/api/v1" if group_version == "v1" else f"/apis/{group_version}"):
                resources = [{"name": k.plural, "singularName": k.kind.lower(), "namespaced": True, "kind": k.kind,
                              "verbs": ["create", "delete", "get", "list", "patch", "update", "watch"]}
                             for k in KINDS if k.api_version == group_version]
                return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": group_version,
                        "resources": resources}
        return None

    def _create(self, kind: _Kind, namespace: str, obj: dict) -> tuple[int, dict]:
        meta = obj.get("metadata") or {}
        if (obj.get("apiVersion"), obj.get("kind")) != (kind.api_version, kind.kind):
            return _status(400, "BadRequest", f"the object is a {obj.get('kind')}, the request is for {kind.plural}")
        if meta.get("namespace", namespace) != namespace:
            return _status(400, "BadRequest", "the namespace of the provided object does not match the namespace "
                                              "sent on the request")
        if not meta.get("name"):
            return _status(422, "Invalid", f"{kind.kind} is invalid: metadata.name: Required value")
        if namespace not in self.namespaces:
            return _status(404, "NotFound", f'namespaces "{namespace}" not found')
        if (kind.kind, namespace, meta["name"]) in self.store:
            return _status(409, "AlreadyExists", f'{kind.plural} "{meta["name"]}" already exists')
        stored = self._put(kind.kind, dict(obj, metadata=dict(meta, namespace=namespace)))
        self.history.append(("create", kind.kind, namespace, meta["name"]))
        self.created.append(stored)
        return 201, stored

    def _get(self, kind: _Kind, namespace: str, name: str) -> tuple[int, dict]:
        live = self.store.get((kind.kind, namespace, name))
        return (200, live) if live else _status(404, "NotFound", f'{kind.plural} "{name}" not found')

    def _delete(self, kind: _Kind, namespace: str, name: str, preconditions: dict) -> tuple[int, dict]:
        live = self.store.get((kind.kind, namespace, name))
        if live is None:
            return _status(404, "NotFound", f'{kind.plural} "{name}" not found')
        if any(live["metadata"].get(key) != value for key, value in preconditions.items()):
            return _status(409, "Conflict", f'Precondition failed for {kind.plural} "{name}": {preconditions}')
        del self.store[(kind.kind, namespace, name)]
        self.history.append(("delete", kind.kind, namespace, name))
        return 200, live

    def _patch(self, kind: _Kind, namespace: str, name: str, content_type: str, patch: dict) -> tuple[int, dict]:
        # For maps without directives a strategic merge is a JSON merge patch: all the suite sends.
        if content_type not in ("application/strategic-merge-patch+json", "application/merge-patch+json"):
            raise NotModelled(f"a {content_type or 'untyped'} patch")
        live = self.store.get((kind.kind, namespace, name))
        if live is None:
            return _status(404, "NotFound", f'{kind.plural} "{name}" not found')
        wanted_version = (patch.get("metadata") or {}).get("resourceVersion")
        if wanted_version is not None and wanted_version != live["metadata"]["resourceVersion"]:
            return _status(409, "Conflict", f'Operation cannot be fulfilled on {kind.plural} "{name}": the object '
                                            "has been modified; please apply your changes to the latest version")
        self.history.append(("patch", kind.kind, namespace, name))
        return 200, self._put(kind.kind, _merged(live, patch))

    def _put(self, kind: str, obj: dict) -> dict:
        meta = obj["metadata"]
        version = str(next(self._versions))
        meta = dict(meta, resourceVersion=version, uid=meta.get("uid") or f"fake-uid-{version}",
                    creationTimestamp=meta.get("creationTimestamp") or "2026-01-01T00:00:00Z")
        stored = json.loads(json.dumps(dict(obj, metadata=meta)))
        self.store[(kind, meta["namespace"], meta["name"])] = stored
        return stored


def _kind_of(match: re.Match | None) -> _Kind | None:
    """The modelled kind a request path names, if any."""
    if match is None:
        return None
    api_version = match["core"] or f"{match['group']}/{match['version']}"
    return next((k for k in KINDS if (k.api_version, k.plural) == (api_version, match["plural"])), None)


def _merged(live, patch):
    """RFC 7386: maps merge key by key, null removes, anything else replaces."""
    if not isinstance(patch, dict) or not isinstance(live, dict):
        return patch
    merged = dict(live)
    for key, value in patch.items():
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = _merged(live.get(key), value)
    return merged


def _status(code: int, reason: str, message: str) -> tuple[int, dict]:
    return code, {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                  "message": message, "reason": reason, "code": code}


class ApiClient(client.ApiClient):
    """The official ApiClient, talking to an ApiServer instead of a socket."""

    def __init__(self, server: ApiServer):
        # .invalid never resolves: a request that slipped past the fake could not reach anything.
        super().__init__(client.Configuration(host="https://kubernetes.fake-mesh.invalid"))
        self.rest_client.pool_manager = server


# -- the control plane: what istiod would push to the client pod's sidecar


@dataclasses.dataclass(frozen=True)
class Xds:
    """The egress-relevant configuration pushed to one sidecar."""

    policy: str
    clusters: frozenset[str]
    http_hosts: frozenset[tuple[int, str]]
    """(port, host) of visible HTTP ServiceEntry ports: each port gets a listener and route of its own."""
    tls_hosts: frozenset[tuple[int, str]]
    """(port, host) of visible TLS and HTTPS ports: routed by SNI, TLS never terminated."""

    def http_ports(self) -> list[int]:
        """The ports with an HTTP listener of their own."""
        return sorted({port for port, _ in self.http_hosts})

    def listeners(self) -> tuple:
        """What the listeners hold: the catch-all's cluster, the HTTP ports, the TLS ports."""
        return self.policy, self.http_ports(), sorted({port for port, _ in self.tls_hosts})

    def route(self, port: int) -> tuple[frozenset[str], str]:
        """The hosts of one HTTP port's route, and its catch-all virtual host."""
        return (frozenset(host for each, host in self.http_hosts if each == port),
                "allow_any" if self.policy == ALLOW_ANY else "block_all")


class IstioLikeMesh:
    """istiod as its documentation describes egress: the namespace's Sidecar, else the mesh
    config, sets the policy; a ServiceEntry visible to the namespace (exportTo, the Sidecar's
    egress hosts) adds cluster outbound|<port>||<host> and a route to it."""

    # How the data plane behaves (Envoy reads these): as Istio's does, unless a broken mesh says otherwise.
    block_all_counted = True
    """block_all's 502 is the port-80 listener's own direct response, counted by it."""
    catch_all_reached = True
    """Connections to unknown destinations reach the sidecar's catch-all chain."""
    mirrored_to_passthrough = False
    """Requests to a registered host also leave through PassthroughCluster."""

    def __init__(self, server: ApiServer):
        self.server = server

    def push(self, namespace: str, pushed: Xds | None) -> Xds:
        """The configuration the sidecar of a pod in ``namespace`` gets, given what it has."""
        http, tls = set(), set()
        for host, entry in self.visible_hosts(namespace):
            for port in entry["spec"]["ports"]:
                protocol = port.get("protocol", "")
                if protocol not in ("HTTP", "HTTPS", "TLS"):
                    raise NotModelled(f"a ServiceEntry port of protocol {protocol or 'unset'}")
                (http if protocol == "HTTP" else tls).add((int(port["number"]), host))
        clusters = frozenset({KUBERNETES_CLUSTER} | {f"outbound|{port}||{host}" for port, host in http | tls})
        return Xds(self.policy(namespace), clusters, frozenset(http), frozenset(tls))

    def policy(self, namespace: str) -> str:
        """The namespace Sidecar's outboundTrafficPolicy, else the mesh config's, else ALLOW_ANY."""
        sidecar = self.namespace_sidecar(namespace) or {}
        return (sidecar.get("spec", {}).get("outboundTrafficPolicy") or {}).get("mode") or self.mesh_policy()

    def mesh_policy(self) -> str:
        mesh = yaml.safe_load(self.server.mesh_text()) or {}
        return (mesh.get("outboundTrafficPolicy") or {}).get("mode") or ALLOW_ANY

    def namespace_sidecar(self, namespace: str) -> dict | None:
        """The Sidecar without workloadSelector in ``namespace``, if any."""
        found = [s for s in self.server.objects("Sidecar")
                 if s["metadata"]["namespace"] == namespace and not s["spec"].get("workloadSelector")]
        if len(found) > 1:
            raise NotModelled(f"{len(found)} namespace-wide Sidecars in {namespace} (Istio leaves it undefined)")
        return found[0] if found else None

    def visible_hosts(self, namespace: str) -> list[tuple[str, dict]]:
        """(host, its ServiceEntry) for every host exported to ``namespace`` and admitted by its Sidecar."""
        sidecar = self.namespace_sidecar(namespace)
        egress_hosts = [host for listener in (sidecar or {}).get("spec", {}).get("egress") or []
                        for host in listener["hosts"]]
        visible = []
        for entry in self.server.objects("ServiceEntry"):
            home = entry["metadata"]["namespace"]
            export_to = entry["spec"].get("exportTo") or ["*"]
            if not ("*" in export_to or namespace in export_to or ("." in export_to and home == namespace)):
                continue
            visible += [(host, entry) for host in entry["spec"]["hosts"]
                        if not sidecar or any(_admits(each, home, host, namespace) for each in egress_hosts)]
        return visible


def _admits(egress_host: str, home: str, host: str, namespace: str) -> bool:
    """Does a Sidecar egress host (``namespace/host``) let the pod see ``host`` defined in ``home``?"""
    where, _, name = egress_host.partition("/")
    namespace_matches = where in ("*", home) or (where == "." and home == namespace)
    return namespace_matches and (name in ("*", host) or (name.startswith("*.") and host.endswith(name[1:])))


class MeshThatIgnoresRegistryOnly(IstioLikeMesh):
    """Broken: every sidecar passes unknown hosts through, whatever the policy says."""

    def push(self, namespace, pushed):
        return dataclasses.replace(super().push(namespace, pushed), policy=ALLOW_ANY)


class MeshThatKeepsDeletedClusters(IstioLikeMesh):
    """Broken: a deleted ServiceEntry's cluster is never removed from the sidecar."""

    def push(self, namespace, pushed):
        wanted = super().push(namespace, pushed)
        return dataclasses.replace(wanted, clusters=wanted.clusters | (pushed.clusters if pushed else frozenset()))


class MeshWhose502sComeFromElsewhere(IstioLikeMesh):
    """Broken: an unknown host's 502 comes from something in the path, not the sidecar's block_all
    route (its listener counts nothing)."""

    block_all_counted = False


class MeshWhoseTrafficBypassesTheSidecar(IstioLikeMesh):
    """Broken: traffic to unknown destinations never reaches the sidecar (no catch-all capture); a
    firewall outside the mesh cuts it, so it looks blocked while the sidecar counted nothing."""

    catch_all_reached = False


class MeshThatMirrorsToPassthrough(IstioLikeMesh):
    """Broken: a request to a registered host also leaves through PassthroughCluster."""

    mirrored_to_passthrough = True


class MeshThatIgnoresNamespaceSidecars(IstioLikeMesh):
    """Broken: a namespace Sidecar's outboundTrafficPolicy has no effect; the mesh config rules."""

    def policy(self, namespace):
        return self.mesh_policy()


# -- the client pod's sidecar


@dataclasses.dataclass(frozen=True)
class _Answer:
    """What curl reports for one URL."""

    exit_code: int = 0
    status: int = 0
    error: str | None = None


class Envoy:
    """The client pod's sidecar: takes each push from the mesh (counted in its xDS update
    counters, the config generation the waits compare), shows it on its admin API and
    routes requests by it."""

    def __init__(self, mesh: IstioLikeMesh, namespace: str):
        self.mesh, self.namespace = mesh, namespace
        self.xds: Xds | None = None
        self.counters: dict[str, int] = {}

    def sync(self) -> None:
        """Take the mesh's current configuration; pushes land at once (convergence delays are not modelled)."""
        before, after = self.xds, self.mesh.push(self.namespace, self.xds)
        if before == after:
            return
        if before is None or before.clusters != after.clusters:
            self._count("cluster_manager.cds.update_success")
        if before is None or before.listeners() != after.listeners():
            self._count("listener_manager.lds.update_success")
        for port in after.http_ports():
            if before is None or before.route(port) != after.route(port):
                self._count(f"http.outbound_0.0.0.0_{port}.rds.{port}.update_success")
        self.xds = after

    def _count(self, name: str) -> None:
        self.counters[name] = self.counters.get(name, 0) + 1

    def _through(self, cluster: str, *counters: str) -> None:
        for counter in counters:
            self._count(f"cluster.{cluster};.{counter}")

    # requests from the app container

    def request(self, url: str, cacert: str | None, trusted_ca: str | None) -> _Answer:
        """Route one request the way Istio's listeners would, moving the counters a real Envoy moves."""
        self.sync()
        parts = urllib.parse.urlsplit(url)
        host, tls = parts.hostname, parts.scheme == "https"
        port = parts.port or (443 if tls else 80)
        xds = self.xds
        if not tls and port in xds.http_ports():
            if (port, host) in xds.http_hosts:
                self._through(f"outbound|{port}||{host}", "upstream_rq_total", "upstream_cx_total")
                if self.mesh.mirrored_to_passthrough:
                    self._through(PASSTHROUGH, "upstream_rq_total", "upstream_cx_total")
                return _Answer(status=200)
            if xds.policy == ALLOW_ANY:
                self._through(PASSTHROUGH, "upstream_rq_total", "upstream_cx_total")
                return _Answer(status=200)
            if self.mesh.block_all_counted:  # block_all answers itself: no cluster takes the request
                self._count(f"http.outbound_0.0.0.0_{port};.rq_direct_response")
            return _Answer(status=502)
        if tls and (port, host) in xds.tls_hosts:
            self._through(f"outbound|{port}||{host}", "upstream_cx_total")
            return self._tls_end_to_end(cacert, trusted_ca)
        if xds.policy == ALLOW_ANY:
            self._through(PASSTHROUGH, "upstream_cx_total")
            return self._tls_end_to_end(cacert, trusted_ca) if tls else _Answer(status=200)
        # BlackHoleCluster has no endpoints: the connection is accepted, then closed.
        if self.mesh.catch_all_reached:
            self._through(BLACKHOLE, "upstream_cx_none_healthy")
        if tls:
            return _Answer(35, 0, f"OpenSSL SSL_connect: SSL_ERROR_SYSCALL in connection to {host}:{port} ")
        return _Answer(52, 0, "Empty reply from server")

    @staticmethod
    def _tls_end_to_end(cacert: str | None, trusted_ca: str | None) -> _Answer:
        if trusted_ca and cacert != trusted_ca:
            return _Answer(60, 0, "SSL certificate problem: unable to get local issuer certificate")
        return _Answer(status=200)

    # the admin API, as `pilot-agent request GET <path>` gives it

    def admin(self, path: str) -> str:
        """The answer to GET ``path``: /stats, or the parts of /config_dump that envoy.CONFIG_PATHS ask for."""
        self.sync()
        parts = urllib.parse.urlsplit("/" + path.lstrip("/"))
        query = urllib.parse.parse_qs(parts.query, keep_blank_values=True)
        if parts.path == "/stats":
            return self._stats(query)
        if parts.path == "/config_dump" and "resource" in query:
            return self._config_dump(query["resource"][0], (query.get("name_regex") or [""])[0])
        raise NotModelled(f"Envoy admin {path}")

    def _stats(self, query: dict) -> str:
        pattern = re.compile((query.get("filter") or [""])[0])
        shown = {name: value for name, value in self.counters.items()
                 if pattern.search(name) and (value or "usedonly" not in query)}
        return "".join(f"{name}: {value}\n" for name, value in sorted(shown.items()))

    def _config_dump(self, resource: str, name_regex: str) -> str:
        named = re.compile(name_regex)
        xds = self.xds
        if resource == "dynamic_listeners":
            listeners = [_virtual_outbound(PASSTHROUGH if xds.policy == ALLOW_ANY else BLACKHOLE)]
            listeners += [_http_listener(port) for port in xds.http_ports()]
            items = [("ListenersConfigDump.DynamicListener", listener["name"], {
                "name": listener["name"], "active_state": {"listener": listener}}) for listener in listeners]
        elif resource == "dynamic_route_configs":
            routes = [_route(port, *xds.route(port)) for port in xds.http_ports()]
            items = [("RoutesConfigDump.DynamicRouteConfig", route["name"], {"route_config": route})
                     for route in routes]
        elif resource == "dynamic_active_clusters":
            names = sorted(xds.clusters | {BLACKHOLE, PASSTHROUGH, "InboundPassthroughCluster"})
            items = [("ClustersConfigDump.DynamicCluster", name, {"cluster": _cluster(name)}) for name in names]
        elif resource == "dynamic_endpoint_configs":
            items = [("EndpointsConfigDump.DynamicEndpointConfig", KUBERNETES_CLUSTER, {"endpoint_config": {
                "cluster_name": KUBERNETES_CLUSTER, "endpoints": [{"lb_endpoints": [_endpoint(API_SERVER_IP)]}]}})]
        else:
            raise NotModelled(f"config_dump resource {resource}")
        configs = [dict(body, **{"@type": f"type.googleapis.com/envoy.admin.v3.{kind}"})
                   for kind, name, body in items if named.search(name)]
        return json.dumps({"configs": configs}, indent=1)


API_SERVER_IP = "10.0.0.1"
"""The address of the API server's endpoint (the default/kubernetes Service's EndpointSlice)."""


def _endpoint(address: str, port: int = 443) -> dict:
    return {"endpoint": {"address": {"socket_address": {"address": address, "port_value": port}}}}


def _cluster(name: str) -> dict:
    """A cluster as Istio makes it: a ServiceEntry's DNS-resolved (its host the endpoint), a Service's EDS."""
    if name in (PASSTHROUGH, "InboundPassthroughCluster"):
        return {"name": name, "type": "ORIGINAL_DST"}
    if name == BLACKHOLE:
        return {"name": name, "type": "STATIC"}
    if name == KUBERNETES_CLUSTER:
        return {"name": name, "type": "EDS"}
    port, host = int(name.split("|")[1]), name.split("|")[3]
    return {"name": name, "type": "STRICT_DNS",
            "load_assignment": {"cluster_name": name, "endpoints": [{"lb_endpoints": [_endpoint(host, port)]}]}}


def _tcp_proxy(cluster: str) -> dict:
    return {"name": "envoy.filters.network.tcp_proxy", "typed_config": {
        "@type": "type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy",
        "stat_prefix": cluster, "cluster": cluster}}


def _virtual_outbound(catch_all: str) -> dict:
    # As Istio builds it: a guard chain for traffic sent to the listener itself, then the catch-all.
    return {"name": "virtualOutbound", "address": {"socket_address": {"address": "0.0.0.0", "port_value": 15001}},
            "filter_chains": [
                {"name": "virtualOutbound-blackhole", "filter_chain_match": {"destination_port": 15001},
                 "filters": [_tcp_proxy(BLACKHOLE)]},
                {"name": "virtualOutbound-catchall-tcp", "filters": [_tcp_proxy(catch_all)]}],
            "use_original_dst": True, "traffic_direction": "OUTBOUND"}


def _http_listener(port: int) -> dict:
    return {"name": f"0.0.0.0_{port}", "address": {"socket_address": {"address": "0.0.0.0", "port_value": port}},
            "filter_chains": [{"filters": [{"name": "envoy.filters.network.http_connection_manager", "typed_config": {
                "stat_prefix": f"outbound_0.0.0.0_{port};", "rds": {"route_config_name": str(port)}}}]}],
            "traffic_direction": "OUTBOUND"}


def _route(port: int, hosts: frozenset[str], catch_all: str) -> dict:
    virtual_hosts = [{"name": f"{host}:{port}", "domains": [host, f"{host}."],
                      "routes": [{"match": {"prefix": "/"}, "route": {"cluster": f"outbound|{port}||{host}"}}]}
                     for host in sorted(hosts)]
    action = {"route": {"cluster": PASSTHROUGH}} if catch_all == "allow_any" else {"direct_response": {"status": 502}}
    virtual_hosts.append({"name": catch_all, "domains": ["*"], "routes": [{"match": {"prefix": "/"}, **action}]})
    return {"name": str(port), "virtual_hosts": virtual_hosts, "ignore_port_in_host_matching": True}


# -- the client pod and the provider


class Workload(base.Workload):
    """The meshed client pod: curl in its app container, pilot-agent in its sidecar."""

    def __init__(self, envoy: Envoy):
        self.envoy = envoy
        self.namespace, self.name, self.trusted_ca = envoy.namespace, CLIENT_POD, TRUSTED_CA

    def exec(self, container, argv, timeout):
        if container == base.APP and argv[:1] == ["curl"]:
            return self._curl(argv[1:])
        if container == base.PROXY and argv[:3] == ["pilot-agent", "request", "GET"] and len(argv) == 4:
            return ExecResult(0, self.envoy.admin(argv[3]), "")
        raise NotModelled(f"exec in {container}: {' '.join(argv)}")

    def _curl(self, args: list[str]) -> ExecResult:
        urls, outputs, write_out, cacert = [], 0, "", None
        words = iter(args)
        for word in words:
            if word in ("-sS", "--no-progress-meter", "--parallel"):
                continue
            if word in ("--parallel-max", "--max-time"):
                next(words)
            elif word == "-o":
                outputs += next(words) == "/dev/null"
            elif word == "--write-out":
                write_out = next(words)
            elif word == "--cacert":
                cacert = next(words)
            elif word.startswith("-"):
                raise NotModelled(f"curl option {word}")
            else:
                urls.append(word)
        if outputs != len(urls) or write_out not in ("%{json}", "%{json}\\n"):
            # Response bodies on stdout and other write-out formats are not modelled.
            raise NotModelled(f"curl with {outputs} '-o /dev/null' for {len(urls)} URLs, --write-out {write_out!r}")
        answers = [(url, self.envoy.request(url, cacert, self.trusted_ca)) for url in urls]
        stdout, stderr = "", ""
        # --parallel reports transfers as they end, not in the order given.
        for url, answer in reversed(answers) if "--parallel" in args else answers:
            record = {"url": url, "url_effective": url, "http_code": answer.status, "response_code": answer.status,
                      "exitcode": answer.exit_code, "errormsg": answer.error}
            stdout += json.dumps(record) + ("\n" if write_out.endswith("\\n") else "")
            if answer.exit_code:
                stderr += f"curl: ({answer.exit_code}) {answer.error}\n"
        failed = [answer.exit_code for _, answer in answers if answer.exit_code]
        return ExecResult(failed[0] if failed else 0, stdout, stderr)


class Provider(base.Provider):
    """A started fake mesh: its API, its client pod, its mesh ConfigMap."""

    name = "fake"

    def __init__(self, mesh: IstioLikeMesh, run_targets):
        super().__init__(None, run_targets)
        self.mesh, self.server = mesh, mesh.server
        self._api = ApiClient(mesh.server)
        self._workload = Workload(Envoy(mesh, TEST_NAMESPACE))

    @classmethod
    def parse_options(cls, values):
        return None

    def start(self, undo, journal):
        """Nothing to bring up."""

    def api(self):
        return self._api

    def workload(self):
        return self._workload

    def info(self):
        return MeshInfo("fake", "v1.33.0-fake", "1.28.0-fake", "default", ISTIO_NAMESPACE, MESH_CONFIG_MAP,
                        self.mesh.mesh_policy())

    def features(self):
        return frozenset(features.ALL)

    def cluster(self):
        return {"provider": self.name, "kubeconfig": None, "context": None, "server": self._api.configuration.host}

    def logs(self):
        return {}

    def ensure_healthy(self):
        """Never crashes."""

    def check_target(self):
        """The fake internet always answers."""


def provider(run_targets, mesh: type[IstioLikeMesh] = IstioLikeMesh, mesh_text: str = MESH_TEXT) -> Provider:
    """A fake mesh of kind ``mesh`` whose mesh config starts as ``mesh_text``."""
    return Provider(mesh(ApiServer(mesh_text)), run_targets)
