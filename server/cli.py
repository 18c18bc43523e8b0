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


@app.command("export-schema")
def export_schema(path: str = typer.Option("", help="Where to write the SDL; default schema/schema.graphql.")) -> None:
    """Write the GraphQL schema (SDL) that the code defines; a test fails when the committed file drifts."""
    from pathlib import Path

    from podium.schema import SDL_PATH, sdl

    target = Path(path) if path else SDL_PATH
    target.write_text(sdl())
    typer.echo(f"schema written to {target}")


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


# --- venues, rooms and room calendars (the venues plugin) ----------------------------------------

venues_app = typer.Typer(help="Venues, rooms and room calendars (the venues plugin).", no_args_is_help=True)
app.add_typer(venues_app, name="venues")


@venues_app.command("import")
def venues_import(location: str = typer.Argument(None, help="A JSON file or an http(s) feed URL "
                                                  "(default: PODIUM_VENUES_FEED).")) -> None:
    """Import venues and rooms; a re-import updates them in place instead of duplicating."""
    settings = Settings.from_env()
    if is_sqlite(settings.database_url):
        from podium.core.migrate import upgrade

        upgrade(settings.database_url)
    raise typer.Exit(asyncio.run(_import_venues(settings, location)))


@venues_app.command("refresh")
def venues_refresh() -> None:
    """Re-read every room's calendar now and replace its future outside bookings."""
    raise typer.Exit(asyncio.run(_refresh_calendars(Settings.from_env())))


def _venue_source():
    from podium.plugins.venues.config import VenuesConfig
    from podium.plugins.venues.provider import VenueFeedSource

    return VenueFeedSource(VenuesConfig.from_env())


async def _import_venues(settings: Settings, location: str | None) -> int:
    from rich.progress import Progress

    from podium.core.audit import Actor
    from podium.core.db import create_engine, create_sessionmaker
    from podium.core.services.venue_sync import import_venues
    from podium.plugins.venues.client import VenueFeedError

    source = _venue_source()
    try:
        records = await (source.read_venues(location) if location else source.venues())
    except VenueFeedError as exc:
        typer.echo(f"nothing imported: {exc}", err=True)
        return 1
    engine = create_engine(settings.database_url)
    try:
        with Progress(transient=True) as bar:
            task = bar.add_task("venues", total=len(records))
            report = await import_venues(
                create_sessionmaker(engine), Actor.system("cli:venues import"), source.name, records,
                progress=lambda record: bar.update(task, advance=1, description=f"venue {record.name}"))
    finally:
        await engine.dispose()
    typer.echo(f"venues: {report.venues_created} created, {report.venues_updated} updated, "
               f"{report.venues_unchanged} unchanged; rooms: {report.rooms_created} created, "
               f"{report.rooms_updated} updated, {report.rooms_unchanged} unchanged")
    for external_id, why in report.refused:
        typer.echo(f"refused venue {external_id}: {why}", err=True)
    return 1 if report.refused else 0


async def _refresh_calendars(settings: Settings) -> int:
    from podium.core.audit import Actor
    from podium.core.db import create_engine, create_sessionmaker
    from podium.core.services.venue_sync import refresh_room_calendars

    source = _venue_source()
    engine = create_engine(settings.database_url)
    try:
        report = await refresh_room_calendars(create_sessionmaker(engine), Actor.system("cli:venues refresh"),
                                              source, horizon_days=source.config.horizon_days)
    finally:
        await engine.dispose()
    typer.echo(f"room calendars read: {report.rooms_read}; busy times added {report.added}, "
               f"moved {report.moved}, removed {report.removed}")
    for room_id, session_id in report.clashes:
        typer.echo(f"room {room_id} is busy in its own calendar during session {session_id}", err=True)
    for room_id, why in report.failed:
        typer.echo(f"room {room_id} not read (last known busy times kept): {why}", err=True)
    return 1 if report.failed else 0
