"""The guide's hook reference and public API table are what the docstrings say (`podium plugin docs`)."""
from __future__ import annotations

import subprocess
import sys

from podium.server.plugin_docs import GUIDE, hook_specs, render


def test_the_guide_is_what_the_docstrings_say():
    text = GUIDE.read_text()
    assert render(text) == text, "docs/plugins.md drifted from the docstrings: run `podium plugin docs`"


def test_a_changed_docstring_shows_as_drift():
    name, spec = hook_specs()[0]
    text = GUIDE.read_text()
    first_line = spec.__doc__.strip().splitlines()[0]
    assert first_line in text
    assert render(text.replace(first_line, "Something else entirely.")) == text


def test_podium_plugin_docs_rewrites_only_the_generated_sections(tmp_path):
    guide = tmp_path / "docs/plugins.md"
    guide.parent.mkdir()
    text = GUIDE.read_text()
    stale = text.replace(hook_specs()[0][1].__doc__.strip().splitlines()[0], "stale words")
    guide.write_text(stale + "\nProse after.\n")
    out = subprocess.run([sys.executable, "-m", "podium.server.cli", "plugin", "docs", "--path", str(guide)],
                         capture_output=True, text=True, check=True).stdout
    assert "updated" in out
    assert guide.read_text() == text + "\nProse after.\n"
