"""docs/operations.md names every setting Podium reads: each `Settings` field and each bundled plugin's."""
from __future__ import annotations

import dataclasses
import importlib
import pkgutil
import re
from pathlib import Path

import podium.plugins
from podium.core.plugin_settings import env_prefix
from podium.core.settings import Settings

OPERATIONS = Path(__file__).resolve().parents[2] / "docs/operations.md"


def documented() -> set[str]:
    """Variables that head a row of a settings table (`| PODIUM_X |`, or several in one cell)."""
    rows = [line.split("|")[1] for line in OPERATIONS.read_text().splitlines() if line.startswith("| `PODIUM_")]
    return {name for cell in rows for name in re.findall(r"`(PODIUM_[A-Z0-9_]+)`", cell)}


def core_variables() -> set[str]:
    return {f"PODIUM_{f.name.upper()}" for f in dataclasses.fields(Settings) if f.name != "env"}


def plugin_variables() -> set[str]:
    """From each bundled plugin's `config` module: its settings dataclasses, under the plugin's settings name."""
    names = set()
    for module in pkgutil.iter_modules(podium.plugins.__path__):
        try:
            config = importlib.import_module(f"podium.plugins.{module.name}.config")
        except ModuleNotFoundError:
            continue
        prefix = env_prefix(getattr(config, "SETTINGS_NAME", module.name))
        for value in vars(config).values():
            if isinstance(value, type) and dataclasses.is_dataclass(value) and value.__module__ == config.__name__:
                names |= {prefix + f.name.upper() for f in dataclasses.fields(value)}
    return names


def test_every_setting_has_a_row_in_operations_md():
    missing = sorted((core_variables() | plugin_variables()) - documented())
    assert not missing, ("settings without a row in a settings table of docs/operations.md (add `| `NAME` | "
                         "default | meaning |` under Core settings or the plugin's heading):\n  " + "\n  ".join(missing))


def test_the_check_sees_settings():
    """Guards the check above against lists that come out empty."""
    assert {"PODIUM_DATABASE_URL", "PODIUM_OUTBOX_LEASE_SECONDS"} <= core_variables()
    assert {"PODIUM_ZOOM_CLIENT_SECRET", "PODIUM_MOODLE_TOKEN", "PODIUM_VENUES_FEED", "PODIUM_WEBHOOK_SECRET",
            "PODIUM_EMAIL_HOST"} <= plugin_variables()
