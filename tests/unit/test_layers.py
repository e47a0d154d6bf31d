"""The package's layers, read from its imports: every import runs down (or stays in its layer),
and no module imports itself back through others. README.md's layout section draws the same
layers; a new folder must be placed in one here, or this test names it."""

import ast
import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
PACKAGE = "egress_conformance"
CONTENT = ("suites", "fixtures", "scenarios")
"""Folders at the repository's top level that are egress_conformance.<name> (setup.py)."""

LAYERS = (
    ("cli", "benchmarks", "node"),          # entry points: the command, the benchmarks, the node's tool
    ("run", "fixtures", "suites"),          # one run: options, the mesh session, pytest's plugins and tests
    ("scenarios",),                         # the content: one scenario per folder
    ("framework",),                         # what a scenario sees: t, the Scenario record, scope
    ("providers",),                         # where the mesh comes from: registry, interface, one folder each
    ("verdicts",),                          # observe, envoy, checks, waits, evidence, faults
    ("changes",),                           # create, undo stack, journal
    ("cluster",),                           # the Kubernetes API, mesh config, istiod discovery
    ("hosts", "reports"),                   # the run's external hosts; the report model
    ("install", "pki", "versions"),         # building components; certificates; pinned versions
)
"""Top to bottom: a module may import from its own layer and the ones below."""


def modules() -> dict[str, pathlib.Path]:
    found = {}
    roots = [(ROOT / PACKAGE, PACKAGE)] + [(ROOT / name, f"{PACKAGE}.{name}") for name in CONTENT]
    for directory, dotted in roots:
        for path in directory.rglob("*.py"):
            parts = list(path.relative_to(directory).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join([dotted, *parts])] = path
    return found


MODULES = modules()


def imports_of(name: str, path: pathlib.Path) -> set[str]:
    """The package's modules that ``name`` imports (anywhere in it, functions included)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    targets = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            targets |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package.split(".")[:len(package.split(".")) - node.level + 1] + ([base] if base else []))
            for alias in node.names:
                targets.add(f"{base}.{alias.name}" if f"{base}.{alias.name}" in MODULES else base)
    return {t for t in targets if t in MODULES and t != name}


def layer(name: str) -> int:
    parts = name.split(".")
    if len(parts) == 1:
        return len(LAYERS)  # the package's own __init__: below everything, it imports nothing
    for index, members in enumerate(LAYERS):
        if parts[1] in members:
            return index
    raise AssertionError(f"{name} is in no layer: place its folder in LAYERS (tests/unit/test_layers.py) and "
                         "in README.md's layout")


GRAPH = {name: imports_of(name, path) for name, path in MODULES.items()}


@pytest.mark.parametrize("name", sorted(MODULES))
def test_imports_run_down_the_layers(name):
    upward = sorted(target for target in GRAPH[name] if layer(target) < layer(name))
    assert not upward, f"{name} (layer {LAYERS[layer(name)]}) imports from a higher layer: {upward}"


def test_nothing_below_the_providers_imports_one():
    below = [name for name in MODULES if layer(name) > LAYERS.index(("providers",))]
    assert not [(name, t) for name in below for t in GRAPH[name] if t.startswith(f"{PACKAGE}.providers")]


def test_there_is_no_import_cycle():
    state: dict[str, str] = {}

    def visit(name: str, path: list[str]) -> None:
        state[name] = "open"
        for target in sorted(GRAPH[name]):
            if state.get(target) == "open":
                raise AssertionError("import cycle: " + " -> ".join(path[path.index(target):] + [target]))
            if target not in state:
                visit(target, path + [target])
        state[name] = "done"

    for name in sorted(MODULES):
        if name not in state:
            visit(name, [name])


def test_every_layer_folder_exists_so_the_listing_is_the_map():
    listed = {path.stem for path in (ROOT / PACKAGE).iterdir() if path.name != "__pycache__"
              and not path.name.startswith("__")} | set(CONTENT)
    assert listed == {member for members in LAYERS for member in members}


def test_the_readmes_tree_names_every_folder_of_the_package():
    readme = (ROOT / "README.md").read_text()
    tree = readme[readme.index("## Layout"):].split("```")[1]
    folders = {path.name for path in (ROOT / PACKAGE).rglob("*") if path.is_dir() and path.name != "__pycache__"
               and path.parent in (ROOT / PACKAGE, ROOT / PACKAGE / "providers")}
    named = {line.split()[0].strip("()").rstrip("/") for line in tree.splitlines() if line.strip()}
    assert folders | set(CONTENT) <= named, sorted(folders | set(CONTENT) - named)
