"""The plugin manager factory: bundled plugins by name, third-party ones from entry points.

There is no global manager: the app and each worker build their own with `load_plugins(settings)`.
pluggy is synchronous, so every hook result passes through `_resolved` (await if awaitable).
"""
from __future__ import annotations

import contextlib
import dataclasses
import importlib
import importlib.metadata
import inspect
import logging
import pkgutil
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

import pluggy
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from . import hookspecs
from .db import changing
from .outbox import PLUGIN_CALL_KIND, PLUGIN_CALLS, PluginCall, QueuedMessage, enqueue
from .plugin_settings import SECRET, PluginSettingsError, describe, env_prefix, is_configured, load_plugin_settings
from .services.conferencing import MANUAL
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


T = TypeVar("T")


class PluginError(RuntimeError):
    """A plugin could not be loaded or started; Podium refuses to start rather than run half-configured.

    `problems` holds one line per problem found (every plugin's, when several failed to start)."""

    def __init__(self, message: str, problems: list[str] | None = None) -> None:
        super().__init__(message)
        self.problems = problems or [message]


@dataclass(frozen=True)
class PluginSettingsView:
    """What `podium plugins` shows of one plugin's settings."""

    prefix: str                 # PODIUM_<PLUGIN>_
    configured: bool            # any of its variables set
    values: dict[str, str]      # field -> value as shown (secrets as ***)
    problem: str | None         # what is wrong with them, when something is


def _kinds_ok(kinds: Any) -> bool:
    """None (every kind), or a non-empty collection of kind names (a lone string is a typo for {"..."})."""
    return kinds is None or (isinstance(kinds, (set, frozenset, list, tuple)) and bool(kinds)
                             and all(isinstance(k, str) and k for k in kinds))


def _as_given(cls: type, prefix: str, env: Mapping[str, str]) -> dict[str, str]:
    """Settings that do not load, shown as given: secrets masked, unset fields as their default."""
    shown = {}
    for f in dataclasses.fields(cls):
        raw = env.get(env_prefix(prefix) + f.name.upper())
        if raw:
            shown[f.name] = "***" if f.metadata.get(SECRET) else raw
        elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            shown[f.name] = "(required)"
        else:
            shown[f.name] = "(unset)" if f.metadata.get(SECRET) or f.default is None else str(f.default)
    return shown


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
    topics: dict[str, PluginCall] = field(default_factory=dict)      # outbox topics plugins own -> how performed
    topic_owners: dict[str, str] = field(default_factory=dict)       # topic -> plugin
    idle: set[str] = field(default_factory=set)         # plugins whose settings turned their events off
    sessions: async_sessionmaker[AsyncSession] | None = None         # the database, once `bind` gave it
    started: bool = False
    _contexts: dict[str, "PluginContext"] = field(default_factory=dict, repr=False)

    def bind(self, sessions: async_sessionmaker[AsyncSession]) -> "Plugins":
        """The database plugins reach through `PluginContext.changing()`; the app and the worker bind theirs."""
        self.sessions = sessions
        return self

    def context(self, plugin: str) -> "PluginContext":
        """The one `PluginContext` of a loaded plugin."""
        if plugin not in self._contexts:
            self._contexts[plugin] = PluginContext(self, plugin)
        return self._contexts[plugin]

    # --- calling one plugin's hook ---------------------------------------------------

    def _impls(self, hook_name: str) -> list[pluggy.HookImpl]:
        """In registration order (pluggy calls them in reverse)."""
        return list(getattr(self.manager.hook, hook_name).get_hookimpls())

    def _arguments(self, impl: pluggy.HookImpl, offered: dict[str, Any]) -> dict[str, Any]:
        return {name: offered[name] for name in impl.argnames if name in offered}

    async def _call(self, impl: pluggy.HookImpl, **offered: Any) -> Any:
        offered.setdefault("context", self.context(impl.plugin_name))
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
        """Collect providers, routes and outbox topics; every plugin's settings problems are gathered and
        raised together (one `PluginError`, a line each), before anything is served."""
        if self.started:
            return self
        problems: dict[str, str] = {}            # plugin -> its first problem (its settings error names them all)
        causes: list[BaseException] = []

        async def started(impl: pluggy.HookImpl) -> Any:
            if impl.plugin_name in problems:
                return None
            try:
                return await self._start_hook(impl)
            except PluginError as exc:
                problems[impl.plugin_name] = str(exc)
                causes.append(exc.__cause__ or exc)
                return None

        for kind, hook_name in PROVIDER_HOOKS.items():
            for impl in self._impls(hook_name):
                for provider in await started(impl) or []:
                    name = getattr(provider, "name", None)
                    if not isinstance(name, str) or not name:
                        problems.setdefault(impl.plugin_name, f"plugin {impl.plugin_name!r} returned a {kind} "
                                                              "provider without a name")
                    elif name in self.providers[kind]:
                        problems.setdefault(impl.plugin_name, f"two {kind} providers are named {name!r}")
                    elif kind == "channels" and not _kinds_ok(getattr(provider, "kinds", None)):
                        problems.setdefault(impl.plugin_name, f"plugin {impl.plugin_name!r}: channel {name!r} has "
                                                              "`kinds` that is not a set of notification kinds")
                    else:
                        self.providers[kind][name] = provider
                        self.provided_by[(kind, name)] = impl.plugin_name
        for impl in self._impls("podium_routes"):
            self.routes[impl.plugin_name] = list(await started(impl) or [])
        for impl in self._impls("podium_outbox_topics"):
            for topic in await started(impl) or []:
                problem = self._add_topic(impl.plugin_name, topic)
                if problem:
                    problems.setdefault(impl.plugin_name, problem)
        for impl in self._impls("podium_receives_events"):
            if await started(impl) is False:
                self.idle.add(impl.plugin_name)
        lines = [problems[name] for name in self.loaded if name in problems]
        default = self.settings.default_conferencing
        if default not in (None, MANUAL, *self.providers["conferencing"]):
            lines.append(f"PODIUM_DEFAULT_CONFERENCING names {default!r}, which no loaded plugin provides "
                         f"(loaded: {', '.join(self.providers['conferencing']) or 'none'}; or {MANUAL!r})")
        if lines:
            await self._close_providers()
            raise PluginError("; ".join(lines), lines) from (causes[0] if causes else None)
        self.started = True
        return self

    def _add_topic(self, plugin: str, topic: Any) -> str | None:
        """A plugin's own outbox topic: named `<plugin>.<what>`, so it never takes a core topic's name."""
        name = getattr(topic, "name", None)
        if not isinstance(name, str) or not name.startswith(f"{plugin}.") or not callable(getattr(topic, "perform", None)):
            return (f"plugin {plugin!r} returned an outbox topic that is not an OutboxTopic named "
                    f"'{plugin}.<something>': {name!r}")
        if name in PLUGIN_CALLS or name in self.topics:
            return f"plugin {plugin!r}: the outbox topic {name!r} is taken"
        perform, on_dead = topic.perform, topic.on_dead

        async def performed(dispatcher: Any, message: QueuedMessage) -> None:
            await _resolved(perform(message))

        async def died(dispatcher: Any, message: QueuedMessage, error: str) -> None:
            await _resolved(on_dead(message, error))

        self.topics[name] = PluginCall(performed, died if on_dead is not None else None)
        self.topic_owners[name] = plugin
        return None

    async def settings_of(self, plugin: str) -> "PluginSettingsView | None":
        """A plugin's declared settings (`podium_settings`) as an operator sees them: secrets masked,
        whether configured, and what is wrong with them; None when it declares none."""
        for impl in self._impls("podium_settings"):
            if impl.plugin_name != plugin:
                continue
            declared = await self._call(impl, settings=self.settings)
            prefix, cls = declared if isinstance(declared, tuple) else (plugin, declared)
            configured = is_configured(prefix, self.env)
            try:
                values, problem = describe(load_plugin_settings(cls, prefix, self.env)), None
            except PluginSettingsError as exc:
                values, problem = _as_given(cls, prefix, self.env), str(exc)
            return PluginSettingsView(env_prefix(prefix), configured, values, problem)
        return None

    @property
    def env(self) -> Mapping[str, str]:
        return self.settings.env

    def plugin_call(self, topic: str) -> PluginCall | None:
        """How a `plugin_call` message of `topic` is performed: a core service's or a plugin's own topic."""
        return PLUGIN_CALLS.get(topic) or self.topics.get(topic)

    async def _start_hook(self, impl: pluggy.HookImpl) -> Any:
        try:
            return await self._call(impl, settings=self.settings)
        except PluginError:
            raise
        except PluginSettingsError as exc:
            raise PluginError(str(exc)) from exc
        except Exception as exc:
            raise PluginError(f"plugin {impl.plugin_name!r} failed to start: {type(exc).__name__}: {exc}") from exc

    async def stop(self) -> None:
        """At shutdown: await `aclose()` of every provider that has one (e.g. to close its HTTP client).

        One provider failing to close is logged and does not keep the others open.
        """
        if not self.started:
            return
        await self._close_providers()
        self.started = False

    async def _close_providers(self) -> None:
        for kind, providers in self.providers.items():
            for name, provider in providers.items():
                close = getattr(provider, "aclose", None)
                if close is None:
                    continue
                try:
                    await _resolved(close())
                except Exception:
                    log.exception("%s provider %r did not close cleanly", kind, name)

    def provider(self, kind: str, name: str) -> Any:
        """The provider object of one kind ("channels", "conferencing", ...) by its name."""
        try:
            return self.providers[kind][name]
        except KeyError:
            raise PluginError(f"no {kind} provider named {name!r} is loaded") from None

    def provider_name(self, kind: str, name: str) -> str | None:
        """A provider of `kind` named by its own name or by its plugin's (when that plugin provides just one);
        None when neither is loaded."""
        if name in self.providers[kind]:
            return name
        owned = [provider for (k, provider), plugin in self.provided_by.items() if k == kind and plugin == name]
        return owned[0] if len(owned) == 1 else None

    def channels_for(self, kind: str) -> list[str]:
        """The channels a notification of `kind` goes to: those without `kinds`, and those whose `kinds` has it."""
        return [name for name, channel in self.channels.items()
                if getattr(channel, "kinds", None) is None or kind in channel.kinds]

    @property
    def channels(self) -> dict[str, Any]:
        return self.providers["channels"]


@dataclass(frozen=True)
class OutboxTopic:
    """Work a plugin queues for itself (`PluginContext.call_plugin`) and performs after commit, with the
    outbox's retries, backoff, time-out, per-consumer fairness and per-`ordering_key` order.

    `name` is `<plugin>.<what>`; `perform(message)` does the work (raise to have it retried; it may run
    twice, so `message.idempotency_key` is its key); `on_dead(message, error)`, optional, runs once
    when every attempt has failed. Returned by the `podium_outbox_topics` hook."""

    name: str
    perform: Callable[[QueuedMessage], Awaitable[None] | None]
    on_dead: Callable[[QueuedMessage, str], Awaitable[None] | None] | None = None


class PluginContext:
    """What Podium hands each plugin's hooks (the `context` argument) and, through them, its routes and
    outbox topics: the running settings, the database the one way core changes it, the plugin's own
    providers, and the outbox. One per plugin and process; part of the stable API (`podium.plugin`)."""

    def __init__(self, plugins: Plugins, plugin: str) -> None:
        self._plugins = plugins
        self.plugin = plugin

    def __repr__(self) -> str:
        return f"PluginContext({self.plugin!r})"

    @property
    def settings(self) -> Settings:
        """The running core settings (read-only)."""
        return self._plugins.settings

    @property
    def env(self) -> Mapping[str, str]:
        """The environment the settings were read from: where `PODIUM_<PLUGIN>_*` variables live."""
        return self._plugins.settings.env

    def load_settings(self, cls: type[T], prefix: str | None = None) -> T:
        """The plugin's typed settings from `PODIUM_<PREFIX>_*` (the prefix defaults to the plugin's name);
        every problem is raised at once as a `PluginSettingsError`."""
        return load_plugin_settings(cls, prefix or self.plugin, self.env)

    def is_configured(self, prefix: str | None = None) -> bool:
        """Whether any `PODIUM_<PREFIX>_*` variable is set (the prefix defaults to the plugin's name)."""
        return is_configured(prefix or self.plugin, self.env)

    def _sessions(self) -> async_sessionmaker[AsyncSession]:
        if self._plugins.sessions is None:
            raise PluginError(f"plugin {self.plugin!r} asked for the database, which this process has not opened")
        return self._plugins.sessions

    @contextlib.asynccontextmanager
    async def changing(self) -> AsyncIterator[AsyncSession]:
        """`async with context.changing() as db:` one write transaction, committed at the end and rolled back
        on any error, as every core change is; call core services and `call_plugin` inside it."""
        async with self._sessions()() as db, changing(db):
            yield db

    @contextlib.asynccontextmanager
    async def reading(self) -> AsyncIterator[AsyncSession]:
        """`async with context.reading() as db:` a session for reads only; nothing it does is committed."""
        async with self._sessions()() as db:
            yield db

    def providers(self, kind: str) -> dict[str, Any]:
        """This plugin's own providers of one kind ("channels", "conferencing", "venue_sources",
        "lms_connectors"), by name; filled once start-up has called the provider hooks."""
        if kind not in PROVIDER_HOOKS:
            raise PluginError(f"no provider kind {kind!r}; the kinds are {', '.join(PROVIDER_HOOKS)}")
        return {name: provider for name, provider in self._plugins.providers[kind].items()
                if self._plugins.provided_by.get((kind, name)) == self.plugin}

    async def call_plugin(self, db: AsyncSession, *, topic: str, payload: dict[str, Any], idempotency_key: str,
                          ordering_key: str | None = None, deliver_after: datetime | None = None) -> None:
        """In a `changing()` transaction: have one of this plugin's outbox topics performed after commit,
        with retries. `payload` is JSON; a second message with the same `idempotency_key` is not added."""
        if not topic.startswith(f"{self.plugin}."):
            raise PluginError(f"plugin {self.plugin!r} may queue only its own topics ('{self.plugin}.<what>'), "
                              f"not {topic!r}")
        await enqueue(db, kind=PLUGIN_CALL_KIND, topic=topic, target=self.plugin, payload=payload,
                      idempotency_key=f"{self.plugin}:{idempotency_key}", ordering_key=ordering_key,
                      deliver_after=deliver_after)

    async def meeting_ended(self, db: AsyncSession, provider: str, external_id: str, key: str) -> bool:
        """In a `changing()` transaction: the provider says this meeting ended, so its participants report is
        read into attendance through the outbox (`key` makes a repeated notice harmless). False when the
        meeting is none of Podium's, or is another plugin's."""
        from .services.meetings import request_attendance_import

        if self._plugins.provided_by.get(("conferencing", provider)) != self.plugin:
            raise PluginError(f"plugin {self.plugin!r} has no conferencing provider named {provider!r}")
        return await request_attendance_import(db, provider, external_id, key) is not None


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


async def start_plugins(env: Mapping[str, str]) -> Plugins:
    """For a plugin's own tests: the plugins Podium loads from these variables (`PODIUM_PLUGINS` among them),
    started as `podium serve` starts them. `.loaded` (name -> `source`, `version`), `.providers` (kind ->
    name -> provider); `await .stop()` when done."""
    return await load_plugins(Settings.from_env(env))


async def load_plugins(settings: Settings, extra: Iterable[tuple[str, Any]] = ()) -> Plugins:
    """Create the manager and start it: what `podium serve` and `podium worker` do."""
    return await create_plugin_manager(settings, extra).start()
