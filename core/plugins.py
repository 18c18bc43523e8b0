"""The plugin manager factory: bundled plugins by name, third-party ones from entry points.

There is no global manager: the app and each worker build their own with `load_plugins(settings)`.
pluggy is synchronous, so every hook result passes through `_resolved` (await if awaitable).
"""
from __future__ import annotations

import importlib
import importlib.metadata
import inspect
import logging
import pkgutil
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import pluggy

from . import hookspecs
from .plugin_settings import PluginSettingsError
from .settings import Settings

log = logging.getLogger("podium.plugins")

BUNDLED_PACKAGE = "podium.plugins"
ENTRY_POINT_GROUP = "podium.plugins"
PROVIDER_HOOKS = {
    "channels": "podium_notification_channels",
    "conferencing": "podium_conferencing_providers",
    "venue_sources": "podium_venue_sources",
    "lms_connectors": "podium_lms_connectors",
}


class PluginError(RuntimeError):
    """A plugin could not be loaded or started; Podium refuses to start rather than run half-configured."""


@dataclass
class LoadedPlugin:
    name: str
    version: str
    source: str                 # "bundled", "entry point" or "registered" (passed in by code, e.g. a test)
    module: Any


async def _resolved(value: Any) -> Any:
    return await value if inspect.isawaitable(value) else value


def _bundled_names() -> list[str]:
    package = importlib.import_module(BUNDLED_PACKAGE)
    return sorted(m.name for m in pkgutil.iter_modules(package.__path__) if m.ispkg)


def _podium_version() -> str:
    try:
        return importlib.metadata.version("podium")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


@dataclass
class Plugins:
    """The loaded plugins and, once `start()` ran, the provider objects and routes they contributed."""

    manager: pluggy.PluginManager
    settings: Settings
    loaded: dict[str, LoadedPlugin]
    providers: dict[str, dict[str, Any]] = field(default_factory=lambda: {kind: {} for kind in PROVIDER_HOOKS})
    provided_by: dict[tuple[str, str], str] = field(default_factory=dict)     # (kind, provider name) -> plugin
    routes: dict[str, list[Any]] = field(default_factory=dict)
    idle: set[str] = field(default_factory=set)         # plugins whose settings turned their events off
    started: bool = False

    # --- calling one plugin's hook ---------------------------------------------------

    def _impls(self, hook_name: str) -> list[pluggy.HookImpl]:
        """In registration order (pluggy calls them in reverse)."""
        return list(getattr(self.manager.hook, hook_name).get_hookimpls())

    def _arguments(self, impl: pluggy.HookImpl, offered: dict[str, Any]) -> dict[str, Any]:
        return {name: offered[name] for name in impl.argnames if name in offered}

    async def _call(self, impl: pluggy.HookImpl, **offered: Any) -> Any:
        return await _resolved(impl.function(**self._arguments(impl, offered)))

    def hooks_of(self, plugin: str) -> list[str]:
        module = self.loaded[plugin].module
        return sorted(caller.name for caller in self.manager.get_hookcallers(module) or [])

    def event_receivers(self) -> list[str]:
        """Plugins that implement `podium_event` and are not idle: each gets every event once, through the outbox."""
        return [impl.plugin_name for impl in self._impls("podium_event") if impl.plugin_name not in self.idle]

    async def send_event(self, plugin: str, event: Any) -> None:
        for impl in self._impls("podium_event"):
            if impl.plugin_name == plugin:
                await self._call(impl, event=event, settings=self.settings)
                return
        raise PluginError(f"plugin {plugin!r} is not loaded or has no podium_event")

    # --- start-up ---------------------------------------------------------------------

    async def start(self) -> "Plugins":
        """Collect providers and routes; settings errors surface here, before anything is served."""
        if self.started:
            return self
        for kind, hook_name in PROVIDER_HOOKS.items():
            for impl in self._impls(hook_name):
                for provider in await self._start_hook(impl) or []:
                    name = getattr(provider, "name", None)
                    if not isinstance(name, str) or not name:
                        raise PluginError(f"plugin {impl.plugin_name!r} returned a {kind} provider without a name")
                    if name in self.providers[kind]:
                        raise PluginError(f"two {kind} providers are named {name!r}")
                    self.providers[kind][name] = provider
                    self.provided_by[(kind, name)] = impl.plugin_name
        for impl in self._impls("podium_routes"):
            self.routes[impl.plugin_name] = list(await self._start_hook(impl) or [])
        for impl in self._impls("podium_receives_events"):
            if await self._start_hook(impl) is False:
                self.idle.add(impl.plugin_name)
        self.started = True
        return self

    async def _start_hook(self, impl: pluggy.HookImpl) -> Any:
        try:
            return await self._call(impl, settings=self.settings)
        except PluginError:
            raise
        except PluginSettingsError as exc:
            raise PluginError(str(exc)) from exc
        except Exception as exc:
            raise PluginError(f"plugin {impl.plugin_name!r} failed to start: {exc}") from exc

    async def stop(self) -> None:
        """At shutdown: await `aclose()` of every provider that has one (e.g. to close its HTTP client).

        One provider failing to close is logged and does not keep the others open.
        """
        if not self.started:
            return
        for kind, providers in self.providers.items():
            for name, provider in providers.items():
                close = getattr(provider, "aclose", None)
                if close is None:
                    continue
                try:
                    await _resolved(close())
                except Exception:
                    log.exception("%s provider %r did not close cleanly", kind, name)
        self.started = False

    def provider(self, kind: str, name: str) -> Any:
        """The provider object of one kind ("channels", "conferencing", ...) by its name."""
        try:
            return self.providers[kind][name]
        except KeyError:
            raise PluginError(f"no {kind} provider named {name!r} is loaded") from None

    @property
    def channels(self) -> dict[str, Any]:
        return self.providers["channels"]


def create_plugin_manager(settings: Settings, extra: Iterable[tuple[str, Any]] = ()) -> Plugins:
    """A manager with the enabled bundled and entry-point plugins (and `extra`, registered by code).

    `PODIUM_PLUGINS` limits which bundled and entry-point plugins load; naming one that does not
    exist is an error. `check_pending()` refuses a misspelt hook.
    """
    manager = pluggy.PluginManager("podium")
    manager.add_hookspecs(hookspecs)
    wanted = set(settings.plugins) if settings.plugins is not None else None
    found: set[str] = set()
    loaded: dict[str, LoadedPlugin] = {}

    def register(name: str, module: Any, version: str, source: str) -> None:
        if name in loaded:
            raise PluginError(f"two plugins are named {name!r} ({loaded[name].source} and {source})")
        manager.register(module, name=name)
        loaded[name] = LoadedPlugin(name, version, source, module)

    for name in _bundled_names():
        found.add(name)
        if wanted is None or name in wanted:
            register(name, importlib.import_module(f"{BUNDLED_PACKAGE}.{name}"), _podium_version(), "bundled")
    for entry_point in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        found.add(entry_point.name)
        if wanted is None or entry_point.name in wanted:
            try:
                module = entry_point.load()
            except Exception as exc:
                raise PluginError(f"plugin {entry_point.name!r} could not be imported: {exc}") from exc
            version = entry_point.dist.version if entry_point.dist else "unknown"
            register(entry_point.name, module, version, "entry point")
    for name, module in extra:
        found.add(name)
        register(name, module, getattr(module, "__version__", "unknown"), "registered")
    if wanted is not None and (unknown := wanted - found):
        raise PluginError(f"PODIUM_PLUGINS names plugins that are not installed: {', '.join(sorted(unknown))}"
                          f" (installed: {', '.join(sorted(found))})")
    try:
        manager.check_pending()
    except pluggy.PluginValidationError as exc:
        raise PluginError(str(exc)) from exc
    log.info("plugins loaded: %s", ", ".join(f"{p.name} {p.version}" for p in loaded.values()) or "none")
    return Plugins(manager=manager, settings=settings, loaded=loaded)


async def load_plugins(settings: Settings, extra: Iterable[tuple[str, Any]] = ()) -> Plugins:
    """Create the manager and start it: what `podium serve` and `podium worker` do."""
    return await create_plugin_manager(settings, extra).start()
