"""The sweep walks the node's cgroups deepest first, and a cgroup that vanishes while it
walks (containers dying during ``down``) is no error."""

from egress_conformance.node import sweep


def test_cgroups_are_listed_deepest_first_with_their_parent_last(tmp_path):
    (tmp_path / "kubepods" / "besteffort" / "pod1").mkdir(parents=True)
    (tmp_path / "kubepods" / "burstable").mkdir()
    tree = sweep._cgroup_tree(tmp_path)
    assert tree[0] == tmp_path / "kubepods" / "besteffort" / "pod1"
    assert tree[-1] == tmp_path
    assert len(tree) == 5


def test_a_vanished_cgroup_is_no_error(tmp_path):
    assert sweep._cgroup_tree(tmp_path / "gone") == []
