"""The CP-SAT model of a timetable.

Per session: a presence literal (placed or not), one candidate index (which start, on which wall clock),
the parts' held intervals read from the candidate tables (element constraints), one literal per eligible
instructor and per eligible room (exactly one of each when placed), and an optional interval per part for
each of them; `no_overlap` per instructor, per room and per cohort. A literal implies that the candidate is
one its resource may take (hours, time off, bookings, qualifications on the date: `slots.py`). Travel
between venues is added as cuts when a solution needs them (`solve.py`). Every term of the objective is an
integer; see README, "Auto-scheduling".
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import numpy as np
from ortools.sat.python import cp_model

from .problem import Problem, Request
from .slots import (
    Candidates, FreeTime, candidates, free_intervals, instructor_allowed, learners_outside, room_allowed, room_suits,
    room_tz,
)

UNPLACED = 10_000_000
"""What leaving one session unplaced costs: more than any placement's other terms."""
PREFERRED = 100
LOCAL_TIME = 10
SPREAD_DAY = 60
CHANGE = 1_000
DAILY_MINUTES = 8 * 60
TRANSPORT_PAIRS = 100
"""Up to this many (home venue, session venue) pairs per session, travel is modelled exactly by pair literals."""


@dataclass
class SessionVars:
    request: int
    index: int
    present: cp_model.IntVar
    choice: cp_model.IntVar
    starts: list[cp_model.IntVar]          # held intervals per part (buffers included)
    ends: list[cp_model.IntVar]
    part_starts: list                      # the parts themselves (cohorts)
    part_ends: list                        # (start, size) of each part
    instructors: dict[int, cp_model.IntVar] = field(default_factory=dict)
    rooms: dict[int, cp_model.IntVar] = field(default_factory=dict)
    venue_literals: dict[int, cp_model.IntVar] = field(default_factory=dict)
    costs: dict = field(default_factory=dict)      # ("i" | "r", id) -> the literal's objective coefficient
    start_costs: np.ndarray | None = None          # per candidate: what the start itself costs (local time, a move)
    least: int = 0                                 # the least its own terms can cost when placed (`_least`)


@dataclass
class Built:
    model: cp_model.CpModel
    origin: datetime
    cands: list[Candidates]                # per request (only the candidates someone may take)
    sessions: list[SessionVars]
    skipped: dict[int, str]                # request index -> why none of its sessions can be placed
    instructor_ids: dict[int, int]         # position -> id
    room_venue: dict[int, int | None]
    travel_cuts: set = field(default_factory=set)
    allowed: dict[int, tuple[dict, dict]] = field(default_factory=dict)   # request -> (instructor, room) masks
    lean: bool = False                     # no constraints nor objective (`build`): not for CP-SAT


def resource_cost(rate: int | None, unit: str | None, part_minutes: list[int]) -> int:
    """A resource's cost for the parts (one booking each), in minor units, as services/costs.py counts it."""
    if not rate:
        return 0
    if unit == "HOURLY":
        return sum((rate * m + 30) // 60 for m in part_minutes)
    if unit == "DAILY":
        return sum(rate * ((m + DAILY_MINUTES - 1) // DAILY_MINUTES) for m in part_minutes)
    return rate * len(part_minutes)


def _assignment(model: cp_model.CpModel, name: str, choice, domain, spans, intervals: list, coefficient: int,
                objective: list):
    """The literal "this resource takes this session": it limits the session's start to the candidates the
    resource may take (`domain`; None: all), books each part's held span on the resource (`intervals`,
    kept off each other by no-overlap), and adds its `coefficient` to the objective."""
    lit = model.new_bool_var(name)
    if domain is not None:
        model.add_linear_expression_in_domain(choice, domain).only_enforce_if(lit)
    for j, (start, size, end) in enumerate(spans):
        intervals.append(model.new_optional_interval_var(start, size, end, lit, f"{name}x{j}"))
    if coefficient:
        objective.append(coefficient * lit)
    return lit


def _domain(values: np.ndarray) -> cp_model.Domain:
    return cp_model.Domain.from_values(values.tolist())


def build(problem: Problem, skipped: dict[int, str] | None = None, lean: bool = False) -> Built:
    """The model of `problem`; requests in `skipped` (refused by the pre-check) get no variables. `lean`: only
    what the timetable search (`greedy.py`) reads, for instances where CP-SAT does not run: candidates,
    allowed resources, coefficients and `least`, with the presence, start and assignment variables (which
    decoding reads) but no constraint and no objective."""
    skipped = dict(skipped or {})
    weights = problem.weights
    model = cp_model.CpModel()
    origin = min(r.window_from for r in problem.requests) - timedelta(days=1)
    horizon_to = max(r.window_to for r in problem.requests) + timedelta(days=1)
    free_i = {i.id: FreeTime(free_intervals(i, origin, horizon_to), origin) for i in problem.instructors}
    free_r = {r.id: FreeTime(free_intervals(r, origin, horizon_to), origin) for r in problem.rooms}
    tz_r = {r.id: room_tz(r, problem.venues) for r in problem.rooms}
    room_venue = {r.id: r.venue_id for r in problem.rooms}
    instructor_by_id = {i.id: i for i in problem.instructors}
    room_by_id = {r.id: r for r in problem.rooms}
    sessions: list[SessionVars] = []
    cands_all: list[Candidates] = []
    objective: list = []
    by_instructor: dict[int, list] = defaultdict(list)
    by_room: dict[int, list] = defaultdict(list)
    cohort_of: dict[int, list[int]] = defaultdict(list)     # learner -> sessions
    allowed: dict[int, tuple[dict, dict]] = {}

    for r_index, request in enumerate(problem.requests):
        if r_index in skipped:
            cands_all.append(candidates(request, [], problem.granularity_minutes, origin))
            continue
        rooms = [room for room in problem.rooms if request.needs_room and room_suits(room, request)]
        timezones = sorted({tz_r[room.id] for room in rooms}) if request.needs_room else [request.timezone]
        cands = candidates(request, timezones, problem.granularity_minutes, origin)
        allowed_i = {i.id: instructor_allowed(i, free_i[i.id], request, cands) for i in problem.instructors}
        allowed_r = {room.id: room_allowed(room, tz_r[room.id], free_r[room.id], cands) for room in rooms}
        any_i = np.zeros(len(cands), dtype=bool)
        for ok in allowed_i.values():
            any_i |= ok
        any_r = np.ones(len(cands), dtype=bool)
        if request.needs_room:
            any_r = np.zeros(len(cands), dtype=bool)
            for ok in allowed_r.values():
                any_r |= ok
        keep = any_i & any_r
        if not keep.any():
            qualified = [i.name for i in problem.instructors if _qualified_in_window(i, request)]
            skipped[r_index] = _why_no_time(request, len(cands), any_i, any_r, qualified)
            cands_all.append(cands.take(keep))
            continue
        current_keys = {c.parts for c in request.current}
        if current_keys:   # a session's present time stays a candidate to keep, if anyone may take it
            keep |= np.array([p in current_keys for p in cands.parts], dtype=bool) & any_i & any_r
        cands = cands.take(keep)
        allowed_i = {k: v[keep] for k, v in allowed_i.items() if v[keep].any()}
        allowed_r = {k: v[keep] for k, v in allowed_r.items() if v[keep].any()}
        cands_all.append(cands)
        allowed[r_index] = (allowed_i, allowed_r)
        n = len(cands)
        parts = cands.held_start.shape[1]
        tables = [(cands.held_start[:, j].tolist(), cands.held_end[:, j].tolist()) for j in range(parts)]
        buffered = request.setup_minutes or request.teardown_minutes
        part_tables = [(cands.part_start[:, j].tolist(), cands.part_end[:, j].tolist()) for j in range(parts)]
        nominal = [p.minutes for p in request.parts]
        outside = None
        if request.learner_ids and weights.local_time:
            zones: dict[str, int] = defaultdict(int)
            for learner in request.learner_ids:
                if learner in problem.learner_timezones:
                    zones[problem.learner_timezones[learner]] += 1
            outside = learners_outside(cands, zones, problem.learner_window) if zones else None
        preferred = set(request.preferred_instructor_ids)
        domains_i = {} if lean else {iid: _domain(np.flatnonzero(ok)) for iid, ok in allowed_i.items() if not ok.all()}
        domains_r = {} if lean else {rid: _domain(np.flatnonzero(ok)) for rid, ok in allowed_r.items() if not ok.all()}
        previous: SessionVars | None = None
        for k in range(request.count):
            name = f"r{r_index}s{k}"
            present = model.new_bool_var(f"{name}p")
            choice = model.new_int_var(0, n - 1, f"{name}c")
            starts, ends, sizes, pstarts, pends = [], [], [], [], []
            for j, (ts, te) in enumerate([] if lean else tables):
                s = model.new_int_var(min(ts), max(ts), f"{name}hs{j}")
                model.add_element(choice, ts, s)
                lengths = [b - a for a, b in zip(ts, te)]
                if min(lengths) == max(lengths):   # the same length at every start: no DST change inside
                    size = lengths[0]
                    e = s + size
                else:
                    size = model.new_int_var(min(lengths), max(lengths), f"{name}hz{j}")
                    model.add_element(choice, lengths, size)
                    e = s + size
                starts.append(s)
                ends.append(e)
                sizes.append(size)
                if buffered:
                    ps = model.new_int_var(min(part_tables[j][0]), max(part_tables[j][0]), f"{name}ps{j}")
                    pz = model.new_int_var(0, max(b - a for a, b in zip(*part_tables[j])), f"{name}pz{j}")
                    model.add_element(choice, part_tables[j][0], ps)
                    model.add_element(choice, [b - a for a, b in zip(*part_tables[j])], pz)
                    pstarts.append(ps)
                    pends.append((ps, pz))
                else:
                    pstarts.append(s)
                    pends.append((s, size))
            sv = SessionVars(r_index, k, present, choice, starts, ends, pstarts, pends)
            travel = lateness_term = None
            current = request.current[k] if k < len(request.current) else None
            spans = list(zip(starts, sizes, ends))

            def take(tag: str, key: int, resource, changed: bool, domain, booked: list):
                """The literal "this resource takes the session", with its cost, preference and change terms."""
                coefficient = weights.cost * (resource_cost(resource.cost_rate_minor, resource.cost_unit,
                                                            nominal) // 100)
                if tag == "i" and preferred and key not in preferred:
                    coefficient += weights.preferred * PREFERRED
                if changed:
                    coefficient += weights.changes * CHANGE
                sv.costs[(tag, key)] = coefficient
                return model.new_bool_var(f"{name}{tag}{key}") if lean else _assignment(
                    model, f"{name}{tag}{key}", choice, domain, spans, booked, coefficient, objective)

            for iid in allowed_i:
                sv.instructors[iid] = take("i", iid, instructor_by_id[iid],
                                           current is not None and iid not in current.instructor_ids,
                                           domains_i.get(iid), by_instructor[iid])
            if not lean:
                model.add(sum(sv.instructors.values()) == present)
            if request.needs_room:
                for rid in allowed_r:
                    sv.rooms[rid] = take("r", rid, room_by_id[rid], current is not None and rid != current.room_id,
                                         domains_r.get(rid), by_room[rid])
                if not lean:
                    model.add(sum(sv.rooms.values()) == present)
                    travel = _travel_home(model, problem, sv, objective, len(request.parts))
            objective.append(UNPLACED * (1 - present))
            if outside is not None and outside.any() and lean:
                sv.start_costs = weights.local_time * LOCAL_TIME * outside
            elif outside is not None and outside.any():
                lateness = model.new_int_var(0, int(outside.max()), f"{name}lt")
                model.add_element(choice, outside.tolist(), lateness)
                lateness_term = weights.local_time * LOCAL_TIME * lateness
                objective.append(lateness_term)
                sv.start_costs = weights.local_time * LOCAL_TIME * outside
            if k == 0 or request.current:   # a request's sessions share their coefficients unless re-planned
                least = _least(problem, request, sv, allowed_i, allowed_r, room_venue)
            sv.least = least
            if least > 0 and not lean:
                # a valid cut: whatever it is given, the session costs at least its cheapest (start,
                # instructor, room) that agree on a start; the linear relaxation alone mixes an instructor
                # free at one start with a room free at another
                terms = [sv.costs[("i", iid)] * lit for iid, lit in sv.instructors.items()]
                terms += [sv.costs[("r", rid)] * lit for rid, lit in sv.rooms.items()]
                terms += [t for t in (travel, lateness_term) if t is not None]
                model.add(sum(terms) >= least * present)
            if current is not None:
                here = [i for i, p in enumerate(cands.parts) if p == current.parts]
                move = np.full(n, weights.changes * CHANGE * (1 + current.learners), dtype=np.int64)
                move[here[:1]] = 0
                sv.start_costs = move if sv.start_costs is None else sv.start_costs + move
                if not lean:
                    moved = model.new_bool_var(f"{name}mv")
                    if here:
                        model.add(choice == here[0]).only_enforce_if(~moved)
                    else:
                        model.add(moved == 1)
                    objective.append(weights.changes * CHANGE * (1 + current.learners) * moved)
            elif previous is not None and not lean:
                # the request's sessions are interchangeable: place them in order (fewer symmetric solutions)
                model.add_implication(present, previous.present)
                model.add(previous.choice <= choice).only_enforce_if(present)
                if weights.spread and request.count > 1:
                    _spread(model, request, cands, previous, sv, objective, weights.spread)
            if request.learner_ids:
                for learner in request.learner_ids:
                    cohort_of[learner].append(len(sessions))
            sessions.append(sv)
            previous = sv

    for iid, intervals in by_instructor.items():
        if len(intervals) > 1:
            model.add_no_overlap(intervals)
    for rid, intervals in by_room.items():
        if len(intervals) > 1:
            model.add_no_overlap(intervals)
    groups = {tuple(sorted(set(members))) for members in cohort_of.values() if len(set(members)) > 1}
    for group in [] if lean else sorted(groups):
        intervals = []
        for s_index in group:
            sv = sessions[s_index]
            for j in range(len(sv.part_starts)):
                start, size = sv.part_ends[j]
                intervals.append(model.new_optional_interval_var(start, size, start + size, sv.present,
                                                                 f"c{s_index}x{j}"))
        model.add_no_overlap(intervals)
    if not lean:
        model.minimize(sum(objective))
    return Built(model, origin, cands_all, sessions, skipped,
                 {i.id: i.id for i in problem.instructors}, room_venue, allowed=allowed, lean=lean)


def _least(problem: Problem, request: Request, sv: SessionVars, allowed_i: dict, allowed_r: dict,
           room_venue: dict) -> int:
    """The least a placed session can cost by its per-session terms: over every start, an instructor and a
    room that may both take it, their coefficients, the instructor's travel from home and the start's own
    cost (learner local time, not a move)."""
    weights = problem.weights
    homes = {i.id: i.home_venue_id for i in problem.instructors}
    iids = list(allowed_i)
    teach = np.array([sv.costs.get(("i", iid), 0) for iid in iids], dtype=np.int64)
    n = len(next(iter(allowed_i.values())))
    start = np.zeros(n, dtype=np.int64)
    if request.learner_ids and weights.local_time and sv.start_costs is not None and not request.current:
        start = np.asarray(sv.start_costs, dtype=np.int64)
    a = np.array([allowed_i[iid] for iid in iids])
    best = None
    if not request.needs_room:
        for level in np.unique(start):
            fits = a[:, start == level].any(axis=1)
            if fits.any():
                value = int(level) + int(teach[fits].min())
                best = value if best is None else min(best, value)
        return best or 0
    rids = list(allowed_r)
    rent = np.array([sv.costs.get(("r", rid), 0) for rid in rids], dtype=np.int64)
    price = teach[:, None] + rent[None, :]
    if weights.travel and problem.travel_minutes:
        days = len(request.parts)
        venues = [room_venue.get(rid) for rid in rids]
        trips = {}
        for iid in iids:
            home = homes.get(iid)
            if home not in trips:
                trips[home] = [problem.travel(home, venue) for venue in venues]
        price = price + weights.travel * 2 * days * np.array([trips[homes.get(iid)] for iid in iids], dtype=np.int64)
    b = np.array([allowed_r[rid] for rid in rids])
    for level in np.unique(start):
        at = start == level
        both = (a[:, at].astype(np.int32) @ b[:, at].T.astype(np.int32)) > 0
        if both.any():
            value = int(level) + int(price[both].min())
            best = value if best is None else min(best, value)
    return best or 0


def _qualified_in_window(instructor, request: Request) -> bool:
    from .slots import qualified_until
    until = qualified_until(instructor, request.required_qualifications)
    return until is not False and (until is None or until >= request.window_from.date())


def _why_no_time(request: Request, count: int, any_i: np.ndarray, any_r: np.ndarray, qualified: list[str]) -> str:
    window = f"between {request.window_from:%Y-%m-%d} and {request.window_to:%Y-%m-%d}"
    if count == 0:
        return f"the window {window} holds no start for its {len(request.parts)} part(s)"
    if not any_i.any():
        who = ", ".join(qualified[:3]) + (f" and {len(qualified) - 3} more" if len(qualified) > 3 else "")
        return (f"no qualified instructor is free for a whole session {window}: qualified then: {who or 'none'}, "
                "never free at its times (working hours on their own clock, time off, existing bookings)")
    if not any_r.any():
        return f"no suitable room is free for a whole session {window} (opening hours, closures, bookings)"
    return f"no qualified instructor is free when a suitable room is {window}"


def venue_literal(model: cp_model.CpModel, built_rooms: dict[int, int | None], sv: SessionVars, venue: int):
    """A literal true when the session's room is at `venue` (made once per session and venue)."""
    if venue not in sv.venue_literals:
        lit = model.new_bool_var(f"r{sv.request}s{sv.index}v{venue}")
        model.add(sum(l for rid, l in sv.rooms.items() if built_rooms.get(rid) == venue) == lit)
        sv.venue_literals[venue] = lit
    return sv.venue_literals[venue]


def _travel_home(model: cp_model.CpModel, problem: Problem, sv: SessionVars, objective: list, days: int):
    """Instructor travel: minutes from the instructor's home venue to the session's venue and back, each day:
    `cost >= sum(travel(home, venue of room) * room literal)` whenever that instructor teaches it."""
    if not problem.weights.travel or not problem.travel_minutes:
        return None
    rooms_venue = {r.id: r.venue_id for r in problem.rooms}
    homes = {i.id: i.home_venue_id for i in problem.instructors}
    by_home: dict = defaultdict(list)
    for iid, lit in sv.instructors.items():
        by_home[homes.get(iid)].append(lit)
    by_venue: dict = defaultdict(list)
    for rid, lit in sv.rooms.items():
        by_venue[rooms_venue.get(rid)].append(lit)
    pairs = {(g, v): problem.travel(g, v) for g in by_home for v in by_venue}
    if not any(pairs.values()):
        return None
    weight = problem.weights.travel * 2 * days
    if len(pairs) <= TRANSPORT_PAIRS:
        # exact and tight: one literal per (home venue, session venue) pair, the rows summing to the
        # instructors of that home, the columns to the rooms of that venue (a transportation polytope,
        # whose relaxation bounds the travel far better than an enforced inequality per instructor)
        y = {key: model.new_bool_var(f"r{sv.request}s{sv.index}y{n}") for n, key in enumerate(pairs)}
        for g, lits in by_home.items():
            model.add(sum(y[(g, v)] for v in by_venue) == sum(lits))
        for v, lits in by_venue.items():
            model.add(sum(y[(g, v)] for g in by_home) == sum(lits))
        term = weight * sum(minutes * y[key] for key, minutes in pairs.items() if minutes)
        objective.append(term)
        return term
    rows = []
    for iid, lit in sv.instructors.items():
        terms = [(problem.travel(homes.get(iid), rooms_venue.get(rid)), room) for rid, room in sv.rooms.items()]
        terms = [(minutes, room) for minutes, room in terms if minutes]
        if terms:
            rows.append((lit, terms))
    top = max(minutes for _, terms in rows for minutes, _ in terms)
    cost = model.new_int_var(0, top, f"r{sv.request}s{sv.index}tr")
    for lit, terms in rows:
        model.add(cost >= sum(minutes * room for minutes, room in terms)).only_enforce_if(lit)
    # valid for every placement: the nearest venue from the instructor's home, the nearest home to the venue
    model.add(cost >= sum(min(pairs[(g, v)] for v in by_venue) * sum(lits) for g, lits in by_home.items()))
    model.add(cost >= sum(min(pairs[(g, v)] for g in by_home) * sum(lits) for v, lits in by_venue.items()))
    objective.append(weight * cost)
    return weight * cost


def _spread(model: cp_model.CpModel, request: Request, cands: Candidates, previous: SessionVars, sv: SessionVars,
            objective: list, weight: int) -> None:
    """Sessions of a request spread over its window: each day short of an even gap costs SPREAD_DAY."""
    window_days = max(1, (request.window_to - request.window_from).days)
    ideal = window_days // request.count
    if ideal <= 0:
        return
    days = cands.day.tolist()
    d0 = model.new_int_var(min(days), max(days), f"r{sv.request}s{previous.index}d")
    d1 = model.new_int_var(min(days), max(days), f"r{sv.request}s{sv.index}d")
    model.add_element(previous.choice, days, d0)
    model.add_element(sv.choice, days, d1)
    short = model.new_int_var(0, ideal, f"r{sv.request}s{sv.index}sh")
    model.add(short >= ideal - (d1 - d0)).only_enforce_if(sv.present)
    objective.append(weight * SPREAD_DAY * short)
