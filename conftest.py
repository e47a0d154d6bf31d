"""Registers the suite's fixtures and plugins for every test under this directory."""

from egress_conformance.fixtures import PLUGINS

# Imported modules come first, so that pytest can rewrite their asserts.
pytest_plugins = list(PLUGINS)
