"""egress-conformance: a conformance suite for Istio egress control, run on real meshes.

The library behind the pytest suite (suites/, scenarios/, fixtures/) and the
``egress-conformance`` command; CONTRIBUTING.md has the map of its modules.
"""
