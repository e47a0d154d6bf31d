"""``egress-conformance``: run the suite, audit a namespace's egress read-only, run the
broken-mesh matrix, change the mesh-wide policy, restore what an interrupted run changed,
and read saved reports (one, two side by side, many in a table).

Every error is one line on stderr that says what to do. Exit codes (report.EXIT_CODES):
0 success, 1 failure (an egress expectation failed; for other commands: the command
failed), 2 usage error, 3 partial (something skipped or not supported; 0 with
--accept-partial), 4 not run (a test of the claim did not run: the mesh was never reached,
the API refused the run, a suite bug; or the run crashed), 5 infrastructure error (the mesh
broke under a test), 128 + the signal after Ctrl-C (130) or SIGTERM (143).
"""

import argparse
import dataclasses
import datetime
import functools
import logging
import os
import pathlib
import sys
import traceback

import pytest

from egress_conformance import providers
from egress_conformance.changes import journal
from egress_conformance.changes import restore as restoring
from egress_conformance.cluster import istiodiscovery, kube, kubeconfigs, meshconfig
from egress_conformance.framework.scenario import Mode
from egress_conformance.providers import options as provider_options
from egress_conformance.providers.base import ProviderError
from egress_conformance.providers.existing import hold
from egress_conformance.reports import cluster_store, diff, markdown, pages, render, report, runs, saved
from egress_conformance.reports.model import Report, RunResult
from egress_conformance.run import egress_map, interrupts, options, report_configmap, suite

POLICY_WORDS = {"allowed": meshconfig.ALLOW_ANY, "restricted": meshconfig.REGISTRY_ONLY}
FORMATS = ("text", "markdown", "html")
"""Output formats of `report` and `summary`."""


class CliError(Exception):
    """A one-line message for the user; the command exits 1."""


class UsageError(CliError):
    """Bad command-line input; the command exits 2, as argparse's own usage errors do."""


class NotRun(CliError):
    """The run could not start (prerequisites, set-up); the command exits 4 ("not run")."""


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    # The API client's retry warnings would make a one-line error several; the error names the cause.
    logging.getLogger("urllib3").setLevel(logging.ERROR)
    try:
        return args.command(args)
    except CliError as err:
        print(f"egress-conformance: {err}", file=sys.stderr)
        if isinstance(err, UsageError):
            return report.USAGE_ERROR_EXIT
        return report.EXIT_CODES[RunResult.NOT_RUN] if isinstance(err, NotRun) else 1
    except KeyboardInterrupt:
        print("egress-conformance: interrupted", file=sys.stderr)
        return interrupts.exit_code()


def run(args) -> int:
    """Run profiles of the suite through pytest, with the options parsed here handed over as
    one object; pytest stays usable directly (it parses the same table itself)."""
    if args.report_dir is None:
        args.report_dir = f"results/{datetime.datetime.now():%Y%m%d-%H%M%S}"
    interrupts.forget()
    try:
        chosen = options.parse(lambda dest: getattr(args, dest))
        options.check_node_ids(args.pytest_args, chosen.profiles)
    except provider_options.OptionError as err:
        raise UsageError(str(err)) from None
    report_dir = chosen.report_dir or pathlib.Path(args.report_dir).resolve()
    _remove_stale_report(report_dir)
    try:
        kept = report_configmap.destination(args.report_configmap, chosen.provider, chosen.provider_options)
        if kept:
            kept.clear()
    except cluster_store.StoreError as err:
        raise UsageError(str(err)) from None
    except report_configmap.PublishError as err:
        raise NotRun(str(err)) from None
    with interrupts.handled():
        try:
            providers.get(chosen.provider).prepare(chosen.provider_options)
        except provider_options.OptionError as err:
            raise UsageError(str(err)) from None
        except ProviderError as err:
            raise NotRun(str(err)) from None
        code = _run_pytest(dataclasses.replace(chosen, prepared=True), report_dir, args)
    if kept:
        try:
            print(f"egress-conformance: {kept.publish(report_dir)}")
        except report_configmap.PublishError as err:
            # A gate reads the ConfigMap: without it the run cannot count as passed, whatever it found.
            raise CliError(str(err)) from None
    return _run_exit_code(code, report_dir, chosen.accept_partial)


def audit(args) -> int:
    """``egress-conformance audit``: the namespace's egress as it is, read-only, against the list;
    with --all-namespaces or --namespace-selector, the cluster's egress map."""
    if getattr(args, "all_namespaces", False) or getattr(args, "namespace_selector", None):
        return egress_map_command(args)
    if getattr(args, "probe_namespace", None):
        raise UsageError("--probe-namespace goes with --all-namespaces or --namespace-selector (alone: "
                         "--test-namespace)")
    return _run_mode(args, Mode.AUDIT)


def matrix(args) -> int:
    """``egress-conformance matrix``: every shape of the broken-mesh catalogue against the audit."""
    return _run_mode(args, Mode.MATRIX)


def _run_mode(args, mode: Mode) -> int:
    """A way of running that is a command, not a conformance profile: ``run`` of that mode's scenarios
    (their report groups them under the mode's name, as saved reports always have)."""
    args.profile = [mode.value]
    return run(args)


def egress_map_command(args) -> int:
    """``audit --all-namespaces``: the cluster's egress map (run/egress_map.py); each
    --probe-namespace also gets the single-namespace audit, as ``audit --test-namespace`` runs it."""
    if args.provider not in (None, "existing") or args.test_namespace:
        raise UsageError("--all-namespaces and --namespace-selector map an existing cluster: use --kubeconfig (or "
                         "--in-cluster), without --provider or --test-namespace")
    ignored = [flag for flag, given in (("--report-configmap", args.report_configmap), ("--junit-xml", args.junit_xml),
                                        ("pytest arguments", args.pytest_args)) if given]
    if ignored:
        raise UsageError(f"{', '.join(ignored)}: not for the egress map (yet); it writes report.json, egress-map.html "
                         "and egress-map.md into --report-dir")
    connect = (functools.partial(kube.connect, None) if args.in_cluster
               else functools.partial(_connect, args.kubeconfig, args.context))

    def audit_one(namespace: str, folder: pathlib.Path) -> int:
        one = argparse.Namespace(**{**vars(args), "provider": "existing", "test_namespace": namespace,
                                    "report_dir": str(folder), "all_namespaces": False, "namespace_selector": None,
                                    "probe_namespace": None, "profile": [Mode.AUDIT.value]})
        try:
            return run(one)
        except NotRun as err:
            print(f"egress-conformance: audit of {namespace} not run: {err}", file=sys.stderr)
            return report.EXIT_CODES[RunResult.NOT_RUN]

    try:
        return egress_map.run(args, connect, audit_one)
    except egress_map.MapError as err:
        raise NotRun(str(err)) from None


def _remove_stale_report(report_dir: pathlib.Path) -> None:
    """An earlier run's report in the folder must never stand for this run's."""
    for name in ("report.yaml", "report.json", pages.PAGE):
        (report_dir / name).unlink(missing_ok=True)


def _run_pytest(chosen: options.RunOptions, report_dir: pathlib.Path, args) -> int:
    """pytest's exit code for the suite; a crash of the suite's own plugins is "not run", its
    traceback kept in the report folder."""
    pytest_args = suite.pytest_args()
    if args.junit_xml:
        pytest_args.append(f"--junitxml={pathlib.Path(args.junit_xml).resolve()}")
    try:
        return pytest.main(pytest_args + args.pytest_args, plugins=[options.Given(chosen)])
    except Exception as err:
        report_dir.mkdir(parents=True, exist_ok=True)
        (report_dir / "crash.txt").write_text(traceback.format_exc())
        raise NotRun(f"the run crashed before its report was written ({type(err).__name__}: {_short(err)}); "
                     f"traceback in {report_dir / 'crash.txt'}") from None


def _run_exit_code(code: int, report_dir: pathlib.Path, accept_partial: bool) -> int:
    """pytest's exit code combined with the report's: never 0 unless both are (the plugin already
    set pytest's to the report's, or to what must win over it: an interruption, a crash, a failing
    test outside the scenarios)."""
    if code > 128:
        return code  # interrupted: the run undid its changes, its report says which tests did not run
    try:
        document = report.load((report_dir / "report.yaml").read_text())
    except (OSError, ValueError):
        if code == pytest.ExitCode.USAGE_ERROR:
            return report.USAGE_ERROR_EXIT  # pytest refused its arguments and said why
        raise NotRun(f"the run ended without writing its report (pytest exit code {code}); see the output "
                     "above") from None
    return code or report.exit_code(report.recomputed(document).result, accept_partial=accept_partial)


def policy(args) -> int:
    """The seed's ``backyards istio outbound-traffic-policy allowed|restricted``, on the
    ConfigMap that really counts: found the way the existing provider finds it."""
    api = _connect(args.kubeconfig, args.context)
    try:
        found = istiodiscovery.detect(api, args.revision)
    except istiodiscovery.DiscoveryError as err:
        raise CliError(str(err)) from None
    except Exception as err:
        raise CliError(f"cannot reach the cluster at {api.configuration.host} ({_short(err)}); check the kubeconfig "
                       "and that its cluster is up") from None
    where = found.mesh_config_map
    used = args.kubeconfig or os.environ.get("KUBECONFIG") or pathlib.Path.home() / ".kube" / "config"
    cluster = {"provider": "existing", "kubeconfig": str(pathlib.Path(used).resolve()), "context": args.context,
               "server": api.configuration.host}
    try:
        hold.set_mesh_policy(api, where, POLICY_WORDS[args.setting], cluster)
        current = meshconfig.policy_of(meshconfig.read(api, where))
    except (journal.ClusterBusy, meshconfig.Changed) as err:
        raise CliError(str(err)) from None
    except Exception as err:
        raise CliError(f"cannot change ConfigMap {where[0]}/{where[1]}: {_short(err)}; check --revision "
                       "and that you may edit it") from None
    print(f"{meshconfig.message(current)} (ConfigMap {where[0]}/{where[1]}, revision {found.revision})")
    return 0


def restore(args) -> int:
    """Put back what interrupted runs changed, from their journals: this machine's, and with
    --kubeconfig those kept in that cluster by runs from any machine (a dead run's: its Lease
    expired); then sweep what killed runs left that no journal knows (local meshes' processes).

    Exits 1 when a change someone else made since the run is in the way (a conflict): that
    entry is left as it is and kept in the journal, unless --force."""
    providers.know_journal_entry_types()
    connect = functools.partial(_connect, args.kubeconfig, args.context) if args.kubeconfig else None
    try:
        conflicts = restoring.restore(connect, args.test_namespace, _reconnect_for, discard=args.discard,
                                      force=args.force, say=print)
    except restoring.RestoreError as err:
        raise CliError(str(err)) from None
    if not args.no_sweep:
        for name in sorted(providers.PROVIDERS):
            for line in providers.get(name).sweep():
                print(line)
    for conflict in conflicts:
        print(f"egress-conformance: restore conflict: {conflict}", file=sys.stderr)
    return 1 if conflicts else 0


def _reconnect_for(cluster: dict):
    """How the provider that made a journal's run reaches its cluster again."""
    return functools.partial(providers.get(cluster.get("provider") or "existing").reconnect, cluster)


def show_report(args) -> int:
    """Print a saved report as a readable summary; exit with the code of the result its tests give
    (recomputed: the stored field is not trusted, and a disagreement is said in one line)."""
    stored = _load_report(args.path, args)
    document = report.recomputed(stored)
    if document.result != stored.result:
        print(f"egress-conformance: {args.path} says result '{stored.result}' but its tests give "
              f"'{document.result}': using '{document.result}'", file=sys.stderr)
    if args.format == "markdown":
        print(markdown.report_summary(document), end="")
    elif args.format == "html":
        print(pages.report_page(document, _folder_of(args.path)), end="")
    else:
        print(render.as_text(document))
    return report.exit_code(document.result, accept_partial=args.accept_partial)


def diff_reports(args) -> int:
    """What changed between two saved reports; exit 1 on any regression (for CI after an upgrade).
    With --html, also the two runs side by side as a page."""
    before, after = (_load_report(path, args) for path in (args.before, args.after))
    changes = diff.compare(before, after, args.timing_threshold)
    print(diff.render(changes))
    if args.html:
        out = pathlib.Path(args.html)
        links = (_page_link(args.before, out.parent), _page_link(args.after, out.parent))
        try:
            out.write_text(pages.diff_page(before, after, (args.before, args.after), links, args.timing_threshold))
        except OSError as err:
            raise CliError(f"cannot write {out}: {err.strerror}") from None
    return 1 if changes.regressions else 0


def summary(args) -> int:
    """One table over many runs; exits with the worst of their results' codes."""
    rows = []
    for given in args.paths:
        try:
            rows.append(runs.row(given, runs.load(given)))
        except OSError:
            raise CliError(f"no report at {given}: pass run folders or their report.yaml/report.json") from None
        except ValueError as err:
            raise CliError(f"{given} is not a conformance report: {err}") from None
    rows.sort(key=lambda row: row.date)
    if args.format == "markdown":
        print(markdown.runs_table(rows), end="")
    elif args.format == "html":
        print(pages.summary_page(rows), end="")
    else:
        print(runs.table(rows))
    return report.exit_code(runs.overall(rows), accept_partial=args.accept_partial)


def _folder_of(given: str) -> pathlib.Path:
    path = pathlib.Path(given)
    return path if path.is_dir() else path.parent


def _page_link(given: str, page_folder: pathlib.Path) -> str | None:
    """An href from the diff page to a run's own report.html, if it has one."""
    page = _folder_of(given) / pages.PAGE
    return pages.relative_link(page, page_folder) if page.exists() else None


def _load_report(given: str, args=None) -> Report:
    connect = functools.partial(_connect, getattr(args, "kubeconfig", None), getattr(args, "context", None))
    try:
        return saved.load(given, connect)
    except saved.BadReference as err:
        raise UsageError(str(err)) from None
    except saved.ReportError as err:
        raise CliError(str(err)) from None


def _connect(kubeconfig: str | None, context: str | None):
    """An API client on a flattened copy of the kubeconfig, as `run` uses: the user's file is
    read once and never written (a token refresh writes the copy)."""
    path = pathlib.Path(kubeconfig or os.environ.get("KUBECONFIG") or pathlib.Path.home() / ".kube" / "config")
    if not path.exists():
        raise CliError(f"no kubeconfig at {path}: pass --kubeconfig FILE")
    try:
        if not kubeconfig:
            # Never a cluster by surprise: the file and context the command falls back to, said first.
            _, name, server = kubeconfigs.flattened(path, context)
            source = "$KUBECONFIG" if os.environ.get("KUBECONFIG") else "the default"
            print(f"egress-conformance: no --kubeconfig: using kubeconfig {path} (from {source}), context {name} "
                  f"({'--context' if context else 'its current context'}), server {server}", file=sys.stderr)
        return kubeconfigs.connect_through_copy(path, context)
    except kubeconfigs.KubeconfigError as err:
        raise CliError(str(err)) from None
    except Exception as err:
        raise CliError(f"cannot use kubeconfig {path}: {_short(err)}") from None


def _short(err: Exception) -> str:
    text = str(err).strip().splitlines()
    return text[0][:200] if text else type(err).__name__


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="egress-conformance", description="Istio egress conformance suite")
    sub = parser.add_subparsers(required=True, metavar="COMMAND")

    p = sub.add_parser("run", help="run profiles of the suite (default: core on the local mesh)")
    options.add_to(p.add_argument)
    p.add_argument("--junit-xml", help="JUnit XML path (default: in the report folder)")
    _add_report_configmap(p)
    p.add_argument("pytest_args", nargs="*", help="after --: passed to pytest as they are")
    p.set_defaults(command=run)

    for name, command, says in (
        ("audit", audit, "read-only: from the test namespace, does every host of --allow-list answer and nothing "
                         "else leave? (exit 0: exactly the list; 1: a leak or a missing host, the object named)"),
        ("matrix", matrix, "the broken-mesh matrix: every shape of scenarios/broken_meshes/catalogue.yaml must make "
                           "the audit fail with the right diagnosis; prints the kill rate")):
        p = sub.add_parser(name, help=says)
        options.add_to(p.add_argument, profiles=False)
        p.add_argument("--junit-xml", help="JUnit XML path (default: in the report folder)")
        _add_report_configmap(p)
        if command is audit:
            _add_map_options(p)
        p.add_argument("pytest_args", nargs="*", help="after --: passed to pytest as they are")
        p.set_defaults(command=command)

    p = sub.add_parser("policy", help="set the mesh-wide outbound traffic policy of a cluster")
    p.add_argument("setting", choices=sorted(POLICY_WORDS), help="allowed = ALLOW_ANY, restricted = REGISTRY_ONLY")
    p.add_argument("--kubeconfig", help="default: $KUBECONFIG or ~/.kube/config")
    p.add_argument("--context")
    p.add_argument("--revision", help="Istio revision or tag whose ConfigMap (istio-<rev>) counts (default: the "
                   "one istio-injection=enabled selects)")
    p.set_defaults(command=policy)

    p = sub.add_parser("restore", help="undo what interrupted runs changed, from their journals")
    p.add_argument("--kubeconfig", help="also restore the journals this cluster keeps, of runs from any machine "
                   "whose Lease expired (a killed CI runner or Job); read once, copied, never written")
    p.add_argument("--context", help="context of --kubeconfig (default: its current context)")
    p.add_argument("--test-namespace", metavar="NAME", help="with --kubeconfig: look for journals in this "
                   "namespace only (enough with a Role there; default: every namespace)")
    p.add_argument("--discard", action="store_true", help="forget the journals without restoring (cluster gone)")
    p.add_argument("--force", action="store_true", help="restore even over changes someone else made since the run "
                   "(the conflicts a plain restore reports), and while a run renews a Lease the journal names")
    p.add_argument("--no-sweep", action="store_true",
                   help="leave what killed runs left outside their journals (local-mesh processes) in place, "
                        "to inspect it")
    p.set_defaults(command=restore)

    p = sub.add_parser("report", help="print a saved report as a summary")
    p.add_argument("path", help="report.yaml, report.json, a run's report folder, or cluster:NAMESPACE/NAME (the "
                   "ConfigMap `run --report-configmap` wrote, in the cluster of --kubeconfig)")
    _add_cluster_source(p)
    p.add_argument("--accept-partial", action="store_true", help="exit 0 for a partial result instead of 3")
    p.add_argument("--format", choices=FORMATS, default="text",
                   help="text (default), markdown (a short summary for CI job pages), html (the run's page)")
    p.set_defaults(command=show_report)

    p = sub.add_parser("summary", help="one table over many runs' reports")
    p.add_argument("paths", nargs="+", metavar="DIR", help="run folders (or their report.yaml/report.json)")
    p.add_argument("--format", choices=FORMATS, default="text", help="text (default), markdown, html")
    p.add_argument("--accept-partial", action="store_true", help="a partial run counts as success for the exit code")
    p.set_defaults(command=summary)

    p = sub.add_parser("diff", help="what changed between two saved reports; exit 1 on any regression")
    p.add_argument("before", help="the earlier report (report.yaml/json, its run folder, or cluster:NAMESPACE/NAME)")
    p.add_argument("after", help="the later report")
    _add_cluster_source(p)
    p.add_argument("--timing-threshold", type=float, default=diff.TIMING_THRESHOLD, metavar="SECONDS",
                   help=f"list a step's duration change only from this many seconds (default "
                        f"{diff.TIMING_THRESHOLD})")
    p.add_argument("--html", metavar="FILE", help="also write the two runs side by side as a page, regressions first")
    p.set_defaults(command=diff_reports)
    return parser


def _add_map_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--all-namespaces", action="store_true",
                   help="the cluster's egress map: what every namespace can reach, from the API's objects (read-only, "
                        "cluster-wide get/list), one row per namespace in report.json, egress-map.html and "
                        "egress-map.md")
    p.add_argument("--namespace-selector", metavar="SELECTOR",
                   help="the egress map of the namespaces matching this label selector (e.g. team=payments)")
    p.add_argument("--probe-namespace", action="append", metavar="NS",
                   help="with the map: also run the single-namespace audit's behaviour probes in NS (repeatable)")


def _add_report_configmap(p: argparse.ArgumentParser) -> None:
    p.add_argument("--report-configmap", metavar="[NAMESPACE/]NAME",
                   help="also keep the report in the cluster under test (--provider existing): ConfigMap NAME (and "
                        "NAME-2, ... past 768 KiB gzipped) in NAMESPACE, by default the pod's own with --in-cluster; "
                        "an earlier report of that name is removed first")


def _add_cluster_source(p: argparse.ArgumentParser) -> None:
    p.add_argument("--kubeconfig", help="for cluster:NAMESPACE/NAME: the cluster's kubeconfig (default: $KUBECONFIG "
                   "or ~/.kube/config; read once, never written)")
    p.add_argument("--context", help="context of --kubeconfig (default: its current context)")


if __name__ == "__main__":
    sys.exit(main())
