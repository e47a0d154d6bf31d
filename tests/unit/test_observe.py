import pytest

from egress_conformance.verdicts import observe


@pytest.mark.parametrize(
    "record, expected",
    [
        ({"exitcode": 0, "http_code": 200, "errormsg": None}, (observe.REACHABLE, 200)),
        ({"exitcode": 0, "http_code": 502, "errormsg": None}, (observe.HTTP_ERROR, 502)),
        ({"exitcode": 52, "http_code": 0, "errormsg": "Empty reply from server"}, (observe.RESET, None)),
        ({"exitcode": 56, "http_code": 0, "errormsg": "Recv failure: Connection reset by peer"}, (observe.RESET, None)),
        ({"exitcode": 35, "http_code": 0, "errormsg": "OpenSSL SSL_connect: SSL_ERROR_SYSCALL"}, (observe.TLS_FAILURE, None)),
        ({"exitcode": 28, "http_code": 0, "errormsg": "Operation timed out"}, (observe.TIMEOUT, None)),
        ({"exitcode": 6, "http_code": 0, "errormsg": "Could not resolve host"}, (observe.UNRESOLVED, None)),
        ({"exitcode": 7, "http_code": 0, "errormsg": "Failed to connect"}, (observe.REFUSED, None)),
        ({"exitcode": 3, "http_code": 0, "errormsg": "URL malformed"}, (observe.ERROR, None)),
    ],
)
def test_classify_maps_each_curl_result_to_one_outcome(record, expected):
    outcome, status, _ = observe.classify(record)
    assert (outcome, status) == expected


def test_a_timeout_is_never_classified_as_a_block():
    outcome, _, error = observe.classify({"exitcode": 28, "http_code": 0, "errormsg": "timed out"})
    assert outcome == observe.TIMEOUT and outcome not in (observe.RESET, observe.HTTP_ERROR)
    assert error == "timed out"


def test_missing_error_text_names_the_exit_code():
    assert observe.classify({"exitcode": 99})[2] == "curl exit code 99"
