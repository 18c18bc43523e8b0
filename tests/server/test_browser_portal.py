"""The reference portal (examples/portal) in Chromium, served by `python -m http.server` on its own
origin and talking to Podium over CORS: list, filter by city, enrol into a full session and see the
waitlist position, enrol and cancel and see the seat return, and the calendar link."""
from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

import httpx
import icalendar

from podium.core.settings import Settings
from podium.server.app import create_app
from tests import browser
from tests.browser import chromium_browser, sqlite_url  # noqa: F401 - fixtures
from tests.live_server import serve
from tests.server import graph as g
from tests.server.conftest import ADMIN_TOKEN, Api

PORTAL = Path(__file__).resolve().parents[2] / "examples" / "portal"
VENUE = """mutation($i: CreateVenueInput!) { createVenue(input: $i) { venue { id } errors { code message } } }"""


async def _venue_room(api: Api, name: str, city: str) -> str:
    venue = (await api.data(VENUE, {"i": {"name": name, "city": city, "timezone": "Europe/London",
                                         "address": "1 High Street"}}))["createVenue"]["venue"]["id"]
    return await g.created(api, g.RESOURCE, "createResource", "resource", {
        "kind": "ROOM", "name": f"{name} room", "timezone": "Europe/London", "capacity": 20, "venueId": venue,
        "workingHours": g.ALWAYS})


async def _catalogue(api: Api) -> str:
    """Three sessions in two cities, one of them full; returns the learner's token."""
    course = await g.course(api, code="PY-101", title="Python basics")
    teacher = await g.instructor(api)
    london, manchester = await _venue_room(api, "Thames House", "London"), await _venue_room(api, "Mill", "Manchester")
    in_person = {"deliveryMode": "IN_PERSON"}
    full = await g.session(api, course, [teacher], starts_at=g.at(days=3), title="Full in London", capacity=1,
                           roomId=london, **in_person)
    await g.session(api, course, [teacher], starts_at=g.at(days=4), title="Seats in London", capacity=3,
                    roomId=london, **in_person)
    await g.session(api, course, [teacher], starts_at=g.at(days=5), title="Seats in Manchester", capacity=3,
                    roomId=manchester, **in_person)
    assert (await g.enroll(api, full, await g.person(api)))["enrollment"]["status"] == "ENROLLED"
    learner = await g.person(api, name="Ada Learner")
    return await g.token(api, learner, "LEARNER")


def _item(title: str, part: str = "") -> str:
    """JavaScript: the text of the session's list item (or of one part of it) whose title starts so."""
    return f"""[...document.querySelectorAll('#sessions li')].filter(li => li.querySelector('.title')
        && li.querySelector('.title').textContent.startsWith({title!r}))
        .map(li => {f"(li.querySelector({part!r}) || {{}}).textContent" if part else "li.innerText"})[0] || ''"""


async def _click_in(page, list_id: str, title: str, button: str) -> None:
    await page.evaluate(f"""[...document.querySelectorAll('#{list_id} li')].find(li =>
        li.querySelector('.title').textContent.startsWith({title!r})).querySelector({button!r}).click()""")


async def test_the_portal_journey_from_its_own_origin(chromium_browser, sqlite_url):  # noqa: F811
    with browser.static_site(PORTAL) as portal:
        app = create_app(Settings(database_url=sqlite_url, admin_token=ADMIN_TOKEN, cors_origins=(portal,)))
        with serve(app, lifespan="on") as podium:
            async with httpx.AsyncClient(base_url=podium, timeout=60) as client:
                api = Api(client)
                token = await _catalogue(api)
                async with chromium_browser.page() as page:
                    await page.open(f"{portal}/index.html?api={podium}")
                    await page.fill("#token", token)
                    await page.click("#connect")
                    await page.wait_for("document.querySelector('#who').textContent.includes('Ada Learner')")

                    await page.wait_for("document.querySelectorAll('#sessions li[data-session-id]').length === 3")
                    assert "Thames House, London" in await page.evaluate(_item("Seats in London"))
                    await page.wait_for("[...document.querySelectorAll('#city option')].some(o => o.value === 'London')")
                    await page.fill("#city", "London")
                    await page.wait_for("document.querySelectorAll('#sessions li[data-session-id]').length === 2")
                    assert "Manchester" not in await page.text("#sessions")
                    await page.fill("#search", "full in")
                    await page.wait_for("document.querySelectorAll('#sessions li[data-session-id]').length === 1")
                    await page.fill("#search", "")
                    await page.wait_for("document.querySelectorAll('#sessions li[data-session-id]').length === 2")

                    assert await page.evaluate(_item("Full in London", ".seats")) == "Full: 0 on the waitlist"
                    await _click_in(page, "sessions", "Full in London", ".enrol")
                    await page.wait_for("document.querySelector('#enrollments').innerText.includes('waitlist position 1')")
                    await page.wait_for(f"({_item('Full in London', '.seats')}) === 'Full: 1 on the waitlist'")
                    assert await page.evaluate(_item("Full in London", ".mine")) == "You are on the waitlist"

                    assert await page.evaluate(_item("Seats in London", ".seats")) == "3 of 3 seats left"
                    await _click_in(page, "sessions", "Seats in London", ".enrol")
                    await page.wait_for(f"({_item('Seats in London', '.seats')}) === '2 of 3 seats left'")
                    assert "Enrolled" in await page.text("#enrollments")
                    await page.screenshot("portal.png")
                    await _click_in(page, "enrollments", "Seats in London", ".cancel")
                    await page.wait_for(f"({_item('Seats in London', '.seats')}) === '3 of 3 seats left'")
                    assert "Seats in London" not in await page.text("#enrollments")

                    feed = await page.evaluate("document.querySelector('#calendar-feed').href")
                    assert page.blocked == [], page.blocked
                    assert all(u.startswith((portal, podium)) for u in page.requested), page.requested
                calendar = icalendar.Calendar.from_ical((await client.get(urlsplit(feed).path)).content)
                assert [str(e["summary"]) for e in calendar.walk("VEVENT")] == []  # waitlisted only: no events
