"""The solver on plain data (core/planning/), no database: planted instances are placed whole and break no
rule by the independent check; DST keeps wall clocks; the pre-check explains; a solve can be cancelled."""
from __future__ import annotations

import threading
import time
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from podium.core.planning.decode import violations
from podium.core.planning.generate import generate
from podium.core.planning.problem import (
    FEASIBLE, INFEASIBLE, OPTIMAL, Instructor, PartSpec, Problem, Request, Room, Venue,
)
from podium.core.planning.solve import solve

UTC = timezone.utc
WEEKDAYS_9_TO_5 = tuple((d, 9 * 60, 17 * 60) for d in range(5))


@pytest.mark.parametrize("seed", range(20))
def test_a_planted_instance_is_placed_whole_and_breaks_no_rule(seed):
    instance = generate(seed, sessions=8, instructors=4, rooms=3, venues=3, weeks=3)
    assert violations(instance.problem, instance.planted) == []   # the generator's own timetable is sound
    solution = solve(instance.problem, time_limit=5, num_workers=2)
    assert solution.status in (OPTIMAL, FEASIBLE)
    assert solution.unplaced == []
    assert len(solution.sessions) == len(instance.planted)
    assert violations(instance.problem, solution.sessions) == []


def test_a_three_day_course_keeps_nine_to_five_local_across_the_dst_change():
    venue = Venue(1, "London", "Europe/London")
    room = Room(id=10, name="Room", timezone="Europe/London", weekly=WEEKDAYS_9_TO_5, venue_id=1, capacity=12)
    teacher = Instructor(id=1, name="Ann", timezone="Europe/London", weekly=WEEKDAYS_9_TO_5)
    # Friday 26 March to Wednesday 31 March 2027: the clocks go forward on Sunday 28 March
    request = Request(key="r", course_id=1, count=1, window_from=datetime(2027, 3, 26, tzinfo=UTC),
                      window_to=datetime(2027, 4, 1, tzinfo=UTC), capacity=10,
                      parts=tuple(PartSpec(480, day, 9 * 60) for day in range(3)))
    solution = solve(Problem([request], [teacher], [room], {1: venue}), time_limit=5)
    assert solution.status == OPTIMAL and solution.unplaced == []
    (placed,) = solution.sessions
    local = [(a.astimezone(ZoneInfo("Europe/London")), b.astimezone(ZoneInfo("Europe/London"))) for a, b in placed.parts]
    assert [(a.hour, b.hour) for a, b in local] == [(9, 17)] * 3
    assert [a.date() for a, _ in local] == [date(2027, 3, 29), date(2027, 3, 30), date(2027, 3, 31)]
    assert {a.utcoffset() for a, _ in local} == {timedelta(hours=1)}


def test_an_expired_qualification_is_explained_in_words_a_coordinator_can_act_on():
    teacher = Instructor(id=1, name="Ann", timezone="Europe/London", weekly=WEEKDAYS_9_TO_5,
                         qualifications={"First Aid": date(2027, 3, 10)})
    other = Instructor(id=2, name="Bob", timezone="Europe/London", weekly=WEEKDAYS_9_TO_5)
    request = Request(key="r", course_id=1, count=2, window_from=datetime(2027, 4, 5, tzinfo=UTC),
                      window_to=datetime(2027, 4, 30, tzinfo=UTC), delivery_mode="VIRTUAL",
                      parts=(PartSpec(120),), required_qualifications=("First Aid",), timezone="Europe/London")
    solution = solve(Problem([request], [teacher, other], []), time_limit=5)
    assert solution.status == INFEASIBLE and solution.sessions == []
    assert [u.reason for u in solution.unplaced] == [
        "no instructor holds First Aid valid after 2027-03-10 (the window starts 2027-04-05)"]


def test_a_room_too_small_and_a_request_that_fits_are_told_apart():
    venue = Venue(1, "Leeds", "Europe/London")
    room = Room(id=10, name="Small", timezone="Europe/London", weekly=WEEKDAYS_9_TO_5, venue_id=1, capacity=8)
    teacher = Instructor(id=1, name="Ann", timezone="Europe/London", weekly=WEEKDAYS_9_TO_5)
    window = dict(window_from=datetime(2027, 4, 5, tzinfo=UTC), window_to=datetime(2027, 4, 10, tzinfo=UTC))
    big = Request(key="big", course_id=1, count=1, capacity=20, parts=(PartSpec(120),), **window)
    fits = Request(key="fits", course_id=2, count=1, capacity=6, parts=(PartSpec(120),), **window)
    solution = solve(Problem([big, fits], [teacher], [room], {1: venue}), time_limit=5)
    assert solution.status == OPTIMAL
    assert [s.request for s in solution.sessions] == ["fits"]
    assert [(u.request, u.reason) for u in solution.unplaced] == [
        ("big", "no room anywhere seats 20; the largest holds 8")]


def test_a_cancelled_solve_stops_at_once():
    instance = generate(3, sessions=60, instructors=12, rooms=6, venues=4, weeks=4)
    cancel = threading.Event()
    threading.Timer(0.5, cancel.set).start()
    started = time.monotonic()
    solve(instance.problem, time_limit=30, cancel=cancel)
    assert time.monotonic() - started < 10


async def test_one_solve_at_a_time_per_process_the_next_waits_and_is_told_when_none_frees():
    import asyncio

    from podium.core.planning.problem import UNKNOWN
    from podium.core.services import planning

    long = generate(3, sessions=60, instructors=12, rooms=6, venues=4, weeks=4).problem
    small = generate(1, sessions=4, instructors=3, rooms=2, venues=2, weeks=2).problem
    cancel = threading.Event()
    first = asyncio.ensure_future(planning.solve_off_loop(long, 30, cancel=cancel, concurrency=1))
    await asyncio.sleep(0.3)
    assert planning.running_solves() == 1
    # the first holds the only slot for longer than the second's limit: no solve, told why
    busy = await planning.solve_off_loop(small, 1.5, concurrency=1)
    assert busy.status == UNKNOWN and busy.sessions == []
    assert {u.request for u in busy.unplaced} == {r.key for r in small.requests}
    assert all("PODIUM_SOLVER_CONCURRENCY" in u.reason for u in busy.unplaced)
    # with the first stopped, the slot frees and the next one waiting is solved
    waiting = asyncio.ensure_future(planning.solve_off_loop(small, 5, concurrency=1))
    await asyncio.sleep(0.2)
    cancel.set()
    await first
    solved = await waiting
    assert solved.status in (OPTIMAL, FEASIBLE) and solved.unplaced == []
    assert planning.running_solves() == 0


@pytest.mark.parametrize("seed", range(3))
def test_the_larger_instances_search_keeps_every_rule_and_its_bound_holds(seed, monkeypatch):
    """Above `SMALL` sessions the timetable is improved by ruin and recreate beside a bound-proving CP-SAT
    search: on a small instance solved to OPTIMAL by the exact path, that search must keep every rule and
    neither its objective nor its bound (with `least`) may cross the proven optimum."""
    from podium.core.planning import solve as solving
    from podium.core.planning.explain import precheck
    from podium.core.planning.model import build

    instance = generate(seed, sessions=14, instructors=5, rooms=3, venues=3, weeks=3)
    exact = solve(instance.problem, time_limit=10, num_workers=1)
    assert exact.status == OPTIMAL
    assert solving.least(build(instance.problem, precheck(instance.problem))) <= exact.objective
    monkeypatch.setattr(solving, "SMALL", 0)
    other = solve(instance.problem, time_limit=2)
    assert other.unplaced == [] and violations(instance.problem, other.sessions) == []
    assert other.bound <= exact.objective <= other.objective


@pytest.mark.parametrize("seed", [6])
def test_sessions_cheapest_fit_leaves_out_are_placed_by_ejections_keeping_every_rule(seed):
    """On this planted instance (150 sessions, above `SMALL`) cheapest fit leaves 6 sessions out;
    the ejection chains of ruin and recreate place them all, and the timetable breaks no rule."""
    instance = generate(seed, sessions=150, instructors=14, rooms=8, venues=5, weeks=3)
    solution = solve(instance.problem, time_limit=4)
    assert solution.unplaced == [] and len(solution.sessions) == len(instance.planted)
    assert violations(instance.problem, solution.sessions) == []
    assert solution.complete_seconds is not None and solution.bound <= solution.objective


def test_above_large_the_lean_model_gives_a_timetable_whose_objective_the_full_model_agrees_with(monkeypatch):
    """Above `LARGE` sessions the model is built lean (no constraints, no objective: CP-SAT does not run) and
    the objective is counted in Python: the full model, pinned to the same timetable, must count the same."""
    from podium.core.planning import solve as solving
    from podium.core.planning.explain import precheck
    from podium.core.planning.model import build

    instance = generate(2, sessions=30, instructors=6, rooms=4, venues=3, weeks=3)
    monkeypatch.setattr(solving, "LARGE", 10)
    solution = solve(instance.problem, time_limit=2)
    assert solution.unplaced == [] and violations(instance.problem, solution.sessions) == []
    full = build(instance.problem, precheck(instance.problem))
    index = {(instance.problem.requests[sv.request].key, sv.index): n for n, sv in enumerate(full.sessions)}
    assignments = [(-1, None, None)] * len(full.sessions)
    for placed in solution.sessions:
        n = index[(placed.request, placed.index)]
        choice = full.cands[full.sessions[n].request].parts.index(placed.parts)
        assignments[n] = (choice, placed.instructor_ids[0], placed.room_id)
    assert solving.score(full, solving._Values.assigned(full, assignments)) == solution.objective
