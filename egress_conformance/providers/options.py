"""Every provider-specific option, declared once as data: the CLI and the pytest plugin both
add them from here (with the suite's own, run/options.py), and an option given to a provider
it does not apply to is a usage error (rather than being silently ignored). Each provider
turns the values that apply to it into its own options dataclass."""

import dataclasses
from collections.abc import Callable
from typing import Any


class OptionError(ValueError):
    """An option that does not apply, or a bad value; str(err) is one line for the user."""


@dataclasses.dataclass(frozen=True)
class Option:
    """One command-line option of a run, for argparse and pytest's addoption alike."""

    flag: str
    help: str
    providers: frozenset[str] | None = None
    """The providers it applies to; None: the suite's own option, for every provider."""
    switch: bool = False
    choices: tuple[str, ...] | None = None
    default: str | int | float | None = None
    metavar: str | None = None
    type: Callable[[str], object] | None = None
    """Converts the text given (int, float); None: kept as text."""
    repeat: bool = False
    """May be given several times; the value is the list of them."""

    @property
    def dest(self) -> str:
        return self.flag.lstrip("-").replace("-", "_")

    def argparse_kwargs(self) -> dict[str, object]:
        """Keyword arguments for argparse's add_argument and pytest's addoption alike."""
        applies = f"[{', '.join(sorted(self.providers))}] " if self.providers else ""
        if self.switch:
            return {"action": "store_true", "default": False, "help": applies + self.help}
        if self.repeat:
            return {"action": "append", "default": [], "help": applies + self.help, "metavar": self.metavar,
                    **({"choices": list(self.choices)} if self.choices else {})}
        shown = f" (default: {self.default})" if self.default else ""
        kwargs: dict[str, object] = {"default": None, "help": applies + self.help + shown}
        if self.type:
            kwargs["type"] = self.type
            kwargs["default"] = self.default  # a number: its default is the value, not a choice to make later
        if self.choices:
            kwargs["choices"] = list(self.choices)
        if self.metavar:
            kwargs["metavar"] = self.metavar
        return kwargs


LOCAL, EXISTING, KIND = "local", "existing", "kind"
ALL = frozenset({LOCAL, EXISTING, KIND})

OPTIONS = (
    Option("--istio-version", "Istio to test: a release line of versions.ISTIO_RELEASES or an istio.io/istio "
           "pseudo-version (the local mesh's: built by `ci/setup --istio VERSION`)", frozenset({LOCAL, KIND})),
    Option("--local-mesh-config", "start the local mesh with this mesh config (the istio ConfigMap's mesh key)",
           frozenset({LOCAL}), metavar="FILE"),
    Option("--kubeconfig", "kubeconfig of the cluster under test (read once, copied; never written)",
           frozenset({EXISTING}), metavar="FILE"),
    Option("--context", "context of --kubeconfig to use (default: its current context)", frozenset({EXISTING})),
    Option("--revision", "Istio revision or revision tag whose injection the test namespace uses (default: the "
           "one istio-injection=enabled selects)", frozenset({EXISTING}), metavar="REV"),
    Option("--test-namespace", "use this existing namespace, labelled for injection, instead of creating one per "
           "run: the suite creates its objects in it and deletes them at the end, and never creates, labels or "
           "deletes the namespace (so its rights can be a Role there)", frozenset({EXISTING}), metavar="NAME"),
    Option("--in-cluster", "use the pod's own service account (the suite running as a Job in the cluster "
           "under test) instead of --kubeconfig", frozenset({EXISTING}), switch=True),
    Option("--allow-mesh-wide-changes", "consent to change mesh-wide state of a shared cluster for the run's "
           "duration, all restored at the end: the mesh config's outbound policy (its ConfigMap annotated with "
           "the run while changed), ServiceEntries exported to every namespace, and a Lease beside the mesh "
           "config that serialises such runs; without it only namespace-scoped scenarios run",
           frozenset({EXISTING}), switch=True),
    Option("--external", "the external host: the live httpbin.org, or a simulated one in the test namespace "
           "that the mesh registry does not know", frozenset({EXISTING}), choices=("live", "simulated"),
           default="live"),
    Option("--client-image", "image of the client pod's app container (needs curl and sleep)",
           frozenset({EXISTING, KIND}), metavar="IMAGE"),
    Option("--external-image", "image of the simulated external host: go-httpbin, /bin/go-httpbin (default "
           "mccutchen/go-httpbin at versions.GO_HTTPBIN)",
           frozenset({EXISTING, KIND}), metavar="IMAGE"),
    Option("--pod-channel", "how the suite reaches the client pod: 'stream' keeps a port-forward to its "
           "sidecar's admin port and one shell open for the run (an exec per call where the cluster refuses "
           "pods/portforward, said in one line), 'exec' makes one exec per admin read and per request",
           frozenset({EXISTING}), choices=("stream", "exec"), default="stream"),
    Option("--external-host", "the walkthrough's external host, instead of httpbin.org (simulated providers "
           "answer for it; live, it must answer GET --external-path over HTTP and HTTPS)", ALL, metavar="HOST"),
    Option("--external-path", "the path the walkthrough requests from the external host", ALL, default="/get",
           metavar="PATH"),
    Option("--allow-list", "the allow-list scenario's hosts: CSV rows host,port,protocol, a YAML list of them, or "
           "ServiceEntries (default: scenarios/allow_list/allow-list.yaml)", ALL, metavar="FILE"),
    Option("--probe-hosts", "hosts the audit expects blocked, besides example.com, example.org and example.net: "
           "one name per line, or a YAML list", ALL, metavar="FILE"),
    Option("--keep-cluster", "reuse the kind cluster across runs instead of deleting it", frozenset({KIND}),
           switch=True),
)


def chosen(provider: str, value_of: Callable[[str], Any]) -> dict[str, Any]:
    """{dest: value} of the options that apply to ``provider``, read with ``value_of(dest)``;
    raise OptionError for an option given that applies to other providers only."""
    values: dict[str, Any] = {}
    for option in OPTIONS:
        value = value_of(option.dest)
        if option.providers is not None and provider not in option.providers:
            if value:
                raise OptionError(f"{option.flag} applies to --provider {' or '.join(sorted(option.providers))}, "
                                  f"not to {provider}; drop it or choose that provider")
            continue
        values[option.dest] = value if value not in (None, "") else option.default
    return values
