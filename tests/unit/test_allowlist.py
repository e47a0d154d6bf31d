import pytest

from egress_conformance.hosts import allowlist

SE = """
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: a}
spec:
  hosts: [api.example.org, www.example.org]
  ports: [{number: 443, name: https, protocol: HTTPS}]
"""


def test_csv_yaml_and_service_entries_give_the_same_entries(tmp_path):
    (tmp_path / "list.csv").write_text("host,port,protocol\nAPI.example.org,443,https\nwww.example.org,443,HTTPS\n")
    (tmp_path / "list.yaml").write_text("- {host: api.example.org, port: 443, protocol: HTTPS}\n"
                                        "- {host: www.example.org, port: 443, protocol: HTTPS}\n")
    (tmp_path / "entries.yaml").write_text(SE)
    loaded = [allowlist.load(tmp_path / name) for name in ("list.csv", "list.yaml", "entries.yaml")]
    assert loaded[0] == loaded[1] == loaded[2] == [allowlist.Entry("api.example.org", 443, "HTTPS"),
                                                    allowlist.Entry("www.example.org", 443, "HTTPS")]


@pytest.mark.parametrize("text, message", [
    ("host,port,protocol\nx.org,eighty,HTTP\n", "needs host, port"),
    ("host,port,protocol\nx.org,80,GOPHER\n", "GOPHER is not one of"),
    ("host,port,protocol\n", "empty"),
])
def test_bad_rows_are_one_clear_line(tmp_path, text, message):
    (tmp_path / "list.csv").write_text(text)
    with pytest.raises(allowlist.AllowListError, match=message):
        allowlist.load(tmp_path / "list.csv")


def test_service_entry_and_cluster():
    entry = allowlist.Entry("api.example.org", 8443, "TLS")
    spec = allowlist.service_entry(entry, "allow-0")["spec"]
    assert spec["hosts"] == ["api.example.org"] and spec["ports"][0] == {"number": 8443, "name": "tls-8443",
                                                                         "protocol": "TLS"}
    assert allowlist.cluster(entry) == "outbound|8443||api.example.org" and allowlist.is_tls(entry)


def test_two_tcp_hosts_on_one_port_are_refused_with_the_reason(tmp_path):
    (tmp_path / "list.csv").write_text("host,port,protocol\na.example.org,5432,TCP\nb.example.org,5432,TCP\n")
    with pytest.raises(allowlist.AllowListError, match="both TCP on port 5432: Envoy cannot tell them apart"):
        allowlist.load(tmp_path / "list.csv")
