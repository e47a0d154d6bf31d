"""Creating and deleting the run's objects when the API does not answer plainly, on the fake
API server (the official client unchanged above it): an object someone replaced under the
same name is never deleted, and a create whose answer was lost is decided by a GET."""

import pytest
from kubernetes.client.exceptions import ApiException

from egress_conformance.changes import cleanup, objects, undoing
from egress_conformance.changes.journal import Journal
from tests import fakemesh

ENTRY = {"apiVersion": "networking.istio.io/v1", "kind": "ServiceEntry",
         "metadata": {"name": "httpbin", "namespace": fakemesh.TEST_NAMESPACE},
         "spec": {"hosts": ["httpbin.org"], "ports": [{"number": 80, "name": "http", "protocol": "HTTP"}]}}


@pytest.fixture
def server():
    return fakemesh.ApiServer()


@pytest.fixture
def run_journal(tmp_path):
    return Journal({"provider": "existing", "server": "fake"}, tmp_path / "journal.json")


def test_an_object_someone_replaced_under_the_same_name_is_never_deleted(server, run_journal):
    api, undo = fakemesh.ApiClient(server), cleanup.Stack()
    delete = objects.create(api, dict(ENTRY), undo, run_journal)
    key = ("ServiceEntry", fakemesh.TEST_NAMESPACE, "httpbin")
    server.store.pop(key)  # someone deletes it and makes their own, same name and spec
    server._create(fakemesh.KINDS[1], fakemesh.TEST_NAMESPACE, dict(ENTRY))
    theirs = server.store[key]["metadata"]["uid"]
    with pytest.raises(undoing.RestoreConflict, match="is not the object the run created"):
        delete.run()
    assert server.store[key]["metadata"]["uid"] == theirs and run_journal.entries  # left, journal kept


def test_a_delete_is_conditional_on_the_object_compared(server):
    api = fakemesh.ApiClient(server)
    server._create(fakemesh.KINDS[1], fakemesh.TEST_NAMESPACE, dict(ENTRY))
    live = server.store[("ServiceEntry", fakemesh.TEST_NAMESPACE, "httpbin")]
    with pytest.raises(ApiException) as err:
        undoing.kube.delete_and_wait(api, ENTRY, preconditions={"uid": "another", "resourceVersion": "1"})
    assert err.value.status == 409 and live["metadata"]["name"] == "httpbin"


class LostAnswer(fakemesh.ApiServer):
    """Creates the object, then answers 503 (a timed-out apiserver, a proxy in between)."""

    def _create(self, kind, namespace, obj):
        super()._create(kind, namespace, obj)
        return fakemesh._status(503, "ServiceUnavailable", "the server is currently unable to handle the request")


def test_a_create_whose_answer_was_lost_is_undone_like_any_other(run_journal):
    server = LostAnswer()
    api, undo = fakemesh.ApiClient(server), cleanup.Stack()
    with pytest.raises(ApiException):
        objects.create(api, dict(ENTRY), undo, run_journal)
    assert [e["type"] for e in run_journal.entries] == ["created"]  # the GET found it: it is the run's
    undo.close()
    assert ("ServiceEntry", fakemesh.TEST_NAMESPACE, "httpbin") not in server.store and not run_journal.entries


def test_a_refused_create_leaves_nothing_to_restore(server, run_journal):
    api, undo = fakemesh.ApiClient(server), cleanup.Stack()
    server._create(fakemesh.KINDS[1], fakemesh.TEST_NAMESPACE, dict(ENTRY))
    with pytest.raises(ApiException) as err:
        objects.create(api, dict(ENTRY), undo, run_journal)  # 409: someone's object of that name
    assert err.value.status == 409 and run_journal.entries == [] and undo.close() is None
    assert ("ServiceEntry", fakemesh.TEST_NAMESPACE, "httpbin") in server.store
