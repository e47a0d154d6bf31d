from egress_conformance.benchmarks import flow, soak
from egress_conformance.hosts import targets


def fake_process(proc, pid, group, rss_kib, files):
    entry = proc / str(pid)
    (entry / "fd").mkdir(parents=True)
    (entry / "stat").write_text(f"{pid} (name with ) paren) S 1 {group} {group} 0\n")
    (entry / "status").write_text(f"Name:\tx\nVmRSS:\t{rss_kib} kB\n")
    for n in range(files):
        (entry / "fd" / str(n)).touch()


def test_usage_sums_the_process_group_only(tmp_path):
    fake_process(tmp_path, 10, 10, 1000, 3)
    fake_process(tmp_path, 11, 10, 500, 2)
    fake_process(tmp_path, 12, 99, 7000, 9)
    (tmp_path / "self").mkdir()
    assert soak.usage(10, tmp_path) == soak.Usage(processes=2, open_files=5, rss_kib=1500)


def test_tables_give_medians_worst_and_ratios():
    samples = [flow.Sample(step, strategy, 0.1, verdict)
               for step in flow.STEPS
               for strategy, verdict in (("evidence", 0.3), ("fixed 0.5 s", 1.5), (flow.DOCS, 2.4))]
    cost = {"probe": 0.06, "round trips": 3, "bytes read": 9000, "whole config dump bytes": 178000,
            "whole config dump seconds": 0.02}
    text = flow.tables(samples, cost)
    restrict = next(line for line in text.splitlines() if line.startswith("restrict"))
    assert "100/   100 ms" in restrict and "3.0x" in restrict and "5.0x" in restrict and "8.0x" in restrict


def test_the_istio_docs_wait_takes_the_first_match_and_backs_off_exponentially():
    answers, slept = iter(["not yet", "not yet", None]), []

    class Client:
        def probe(self, request):
            return request

    class T:
        targets = targets.from_options({})
        client = Client()

    flow.docs_verify(T(), "step", lambda obs: next(answers), sleep=slept.append)
    assert slept == [2, 4]
