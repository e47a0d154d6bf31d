"""The type checker reads every scenario: each function of scenarios/, suites/ and fixtures/ that
takes the test handle ``t`` (or the ``egress`` fixture) says its type, each ``run`` function is
fully annotated (mypy skips the body of a function without annotations), and mypy's files cover
those folders."""

import ast
import pathlib
import tomllib

ROOT = pathlib.Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "egress_conformance"
FOLDERS = [PACKAGE / "scenarios", PACKAGE / "suites", PACKAGE / "fixtures", ROOT / "tests/integration/example_scenario"]
HANDLES = {"t", "egress"}


def untyped(source: str, name: str) -> list[str]:
    """Each function of ``source`` that takes the handle untyped, or is a run function not fully annotated."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        args = [*node.args.posonlyargs, *node.args.args, *node.args.kwonlyargs]
        bare = [a.arg for a in args if a.annotation is None and a.arg not in ("self", "cls")]
        if any(arg in HANDLES for arg in bare):
            found.append(f"{name}:{node.lineno} {node.name}({', '.join(bare)}) takes the handle untyped")
        elif node.name.startswith("run") and (bare or node.returns is None):
            found.append(f"{name}:{node.lineno} {node.name} is not fully annotated")
    return found


def test_no_scenario_suite_or_fixture_takes_the_handle_untyped():
    found = [line for folder in FOLDERS for path in sorted(folder.rglob("*.py"))
             for line in untyped(path.read_text(), str(path.relative_to(ROOT)))]
    assert not found, "annotate them (t: EgressTest), or mypy skips their bodies:\n" + "\n".join(found)


def test_the_check_sees_an_untyped_run_and_an_untyped_handle():
    assert untyped("def run(t):\n    pass\n", "x") == ["x:1 run(t) takes the handle untyped"]
    assert untyped("def run(shape, t: T) -> None:\n    pass\n", "x") == ["x:1 run is not fully annotated"]
    assert untyped("def helper(t, pod: dict) -> None:\n    pass\n", "x") == ["x:1 helper(t) takes the handle untyped"]
    assert untyped("def run(t: T) -> None:\n    pass\n", "x") == []


def test_mypy_covers_the_scenarios_suites_and_fixtures():
    files = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["mypy"]["files"]
    for folder in FOLDERS[:3]:
        assert any(folder.is_relative_to(ROOT / f) for f in files), f"{folder} is outside mypy's files {files}"
