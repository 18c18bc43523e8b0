"""`podium plugins` (what is loaded, its settings, `--check`) and `podium plugin docs|new`."""
from __future__ import annotations

import asyncio
from pathlib import Path

import typer

from podium.core.settings import Settings

plugin_app = typer.Typer(help="Writing plugins: the guide's generated reference; a new plugin's skeleton.",
                         no_args_is_help=True)


def report_problems(problems: list[str]) -> None:
    """Every plugin problem on its own line, then exit status 2 (as for a core setting)."""
    for line in problems:
        typer.echo(f"error: {line}", err=True)
    raise typer.Exit(2)


async def started_plugins(settings: Settings):
    """Plugins loaded and started; every problem of every plugin reported at once, exit 2, when any fails."""
    from podium.core.plugins import PluginError, load_plugins

    try:
        return await load_plugins(settings)
    except PluginError as exc:
        report_problems(exc.problems)


async def check_plugins(settings: Settings) -> None:
    """What `podium serve` does before serving: start every plugin once, then let it go again."""
    plugins = await started_plugins(settings)
    await plugins.stop()


def list_plugins(check: bool = typer.Option(False, "--check", help="Also ask each provider whether it works "
                                             "(its `check()`: Zoom asks for a token, Moodle for its site info).")) -> None:
    """The plugins: version, origin, hooks, settings (secrets masked) and whether configured, what they provide;
    every problem of every plugin listed, and exit status 2 when there is one."""
    raise typer.Exit(asyncio.run(_list(Settings.from_env(), check)))


async def _list(settings: Settings, check: bool) -> int:
    from podium.core.plugins import PluginError, create_plugin_manager

    try:
        plugins = create_plugin_manager(settings)
    except PluginError as exc:
        report_problems(exc.problems)
    problems: list[str] = []
    try:
        await plugins.start()
    except PluginError as exc:
        problems = exc.problems
    if not plugins.loaded:
        typer.echo("no plugins loaded")
    failed_checks = 0
    try:
        for name, plugin in plugins.loaded.items():
            typer.echo(f"{name} {plugin.version} ({plugin.source})")
            typer.echo(f"  hooks: {', '.join(plugins.hooks_of(name)) or 'none'}")
            view = await plugins.settings_of(name)
            if view is not None:
                state = "configured" if view.configured else "not configured"
                typer.echo(f"  settings ({view.prefix}*, {state}): "
                           + (", ".join(f"{k}={v}" for k, v in view.values.items()) or "none"))
            if "podium_event" in plugins.hooks_of(name) and plugins.started:
                typer.echo("  events: " + ("every event" if name in plugins.event_receivers()
                                           else "none (idle: its settings are not given)"))
            for (kind, provider_name), owner in plugins.provided_by.items():
                if owner == name:
                    typer.echo(f"  {kind}: {provider_name}")
                    if check and plugins.started:
                        failed_checks += await _check(plugins.provider(kind, provider_name))
    finally:
        await plugins.stop()
    if problems:
        report_problems(problems)
    return 1 if failed_checks else 0


async def _check(provider) -> int:
    """Print what the provider's optional `async check()` says; 1 when it failed."""
    check = getattr(provider, "check", None)
    if check is None:
        typer.echo("    check: none (this provider has no check)")
        return 0
    try:
        said = await check()
    except Exception as exc:  # noqa: BLE001 - whatever went wrong is what the operator needs to read
        typer.echo(f"    check: FAILED: {type(exc).__name__}: {exc}")
        return 1
    for line in (said if isinstance(said, (list, tuple)) else [said or "ok"]):
        typer.echo(f"    check: {line}")
    return 0


@plugin_app.command("new")
def plugin_new(name: str = typer.Argument(..., help="The plugin's name: lower-case letters, digits and _."),
               kind: str = typer.Option(..., help="channel, conferencing, lms or venue."),
               directory: str = typer.Option(".", "--dir", help="Where to write podium-<name>/.")) -> None:
    """Write a pip-installable plugin skeleton (entry point, settings, provider, its own passing tests)."""
    from podium.server.plugin_template import write_plugin

    try:
        root = write_plugin(name, kind, Path(directory))
    except (ValueError, FileExistsError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    typer.echo(f"{root}: pip install -e '{root}[test]', then `podium plugins` lists {name}; "
               f"`python -m pytest {root}` runs its tests")


@plugin_app.command("docs")
def plugin_docs(path: str = typer.Option("", help="The guide to update; default docs/plugins.md.")) -> None:
    """Regenerate the hook reference and the public API table of the plugin guide from the docstrings."""
    from podium.server.plugin_docs import GUIDE, write

    target = Path(path) if path else GUIDE
    typer.echo(f"{target} " + ("updated" if write(target) else "already up to date"))
