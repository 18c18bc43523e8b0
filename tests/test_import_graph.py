"""The layers' imports stay simple: no cycle between modules of core/ (an import inside a function
counts too), and no module imports another's `_private` name."""
from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).parents[1]
LAYERS = {"core": "podium.core", "schema": "podium.schema", "plugins": "podium.plugins", "plugin": "podium.plugin",
          "server": "podium.server"}


def modules() -> dict[str, Path]:
    """Import name of every module of the layers, with its file."""
    found = {}
    for folder, prefix in LAYERS.items():
        for path in (ROOT / folder).rglob("*.py"):
            parts = list(path.relative_to(ROOT / folder).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join([prefix, *parts])] = path
    return found


def imports(name: str, path: Path) -> list[tuple[str, list[str], int]]:
    """(module, names taken from it, line) of every import in the file, at any depth."""
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [(alias.name, [], node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = package.split(".")[:len(package.split(".")) - node.level + 1] if node.level else []
            module = ".".join(base + ([node.module] if node.module else []))
            found.append((module, [alias.name for alias in node.names], node.lineno))
    return found


def graph() -> dict[str, set[str]]:
    """Which project modules each project module imports (`from . import x` imports module x)."""
    known = modules()
    edges: dict[str, set[str]] = {name: set() for name in known}
    for name, path in known.items():
        for module, names, _ in imports(name, path):
            targets = [module] + [f"{module}.{n}" for n in names]
            edges[name] |= {t for t in targets if t in known and t != name}
    return edges


def cycles(edges: dict[str, set[str]], within: str) -> list[list[str]]:
    """Strongly connected groups of more than one module among those named `within…` (Tarjan)."""
    nodes = sorted(n for n in edges if n.startswith(within))
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for other in sorted(edges[node]):
            if not other.startswith(within):
                continue
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for node in nodes:
        if node not in index:
            visit(node)
    return found


def test_the_checks_see_what_they_look_for():
    edges = {"podium.core.a": {"podium.core.b"}, "podium.core.b": {"podium.core.c"},
             "podium.core.c": {"podium.core.a"}, "podium.core.d": {"podium.core.a"}}
    assert cycles(edges, "podium.core") == [["podium.core.a", "podium.core.b", "podium.core.c"]]
    edges = graph()
    assert "podium.core.models" in edges["podium.core.services.scheduling"]
    assert "podium.core.services.meetings" in edges["podium.core.services.scheduling"], "`from . import x` counts"
    assert "podium.core.notifications" in edges["podium.core.outbox"], "an import inside a function counts"


def test_no_import_cycle_between_core_modules():
    assert cycles(graph(), "podium.core") == []


def test_no_private_name_is_imported_from_another_module():
    known = modules()
    reach_ins = [f"{path.relative_to(ROOT)}:{line} imports {module}.{taken}"
                 for name, path in known.items()
                 for module, names, line in imports(name, path) if module in known
                 for taken in names if taken.startswith("_") and not taken.startswith("__")]
    assert reach_ins == []
