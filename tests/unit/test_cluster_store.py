"""The report's ConfigMap store, its pure parts: the target named on the command line, and the
gzip split into parts under the API's size limit and joined back only when whole."""

import hashlib
import json
import os

import pytest

from egress_conformance.reports import cluster_store


def test_a_report_splits_into_parts_under_the_limit_and_joins_back_whole():
    document = json.dumps({"tests": [{"name": f"t{i}", "noise": os.urandom(64).hex()} for i in range(3000)]}).encode()
    parts = cluster_store.split(document, part_bytes=64 * 1024)
    assert len(parts) > 2 and all(len(part) <= 64 * 1024 for part in parts)
    digest = hashlib.sha256(b"".join(parts)).hexdigest()
    assert cluster_store.join(parts, digest) == document
    assert cluster_store.split(document, 64 * 1024) == parts  # reproducible: no time in the gzip header


def test_a_typical_report_fits_one_configmap():
    document = json.dumps({"tests": [{"name": f"test-{i}", "steps": ["blocked (HTTP)"] * 20} for i in range(50)]})
    assert len(cluster_store.split(document.encode())) == 1


def test_parts_of_two_runs_mixed_are_refused():
    first, second = (cluster_store.split(os.urandom(2000).hex().encode(), 1000) for _ in range(2))
    assert len(first) == len(second) > 1
    mixed = [first[0], *second[1:]]
    with pytest.raises(cluster_store.StoreError, match="do not match the digest"):
        cluster_store.join(mixed, hashlib.sha256(b"".join(first)).hexdigest())


def test_part_names_leave_the_head_as_named():
    assert [cluster_store.part_name("report", i) for i in range(3)] == ["report", "report-2", "report-3"]


def test_the_target_names_its_namespace_outside_a_pod():
    assert cluster_store.parse_target("runner/report", in_cluster=False) == ("runner", "report")
    with pytest.raises(cluster_store.StoreError, match="name its namespace"):
        cluster_store.parse_target("report", in_cluster=False)


@pytest.mark.parametrize("given", ["Runner/report", "runner/report_1", "runner/" + "r" * 61, "a/b/c"])
def test_a_bad_target_is_one_line(given):
    with pytest.raises(cluster_store.StoreError, match=r"^--report-configmap .*: not NAMESPACE/NAME"):
        cluster_store.parse_target(given, in_cluster=False)
