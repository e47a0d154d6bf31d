"""The layers, read from the imports: every import runs down (or stays in its layer), no module
imports itself back through others, the suite never reaches into its test bed, and the test bed
stands only on the suite's bottom layer. CONTRIBUTING.md's layout section draws the same layers;
a new folder must be placed in one here, or this test names it."""

import ast
import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
PACKAGE = "egress_conformance"
TESTBED = "egress_testbed"
TESTBED_ROOT = ROOT / "testbed" / TESTBED

LAYERS = (
    ("cli", "benchmarks"),                  # entry points: the command, the benchmarks
    ("run", "fixtures", "suites"),          # one run: options, the mesh session, pytest's plugins and tests
    ("scenarios",),                         # the content: one scenario per folder
    ("framework",),                         # what a scenario sees: t, the Scenario record, scope
    ("providers",),                         # where the mesh comes from: registry, interface, one folder each
    ("verdicts",),                          # observe, envoy, checks, evidence, faults
    ("changes",),                           # create, undo stack, journal
    ("cluster",),                           # the Kubernetes API, mesh config, istiod discovery
    ("hosts", "reports"),                   # the run's external hosts; the report model
    ("installed", "pki", "timing", "versions", "waits"),  # components' record; certificates; polling; pins
)
"""The suite, top to bottom: a module may import from its own layer and the ones below."""

SHARED = ("cluster", "installed", "pki", "timing", "versions", "waits")
"""The suite's bottom layer, which the test bed may stand on: Kubernetes access, where set-up
put the components, certificates, the polling helper with its timing, the pinned versions."""

TESTBED_LAYERS = (
    ("node",),                              # the single-node cluster: ci/node
    ("images",),                            # OCI images with no registry, the suite's own among them
    ("install",),                           # the local mesh's components: ci/setup
)
"""The test bed, top to bottom, every layer of it above the suite's SHARED modules."""


def _modules(directory: pathlib.Path, dotted: str) -> dict[str, pathlib.Path]:
    found = {}
    for path in directory.rglob("*.py"):
        parts = list(path.relative_to(directory).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join([dotted, *parts])] = path
    return found


SUITE = _modules(ROOT / PACKAGE, PACKAGE)
BED = _modules(TESTBED_ROOT, TESTBED)
MODULES = SUITE | BED


def _same_package(a: str, b: str) -> bool:
    return a.split(".")[0] == b.split(".")[0]


def imports_of(name: str, path: pathlib.Path) -> set[str]:
    """The modules of the suite and the test bed that ``name`` imports (anywhere in it, functions
    included), and any module of the other package a string names (``importlib``, ``python -m``):
    a dependency all the same."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    targets = set()
    tree = ast.parse(path.read_text())
    prose = {id(node.value) for node in ast.walk(tree) if isinstance(node, ast.Expr)}  # docstrings: no dependency
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package.split(".")[:len(package.split(".")) - node.level + 1] + ([base] if base else []))
            for alias in node.names:
                targets.add(f"{base}.{alias.name}" if f"{base}.{alias.name}" in MODULES else base)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in prose:
            # Only across the two packages: inside one, pytest's -p plugin names are no imports.
            targets |= {word for word in node.value.replace("`", " ").split()
                        if word in MODULES and "." in word and not _same_package(word, name)}
    return {t for t in targets if t in MODULES and t != name}


def layer(name: str) -> int:
    parts = name.split(".")
    layers = TESTBED_LAYERS if parts[0] == TESTBED else LAYERS
    if len(parts) == 1:
        return len(layers)  # a package's own __init__: below everything, it imports nothing
    for index, members in enumerate(layers):
        if parts[1] in members:
            return index
    raise AssertionError(f"{name} is in no layer: place its folder in LAYERS or TESTBED_LAYERS "
                         "(tests/unit/test_layers.py) and in CONTRIBUTING.md's layout")


GRAPH = {name: imports_of(name, path) for name, path in MODULES.items()}


@pytest.mark.parametrize("name", sorted(MODULES))
def test_imports_run_down_the_layers(name):
    upward = sorted(target for target in GRAPH[name] if _same_package(name, target) and layer(target) < layer(name))
    assert not upward, f"{name} imports from a higher layer of its package: {upward}"


def test_nothing_below_the_providers_imports_one():
    below = [name for name in SUITE if layer(name) > LAYERS.index(("providers",))]
    assert not [(name, t) for name in below for t in GRAPH[name] if t.startswith(f"{PACKAGE}.providers")]


@pytest.mark.parametrize("name", sorted(SUITE))
def test_the_suite_never_reaches_into_its_test_bed(name):
    reached = sorted(target for target in GRAPH[name] if target.startswith(TESTBED))
    assert not reached, f"{name} depends on the test bed, which the suite's wheel does not carry: {reached}"


@pytest.mark.parametrize("name", sorted(BED))
def test_the_test_bed_stands_only_on_the_suites_bottom_layer(name):
    above = sorted(target for target in GRAPH[name]
                   if target.startswith(f"{PACKAGE}.") and target.split(".")[1] not in SHARED or target == PACKAGE)
    assert not above, f"{name} imports the suite above its bottom layer {SHARED}: {above}"


def test_the_shared_modules_are_the_suites_bottom_and_stand_on_nothing_above_it():
    shared = [name for name in SUITE if len(name.split(".")) > 1 and name.split(".")[1] in SHARED]
    assert shared and not [(name, t) for name in shared for t in GRAPH[name] if t.split(".")[1] not in SHARED]


def test_the_layer_checks_catch_an_import_into_the_test_bed_and_one_from_it_into_the_verdicts(tmp_path):
    suite_side = tmp_path / "suite.py"
    suite_side.write_text("from egress_testbed.node import lifecycle\n")
    bed_side = tmp_path / "bed.py"
    bed_side.write_text("import subprocess\nsubprocess.run(['python', '-m', 'egress_conformance.cli'])\n"
                        "from egress_conformance.verdicts import checks\n")
    assert f"{TESTBED}.node.lifecycle" in imports_of(f"{PACKAGE}.run.suite", suite_side)
    assert {f"{PACKAGE}.cli", f"{PACKAGE}.verdicts.checks"} <= imports_of(f"{TESTBED}.node.bed", bed_side)


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


def _listing(directory: pathlib.Path) -> set[str]:
    return {path.stem for path in directory.iterdir() if path.name != "__pycache__" and not path.name.startswith("__")}


def test_every_layer_folder_exists_so_the_listing_is_the_map():
    assert _listing(ROOT / PACKAGE) == {member for members in LAYERS for member in members}
    assert _listing(TESTBED_ROOT) == {member for members in TESTBED_LAYERS for member in members}


def test_the_contributing_guides_tree_names_every_folder_of_both_packages():
    guide = (ROOT / "CONTRIBUTING.md").read_text()
    tree = guide[guide.index("## Layout"):].split("```")[1]
    folders = {path.name for path in (ROOT / PACKAGE).rglob("*") if path.is_dir() and path.name != "__pycache__"
               and path.parent in (ROOT / PACKAGE, ROOT / PACKAGE / "providers")}
    folders |= {path.name for path in TESTBED_ROOT.iterdir() if path.is_dir() and path.name != "__pycache__"}
    named = {line.split()[0].strip("()").rstrip("/") for line in tree.splitlines() if line.strip()}
    assert folders <= named, sorted(folders - named)
