"""The run's external hosts: defaults, options, and what a simulated internet must serve."""

import pytest

from egress_conformance.hosts import allowlist, targets
from egress_conformance.scenarios import allow_list


def test_defaults_are_the_walkthrough_and_the_shipped_allow_list():
    chosen = targets.from_options({}, allow_list.DEFAULT_LIST)
    assert chosen.host == "httpbin.org" and chosen.aliases == ("www.httpbin.org",) and chosen.path == "/get"
    assert chosen.url("http") == "http://httpbin.org/get" and chosen.url("https", "pypi.org", 443) == \
        "https://pypi.org/get"
    assert allowlist.Entry("api.github.com", 443, "HTTPS") in chosen.allow_list
    assert set(chosen.names()) >= {"httpbin.org", "www.httpbin.org", "example.com", "api.github.com"}
    assert chosen.substitutions() == {"host": "httpbin.org", "hosts": '["httpbin.org", "www.httpbin.org"]'}


def test_a_teams_host_path_and_list(tmp_path):
    (tmp_path / "list.csv").write_text("host,port,protocol\nexample.com,80,HTTP\nrepo.example.net,8443,TLS\n"
                                       "db.example.net,5432,TCP\n")
    chosen = targets.from_options({"external_host": "API.Example.io", "external_path": "/healthz",
                                   "allow_list": str(tmp_path / "list.csv")})
    assert chosen.host == "api.example.io" and chosen.aliases == () and chosen.url("http", port=8080) == \
        "http://api.example.io:8080/healthz"
    assert "example.com" not in chosen.unlisted  # listed: no longer a negative control
    assert chosen.ports() == ((80, 5432), (443, 8443))


@pytest.mark.parametrize("options, message", [
    ({"external_host": "https://x.org/"}, "is not a DNS host name"),
    ({"external_path": "get"}, "must start with /"),
    ({"allow_list": "/nonexistent/list.csv"}, "cannot read the allow-list"),
])
def test_bad_target_options_are_one_line(options, message):
    with pytest.raises(targets.TargetError, match=message):
        targets.from_options(options)


def test_a_port_both_plain_and_tls_is_refused(tmp_path):
    (tmp_path / "list.csv").write_text("host,port,protocol\na.example.org,8443,TLS\nb.example.org,8443,HTTP\n")
    with pytest.raises(targets.TargetError, match="port 8443 is listed both as plain"):
        targets.from_options({"allow_list": str(tmp_path / "list.csv")})
