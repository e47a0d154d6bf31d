"""The sweep walks the node's cgroups deepest first, and a cgroup that vanishes while it
walks (containers dying during ``down``) is no error."""

import types

from egress_testbed.node import sweep


def test_cgroups_are_listed_deepest_first_with_their_parent_last(tmp_path):
    (tmp_path / "kubepods" / "besteffort" / "pod1").mkdir(parents=True)
    (tmp_path / "kubepods" / "burstable").mkdir()
    tree = sweep._cgroup_tree(tmp_path)
    assert tree[0] == tmp_path / "kubepods" / "besteffort" / "pod1"
    assert tree[-1] == tmp_path
    assert len(tree) == 5


def test_a_vanished_cgroup_is_no_error(tmp_path):
    assert sweep._cgroup_tree(tmp_path / "gone") == []


def test_a_jump_with_a_quoted_comment_is_read_whole_so_it_can_be_deleted(monkeypatch):
    # kube-router's jumps carry a comment with spaces; split word by word, `iptables -D` matched
    # nothing and `ci/node down` left KUBE-ROUTER-* chains behind (seen in CI).
    dump = "\n".join(["*filter", ":INPUT ACCEPT [0:0]", ":KUBE-ROUTER-INPUT - [0:0]",
                      '-A INPUT -m comment --comment "kube-router netpol - 4IA2OSFRMVNDXBVV" -j KUBE-ROUTER-INPUT',
                      "COMMIT"])
    monkeypatch.setattr(sweep.subprocess, "run", lambda argv, **kw: types.SimpleNamespace(
        stdout=dump if argv[0] == "iptables-save" else "", returncode=0))
    found = sweep._kube_chains_and_jumps()
    assert ("iptables", "filter", None, ["INPUT", "-m", "comment", "--comment",
                                         "kube-router netpol - 4IA2OSFRMVNDXBVV", "-j", "KUBE-ROUTER-INPUT"]) in found
    assert ("iptables", "filter", "KUBE-ROUTER-INPUT", None) in found
