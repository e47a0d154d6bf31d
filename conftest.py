"""Registers the suite's fixtures for every test under this directory."""

pytest_plugins = ["fixtures.mesh", "fixtures.egress"]
