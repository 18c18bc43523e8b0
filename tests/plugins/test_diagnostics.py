"""Plugin problems read like core setting problems: every plugin's at once, one line each, exit status 2,
from `podium serve`, `podium worker` and `podium plugins`; `podium plugins` shows every plugin's settings."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

TWO_BAD = {"PODIUM_PLUGINS": "email,zoom,webhook", "PODIUM_EMAIL_HOST": "smtp.example.com",
           "PODIUM_EMAIL_PASSWORD": "hunter2-hunter2-hunter2",            # no from address, no username
           "PODIUM_ZOOM_ACCOUNT_ID": "acct", "PODIUM_ZOOM_CLIENT_SECRET": "zoom-secret-value"}   # no client id


def podium(tmp_path, *args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("PODIUM_")}
    return subprocess.run([sys.executable, "-m", "podium.server.cli", *args], cwd=tmp_path, capture_output=True,
                          text=True, timeout=120, env={**clean, "PODIUM_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/p.db",
                                                       **env})


@pytest.mark.parametrize("command", [["serve", "--port", "1"], ["worker"], ["plugins"]])
def test_two_plugins_with_bad_settings_are_both_reported_in_one_run(tmp_path, command):
    run = podium(tmp_path, *command, env=TWO_BAD)
    assert run.returncode == 2, run.stderr
    errors = [line for line in run.stderr.splitlines() if "error" in line.lower()]
    assert errors == ["error: plugin 'email': PODIUM_EMAIL_FROM_ADDRESS is required",
                      "error: plugin 'zoom': PODIUM_ZOOM_CLIENT_ID is required"], run.stderr
    assert "Traceback" not in run.stderr + run.stdout
    assert "hunter2" not in run.stderr + run.stdout and "zoom-secret-value" not in run.stderr + run.stdout


def test_podium_plugins_shows_every_plugins_settings_masked_and_whether_configured(tmp_path):
    run = podium(tmp_path, "plugins", env={"PODIUM_PLUGINS": "email,zoom,webhook",
                                           "PODIUM_ZOOM_ACCOUNT_ID": "acct", "PODIUM_ZOOM_CLIENT_ID": "cid",
                                           "PODIUM_ZOOM_CLIENT_SECRET": "zoom-secret-value"})
    assert run.returncode == 0, run.stderr
    out = run.stdout
    assert "settings (PODIUM_ZOOM_*, configured): account_id=acct, client_id=cid, client_secret=***" in out
    assert "settings (PODIUM_EMAIL_*, not configured): host=(required), from_address=(required)" in out
    assert "settings (PODIUM_WEBHOOK_*, not configured): url=(required), secret=(required), timeout=10.0" in out
    assert "conferencing: zoom" in out
    assert "zoom-secret-value" not in out


def test_a_default_conferencing_provider_that_is_not_loaded_stops_start_up(tmp_path):
    run = podium(tmp_path, "plugins", env={"PODIUM_PLUGINS": "zoom", "PODIUM_DEFAULT_CONFERENCING": "jitsi"})
    assert run.returncode == 2
    assert [line for line in run.stderr.splitlines() if line.startswith("error")] == [
        "error: PODIUM_DEFAULT_CONFERENCING names 'jitsi', which no loaded plugin provides (loaded: none; or 'manual')"]


def test_podium_plugins_check_asks_each_provider_whether_it_works(tmp_path):
    from tests.live_server import serve
    from tests.plugins.lms_moodle.fake_moodle import TOKEN, FakeMoodle
    from tests.plugins.zoom import fake_zoom as zoom

    moodle = FakeMoodle()
    moodle.service_functions = set(FakeMoodle.IMPLEMENTED) - {"core_course_get_contents"}
    with serve(zoom.create_app(zoom.FakeZoom())) as zoom_url, serve(moodle.app()) as moodle_url:
        env = {"PODIUM_PLUGINS": "zoom,lms_moodle,email", "PODIUM_ZOOM_ACCOUNT_ID": zoom.ACCOUNT_ID,
               "PODIUM_ZOOM_CLIENT_ID": zoom.CLIENT_ID, "PODIUM_ZOOM_CLIENT_SECRET": zoom.CLIENT_SECRET,
               "PODIUM_ZOOM_API_BASE": f"{zoom_url}/v2", "PODIUM_ZOOM_OAUTH_BASE": zoom_url,
               "PODIUM_MOODLE_URL": moodle_url, "PODIUM_MOODLE_TOKEN": TOKEN}
        run = podium(tmp_path, "plugins", "--check", env=env)
        assert run.returncode == 1, run.stdout + run.stderr         # Moodle's service lacks a function
        out = run.stdout
        assert f"check: token granted by {zoom_url} for account {zoom.ACCOUNT_ID}" in out
        assert "check: FAILED: MoodleError: " in out and "the service lacks core_course_get_contents" in out
        assert TOKEN not in out and zoom.CLIENT_SECRET not in out

        moodle.service_functions = None
        run = podium(tmp_path, "plugins", "--check", env=env)
        assert run.returncode == 0, run.stdout + run.stderr
        assert "check: site 'Fake Moodle' (Moodle 4.3 (Build: 20231009)) as podium-service" in run.stdout
        assert "check: all 7 web service functions Podium calls are in the service" in run.stdout

        run = podium(tmp_path, "plugins", "--check", env={**env, "PODIUM_ZOOM_CLIENT_SECRET": "wrong"})
        assert run.returncode == 1
        assert "check: FAILED: ZoomError: Zoom answered 401: Invalid client_id or client_secret" in run.stdout
