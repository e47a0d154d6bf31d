"""Packaging that pyproject.toml cannot say: the suite's content stays at the repository's
top level (suites/, fixtures/, scenarios/), as the project's layout has it, and ships inside
the package namespace (egress_conformance.suites, ...), so that nothing named ``fixtures``
or ``suites`` lands at the top of site-packages. Everything else is in pyproject.toml."""

from setuptools import find_namespace_packages, setup

CONTENT = ("suites", "fixtures", "scenarios")

setup(
    packages=[
        *find_namespace_packages(include=["egress_conformance", "egress_conformance.*"]),
        *(f"egress_conformance.{package}" for top in CONTENT
          for package in find_namespace_packages(include=[top, f"{top}.*"])),
    ],
    package_dir={f"egress_conformance.{top}": top for top in CONTENT},
)
