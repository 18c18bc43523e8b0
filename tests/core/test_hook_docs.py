"""Every hook specification is documented in the README with its arguments (as datasette does)."""
from __future__ import annotations

import inspect
from pathlib import Path

from podium.core import hookspecs

README = Path(__file__).resolve().parents[2] / "README.md"


def test_every_hook_is_documented_with_its_arguments():
    text = README.read_text()
    section = text.split("## Plugins, outbox and notifications", 1)[1].split("\n## ", 1)[0]
    specs = [(name, fn) for name, fn in inspect.getmembers(hookspecs, inspect.isfunction) if name.startswith("podium_")]
    assert len(specs) == 6
    for name, fn in specs:
        signature = f"{name}({', '.join(inspect.signature(fn).parameters)})"
        assert f"`{signature}`" in section, f"README does not document {signature}"
        assert fn.__doc__, f"{name} has no docstring"
