"""`podium.plugin` is the whole public API for plugins: the bundled ones import nothing else of Podium,
and every name it offers is documented in the guide (docs/plugins.md)."""
from __future__ import annotations

import ast
import inspect
from pathlib import Path

import podium.plugin as public
from podium.server.plugin_docs import describe_name

ROOT = Path(__file__).resolve().parents[2]
GUIDE = ROOT / "docs/plugins.md"


def podium_imports(path: Path) -> list[tuple[int, str]]:
    """(line, module) of every absolute import of a `podium.*` module in the file, at any depth."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.lineno, node.module))
    return [(line, module) for line, module in sorted(found) if module.split(".")[0] == "podium"]


def test_no_bundled_plugin_imports_outside_the_public_module():
    reach_ins = [f"{path.relative_to(ROOT)}:{line} imports {module}"
                 for path in sorted((ROOT / "plugins").rglob("*.py"))
                 for line, module in podium_imports(path) if module != "podium.plugin"]
    assert reach_ins == []


def test_the_check_sees_a_reach_in(tmp_path):
    sneaky = tmp_path / "sneaky.py"
    sneaky.write_text("def f():\n    from podium.core.db import changing\nimport podium.plugin\n")
    assert sorted(podium_imports(sneaky)) == [(2, "podium.core.db"), (3, "podium.plugin")]


def test_every_public_name_is_documented():
    text = GUIDE.read_text()
    section = text.split("## The public API", 1)[1].split("\n## ", 1)[0]
    undocumented = [name for name in public.__all__ if f"`{name}`" not in section]
    assert undocumented == [], "docs/plugins.md, 'The public API', does not name these"
    assert [name for name in public.__all__ if not describe_name(name)] == [], "these have no description"
    for name in public.__all__:
        value = getattr(public, name)
        if inspect.isclass(value) or inspect.isfunction(value):
            assert value.__doc__ and not value.__doc__.startswith(f"{name}("), f"{name} has no docstring of its own"


def test_nothing_public_is_missing_from_all():
    offered = {name for name in vars(public) if not name.startswith("_")} - {"annotations"}
    assert offered == set(public.__all__)
