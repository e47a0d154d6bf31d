"""Envoy's admin API of the client pod's sidecar through one port-forward (the API's
pods/portforward) to its port 15000, kept open across reads: HTTP/1.1 keep-alive on the
forwarded socket, instead of one exec of ``pilot-agent request`` per read.

One request at a time on the connection, each response read whole before the next request
is sent, so a response always belongs to the request before it. Any error (a timeout, a
dropped stream, the pod restarted) closes the connection; the read is tried once more on a
new port-forward, and a connection is never used again after an error.
"""

import http.client
import threading

from kubernetes import client
from kubernetes.stream import portforward

ADMIN_PORT = 15000
"""Envoy's admin port in Istio's sidecar, bound to 127.0.0.1 in the pod: a port-forward reaches it."""


class AdminRefused(Exception):
    """The cluster refuses a port-forward to the pod (RBAC: pods/portforward is a right of its own)."""


class AdminBroken(Exception):
    """The admin read failed twice over fresh port-forwards; str(err) says how."""


class _Forwarded(http.client.HTTPConnection):
    """An HTTP connection whose socket is a port-forward to the pod's admin port: http.client
    calls connect() for the first request and after the server closed a kept-alive connection."""

    def __init__(self, core: client.CoreV1Api, namespace: str, pod: str, timeout: float):
        super().__init__("localhost", ADMIN_PORT, timeout=timeout)
        self._core, self._namespace, self._pod = core, namespace, pod
        self._forward = None

    def connect(self) -> None:
        self._drop_forward()
        try:
            forward = portforward(self._core.connect_get_namespaced_pod_portforward, self._pod, self._namespace,
                                  ports=str(ADMIN_PORT))
        except client.ApiException as err:
            if "403" in f"{err.status} {err.reason}":
                raise AdminRefused(f"port-forward to {self._namespace}/{self._pod} refused ({_short(err.reason)}): "
                                   "the credentials lack pods/portforward") from None
            raise ConnectionError(f"port-forward to {self._namespace}/{self._pod} failed: {_short(err.reason)}") \
                from None
        self._forward = forward
        self.sock = forward.socket(ADMIN_PORT)
        self.sock.settimeout(self.timeout)

    def close(self) -> None:
        super().close()
        self._drop_forward()

    def _drop_forward(self) -> None:
        if self._forward is not None:
            self._forward.close()  # its proxy thread ends once the socket it serves is closed
            self._forward = None


class AdminPort:
    """GET paths of the sidecar's admin API over a kept-open port-forward."""

    def __init__(self, core: client.CoreV1Api, namespace: str, pod: str, timeout: float = 10.0):
        self._connection = _Forwarded(core, namespace, pod, timeout)
        self._lock = threading.Lock()

    def get(self, path: str) -> tuple[int, str]:
        """(HTTP status, body) of GET ``path``. Raises AdminRefused when the port-forward is
        refused, AdminBroken when the read failed on two port-forwards in a row."""
        with self._lock:
            failure = ""
            for _ in range(2):
                try:
                    self._connection.request("GET", "/" + path.lstrip("/"))
                    response = self._connection.getresponse()
                    body = response.read()
                    if response.will_close:
                        self._connection.close()
                    return response.status, body.decode("utf-8", "replace")
                except AdminRefused:
                    self._connection.close()
                    raise
                except (OSError, http.client.HTTPException) as err:  # timeouts and dropped streams included
                    self._connection.close()
                    failure = f"{type(err).__name__}: {_short(str(err))}"
            raise AdminBroken(f"admin read {path} failed on two port-forwards: {failure}")

    def close(self) -> None:
        """Close the connection and its port-forward."""
        with self._lock:
            self._connection.close()


def _short(text: str | None) -> str:
    # websocket-client appends the response headers to a refused handshake's status after " -+-+- ".
    lines = (text or "").split(" -+-+- ")[0].strip().splitlines()
    return lines[0][:200] if lines else "no detail"
