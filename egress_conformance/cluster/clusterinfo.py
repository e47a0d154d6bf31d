"""What a cluster says about itself: the API server's version and istiod's, read from
the running components rather than copied from the pins they were built at."""

from kubernetes import client


def kubernetes_version(api: client.ApiClient) -> str:
    """The API server's /version gitVersion, e.g. ``v1.36.3``."""
    return client.VersionApi(api).get_code().git_version


def istio_version(build_info: str) -> str:
    """The version part of istiod's ``/version`` text.

    istiod prints ``Version-GitRevision-BuildStatus`` (istio pkg/version BuildInfo.String);
    the version itself may hold dashes (``1.31-dev+eed52ebb66ad``), the two fields after it do not.
    """
    text = build_info.strip()
    parts = text.rsplit("-", 2)
    return parts[0] if len(parts) == 3 else text
