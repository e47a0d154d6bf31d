"""A run's options, declared once and parsed once into one typed object.

The suite's own options are a table here, the providers' are providers.options.OPTIONS;
``add_to`` puts both on argparse (``egress-conformance run``) or on pytest (plain
``pytest egress_conformance/suites``), and ``parse`` turns the values into a RunOptions. The CLI hands its
RunOptions to pytest as a plugin object (``Given``), never as flags to parse again.
"""

import dataclasses
import pathlib
from collections.abc import Callable
from typing import Any

import pytest

import egress_conformance.scenarios as scenarios
from egress_conformance import providers
from egress_conformance.framework import profiles as conformance_profiles
from egress_conformance.framework.scenario import CORE, Mode
from egress_conformance.hosts import targets
from egress_conformance.hosts.targets import Targets
from egress_conformance.providers import features
from egress_conformance.providers import options as provider_options
from egress_conformance.providers.options import OPTIONS as PROVIDER_OPTIONS
from egress_conformance.providers.options import Option, OptionError
from egress_conformance.reports.report import USAGE_ERROR_EXIT
from egress_conformance.timing import Timing

_TIMING = Timing()

MODES = tuple(mode.value for mode in Mode if mode != Mode.CONFORMANCE)
"""The ways of running that are commands of their own (egress-conformance audit, matrix)."""
PROFILES = (*conformance_profiles.NAMES, *MODES)
"""What --profile accepts: the conformance profiles, and (as before they were commands) the modes."""

SUITE_OPTIONS = (
    Option("--profile", f"conformance profile to run: {', '.join(conformance_profiles.NAMES)} (repeatable; default: "
           f"core); {' and '.join(MODES)} are commands of their own (still accepted here)", repeat=True,
           metavar="PROFILE"),
    Option("--run-test", "run only this scenario (repeatable)", repeat=True, metavar="NAME"),
    Option("--skip-test", "skip this scenario, reported as skipped (repeatable)", repeat=True, metavar="NAME"),
    Option("--skip-feature", f"skip scenarios needing FEATURE (repeatable; features: {', '.join(features.ALL)})",
           repeat=True, metavar="FEATURE"),
    Option("--force-feature", "run scenarios needing FEATURE even if the provider does not declare it (repeatable)",
           repeat=True, metavar="FEATURE"),
    Option("--report-dir", "where the report, JUnit XML and evidence go (default: results/<date-time>)",
           metavar="DIR"),
    Option("--keep", "leave the mesh and the tests' changes in place at the end, to inspect them; "
           "`egress-conformance restore` undoes them later (and stops a kept local mesh)", switch=True),
    Option("--accept-partial", "exit 0 for a partial result (something skipped or not supported) instead of 3",
           switch=True),
    Option("--consecutive", "observations in a row that must agree before a state counts as reached",
           type=int, default=_TIMING.consecutive, metavar="N"),
    Option("--convergence-timeout", "seconds to wait for a state before failing with the last observation",
           type=float, default=_TIMING.convergence_timeout, metavar="SECONDS"),
    Option("--request-timeout", "seconds one request from the workload may take (then: outcome 'timeout')",
           type=float, default=_TIMING.request_timeout, metavar="SECONDS"),
)
"""The suite's own options, for every provider."""


@dataclasses.dataclass(frozen=True)
class RunOptions:
    """Everything a run was asked to do, checked and typed."""

    provider: str = providers.DEFAULT
    provider_options: object = None
    """The chosen provider's own options dataclass (e.g. ExistingOptions)."""
    targets: Targets = dataclasses.field(default_factory=Targets)
    profiles: tuple[str, ...] = (CORE,)
    run_tests: tuple[str, ...] = ()
    skip_tests: tuple[str, ...] = ()
    skip_features: frozenset[str] = frozenset()
    force_features: frozenset[str] = frozenset()
    report_dir: pathlib.Path | None = None
    keep: bool = False
    accept_partial: bool = False
    timing: Timing = _TIMING
    prepared: bool = False
    """The provider's prepare() already ran (the CLI runs it before pytest, with its output visible)."""


def add_to(add_option: Callable[..., object], profiles: bool = True) -> None:
    """Declare every option of a run with ``add_option`` (argparse's add_argument or pytest's addoption);
    without --profile for the commands that name their profile."""
    add_option("--provider", choices=sorted(providers.PROVIDERS), default=None,
               help=f"where the mesh under test comes from (default: {providers.DEFAULT}; an existing cluster is "
                    "never used unless chosen)")
    for option in (*SUITE_OPTIONS, *PROVIDER_OPTIONS):
        if profiles or option.flag != "--profile":
            add_option(option.flag, **option.argparse_kwargs())


def parse(value_of: Callable[[str], Any], default_allow_list: pathlib.Path | None = None) -> RunOptions:
    """The RunOptions from option values, read by destination name with ``value_of`` (argparse's
    namespace or pytest's getoption). Raises OptionError with one line for the user."""
    name = str(value_of("provider") or providers.DEFAULT)
    bad = features.unknown([*value_of("skip_feature"), *value_of("force_feature")])
    if bad:
        raise OptionError(f"unknown feature {', '.join(bad)}: choose from {', '.join(features.ALL)}")
    _check_names("profile", value_of("profile") or [], PROFILES)
    _check_names("test", [*value_of("run_test"), *value_of("skip_test")], [case.name for case in scenarios.ALL])
    values = provider_options.chosen(name, value_of)
    try:
        chosen_targets = targets.from_options(values, default_allow_list or scenarios.allow_list.DEFAULT_LIST)
    except targets.TargetError as err:
        raise OptionError(str(err)) from None
    report_dir = value_of("report_dir")
    return RunOptions(
        provider=name,
        provider_options=providers.get(name).parse_options(values),
        targets=chosen_targets,
        profiles=tuple(value_of("profile") or (CORE,)),
        run_tests=tuple(value_of("run_test")),
        skip_tests=tuple(value_of("skip_test")),
        skip_features=frozenset(value_of("skip_feature")),
        force_features=frozenset(value_of("force_feature")),
        report_dir=pathlib.Path(str(report_dir)).resolve() if report_dir else None,
        keep=bool(value_of("keep")),
        accept_partial=bool(value_of("accept_partial")),
        timing=Timing(consecutive=int(value_of("consecutive")),
                      convergence_timeout=float(value_of("convergence_timeout")),
                      request_timeout=float(value_of("request_timeout"))),
    )


def _check_names(what: str, given: list[str], known: list[str] | tuple[str, ...]) -> None:
    """Refuse a name the suite does not have, here: before any provider is prepared or mesh started."""
    unknown = sorted(set(given) - set(known))
    if unknown:
        raise OptionError(f"unknown {what} {', '.join(unknown)}: choose from {', '.join(known)}")


def check_node_ids(pytest_args: list[str], profiles: tuple[str, ...]) -> None:
    """Node ids given to pytest (after ``--``) must name tests of the run's profiles: a test of
    another profile, or none of the suite's, would be deselected, and the run would end "not
    run" after starting the mesh. Raises OptionError, before anything starts."""
    cases = {case.name: case.profile for case in scenarios.ALL}
    for arg in pytest_args:
        if arg.startswith("-"):
            continue
        path, _, test = arg.partition("::")
        parts = pathlib.PurePath(path).parts
        where = parts[parts.index("suites") + 1] if "suites" in parts[:-1] else None
        name = test.partition("[")[2].rstrip("]") if "[" in test else None
        if name is not None and name not in cases:
            raise OptionError(f"unknown test {name} in {arg}: choose from {', '.join(cases)}")
        profile = cases[name] if name else where if where in PROFILES else None
        if profile and profile not in profiles:
            raise OptionError(f"{arg} is a test of profile {profile}, not of this run's ({', '.join(profiles)}): "
                              f"pass --profile {profile}")


def defaults(timing: Timing = _TIMING, **given: object) -> RunOptions:
    """RunOptions as the command line would give them with only ``given`` set (by destination
    name), and ``timing``: for the benchmarks, which hold a mesh outside pytest."""
    blank: dict[str, object] = {"profile": [], "run_test": [], "skip_test": [], "skip_feature": [],
                                "force_feature": []}
    blank.update({option.flag.lstrip("-").replace("-", "_"): option.default
                  for option in SUITE_OPTIONS if not option.repeat})
    blank.update(given)
    return dataclasses.replace(parse(lambda dest: blank.get(dest)), timing=timing)


class Given:
    """A pytest plugin object (``pytest.main(..., plugins=[Given(options)])``) that hands the
    CLI's RunOptions to the suite's plugins."""

    def __init__(self, options: RunOptions):
        self.options = options


_RUN_OPTIONS = pytest.StashKey[RunOptions]()


def of(config: pytest.Config) -> RunOptions:
    """The session's RunOptions: the CLI's (Given), else parsed once from pytest's own options
    (plain ``pytest egress_conformance/suites``); a bad value ends pytest in one line with the usage error's code, 2."""
    if _RUN_OPTIONS not in config.stash:
        given = next((p for p in config.pluginmanager.get_plugins() if isinstance(p, Given)), None)
        try:
            config.stash[_RUN_OPTIONS] = given.options if given else parse(config.getoption)
        except OptionError as err:
            # Not pytest.UsageError: pytest exits 4 for it, the code the suite's table gives to "not run".
            pytest.exit(str(err), returncode=USAGE_ERROR_EXIT)
    return config.stash[_RUN_OPTIONS]
