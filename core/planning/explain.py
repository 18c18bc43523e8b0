"""Necessary conditions of each request, checked before the solve, in words a coordinator can act on.

A request that fails one is not modelled: its sessions come back in `unplaced` with the reason, so one
impossible course does not hide the timetable of the others (and the plan is INFEASIBLE only when none of
its requests can be placed at all).
"""
from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

from .problem import Problem, Request
from .slots import qualified_until, room_suits


def _names(values) -> str:
    values = list(values)
    return ", ".join(values[:-1]) + " and " + values[-1] if len(values) > 1 else (values[0] if values else "")


def check_request(problem: Problem, request: Request) -> str | None:
    """The first necessary condition the request fails, as a sentence; None when all hold."""
    tz = request.timezone if not request.needs_room else "UTC"
    length = max(p.day for p in request.parts)
    first_day = request.window_from.astimezone(ZoneInfo(tz)).date()
    last_start = request.window_to.astimezone(ZoneInfo(tz)).date() - timedelta(days=length)
    if request.window_to - request.window_from < timedelta(days=length) or last_start < first_day - timedelta(days=1):
        return (f"the window {request.window_from:%Y-%m-%d} to {request.window_to:%Y-%m-%d} is shorter than the "
                f"session's {length + 1} days")
    for name in request.required_qualifications:
        holders = [i for i in problem.instructors if name in i.qualifications]
        if not holders:
            return f"no instructor holds {name}"
        ends = [i.qualifications[name] for i in holders]
        if None not in ends:
            latest = max(ends)
            if latest < first_day + timedelta(days=length):
                return (f"no instructor holds {name} valid after {latest.isoformat()} (the window starts "
                        f"{first_day.isoformat()})")
    if request.required_qualifications:
        full = [i for i in problem.instructors if qualified_until(i, request.required_qualifications) is not False]
        if not full:
            return f"no instructor holds all of {_names(request.required_qualifications)}"
        latest = [qualified_until(i, request.required_qualifications) for i in full]
        if None not in latest and max(latest) < first_day + timedelta(days=length):
            return (f"no instructor holds {_names(request.required_qualifications)} all valid after "
                    f"{max(latest).isoformat()}")
    if not problem.instructors:
        return "there is no instructor"
    if request.needs_room:
        at_venues = [r for r in problem.rooms if not request.venue_ids or r.venue_id in request.venue_ids]
        where = ("at " + _names([problem.venues[v].name if v in problem.venues else str(v)
                                 for v in request.venue_ids])) if request.venue_ids else "anywhere"
        if not at_venues:
            return f"there is no room {where}"
        seats = [r.capacity for r in at_venues if r.capacity is not None]
        if seats and len(seats) == len(at_venues) and max(seats) < request.capacity:
            return f"no room {where} seats {request.capacity}; the largest holds {max(seats)}"
        if not any(room_suits(r, request) for r in at_venues):
            missing = sorted(set(request.required_features) - set().union(*(set(r.features) for r in at_venues)))
            if missing:
                return f"no room {where} has {_names(missing)}"
            return f"no room {where} seats {request.capacity} and has {_names(request.required_features)}"
    return None


def precheck(problem: Problem) -> dict[int, str]:
    """Request index -> why none of its sessions can be placed."""
    found = {}
    for index, request in enumerate(problem.requests):
        reason = check_request(problem, request)
        if reason is not None:
            found[index] = reason
    return found
