"""Rules 1 to 3 read back from the database after a storm of requests."""
from __future__ import annotations

from sqlalchemy import text


async def broken_rules(sessions) -> list[str]:
    """Rules 1 to 3 read back from the database: what is wrong, empty when nothing is."""
    broken = []
    async with sessions() as db:
        rows = (await db.execute(text(
            "SELECT s.id, s.status, s.capacity, "
            "(SELECT count(*) FROM enrollment e WHERE e.session_id = s.id AND e.status = 'ENROLLED') "
            "FROM session s"))).all()
        waiting: dict[int, list[int]] = {}
        for sid, position in (await db.execute(text(
                "SELECT session_id, waitlist_position FROM enrollment WHERE status = 'WAITLISTED' "
                "ORDER BY session_id, waitlist_position"))).all():
            waiting.setdefault(sid, []).append(position)
        for sid, status, capacity, enrolled in rows:
            if enrolled > capacity:
                broken.append(f"session {sid}: {enrolled} enrolled, capacity {capacity}")
            if waiting.get(sid, []) != list(range(1, len(waiting.get(sid, [])) + 1)):
                broken.append(f"session {sid}: waitlist positions {waiting[sid]}")
            if status == "SCHEDULED" and waiting.get(sid) and enrolled < capacity:
                broken.append(f"session {sid}: a free seat while {len(waiting[sid])} wait")
        for sid, capacity, room in (await db.execute(text(
                "SELECT s.id, s.capacity, r.capacity FROM session s JOIN booking bk ON bk.session_id = s.id "
                "AND bk.role = 'ROOM' AND bk.active JOIN resource r ON r.id = bk.resource_id "
                "WHERE s.status = 'SCHEDULED' AND s.delivery_mode != 'VIRTUAL'"))).all():
            if room is not None and capacity > room:
                broken.append(f"session {sid}: capacity {capacity} in a room for {room}")
        broken += [f"resource {rid} booked twice: bookings {x} and {y}" for x, y, rid in (await db.execute(text(
            "SELECT x.id, y.id, x.resource_id FROM booking x JOIN booking y ON x.resource_id = y.resource_id "
            "AND x.id < y.id AND x.active AND y.active AND x.starts_at < y.ends_at AND y.starts_at < x.ends_at "
            "LEFT JOIN session sx ON sx.id = x.session_id LEFT JOIN session sy ON sy.id = y.session_id "
            "WHERE coalesce(sx.status, 'SCHEDULED') != 'CANCELLED' "
            "AND coalesce(sy.status, 'SCHEDULED') != 'CANCELLED'"))).all()]
    return broken
