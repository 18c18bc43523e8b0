"""Settings from `PODIUM_<FIELD>`: typed, checked at start, every malformed variable named at once."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

from podium.core.settings import Settings, SettingsError


def test_each_setting_is_read_by_its_type():
    settings = Settings.from_env({
        "PODIUM_OUTBOX_CONCURRENCY": "8", "PODIUM_OUTBOX_TIMEOUT_SECONDS": "2.5", "PODIUM_OUTBOX_IN_SERVE": "off",
        "PODIUM_PLUGINS": "email, zoom,", "PODIUM_READINESS_NOTICE_HOURS": "0", "PODIUM_ADMIN_TOKEN": "",
    })
    assert (settings.outbox_concurrency, settings.outbox_timeout_seconds, settings.outbox_in_serve) == (8, 2.5, False)
    assert settings.plugins == ("email", "zoom")
    assert settings.readiness_notice_hours == 0          # 0 turns the readiness summary off
    assert settings.admin_token is None                  # empty is unset
    assert Settings.from_env({}) == Settings()


@pytest.mark.parametrize(("variable", "value", "why"), [
    ("PODIUM_OUTBOX_CONCURRENCY", "abc", "expected a whole number"),
    ("PODIUM_OUTBOX_CONCURRENCY", "0", "expected a number above 0"),
    ("PODIUM_OUTBOX_TIMEOUT_SECONDS", "nan", "expected a number above 0"),
    ("PODIUM_OUTBOX_IN_SERVE", "maybe", "expected true or false"),
    ("PODIUM_PROGRAM_SYNC_HOURS", "-1", "expected 0 or more"),
    ("PODIUM_REMINDER_HOURS", "one day", "expected a whole number"),
])
def test_a_malformed_setting_is_refused_by_name(variable, value, why):
    with pytest.raises(SettingsError) as refused:
        Settings.from_env({variable: value})
    assert str(refused.value) == f"{variable}: {why}, got {value!r}"


def test_every_command_stops_on_malformed_settings_naming_each_variable(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("PODIUM_")}
    env.update(PODIUM_OUTBOX_CONCURRENCY="lots", PODIUM_OUTBOX_IN_SERVE="maybe",
               PODIUM_DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path / 'podium.db'}")
    for command in (["worker"], ["db", "upgrade"]):
        done = subprocess.run([sys.executable, "-m", "podium.server.cli", *command], env=env, cwd=tmp_path,
                              capture_output=True, text=True, timeout=60)
        assert done.returncode == 2, done.stderr
        assert "PODIUM_OUTBOX_CONCURRENCY: expected a whole number, got 'lots'" in done.stderr
        assert "PODIUM_OUTBOX_IN_SERVE: expected true or false, got 'maybe'" in done.stderr
        assert "Traceback" not in done.stderr
    assert not (tmp_path / "podium.db").exists()         # nothing ran
