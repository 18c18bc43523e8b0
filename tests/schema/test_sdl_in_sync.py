"""schema/schema.graphql is what the code defines: `podium export-schema` after every change."""
from __future__ import annotations

from typer.testing import CliRunner

from podium.schema import SDL_PATH, sdl
from podium.server.cli import app


def test_committed_sdl_matches_the_code():
    assert SDL_PATH.read_text() == sdl(), "run `podium export-schema` and commit schema/schema.graphql"


def test_export_schema_writes_the_sdl(tmp_path):
    target = tmp_path / "schema.graphql"
    result = CliRunner().invoke(app, ["export-schema", "--path", str(target)])
    assert result.exit_code == 0, result.output
    assert target.read_text() == sdl()
