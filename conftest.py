"""Registers the suite's fixtures and plugins for every test under this directory."""

# Imported modules come first, so that pytest can rewrite their asserts.
pytest_plugins = ["fixtures.selection", "fixtures.report", "fixtures.mesh", "fixtures.egress"]
