"""CONTRIBUTING.md walks a newcomer through adding a scenario with the example that
tests/integration/test_example_scenario.py runs on the local mesh: the guide shows those
files as they are, so the example it teaches is the one that is tested."""

import pathlib

ROOT = pathlib.Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "tests" / "integration" / "example_scenario"


def test_the_guide_shows_the_tested_example_scenario_verbatim():
    guide = (ROOT / "CONTRIBUTING.md").read_text()
    for name, fence in (("__init__.py", "```python\n"), ("service-entry.yaml", "```yaml\n")):
        assert fence + (EXAMPLE / name).read_text().rstrip() + "\n```" in guide, f"CONTRIBUTING.md lacks {name} as it is"


def test_the_readme_stays_short_and_links_every_docs_page():
    readme = (ROOT / "README.md").read_text()
    assert len(readme.splitlines()) <= 250
    pages = sorted(path.name for path in (ROOT / "docs").glob("*.md"))
    assert pages and [page for page in pages if f"(docs/{page})" not in readme] == []
