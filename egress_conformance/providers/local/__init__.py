"""The Docker-free local mesh: real etcd, kube-apiserver, kube-controller-manager,
istiod, pilot-agent and Envoy, wired together with network namespaces.

Each module starts one part and registers its own undo on the run's cleanup stack.
"""
