"""What a portal's catalogue needs, over HTTP on both databases: venues with addresses, and sessions
filtered by venue, city, seats, free text and time, paged in SQL without extra statements."""
from __future__ import annotations

from sqlalchemy import event, select

from podium.core.models import AuditEntry, OutboxMessage
from tests.server import graph as g

CREATE_VENUE = """mutation($i: CreateVenueInput!) { createVenue(input: $i) {
  venue { id name address city country timezone rooms { id name } } errors { code field message } } }"""
UPDATE_VENUE = """mutation($i: UpdateVenueInput!) { updateVenue(input: $i) {
  venue { id name address city country timezone } errors { code field message } } }"""
ROOM = """mutation($i: CreateResourceInput!) { createResource(input: $i) {
  resource { id venue { id name } } errors { code field message } } }"""
SESSIONS = """query($f: SessionFilter, $first: Int, $after: String) { sessions(filter: $f, first: $first, after: $after) {
  totalCount pageInfo { hasNextPage endCursor } edges { node { id title seatsLeft venue { name city } } } } }"""


async def venue(api, **kw) -> str:
    data = await api.data(CREATE_VENUE, {"i": {"name": "Centre", "timezone": "Europe/London", **kw}})
    assert data["createVenue"]["errors"] == [], data
    return data["createVenue"]["venue"]["id"]


async def room_in(api, venue_id: str, capacity: int = 30) -> str:
    data = await api.data(ROOM, {"i": {"kind": "ROOM", "name": f"Room in {venue_id[-4:]}", "timezone": "Europe/London",
                                       "capacity": capacity, "venueId": venue_id,
                                       "workingHours": g.ALWAYS}})
    assert data["createResource"]["errors"] == [], data
    return data["createResource"]["resource"]["id"]


async def titles(api, filter: dict, token: str | None = None) -> list[str]:
    kwargs = {} if token is None else {"token": token}
    data = await api.data(SESSIONS, {"f": filter, "first": 100}, **kwargs)
    return [e["node"]["title"] for e in data["sessions"]["edges"]]


async def test_staff_create_and_change_venues_audited_and_told(api, app):
    made = (await api.data(CREATE_VENUE, {"i": {"name": " Leeds Works ", "timezone": "Europe/London",
                                                "address": "12 Wellington Street, Leeds LS1 4DL", "city": "Leeds",
                                                "country": "United Kingdom"}}))["createVenue"]
    assert made["errors"] == []
    assert {k: v for k, v in made["venue"].items() if k != "id"} == {
        "name": "Leeds Works", "address": "12 Wellington Street, Leeds LS1 4DL", "city": "Leeds",
        "country": "United Kingdom", "timezone": "Europe/London", "rooms": []}
    venue_id = made["venue"]["id"]
    room = await room_in(api, venue_id)

    changed = (await api.data(UPDATE_VENUE, {"i": {"venueId": venue_id, "city": "Bradford", "address": None}}))
    assert changed["updateVenue"]["errors"] == []
    assert changed["updateVenue"]["venue"]["city"] == "Bradford" and changed["updateVenue"]["venue"]["address"] is None
    assert changed["updateVenue"]["venue"]["name"] == "Leeds Works"
    shown = await api.data("query($id: ID!) { node(id: $id) { ... on Venue { city rooms { id venue { id } } } } }",
                           {"id": venue_id}, token=None)
    assert shown["node"] == {"city": "Bradford", "rooms": [{"id": room, "venue": {"id": venue_id}}]}

    async with app.state.podium.sessions() as db:
        audit = (await db.scalars(select(AuditEntry.action).where(AuditEntry.target_type == "Venue"))).all()
        events = (await db.scalars(select(OutboxMessage.topic).where(OutboxMessage.topic.like("venue.%")))).all()
    assert audit == ["venue.create", "venue.update"] and events == ["venue.created", "venue.updated"]


async def test_venue_changes_are_for_staff_and_checked(api):
    learner = await g.token(api, await g.person(api), "LEARNER")
    refused = await api.data(CREATE_VENUE, {"i": {"name": "X", "timezone": "Europe/London"}}, token=learner)
    assert [e["code"] for e in refused["createVenue"]["errors"]] == ["FORBIDDEN"]
    assert refused["createVenue"]["venue"] is None
    venue_id = await venue(api)
    refused = await api.data(UPDATE_VENUE, {"i": {"venueId": venue_id, "name": "Mine"}}, token=learner)
    assert [e["code"] for e in refused["updateVenue"]["errors"]] == ["FORBIDDEN"]

    for values, field in (({"name": " "}, "name"), ({"city": "x" * 201}, "city"), ({"timezone": "Mars/Base"}, "timezone"),
                          ({"address": "a\x07b"}, "address")):
        data = await api.data(UPDATE_VENUE, {"i": {"venueId": venue_id, **values}})
        assert [(e["code"], e["field"]) for e in data["updateVenue"]["errors"]] == [("INVALID", ["input", field])], values
    nothing = await api.data(UPDATE_VENUE, {"i": {"venueId": await g.course(api), "name": "Y"}})
    assert [(e["code"], e["field"]) for e in nothing["updateVenue"]["errors"]] == [("NOT_FOUND", ["input", "venueId"])]
    teacher = await api.data(ROOM, {"i": {"kind": "INSTRUCTOR", "name": "T", "timezone": "UTC", "email": "t@example.com",
                                          "venueId": venue_id}})
    assert [(e["code"], e["field"]) for e in teacher["createResource"]["errors"]] == [("INVALID", ["input", "venueId"])]


async def _catalogue(api) -> dict:
    """Sessions in London (two rooms of one venue), Manchester and online; one full, one past, one cancelled."""
    london = await venue(api, name="London Centre", city="London", country="United Kingdom")
    manchester = await venue(api, name="Manchester Hub", city="Manchester", country="United Kingdom")
    rooms = {"london": await room_in(api, london), "london2": await room_in(api, london),
             "manchester": await room_in(api, manchester)}
    safety = await g.course(api, code="SAFE-101", title="Workplace Safety", description="Fire exits & Straße signs")
    python = await g.course(api, code="PY_150", title="Python Foundations", description="100% hands-on")
    lead = await g.instructor(api)

    async def schedule(title, course, days, room=None, **kw):
        mode = {"deliveryMode": "IN_PERSON", "roomId": room} if room else {}
        return await g.session(api, course, [lead], starts_at=g.at(days=days), title=title, **mode, **kw)

    ids = {"london safety": await schedule("Safety in London", safety, 3, rooms["london"]),
           "london python": await schedule("Python in London", python, 4, rooms["london2"], capacity=1),
           "manchester": await schedule("Safety in Manchester", safety, 5, rooms["manchester"]),
           "online": await schedule("Online Python", python, 6),
           "cancelled": await schedule("Cancelled Safety", safety, 7, rooms["manchester"])}
    await g.enroll(api, ids["london python"], await g.person(api))              # now full: 0 seats left
    cancel = await api.data("""mutation($i: CancelSessionInput!) { cancelSession(input: $i) { errors { code } } }""",
                            {"i": {"sessionId": ids["cancelled"]}})
    assert cancel["cancelSession"]["errors"] == []
    return {"london": london, "manchester": manchester, **ids}


async def test_the_catalogue_filters_by_venue_city_seats_and_time(api):
    world = await _catalogue(api)
    every = ["Safety in London", "Python in London", "Safety in Manchester", "Online Python", "Cancelled Safety"]
    assert await titles(api, {}, token=None) == every
    assert await titles(api, {"venueId": world["london"]}, token=None) == ["Safety in London", "Python in London"]
    assert await titles(api, {"city": "  mANCHESTER "}, token=None) == ["Safety in Manchester", "Cancelled Safety"]
    assert await titles(api, {"city": "Leeds"}) == []
    # hasSeats: enrolling now gives a seat or a waitlist place: the full one too, not the cancelled one.
    assert await titles(api, {"hasSeats": True}) == every[:4]
    assert await titles(api, {"hasSeats": False}) == ["Cancelled Safety"]
    assert await titles(api, {"upcoming": True, "city": "london", "hasSeats": True}) == every[:2]
    assert await titles(api, {"upcoming": False}) == []

    data = await api.data(SESSIONS, {"f": {"venueId": world["london"]}, "first": 1})
    node = data["sessions"]["edges"][0]["node"]
    assert node["venue"] == {"name": "London Centre", "city": "London"} and data["sessions"]["totalCount"] == 2
    online = await api.data("query($id: ID!) { node(id: $id) { ... on Session { venue { id } room { id } } } }",
                            {"id": world["online"]})
    assert online["node"] == {"venue": None, "room": None}
    wrong = await api(SESSIONS, {"f": {"venueId": world["london python"]}})
    assert [e["extensions"]["code"] for e in wrong["errors"]] == ["NOT_FOUND"]


async def test_search_folds_case_and_accents_the_same_on_both_databases(api):
    await _catalogue(api)
    assert await titles(api, {"search": "safe-101"}) == ["Safety in London", "Safety in Manchester", "Cancelled Safety"]
    assert await titles(api, {"search": "ONLINE"}) == ["Online Python"]                   # the session's own title
    assert await titles(api, {"search": "foundations"}) == ["Python in London", "Online Python"]  # the course's title
    assert await titles(api, {"search": "STRASSE", "city": "London"}) == ["Safety in London"]  # description, folded
    assert await titles(api, {"search": "straße"}) == await titles(api, {"search": "STRASSE"})
    # LIKE's wildcards are plain characters in a search.
    assert await titles(api, {"search": "100%"}) == ["Python in London", "Online Python"]
    assert await titles(api, {"search": "%"}) == ["Python in London", "Online Python"]
    assert await titles(api, {"search": "py_"}) == ["Python in London", "Online Python"]
    assert await titles(api, {"search": "e_1"}) == []                   # as a wildcard, _ would match SAFE-101
    assert await titles(api, {"search": "   "}) == await titles(api, {})


async def test_a_search_or_city_too_long_is_invalid_before_any_sql(api, app):
    statements = []
    engine = app.state.podium.engine.sync_engine
    listen = lambda *args: statements.append(args[2])  # noqa: E731
    for name, value in (("search", "x" * 5000), ("city", "y" * 201), ("search", "z" * 201)):
        event.listen(engine, "before_cursor_execute", listen)
        try:
            body = await api(SESSIONS, {"f": {name: value}}, token=None)
        finally:
            event.remove(engine, "before_cursor_execute", listen)
        assert body["data"] is None
        assert [(e["extensions"]["code"], e["extensions"]["field"]) for e in body["errors"]] == [("INVALID", name)]
        assert not [s for s in statements if "FROM session" in s]
    assert await titles(api, {"search": "z" * 200}) == []
    venues = await api("{ venues(filter: {city: \"%s\"}) { totalCount } }" % ("c" * 201), token=None)
    assert [e["extensions"]["code"] for e in venues["errors"]] == ["INVALID"]


async def test_venues_are_listed_and_filtered_by_city_for_anyone(api):
    world = await _catalogue(api)
    data = await api.data("""{ venues { totalCount edges { node { id name city country rooms { id } } } }
      london: venues(filter: {city: "LONDON"}) { edges { node { id } } } }""", token=None)
    assert data["venues"]["totalCount"] == 2
    assert [(n["node"]["name"], len(n["node"]["rooms"])) for n in data["venues"]["edges"]] == [
        ("London Centre", 2), ("Manchester Hub", 1)]
    assert data["london"]["edges"] == [{"node": {"id": world["london"]}}]


async def test_filtered_pages_keep_keyset_paging_and_the_statement_count(api, app):
    """The filters are conditions of the one page statement: a filtered page costs what an unfiltered one
    does, and walking it with cursors gives every session once, in order."""
    await _catalogue(api)
    for n in range(6):
        await g.session(api, await g.course(api, title=f"Extra {n}"), [await g.instructor(api)],
                        starts_at=g.at(days=10 + n))
    counted: list[str] = []
    engine = app.state.podium.engine.sync_engine

    def count(_conn, _cursor, statement, *_):
        if not statement.lstrip().upper().startswith(("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE")):
            counted.append(statement)

    async def cost(filter: dict) -> int:
        counted.clear()
        event.listen(engine, "before_cursor_execute", count)
        try:
            await api.data(SESSIONS, {"f": filter, "first": 3})
        finally:
            event.remove(engine, "before_cursor_execute", count)
        return len(counted)

    plain = await cost({})
    everything = {"city": "london", "venueId": None, "hasSeats": True, "search": "o", "upcoming": True}
    assert await cost(everything) == await cost({"search": "python", "upcoming": True}) == plain

    seen, after = [], None
    while True:
        data = await api.data(SESSIONS, {"f": {"hasSeats": True, "upcoming": True}, "first": 2, "after": after})
        seen += [e["node"]["title"] for e in data["sessions"]["edges"]]
        if not data["sessions"]["pageInfo"]["hasNextPage"]:
            break
        after = data["sessions"]["pageInfo"]["endCursor"]
    assert seen == await titles(api, {"hasSeats": True, "upcoming": True})
    assert len(seen) == 10 and len(set(seen)) == 10 and "Cancelled Safety" not in seen
