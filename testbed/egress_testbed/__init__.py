"""egress-conformance's test bed: what the project's own CI and developers build to run the
suite on, never shipped to the suite's users. ``install`` builds the local mesh's components
(``python -m egress_testbed.install``, ci/setup), ``images`` assembles OCI images with no
registry, ``node`` is the single-node Kubernetes cluster (``python -m egress_testbed.node``,
ci/node). It imports only the suite's bottom layer (tests/unit/test_layers.py)."""
