"""Typed per-plugin settings from `PODIUM_<PLUGIN>_<KEY>` variables, checked at start-up.

A plugin declares a frozen dataclass; fields made with `secret()` never appear in a repr, a log
or `podium plugins`, and an error about them never quotes their value.
"""
from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Mapping
from typing import Any, TypeVar

T = TypeVar("T")
SECRET = "secret"
_TRUE, _FALSE = {"1", "true", "yes", "on"}, {"0", "false", "no", "off"}


class PluginSettingsError(ValueError):
    """A plugin's settings are missing or malformed; the message names the variables, never a secret's value."""


def secret(default: Any = dataclasses.MISSING) -> Any:
    """A dataclass field that holds a password, key or token."""
    return dataclasses.field(default=default, repr=False, metadata={SECRET: True})


def env_prefix(plugin: str) -> str:
    return f"PODIUM_{plugin.upper().replace('-', '_').replace('.', '_')}_"


def is_configured(plugin: str, env: Mapping[str, str]) -> bool:
    """Whether any `PODIUM_<PLUGIN>_*` variable is set: an unconfigured optional plugin stays idle."""
    prefix = env_prefix(plugin)
    return any(key.startswith(prefix) and value for key, value in env.items())


def parse_setting(raw: str, hint: Any) -> Any:
    """One variable's text as its field's type (`X | None` reads as X): bool, int, float or text.
    Core settings (`core.settings`) read theirs with it too."""
    kind = field_type(hint)
    if kind is bool:
        lowered = raw.strip().lower()
        if lowered in _TRUE | _FALSE:
            return lowered in _TRUE
        raise ValueError("expected true or false")
    if kind in (int, float):
        try:
            return kind(raw)
        except ValueError:
            raise ValueError("expected a whole number" if kind is int else "expected a number") from None
    return raw


def field_type(hint: Any) -> Any:
    """`int | None` reads as int; plain types as themselves."""
    if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union:
        return next(arg for arg in typing.get_args(hint) if arg is not type(None))
    return hint


def load_plugin_settings(cls: type[T], plugin: str, env: Mapping[str, str]) -> T:
    """Build `cls` from `PODIUM_<PLUGIN>_<FIELD>`; every problem is reported at once."""
    prefix = env_prefix(plugin)
    hints = typing.get_type_hints(cls)
    values: dict[str, Any] = {}
    problems: list[str] = []
    for f in dataclasses.fields(cls):
        name = prefix + f.name.upper()
        raw = env.get(name)
        if raw is None or raw == "":
            if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                problems.append(f"{name} is required")
            continue
        try:
            values[f.name] = parse_setting(raw, hints[f.name])
        except ValueError as exc:
            shown = "" if f.metadata.get(SECRET) else f", got {raw!r}"
            problems.append(f"{name}: {exc}{shown}")
    if not problems:
        try:
            return cls(**values)
        except (ValueError, TypeError) as exc:  # __post_init__ checks of the plugin
            problems.append(str(exc))
    raise PluginSettingsError(f"plugin {plugin!r}: " + "; ".join(problems))


def describe(config: Any) -> dict[str, str]:
    """The settings as shown to an operator: secrets as `***` when set."""
    shown: dict[str, str] = {}
    for f in dataclasses.fields(config):
        value = getattr(config, f.name)
        shown[f.name] = ("***" if value else "(unset)") if f.metadata.get(SECRET) else "(unset)" if value is None else str(value)
    return shown
