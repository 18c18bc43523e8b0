"""Every hook specification is documented in the plugin guide, docs/plugins.md, with its arguments (as
datasette does)."""
from __future__ import annotations

import inspect
from pathlib import Path

from podium.core import hookspecs

GUIDE = Path(__file__).resolve().parents[2] / "docs/plugins.md"


def test_every_hook_is_documented_with_its_arguments():
    text = GUIDE.read_text()
    section = text.split("## Writing a plugin", 1)[1].split("\n## ", 1)[0]
    specs = [(name, fn) for name, fn in inspect.getmembers(hookspecs, inspect.isfunction) if name.startswith("podium_")]
    assert len(specs) == 9
    for name, fn in specs:
        signature = f"{name}({', '.join(inspect.signature(fn).parameters)})"
        assert f"`{signature}`" in section, f"docs/plugins.md does not document {signature} under 'Writing a plugin'"
        assert fn.__doc__, f"{name} has no docstring"
