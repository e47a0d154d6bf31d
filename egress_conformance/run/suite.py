"""Where the suite lives: its test modules and pytest plugins, found through the package
(``egress_conformance.suites``, ``.fixtures`` and ``.scenarios`` ship inside it), so that
``egress-conformance run`` works from any directory, not only from a checkout."""

import pathlib

import egress_conformance.suites as suites
from egress_conformance.fixtures import PLUGINS

DIRECTORY = pathlib.Path(suites.__file__).resolve().parent
"""The suites package: one test module per profile."""

SETTINGS = {
    "log_cli": "true",
    "log_cli_level": "INFO",
    "log_cli_format": "%(asctime)s %(message)s",
    "log_cli_date_format": "%H:%M:%S",
}
"""What pyproject.toml sets for a checkout, given explicitly for an installed wheel."""


def pytest_args() -> list[str]:
    """The arguments that make pytest run the suite, from wherever it is installed."""
    args = [str(DIRECTORY), f"--rootdir={DIRECTORY.parent}", "-p", "no:cacheprovider"]
    for plugin in PLUGINS:
        args += ["-p", plugin]
    for key, value in SETTINGS.items():
        args += ["-o", f"{key}={value}"]
    return args


def runs_suite(paths: list[str]) -> bool:
    """Do these pytest arguments name the suite (or a part of it, or a folder holding it)?"""
    for arg in paths or [str(DIRECTORY)]:
        path = pathlib.Path(arg.split("::")[0]).resolve()
        if path.is_relative_to(DIRECTORY) or DIRECTORY.is_relative_to(path):
            return True
    return False
