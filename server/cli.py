"""The `podium` command."""
from __future__ import annotations

import asyncio
import logging

import typer

from podium.core.db import is_sqlite
from podium.core.settings import Settings

app = typer.Typer(help="Podium: an open, headless Training Management System core.", no_args_is_help=True)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
app.add_typer(db_app, name="db")


@db_app.command("upgrade")
def db_upgrade(revision: str = typer.Argument("head")) -> None:
    """Create or migrate the schema (PODIUM_DATABASE_URL) to the latest version."""
    from podium.core.migrate import upgrade

    settings = Settings.from_env()
    upgrade(settings.database_url, revision)
    typer.echo(f"database at {revision}: {_safe_url(settings.database_url)}")


@app.command()
def demo() -> None:
    """Load the demo data set (idempotent)."""
    settings = Settings.from_env()
    _load_demo(settings)


def _load_demo(settings: Settings) -> None:
    from rich.progress import Progress

    from podium.core.demo import DEMO_STEPS, load_demo

    with Progress(transient=True) as bar:
        task = bar.add_task("demo data", total=DEMO_STEPS)
        summary = asyncio.run(load_demo(
            settings.database_url, progress=lambda step, done: bar.update(task, completed=done,
                                                                          description=f"demo: {step}")))
    typer.echo(summary)


def _safe_url(url: str) -> str:
    """The URL without its password, for logs."""
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


@app.command()
def serve(host: str = typer.Option("127.0.0.1"), port: int = typer.Option(8000),
          workers: int = typer.Option(1, min=1), demo: bool = typer.Option(False, help="Also load the demo data."),
          log_level: str = typer.Option("info")) -> None:
    """Serve the API. The embedded SQLite database is migrated on start."""
    import uvicorn

    from podium.core.migrate import upgrade

    logging.basicConfig(level=log_level.upper(), format="%(asctime)s %(levelname)s %(name)s %(message)s")
    settings = Settings.from_env()
    if is_sqlite(settings.database_url):
        upgrade(settings.database_url)
    if demo:
        _load_demo(settings)
    typer.echo(f"Podium on http://{host}:{port}/graphql with {_safe_url(settings.database_url)}")
    uvicorn.run("podium.server.app:create_app", factory=True, host=host, port=port, workers=workers,
                log_level=log_level, timeout_graceful_shutdown=10)


if __name__ == "__main__":
    app()
