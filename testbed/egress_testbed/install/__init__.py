"""Installs the real components of the local mesh, idempotently, cached by version.

Run as ``python -m egress_testbed.install``. A component whose cache entry is
complete is never rebuilt; an interrupted build leaves no complete entry.
"""
