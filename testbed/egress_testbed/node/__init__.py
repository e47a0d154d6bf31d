"""A real single-node Kubernetes cluster on this machine: containerd and runc, kubelet,
kube-proxy, CoreDNS and a control plane, on the 198.19.0.0/16 range, with Istio in it.
``python -m egress_testbed.node up|down|status``."""
