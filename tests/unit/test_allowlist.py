import pytest

from egress_conformance import allowlist

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


def test_service_entry_and_unlisted_sample():
    entry = allowlist.Entry("api.example.org", 80, "HTTP")
    spec = allowlist.service_entry(entry, "allow-0")["spec"]
    assert spec["hosts"] == ["api.example.org"] and spec["ports"][0]["protocol"] == "HTTP"
    sample = allowlist.unlisted_sample([entry], 3)
    assert len(sample) == 3 and "api.example.org" not in sample
