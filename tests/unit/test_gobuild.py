from egress_testbed.install import gobuild

GOMOD = """module k8s.io/kubernetes

require (
	k8s.io/api v0.0.0
	k8s.io/apimachinery v0.0.0
)

replace (
	k8s.io/api => ./staging/src/k8s.io/api
	k8s.io/apimachinery => ./staging/src/k8s.io/apimachinery
	github.com/example/other => github.com/example/other v1.2.3
)

replace k8s.io/kubectl => ./staging/src/k8s.io/kubectl
"""


def test_staging_modules_are_derived_from_the_replace_directives():
    assert gobuild.staging_modules(GOMOD) == ["k8s.io/api", "k8s.io/apimachinery", "k8s.io/kubectl"]


def test_binary_names_follow_go_build():
    assert gobuild._binary_name("go.etcd.io/etcd/server/v3") == "server"
    assert gobuild._binary_name("k8s.io/kubernetes/cmd/kube-apiserver") == "kube-apiserver"
