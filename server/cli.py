"""The `podium` command."""
from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import replace

import typer

from podium.core.db import is_sqlite
from podium.core.settings import Settings
from podium.server.plugin_cli import check_plugins, list_plugins, plugin_app

app = typer.Typer(help="Podium: an open, headless Training Management System core.", no_args_is_help=True)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
app.add_typer(db_app, name="db")
outbox_app = typer.Typer(help="The outbox: what is pending, failing and dead; retry the dead.", no_args_is_help=True)
app.add_typer(outbox_app, name="outbox")
app.command("plugins")(list_plugins)
app.add_typer(plugin_app, name="plugin")


@app.callback()
def check_settings() -> None:
    """Every command starts from valid settings: a malformed variable stops it, named, before anything runs."""
    from podium.core.settings import SettingsError

    try:
        Settings.from_env()
    except SettingsError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None


@db_app.command("upgrade")
def db_upgrade(revision: str = typer.Argument("head")) -> None:
    """Create or migrate the schema (PODIUM_DATABASE_URL) to the latest version."""
    from podium.core.migrate import upgrade

    settings = Settings.from_env()
    upgrade(settings.database_url, revision)
    typer.echo(f"database at {revision}: {_safe_url(settings.database_url)}")


@db_app.command("backup")
def db_backup(file: str = typer.Argument(..., help="Where to write the copy; must not exist yet.")) -> None:
    """A consistent copy of the SQLite database while Podium runs; on PostgreSQL, the pg_dump command to use."""
    from podium.core.backup import BackupError, backup_sqlite, pg_dump_command, sqlite_file

    settings = Settings.from_env()
    if sqlite_file(settings.database_url) is None:
        typer.echo(f"podium db backup copies SQLite only; back up PostgreSQL with: "
                   f"{pg_dump_command(settings.database_url, file)}", err=True)
        raise typer.Exit(2)
    try:
        size = _with_progress("backup", lambda progress: backup_sqlite(settings.database_url, file, progress))
    except BackupError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    typer.echo(f"backup written to {file} ({size:,} bytes, integrity ok)")


@db_app.command("restore")
def db_restore(file: str = typer.Argument(..., help="A file written by `podium db backup`.")) -> None:
    """Restore a SQLite backup to PODIUM_DATABASE_URL, which must not hold a database yet."""
    from podium.core.backup import BackupError, pg_restore_command, restore_sqlite, sqlite_file

    settings = Settings.from_env()
    if sqlite_file(settings.database_url) is None:
        typer.echo(f"podium db restore restores SQLite only; restore PostgreSQL into an empty database with: "
                   f"{pg_restore_command(settings.database_url, file)}", err=True)
        raise typer.Exit(2)
    try:
        size = _with_progress("restore", lambda progress: restore_sqlite(file, settings.database_url, progress))
    except BackupError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    typer.echo(f"restored {file} to {_safe_url(settings.database_url)} ({size:,} bytes); "
               "`podium serve` migrates it on start")


def _progress_bar():
    """A progress bar on a terminal (on stderr, gone when done); nothing at all in a pipe or a log."""
    from rich.console import Console
    from rich.progress import Progress

    console = Console(stderr=True)
    return Progress(console=console, transient=True, disable=not console.is_terminal)


def _with_progress(what: str, work):
    """Run `work(progress)` under a progress bar of pages copied."""
    with _progress_bar() as bar:
        task = bar.add_task(what, total=None)
        return work(lambda done, total: bar.update(task, completed=done, total=total))


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
            settings, progress=lambda step, done: bar.update(task, completed=done, description=f"demo: {step}")))
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
    """Serve the API. The embedded SQLite database is migrated on start; any other must be at the head
    (`podium db upgrade`), or serve refuses to start."""
    import uvicorn

    from podium.core import migrate  # noqa: F401 - alembic logs its set-up at import: before logging is configured
    from podium.server.logs import configure_logging, log_config

    settings = Settings.from_env()
    configure_logging(log_level, settings.log_format)
    _require_current_schema(settings)
    asyncio.run(check_plugins(settings))       # every plugin's problem at once, one line each, exit 2
    if demo:
        _load_demo(settings)
    from podium.server.shutdown import GRACEFUL_SECONDS

    if workers > 1 and not settings.redis_url:
        logging.getLogger("podium.server").warning(
            "%d workers without PODIUM_REDIS_URL: live updates (sessionChanged) are per worker, so a subscriber "
            "misses the changes the other workers make, and rate limits are counted per worker. Set "
            "PODIUM_REDIS_URL to share them.", workers)
    typer.echo(f"Podium on http://{host}:{port}/graphql with {_safe_url(settings.database_url)}")
    with _metrics_shared_by(workers):
        uvicorn.run("podium.server.app:create_app", factory=True, host=host, port=port, workers=workers,
                    log_level=log_level, log_config=log_config(log_level, settings.log_format),
                    timeout_graceful_shutdown=GRACEFUL_SECONDS, **uvicorn_limits(settings))


@contextlib.contextmanager
def _metrics_shared_by(workers: int):
    """Worker processes write their metrics to files in a fresh PROMETHEUS_MULTIPROC_DIR, removed when
    serve ends; one set by the operator is used as it is (empty it before each start)."""
    import os
    import shutil
    import tempfile

    from podium.server.metrics import MULTIPROC_DIR

    if workers == 1 or os.environ.get(MULTIPROC_DIR):
        yield
        return
    directory = tempfile.mkdtemp(prefix="podium-metrics-")
    os.environ[MULTIPROC_DIR] = directory  # inherited by the workers uvicorn starts
    try:
        yield
    finally:
        os.environ.pop(MULTIPROC_DIR, None)
        shutil.rmtree(directory, ignore_errors=True)


def uvicorn_limits(settings: Settings) -> dict:
    """The HTTP edge: at most so many connections and tasks at once (then 503), idle keep-alive
    connections closed, request heads bounded."""
    return {"limit_concurrency": settings.limit_concurrency, "timeout_keep_alive": settings.keep_alive_seconds,
            "h11_max_incomplete_event_size": settings.max_incomplete_event_bytes}


def _require_current_schema(settings: Settings, refused: str = "") -> None:
    """The embedded SQLite database is migrated; any other must be at the head (`podium db upgrade`),
    else the command stops here: `error: <refused><why>`, exit 2."""
    if is_sqlite(settings.database_url):
        from podium.core.migrate import upgrade

        upgrade(settings.database_url)
        return
    problem = asyncio.run(_schema_problem(settings))
    if problem:
        typer.echo(f"error: {refused}{problem}", err=True)
        raise typer.Exit(2)


async def _schema_problem(settings: Settings) -> str | None:
    """Why this database cannot be served (schema behind or ahead of this code); None when it can, or
    when it does not answer yet (then /readyz says so until it does)."""
    from podium.core.db import create_engine
    from podium.core.migrate import head_revision, schema_problem, schema_revision

    engine = create_engine(settings.database_url)
    try:
        async with engine.connect() as conn:
            revision = await schema_revision(conn)
    except Exception as exc:  # noqa: BLE001 - unreachable now: start, and let /readyz report it
        logging.getLogger("podium.server").warning("database not answering at start: %s", exc)
        return None
    finally:
        await engine.dispose()
    return schema_problem(revision, head_revision())


@app.command()
def worker(log_level: str = typer.Option("info"), concurrency: int = typer.Option(None, min=1,
           help="Deliveries at a time (default PODIUM_OUTBOX_CONCURRENCY).")) -> None:
    """Deliver outbox messages and run the periodic jobs' ticks in this process until SIGTERM or Ctrl-C;
    run as many as you like (each message and each tick is done by one of them)."""
    from podium.core.migrate import upgrade
    from podium.server.logs import configure_logging

    settings = Settings.from_env()
    configure_logging(log_level, settings.log_format)
    if concurrency:
        settings = replace(settings, outbox_concurrency=concurrency)
    if is_sqlite(settings.database_url):
        upgrade(settings.database_url)
    asyncio.run(_work(settings))


async def _work(settings: Settings) -> None:
    import signal

    from podium.core.db import create_engine, create_sessionmaker
    from podium.core.events import EventBus
    from podium.core.outbox import Dispatcher
    from podium.server.broadcast import broadcasting

    plugins = await _started_plugins(settings)
    engine = create_engine(settings.database_url, synchronous=settings.sqlite_synchronous)
    bus = EventBus()  # what the worker changes (a meeting made) reaches live subscribers through Redis
    dispatcher = Dispatcher(plugins.bind(create_sessionmaker(engine, bus)).sessions, plugins, settings)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, dispatcher.stop)
    typer.echo(f"podium worker {dispatcher.owner} on {_safe_url(settings.database_url)}; "
               f"plugins: {', '.join(plugins.loaded) or 'none'}")
    try:
        from podium.core.services.periodic import start_periodic

        async with broadcasting(bus, settings):
            await start_periodic(dispatcher.sessions, settings, plugins)
            await dispatcher.run()
    finally:
        await plugins.stop()
        await engine.dispose()


async def _started_plugins(settings: Settings):
    """Plugins loaded and started, or every plugin's problems, one line each, and exit status 2."""
    from podium.server.plugin_cli import started_plugins

    return await started_plugins(settings)


@outbox_app.command("list")
def outbox_list(status: list[str] = typer.Option(None, help="PENDING, DELIVERED or DEAD; repeat for several."),
                failing: bool = typer.Option(False, help="Only pending messages that failed at least once."),
                limit: int = typer.Option(50, min=1, max=1000)) -> None:
    """Counts per status, the periodic jobs (unless filtered), then the latest messages (newest first)."""
    from podium.core.models import OutboxStatus

    try:
        statuses = [OutboxStatus(s.upper()) for s in status or []]
    except ValueError:
        raise typer.BadParameter("status is PENDING, DELIVERED or DEAD") from None
    counts, rows, jobs = asyncio.run(_outbox(lambda db: _overview(db, statuses, failing, limit)))
    typer.echo("  ".join(f"{k.lower()}: {v}" for k, v in counts.items()))
    if not statuses and not failing:  # filtered: the matching messages only
        typer.echo("periodic jobs (each tick once across all processes; ticks are plugin_call periodic.<job>):")
        for line in jobs:
            typer.echo(f"  {line}")
    for m in rows:
        due = "" if m.status.value != "PENDING" else f" due {m.deliver_after:%Y-%m-%d %H:%M:%S}Z"
        error = f" — {m.last_error}" if m.last_error else ""
        typer.echo(f"#{m.id} {m.status.value} {m.kind} {m.topic} -> {m.target or '-'} attempts={m.attempts}{due}"
                   f" key={m.idempotency_key}{error}")


@outbox_app.command("prune")
def outbox_prune() -> None:
    """Delete delivered messages older than PODIUM_OUTBOX_RETENTION_DAYS now (the periodic job `prune` also does,
    every PODIUM_PRUNE_EVERY_SECONDS)."""
    settings = Settings.from_env()
    pruned = asyncio.run(_prune(settings))
    typer.echo(f"{pruned} delivered message(s) older than {settings.outbox_retention_days} days pruned")


async def _prune(settings: Settings) -> int:
    from datetime import timedelta

    from podium.core.db import create_engine, create_sessionmaker
    from podium.core.instants import utc_now
    from podium.core.outbox import prunable, prune_delivered

    before = utc_now() - timedelta(days=settings.outbox_retention_days)
    engine = create_engine(settings.database_url, synchronous=settings.sqlite_synchronous)
    sessions = create_sessionmaker(engine)
    try:
        async with sessions() as db:
            total = await prunable(db, before)
        with _progress_bar() as bar:
            task = bar.add_task("pruning the outbox", total=total)
            return await prune_delivered(sessions, before, progress=lambda n: bar.update(task, advance=n))
    finally:
        await engine.dispose()


async def _overview(db, statuses, failing, limit):
    from podium.core.outbox import outbox_overview
    from podium.core.services.periodic import describe, periodic_overview

    counts, rows = await outbox_overview(db, statuses, failing, limit)
    jobs = [line for state in await periodic_overview(db) for line in describe(state)]
    return counts, rows, jobs


@outbox_app.command("retry")
def outbox_retry(ids: list[int] = typer.Argument(None, help="Message ids (see `podium outbox list`)."),
                 all_dead: bool = typer.Option(False, "--all-dead", help="Every DEAD message.")) -> None:
    """Put DEAD or backing-off messages back in line now, attempts reset, audited; exit 1 if any is refused."""
    if not ids and not all_dead:
        raise typer.BadParameter("give message ids or --all-dead")
    raise typer.Exit(asyncio.run(_outbox(lambda db: _retry(db, ids or [], all_dead))))


async def _retry(db, ids: list[int], all_dead: bool) -> int:
    from sqlalchemy import select

    from podium.core.audit import Actor
    from podium.core.db import changing
    from podium.core.errors import DomainError
    from podium.core.models import OutboxMessage, OutboxStatus
    from podium.core.outbox import retry_message

    if all_dead:
        ids = [*ids, *await db.scalars(select(OutboxMessage.id).where(OutboxMessage.status == OutboxStatus.DEAD)
                                       .order_by(OutboxMessage.id))]
    actor, queued, refused = Actor.system("cli:outbox retry"), 0, 0
    for message_id in dict.fromkeys(ids):
        try:
            async with changing(db):
                await retry_message(db, actor, message_id)
            queued += 1
        except DomainError as exc:
            typer.echo(f"#{message_id} not retried: {exc.message}", err=True)
            refused += 1
    typer.echo(f"{queued} message(s) queued again" + (f", {refused} refused" if refused else ""))
    return 1 if refused else 0


async def _outbox(action):
    from podium.core.db import create_engine, create_sessionmaker

    engine = create_engine(Settings.from_env().database_url)
    try:
        async with create_sessionmaker(engine)() as db:
            return await action(db)
    finally:
        await engine.dispose()



# --- reports ---------------------------------------------------------------------------------------

@app.command("report")
def report(metrics: list[str] = typer.Argument(..., help="fill-rate, waitlist-demand, attendance-rate, no-show-rate, "
                                               "late-cancellation-rate, completion-rate, certified-count, "
                                               "expiring-soon, instructor-utilisation, room-utilisation, planned-cost, "
                                               "actual-cost, cost-per-learner, cost-per-attended-hour, "
                                               "budget-consumption, average-rating, nps, evaluation-response-rate, "
                                               "learning-gain"),
           by: list[str] = typer.Option(None, "--by", help="course, venue, instructor, month or delivery-mode; "
                                        "repeat to group by several."),
           from_: str = typer.Option(..., "--from", help="The first day, YYYY-MM-DD."),
           to: str = typer.Option(None, "--to", help="The last day (included); default a year after --from."),
           timezone: str = typer.Option("UTC", help="The IANA zone of the days and months."),
           format: str = typer.Option("table", "--format", help="table, csv or json.")) -> None:
    """KPIs over a period, grouped, as the GraphQL `report` computes them (README, "Reports and exports")."""
    from datetime import date, timedelta

    from podium.core.errors import DomainError
    from podium.core.services import reports

    try:
        chosen = [reports.Metric(m.strip().upper().replace("-", "_")) for m in metrics]
        dimensions = [reports.Dimension(d.strip().upper().replace("-", "_")) for d in by or []]
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    if format not in ("table", "csv", "json"):
        raise typer.BadParameter("--format is table, csv or json")
    try:
        first = date.fromisoformat(from_)
        last = date.fromisoformat(to) if to else first.replace(year=first.year + 1) - timedelta(days=1)
    except ValueError as exc:
        raise typer.BadParameter(f"a day is YYYY-MM-DD: {exc}") from None
    settings = Settings.from_env()
    try:
        span = reports.period(first, last, timezone)
        answer = asyncio.run(_outbox(lambda db: reports.run_report(db, chosen, dimensions, span, settings=settings)))
    except DomainError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    _print_report(answer, format)


def _print_report(answer, format: str) -> None:
    import csv
    import json
    import sys

    header = [d.value.lower() for d in answer.group_by] + [m.value.lower() for m in answer.metrics]
    lines = [[d.label for d in row.dimensions] + [_shown(v.value) for v in row.values] for row in answer.rows]
    totals = ["total"] * min(len(answer.group_by), 1) + [""] * max(len(answer.group_by) - 1, 0) \
        + [_shown(v.value) for v in answer.totals]
    if format == "csv":
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerows([header, *lines, totals])
    elif format == "json":
        typer.echo(json.dumps({
            "from": answer.period.first.isoformat(), "to": answer.period.last.isoformat(),
            "timezone": answer.period.timezone,
            "rows": [{"dimensions": {d.dimension.value: {"key": d.key, "label": d.label} for d in row.dimensions},
                      "values": {v.metric.value: _json_value(v) for v in row.values}} for row in answer.rows],
            "totals": {v.metric.value: _json_value(v) for v in answer.totals}}, indent=2))
    else:
        from rich.console import Console
        from rich.table import Table

        table = Table(title=f"{answer.period.first} to {answer.period.last} ({answer.period.timezone})")
        for index, name in enumerate(header):
            table.add_column(name.replace("_", " "), justify="left" if index < len(answer.group_by) else "right")
        for line in lines:
            table.add_row(*line)
        table.add_row(*totals, style="bold", end_section=True)
        Console().print(table)


def _shown(value) -> str:
    return "" if value is None else str(value)


def _json_value(value) -> dict:
    return {"value": None if value.value is None else str(value.value), "numerator": str(value.numerator),
            "denominator": None if value.denominator is None else str(value.denominator)}


# --- exports ---------------------------------------------------------------------------------------

@app.command("export")
def export(name: str = typer.Argument(..., help="enrollments, attendance, audit or report"),
           from_: str = typer.Option(..., "--from", help="The first day, YYYY-MM-DD."),
           to: str = typer.Option(None, "--to", help="The last day (included); default a year after --from."),
           format: str = typer.Option("csv", "--format", help="csv or xlsx."),
           output: str = typer.Option(None, "--output", "-o", help="The file to write; default "
                                      "podium-NAME-FROM-TO.csv (or .xlsx); '-' writes CSV to standard output."),
           timezone: str = typer.Option("UTC", help="The IANA zone of the days."),
           metric: list[str] = typer.Option(None, "--metric", help="report: a metric (fill-rate, ...); repeat."),
           by: list[str] = typer.Option(None, "--by", help="report: a dimension (course, month, ...); repeat.")) -> None:
    """Write an export (as GET /exports/NAME.csv does) to a CSV or XLSX file, with a progress bar."""
    from datetime import date, timedelta

    from podium.core.errors import DomainError
    from podium.core.services import exports

    if format not in ("csv", "xlsx"):
        raise typer.BadParameter("--format is csv or xlsx")
    try:
        first = date.fromisoformat(from_)
        last = date.fromisoformat(to) if to else first.replace(year=first.year + 1) - timedelta(days=1)
    except ValueError as exc:
        raise typer.BadParameter(f"a day is YYYY-MM-DD: {exc}") from None
    try:
        req = exports.request(name, first, last, timezone, metric or [], by or [])
    except DomainError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    if output == "-" and format == "xlsx":
        raise typer.BadParameter("an XLSX export goes to a file: give --output")
    target = output or f"podium-{name}-{first}-{last}.{format}"
    try:
        written = asyncio.run(_write_export(Settings.from_env(), req, format, target))
    except DomainError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    if target != "-":
        typer.echo(f"{written:,} rows written to {target}")


async def _write_export(settings: Settings, req, format: str, target: str) -> int:
    """Page by page into the file (an XLSX in openpyxl's write-only mode), so memory stays flat."""
    import csv
    import sys

    from podium.core.db import create_engine, create_sessionmaker
    from podium.core.services import exports

    engine = create_engine(settings.database_url)
    written = 0
    try:
        async with create_sessionmaker(engine)() as db:
            total = await exports.count_rows(db, req)
            with _progress_bar() as bar:
                task = bar.add_task(f"export {req.name}", total=total)
                if format == "xlsx":
                    from openpyxl import Workbook

                    book = Workbook(write_only=True)
                    sheet = book.create_sheet(req.name)
                    sheet.append(exports.header(req))
                    async for page in exports.rows(db, req, settings):
                        for row in page:
                            sheet.append([exports.safe_cell(v) for v in row])
                        written += len(page)
                        bar.update(task, advance=len(page))
                    book.save(target)
                    return written
                out = sys.stdout if target == "-" else open(target, "w", newline="", encoding="utf-8")
                try:
                    writer = csv.writer(out, lineterminator="\r\n")
                    writer.writerow(exports.header(req))
                    async for page in exports.rows(db, req, settings):
                        writer.writerows([exports.safe_cell(v) for v in row] for row in page)
                        written += len(page)
                        bar.update(task, advance=len(page))
                finally:
                    if out is not sys.stdout:
                        out.close()
    finally:
        await engine.dispose()
    return written

# --- import from spreadsheets ----------------------------------------------------------------------

@app.command("import")
def import_sheet(file: str = typer.Argument(..., help="A .csv (UTF-8), .xlsx, .xls or .ods file; its first "
                                            "line names the columns (docs/import.md)."),
                 kind: str = typer.Option(..., "--kind", help="courses, people, resources, sessions, enrollments "
                                          "or attendance"),
                 dry_run: bool = typer.Option(False, "--dry-run", help="Check every row as an import would, "
                                              "and write nothing."),
                 sheet: str = typer.Option(None, "--sheet", help="The workbook's sheet to read (default the first)."),
                 batch_rows: int = typer.Option(200, "--batch-rows", min=1, max=10_000,
                                                help="Rows per committed transaction."),
                 refused_to: str = typer.Option(None, "--refused", help="Also write this run's refused rows to "
                                                "this CSV file: their cells, then line, column, code and message. "
                                                "Fix them there and import that file.")
                 ) -> None:
    """Import rows through the same services as the API, keyed on natural keys (a re-run changes nothing).
    Prints what was created, updated, unchanged and refused, and each refused row with its line, column and
    reason; exit status 1 if any row was refused, 2 if the file or its columns were (or the import stopped)."""
    from pathlib import Path

    from podium.core.services.imports import KINDS, ImportStopped, check_header
    from podium.core.sheets import SheetError, read_sheet

    if kind not in KINDS:
        raise typer.BadParameter(f"--kind is one of {', '.join(KINDS)}")
    if refused_to and Path(refused_to).resolve() == Path(file).resolve():
        raise typer.BadParameter("--refused names another file than the one imported")
    try:
        header, rows = read_sheet(file, sheet)
    except SheetError as exc:
        typer.echo(f"error: nothing imported: {exc}", err=True)
        raise typer.Exit(2) from None
    problems = check_header(KINDS[kind], header)
    if problems:
        typer.echo(f"error: nothing imported: {Path(file).name} is not a {kind} sheet: {'; '.join(problems)}", err=True)
        raise typer.Exit(2)
    settings = Settings.from_env()
    _require_current_schema(settings, "nothing imported: ")
    try:
        report = asyncio.run(_import_rows(settings, kind, rows, Path(file).name, dry_run, batch_rows))
    except ImportStopped as stopped:
        typer.echo(stopped.report.summary())
        typer.echo(f"error: {stopped}", err=True)
        raise typer.Exit(2) from None
    typer.echo(report.summary())
    if refused_to:
        _write_refused(refused_to, header, report.refused)
        typer.echo(f"{len(report.refused):,} refused row(s) written to {refused_to}")
    for message in report.warnings.values():
        typer.echo(f"warning: {message}")
    for refusal in report.refused:
        where = f"line {refusal.line}" + (f", column {refusal.column}" if refusal.column else "")
        typer.echo(f"refused {where}: {refusal.code}: {refusal.message}", err=True)
    raise typer.Exit(1 if report.refused else 0)


def _write_refused(target: str, header: list[str], refused) -> None:
    """The refused rows as a CSV sheet of the same kind (UTF-8 with a byte order mark, as spreadsheets like
    it): the columns read, then the refusal's; `podium import` ignores the refusal's columns."""
    import csv
    from datetime import date, time

    from podium.core.services.imports import REFUSAL_COLUMNS

    columns = [c for c in header if c not in REFUSAL_COLUMNS]

    def shown(value) -> str:
        return "" if value is None else value.isoformat() if isinstance(value, (date, time)) else str(value)

    with open(target, "w", newline="", encoding="utf-8-sig") as out:
        writer = csv.writer(out)
        writer.writerow([*columns, *REFUSAL_COLUMNS])
        for r in refused:
            writer.writerow([*(shown(r.cells.get(c)) for c in columns), r.line, r.column or "", r.code, r.message])


async def _import_rows(settings: Settings, kind: str, rows, name: str, dry_run: bool, batch_rows: int):
    """The rows under a progress bar, with the plugins loaded as `podium serve` loads them (so a session's
    meeting is planned as the API plans it); the actor of every change is `cli:import FILE`."""
    from podium.core.audit import Actor
    from podium.core.db import create_engine, create_sessionmaker
    from podium.core.services.conferencing import choose_conferencing
    from podium.core.services.imports import run_import

    plugins = await _started_plugins(settings)
    engine = create_engine(settings.database_url, synchronous=settings.sqlite_synchronous)
    sessions = create_sessionmaker(engine)
    plugins.bind(sessions)
    choose_conferencing(sessions, plugins.providers["conferencing"], settings.default_conferencing)
    try:
        with _progress_bar() as bar:
            task = bar.add_task(f"import {kind}" + (" (dry run)" if dry_run else ""), total=len(rows))
            return await run_import(sessions, Actor.system(f"cli:import {name}"[:200]), kind, rows,
                                    settings=settings, dry_run=dry_run, batch_rows=batch_rows,
                                    progress=lambda n: bar.update(task, advance=n))
    finally:
        await plugins.stop()
        await engine.dispose()


# --- auto-scheduling ------------------------------------------------------------------------------

@app.command("plan")
def plan(file: str = typer.Argument(..., help="A JSON file: proposeSchedule's input (docs/api.md, "
                                    "\"Auto-scheduling\"); ids global or plain."),
         time_limit: float = typer.Option(None, "--time-limit", help="Seconds to search (default the file's "
                                          "timeLimitSeconds, else 10; at most PODIUM_SOLVER_MAX_SECONDS)."),
         apply: bool = typer.Option(False, "--apply", help="Apply the plan at once (all its sessions or none).")
         ) -> None:
    """Propose a timetable with the solver, as proposeSchedule does, with a progress bar of the objective and
    the bound as they improve; the plan is stored (its id printed) and applied with --apply or the API.
    Exit status 1 when sessions are left unplaced or the plan could not be applied, 2 for a bad file."""
    import json

    from podium.core.errors import DomainError
    from podium.core.services import planning

    settings = Settings.from_env()
    try:
        with open(file, encoding="utf-8") as handle:
            data = json.load(handle)
        if time_limit is not None:
            data["timeLimitSeconds"] = time_limit
        given = planning.propose_input_from_json(data)
        seconds = planning.check_input(given, settings)
    except (OSError, ValueError) as exc:
        typer.echo(f"error: {file}: {exc}", err=True)
        raise typer.Exit(2) from None
    except DomainError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    if is_sqlite(settings.database_url):
        from podium.core.migrate import upgrade

        upgrade(settings.database_url)
    try:
        stored, unplaced, applied = asyncio.run(_plan(settings, given, seconds, apply))
    except DomainError as exc:
        typer.echo(f"error: {exc}", err=True)
        for problem in getattr(exc, "problems", []):
            typer.echo(f"  session {problem.number}: {problem.error.code.value}: {problem.error.message}", err=True)
        raise typer.Exit(1 if getattr(exc, "problems", None) else 2) from None
    raise typer.Exit(1 if unplaced or (apply and not applied) else 0)


async def _plan(settings: Settings, given, seconds: float, apply: bool):
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
    from rich.table import Table

    from podium.core.audit import Actor
    from podium.core.db import changing, create_engine, create_sessionmaker
    from podium.core.ids import to_global_id
    from podium.core.planning.problem import relative_gap
    from podium.core.services import planning

    actor = Actor.system("cli:plan")
    engine = create_engine(settings.database_url, synchronous=settings.sqlite_synchronous)
    sessions = create_sessionmaker(engine)
    console = Console(stderr=True)
    try:
        async with sessions() as db:
            world = await planning.load_proposal(db, given)
        columns = (TextColumn("[progress.description]{task.description}"), BarColumn(), TimeElapsedColumn(),
                   TextColumn("{task.fields[found]}"))
        with Progress(*columns, console=console, transient=True, disable=not console.is_terminal) as bar:
            task = bar.add_task(f"solving {sum(r.count for r in given.requests)} sessions", total=seconds,
                                found="searching")

            def progress(p) -> None:
                gap = "" if not p.objective or p.bound is None else f"  gap {relative_gap(p.objective, p.bound):.1%}"
                bar.update(task, completed=min(p.seconds, seconds),
                           found=f"objective {p.objective:,.0f}  bound {p.bound:,.0f}{gap}"
                           if p.objective is not None and p.bound is not None else
                           f"bound {p.bound:,.0f}" if p.bound is not None else "searching")

            solution = await planning.solve_off_loop(world.problem, seconds, on_progress=progress)
        async with sessions() as db, changing(db):
            stored = await planning.store_plan(db, actor, planning.PROPOSAL, world, solution, settings)
            plan_id, rows, unplaced = stored.id, list(stored.sessions), list(stored.unplaced)
        out = Console()
        gap = "-" if solution.gap is None else f"{solution.gap:.2%}"
        out.print(f"plan {to_global_id('SchedulePlan', plan_id)} (id {plan_id}): {solution.status}, "
                  f"{len(rows)} session(s) placed, {len(unplaced)} unplaced, objective "
                  f"{solution.objective if solution.objective is not None else '-'}, bound "
                  f"{solution.bound if solution.bound is not None else '-'}, gap {gap}, "
                  f"{solution.solve_seconds:.1f} s")
        names = {x.id: x.name for x in world.problem.instructors + world.problem.rooms}
        courses = {c.id: c.code for c in world.courses.values()}
        table = Table("request", "course", "starts (its own clock)", "days", "instructor", "room")
        for row in rows:
            start = datetime.fromisoformat(row["parts"][0][0]).astimezone(ZoneInfo(row["timezone"]))
            table.add_row(row["request"], courses.get(row["course_id"], str(row["course_id"])),
                          f"{start:%a %d %b %Y %H:%M} {row['timezone']}", str(len(row["parts"])),
                          ", ".join(names.get(i, str(i)) for i in row["instructor_ids"]),
                          names.get(row["room_id"], "-") if row["room_id"] else "- (virtual)")
        out.print(table)
        for item in unplaced:
            out.print(f"unplaced: request {item['request']} ({courses.get(item['course_id'], '?')}): "
                      f"{item['reason']}")
        applied = False
        if apply and rows:
            async with sessions() as db, changing(db):
                _, made = await planning.apply_plan(db, actor, plan_id, settings)
            out.print(f"applied: {len(made)} session(s) created")
            applied = True
        return plan_id, unplaced, applied
    finally:
        await engine.dispose()


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


async def _venue_source(settings: Settings):
    """The `venues` plugin's source, as `podium serve` would load it (PODIUM_PLUGINS and its settings)."""
    from podium.core.plugins import PluginError

    plugins = await _started_plugins(settings)
    try:
        return plugins, plugins.provider("venue_sources", "venues")
    except PluginError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None


async def _import_venues(settings: Settings, location: str | None) -> int:
    from rich.progress import Progress

    from podium.core.audit import Actor
    from podium.core.db import create_engine, create_sessionmaker
    from podium.core.services.venue_sync import import_venues
    from podium.plugins.venues.client import VenueFeedError

    _, source = await _venue_source(settings)
    try:
        records = await (source.read_venues(location) if location else source.venues())
    except VenueFeedError as exc:
        typer.echo(f"nothing imported: {exc}", err=True)
        return 1
    engine = create_engine(settings.database_url, synchronous=settings.sqlite_synchronous)
    sessions = create_sessionmaker(engine)
    try:
        with Progress(transient=True) as bar:
            task = bar.add_task("venues", total=len(records))
            report = await import_venues(
                sessions, Actor.system("cli:venues import"), source.name, records,
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

    _, source = await _venue_source(settings)
    engine = create_engine(settings.database_url, synchronous=settings.sqlite_synchronous)
    try:
        report = await refresh_room_calendars(create_sessionmaker(engine), Actor.system("cli:venues refresh"),
                                              source, horizon_days=source.horizon_days)
    finally:
        await engine.dispose()
    typer.echo(f"room calendars read: {report.rooms_read}; busy times added {report.added}, "
               f"moved {report.moved}, removed {report.removed}")
    for room_id, session_id in report.clashes:
        typer.echo(f"room {room_id} is busy in its own calendar during session {session_id}", err=True)
    for room_id, why in report.failed:
        typer.echo(f"room {room_id} not read (last known busy times kept): {why}", err=True)
    return 1 if report.failed else 0


if __name__ == "__main__":
    app()
