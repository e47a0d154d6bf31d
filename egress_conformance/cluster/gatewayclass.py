"""Whether istiod deploys gateways for the Gateway API: its GatewayClass ``istio``, read
through the API. The suite's existing provider detects the gateway-api feature by it; the
test bed's node waits on it after installing the Gateway API. Read-only."""

from kubernetes import client
from kubernetes.dynamic.exceptions import ResourceNotFoundError

from egress_conformance.cluster import kube

GATEWAY_API = "gateway.networking.k8s.io/v1"
ISTIO_CLASS = "istio"
ISTIO_CONTROLLER = "istio.io/gateway-controller"


def istio_class(api: client.ApiClient) -> tuple[bool, str]:
    """(whether istiod's gateway controller accepts GatewayClass ``istio``; in words, what was
    found or why not): the Gateway API CRDs served and the class accepted."""
    try:
        found = kube.get(api, {"apiVersion": GATEWAY_API, "kind": "GatewayClass", "metadata": {"name": ISTIO_CLASS}})
    except ResourceNotFoundError:
        return False, "no Gateway API CRDs (gateway.networking.k8s.io/v1 GatewayClass is not served)"
    except client.ApiException as err:
        return False, f"GatewayClass {ISTIO_CLASS} {refused(err, 'get it')}"
    if found is None:
        return False, (f"no GatewayClass {ISTIO_CLASS}: istiod does not manage the Gateway API (its "
                       "PILOT_ENABLE_GATEWAY_API or PILOT_ENABLE_GATEWAY_API_GATEWAYCLASS_CONTROLLER is off)")
    controller = (found.get("spec") or {}).get("controllerName")
    if controller != ISTIO_CONTROLLER:
        return False, f"GatewayClass {ISTIO_CLASS} belongs to {controller}, not {ISTIO_CONTROLLER}"
    accepted = condition(found, "Accepted")
    if accepted.get("status") != "True":
        return False, f"GatewayClass {ISTIO_CLASS} not accepted by istiod: {said(accepted)}"
    return True, f"GatewayClass {ISTIO_CLASS} accepted by {ISTIO_CONTROLLER}"


def refused(err: client.ApiException, what: str) -> str:
    """The "not looked for" line of a read the API refused; any other error is raised again."""
    if err.status not in (401, 403):
        raise err
    return (f"not looked for: the API refused to {what} (HTTP {err.status}); deploy/egress-gateway.yaml grants "
            "what the gateway scenarios need")


def condition(obj: dict, kind: str) -> dict:
    """The status condition of type ``kind`` of a Gateway API object, or {}."""
    return next((c for c in (obj.get("status") or {}).get("conditions") or [] if c.get("type") == kind), {})


def said(condition: dict) -> str:
    """A condition's reason and message, in words."""
    if not condition:
        return "no condition yet"
    return f"{condition.get('reason')}: {condition.get('message')}"
