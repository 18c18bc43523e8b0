"""From the solver's values back to sessions: when, who, where, what it costs; and the independent check
of a decoded timetable's hard constraints (tests, and the travel cuts of `solve.py`)."""
from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from ..services.scheduling import held_intervals
from .model import Built, resource_cost
from .problem import PlacedSession, Problem, Unplaced
from .slots import free_intervals, qualified_until, room_suits

UNPLACED_REASON = ("not placed within the time limit: the instructors and rooms that could take it are "
                   "taken by the other sessions at every start it has (more time, a wider window, or more "
                   "instructors may help)")


def decode(problem: Problem, built: Built, value) -> tuple[list[PlacedSession], list[Unplaced]]:
    """`value(var)`: the solution's value of a variable."""
    placed, unplaced = [], []
    instructors = {i.id: i for i in problem.instructors}
    rooms = {r.id: r for r in problem.rooms}
    for r_index, reason in sorted(built.skipped.items()):
        unplaced.append(Unplaced(problem.requests[r_index].key, None, reason))
    for sv in built.sessions:
        request = problem.requests[sv.request]
        if not value(sv.present):
            unplaced.append(Unplaced(request.key, sv.index, UNPLACED_REASON))
            continue
        cands = built.cands[sv.request]
        c = int(value(sv.choice))
        instructor_ids = tuple(iid for iid, lit in sv.instructors.items() if value(lit))
        room_id = next((rid for rid, lit in sv.rooms.items() if value(lit)), None)
        minutes = [p.minutes for p in request.parts]
        cost = sum(resource_cost(instructors[i].cost_rate_minor, instructors[i].cost_unit, minutes)
                   for i in instructor_ids)
        if room_id is not None:
            cost += resource_cost(rooms[room_id].cost_rate_minor, rooms[room_id].cost_unit, minutes)
        current = request.current[sv.index] if sv.index < len(request.current) else None
        placed.append(PlacedSession(request.key, sv.index, cands.timezone[c], cands.parts[c], instructor_ids,
                                    room_id, cost, current.session_id if current else None))
    placed.sort(key=lambda p: (p.starts_at, p.request, p.index))
    return placed, unplaced


def _held(requests: dict, session: PlacedSession):
    request = requests[session.request]
    return held_intervals(list(session.parts), request.setup_minutes, request.teardown_minutes)


def violations(problem: Problem, placed: list[PlacedSession]) -> list[str]:
    """Every hard constraint the timetable breaks, checked from the problem's data alone (not the model)."""
    found: list[str] = []
    requests = {r.key: r for r in problem.requests}
    instructors = {i.id: i for i in problem.instructors}
    rooms = {r.id: r for r in problem.rooms}
    lo = min((s.starts_at for s in placed), default=datetime.now()) - timedelta(days=2)
    hi = max((s.ends_at for s in placed), default=datetime.now()) + timedelta(days=2)
    free = {}
    holds = defaultdict(list)      # resource -> (from, to, session, venue)
    cohort = defaultdict(list)
    for s in placed:
        request = requests[s.request]
        held = _held(requests, s)
        venue = rooms[s.room_id].venue_id if s.room_id is not None else None
        if request.needs_room and s.room_id is None:
            found.append(f"{s.request}#{s.index} has no room")
        if s.room_id is not None and not room_suits(rooms[s.room_id], request):
            found.append(f"{s.request}#{s.index}: room {s.room_id} does not suit (venue, seats, features)")
        if s.starts_at < request.window_from or s.ends_at > request.window_to:
            found.append(f"{s.request}#{s.index} is outside its window")
        for rid in (*s.instructor_ids, *([s.room_id] if s.room_id is not None else [])):
            resource = instructors.get(rid) if rid in s.instructor_ids else rooms[rid]
            if rid not in free:
                free[rid] = free_intervals(resource, lo, hi)
            for a, b in held:
                if not any(f <= a and b <= t for f, t in free[rid]):
                    found.append(f"{s.request}#{s.index}: resource {rid} is not free {a:%Y-%m-%d %H:%M}-{b:%H:%M}")
                holds[rid].append((a, b, (s.request, s.index), venue if rid in s.instructor_ids else None))
        for iid in s.instructor_ids:
            until = qualified_until(instructors[iid], request.required_qualifications)
            last = s.parts[-1][0].astimezone(ZoneInfo(s.timezone)).date()
            if until is False or (until is not None and until < last):
                found.append(f"{s.request}#{s.index}: instructor {iid} is not qualified on {last}")
        for learner in request.learner_ids:
            for a, b in s.parts:
                cohort[learner].append((a, b, (s.request, s.index)))
    reach = timedelta(minutes=max(problem.travel_minutes.values(), default=0))
    for rid, items in holds.items():
        items.sort(key=lambda x: x[0])
        for n, (a1, b1, k1, v1) in enumerate(items):
            for a2, b2, k2, v2 in items[n + 1:]:
                if a2 >= b1 + reach and a2 >= b1:
                    break
                if k1 == k2:
                    continue
                if a2 < b1:
                    found.append(f"resource {rid} is double-booked by {k1} and {k2}")
                elif v1 is not None and v2 is not None:
                    need = problem.travel(v1, v2)
                    if need and (a2 - b1) < timedelta(minutes=need):
                        found.append(f"instructor {rid} cannot travel {need} min between {k1} and {k2}")
    for learner, items in cohort.items():
        items.sort(key=lambda x: x[0])
        for (a1, b1, k1), (a2, b2, k2) in zip(items, items[1:]):
            if k1 != k2 and a2 < b1:
                found.append(f"learner {learner} has {k1} and {k2} at once")
    return found


def travel_conflicts(problem: Problem, placed: list[PlacedSession]) -> list[tuple]:
    """Holds of an instructor at two venues too close for the travel between them (every pair, as rule 2b):
    (instructor, (request, index, part), (request, index, part) or ("busy", n), minutes)."""
    if not problem.travel_minutes:
        return []
    rooms = {r.id: r for r in problem.rooms}
    instructors = {i.id: i for i in problem.instructors}
    requests = {r.key: r for r in problem.requests}
    by_instructor = defaultdict(list)
    for s in placed:
        if s.room_id is None:
            continue
        venue = rooms[s.room_id].venue_id
        for j, (a, b) in enumerate(_held(requests, s)):
            for iid in s.instructor_ids:
                by_instructor[iid].append((a, b, venue, (s.request, s.index, j)))
    found = []
    reach = timedelta(minutes=max(problem.travel_minutes.values(), default=0))
    for iid, items in by_instructor.items():
        instructor = instructors[iid]
        for n, ((a, b), venue) in enumerate(zip(instructor.busy, instructor.busy_venues)):
            if venue is not None:
                items.append((a, b, venue, ("busy", n)))
        items.sort(key=lambda x: x[0])
        for n, (a1, b1, v1, k1) in enumerate(items):   # every pair within reach, as rule 2b looks
            for a2, b2, v2, k2 in items[n + 1:]:
                if a2 >= b1 + reach:
                    break
                if a2 < b1 or (k1[0] == "busy" and k2[0] == "busy") or k1[:2] == k2[:2]:
                    continue
                need = problem.travel(v1, v2)
                if need and a2 - b1 < timedelta(minutes=need):
                    found.append((iid, k1, k2, need))
    return found
