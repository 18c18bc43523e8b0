"""The Zoom client and provider against the fake Zoom over a real socket: auth, pagination, errors, retries."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from podium.core.providers import ConferencingProvider, MeetingSpec
from podium.plugin import MeetingGone
from podium.plugins.zoom.client import ZoomClient, ZoomError, ZoomUnavailable
from podium.core.plugin_settings import PluginSettingsError, describe, load_plugin_settings
from podium.plugins.zoom.config import ZoomSettings
from podium.plugins.zoom.provider import ZoomProvider
from tests.plugins.zoom.conftest import settings_for

START = datetime(2027, 3, 2, 8, 0, tzinfo=timezone.utc)


def spec(n: int = 1, starts_at: datetime = START) -> MeetingSpec:
    return MeetingSpec(session_id=f"U2Vzc2lvbjo{n}", title=f"Negotiation skills {n}", starts_at=starts_at,
                       ends_at=starts_at + timedelta(hours=2), timezone="Europe/Berlin", idempotency_key=f"k{n}")


def test_the_provider_follows_the_conferencing_contract(zoom_provider):
    assert isinstance(zoom_provider, ConferencingProvider)
    assert zoom_provider.name == "zoom"


async def test_a_meeting_is_created_as_zoom_expects_and_the_token_is_reused(fake_zoom, zoom_provider):
    first = await zoom_provider.create_meeting(spec(1))
    second = await zoom_provider.create_meeting(spec(2))

    made = fake_zoom.meetings[int(first.external_id)]
    assert (made["type"], made["start_time"], made["duration"], made["timezone"]) == \
        (2, "2027-03-02T08:00:00Z", 120, "Europe/Berlin")
    assert first.join_url == made["join_url"] and second.external_id != first.external_id
    assert fake_zoom.token_requests == 1, "one token serves many calls"


async def test_an_expired_token_is_renewed_on_a_401(fake_zoom, zoom_provider):
    await zoom_provider.create_meeting(spec(1))
    fake_zoom.expire_tokens()

    await zoom_provider.create_meeting(spec(2))

    assert fake_zoom.token_requests == 2
    assert len(fake_zoom.meetings) == 2


async def test_a_token_is_reused_within_its_hour_and_renewed_before_it_expires(fake_zoom):
    fake_zoom.token_lifetime = 3600
    now = [0.0]
    client = ZoomClient(settings_for(fake_zoom.url), clock=lambda: now[0])
    provider = ZoomProvider(client)
    try:
        await provider.create_meeting(spec(1))
        now[0] = 3000
        await provider.create_meeting(spec(2))
        assert fake_zoom.token_requests == 1, "still good at +3,000 s"
        now[0] = 3400
        await provider.create_meeting(spec(3))
        assert fake_zoom.token_requests == 2, "renewed before use near its expiry at +3,600 s"
        now[0] = 3400 + 3000
        await provider.create_meeting(spec(4))
        assert fake_zoom.token_requests == 2, "the renewed token counts its hour from its own issue"
    finally:
        await client.aclose()
    assert fake_zoom.calls("POST", "/v2/users/") == ["/v2/users/me/meetings"] * 4, "no call was refused"


async def test_an_oauth_429_waits_as_long_as_its_retry_after_says(fake_zoom):
    waits = []

    async def sleep(seconds):
        waits.append(seconds)
    client = ZoomClient(settings_for(fake_zoom.url), sleep=sleep)
    fake_zoom.oauth_rate_limited = 1
    try:
        await ZoomProvider(client).create_meeting(spec(1))
    finally:
        await client.aclose()
    assert waits == [3.0], "Retry-After: 3, not the 0.05 s backoff"
    assert fake_zoom.token_requests == 2 and len(fake_zoom.meetings) == 1


async def test_wrong_credentials_are_a_clear_error(fake_zoom):
    client = ZoomClient(settings_for(fake_zoom.url, client_secret="wrong"))
    try:
        with pytest.raises(ZoomError, match="Invalid client_id or client_secret"):
            await client.participants_report("1")
    finally:
        await client.aclose()


async def test_find_meeting_pages_through_the_users_meetings(fake_zoom, zoom_provider):
    fake_zoom.max_page_size = 2
    made = [await zoom_provider.create_meeting(spec(n)) for n in range(1, 6)]

    found = await zoom_provider.find_meeting(spec(5))

    assert found == made[4]
    assert len(fake_zoom.calls("GET", "/v2/users/me/meetings")) == 3, "five meetings, two per page"
    assert await zoom_provider.find_meeting(spec(9)) is None


async def test_after_a_create_that_failed_ambiguously_the_meeting_is_found_not_made_twice(fake_zoom, zoom_provider):
    fake_zoom.made_but_failed = 1     # Zoom makes the meeting, then the gateway answers 502

    info = await zoom_provider.create_meeting(spec(1))

    assert list(fake_zoom.meetings) == [int(info.external_id)]
    assert len(fake_zoom.calls("POST", "/v2/users/me/meetings")) == 1


async def test_429_and_5xx_are_retried_with_backoff_until_zoom_recovers(fake_zoom, zoom_provider):
    info = await zoom_provider.create_meeting(spec(1))
    fake_zoom.start_outage(0.4)

    await zoom_provider.update_meeting(info.external_id, spec(1, START + timedelta(days=1)))

    assert fake_zoom.meetings[int(info.external_id)]["start_time"] == "2027-03-03T08:00:00Z"
    assert len(fake_zoom.calls("PATCH")) >= 2, "the first attempts met the outage"


async def test_a_long_outage_gives_up_with_unavailable(fake_zoom):
    client = ZoomClient(settings_for(fake_zoom.url, max_retries=2))
    try:
        fake_zoom.start_outage(60)
        with pytest.raises(ZoomUnavailable):
            await ZoomProvider(client).create_meeting(spec(1))
        assert fake_zoom.meetings == {}
    finally:
        await client.aclose()


async def test_update_of_a_missing_meeting_and_a_repeated_delete(fake_zoom, zoom_provider):
    info = await zoom_provider.create_meeting(spec(1))
    await zoom_provider.delete_meeting(info.external_id)
    await zoom_provider.delete_meeting(info.external_id)    # already gone: not an error
    assert fake_zoom.deleted == [int(info.external_id)]
    with pytest.raises(MeetingGone) as gone:              # Podium makes a new one (test_meeting_gone.py)
        await zoom_provider.update_meeting(info.external_id, spec(1))
    assert (gone.value.__cause__.status, gone.value.__cause__.code) == (404, 3001)


async def test_registrants_get_their_own_join_link_once(fake_zoom, zoom_provider):
    info = await zoom_provider.create_meeting(spec(1))
    ada = await zoom_provider.add_registrant(info.external_id, "ada@example.com", "Ada Lovelace")
    again = await zoom_provider.add_registrant(info.external_id, "ada@example.com", "Ada Lovelace")
    bob = await zoom_provider.add_registrant(info.external_id, "bob@example.com", "Bob")

    assert ada == again and ada.registrant_id != bob.registrant_id
    assert ada.registrant_id in ada.join_url
    assert [(r["first_name"], r["last_name"]) for r in fake_zoom.registrants[int(info.external_id)]] == \
        [("Ada", "Lovelace"), ("Bob", "")]


async def test_the_participants_report_is_read_across_pages(fake_zoom, zoom_provider):
    fake_zoom.max_page_size = 2
    fake_zoom.reports[42] = [
        {"id": f"p{n}", "name": f"P {n}", "user_email": f"P{n}@Example.com", "registrant_id": "",
         "join_time": "2027-03-02T08:00:00Z", "leave_time": "2027-03-02T09:00:00Z", "duration": 3600}
        for n in range(5)]

    segments = await zoom_provider.participants("42")

    assert [s.email for s in segments] == [f"p{n}@example.com" for n in range(5)]
    assert segments[0].registrant_id is None and segments[0].left_at - segments[0].joined_at == timedelta(hours=1)
    assert len(fake_zoom.calls("GET", "/v2/report/")) == 3


def test_podium_plugins_shows_the_settings_with_secrets_masked(zoom_provider):
    shown = describe(zoom_provider.config)
    assert shown["client_secret"] == shown["webhook_secret_token"] == "***"
    assert shown["account_id"] == "acct-123" and shown["late_after_minutes"] == "10"


def test_settings_name_what_is_missing_and_hide_secrets():
    with pytest.raises(PluginSettingsError, match="PODIUM_ZOOM_CLIENT_SECRET is required"):
        load_plugin_settings(ZoomSettings, "zoom", {"PODIUM_ZOOM_ACCOUNT_ID": "a", "PODIUM_ZOOM_CLIENT_ID": "b"})
    settings = settings_for("http://127.0.0.1:1")
    assert settings.client_secret not in repr(settings)
    assert settings.webhook_secret_token not in repr(settings)
