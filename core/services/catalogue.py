"""Courses, people, venues and resources: the things sessions are made of."""
from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from .. import limits, working_hours
from ..audit import Actor, record_change
from ..errors import DomainError, ErrorCode
from ..events import emit
from ..ids import to_global_id
from ..models import Course, Person, Qualification, Resource, ResourceKind, Venue
from .capacity import check_room_keeps_sessions
from .conferencing import check_conferencing
from .records import get_or_404, snapshot


def _require_positive(value: int | None, field: str, allow_none: bool = False) -> int | None:
    if value is None and allow_none:
        return None
    if value is None or value <= 0 or value > 100_000:
        raise DomainError(ErrorCode.INVALID, f"{field} must be a whole number between 1 and 100000.", field)
    return value


def _names(values: list[str] | None, field: str) -> list[str]:
    """A course's required qualifications: at most limits.LIST, each a name, sorted, once each; blank items
    are dropped."""
    return sorted({limits.text(v, f"{field}.{i}") for i, v in enumerate(limits.items(values, field))
                   if isinstance(v, str) and v.strip()})


def _features(values: list[str] | None) -> list[str]:
    """A room's or a kit's features, in the order given: at most limits.LIST, each a name."""
    return [limits.text(v, f"features.{i}") for i, v in enumerate(limits.items(values, "features"))]


def _description(value: str | None) -> str | None:
    return limits.text(value, "description", limits.DESCRIPTION, required=False, multiline=True)


async def _flush_unique(db: AsyncSession, what: str, field: str) -> None:
    try:
        await db.flush()
    except IntegrityError:
        raise DomainError(ErrorCode.DUPLICATE, f"{what} is already taken.", field) from None


# --- courses ---------------------------------------------------------------------------

async def create_course(db: AsyncSession, actor: Actor, *, code: str, title: str, duration_minutes: int,
                        default_capacity: int, description: str | None = None,
                        required_qualifications: list[str] | None = None,
                        certification_validity_days: int | None = None,
                        default_conferencing: str | None = None,
                        minimum_parts_attended: int | None = None) -> Course:
    code = limits.text(code, "code", limits.CODE)
    course = Course(default_conferencing=check_conferencing(db, default_conferencing, "defaultConferencing"),
                    code=code, title=limits.text(title, "title"), description=_description(description),
                    duration_minutes=_require_positive(duration_minutes, "durationMinutes"),
                    default_capacity=_require_positive(default_capacity, "defaultCapacity"),
                    required_qualifications=_names(required_qualifications, "requiredQualifications"),
                    certification_validity_days=_require_positive(certification_validity_days, "certificationValidityDays", True),
                    minimum_parts_attended=_require_positive(minimum_parts_attended, "minimumPartsAttended", True))
    if await db.scalar(select(func.count()).where(Course.code == code)):
        raise DomainError(ErrorCode.DUPLICATE, f"Course code {code!r} is already taken.", "code")
    db.add(course)
    await _flush_unique(db, f"Course code {code!r}", "code")
    record_change(db, actor, "course.create", "Course", course.id, None, snapshot(course))
    return course


async def update_course(db: AsyncSession, actor: Actor, course_id: int, **changes: Any) -> Course:
    course = await get_or_404(db, Course, course_id, "courseId")
    before = snapshot(course)
    checks = {"title": lambda v: limits.text(v, "title"),
              "description": _description,
              "duration_minutes": lambda v: _require_positive(v, "durationMinutes"),
              "default_capacity": lambda v: _require_positive(v, "defaultCapacity"),
              "required_qualifications": lambda v: _names(v, "requiredQualifications"),
              "certification_validity_days": lambda v: _require_positive(v, "certificationValidityDays", True),
              "default_conferencing": lambda v: check_conferencing(db, v, "defaultConferencing"),
              "minimum_parts_attended": lambda v: _require_positive(v, "minimumPartsAttended", True)}
    for name, value in changes.items():
        if name not in checks:
            raise DomainError(ErrorCode.INVALID, f"A course has no changeable field {name!r}.", name)
        setattr(course, name, checks[name](value))
    await db.flush()
    record_change(db, actor, "course.update", "Course", course.id, before, snapshot(course))
    return course


# --- people ----------------------------------------------------------------------------

async def create_person(db: AsyncSession, actor: Actor, *, name: str, email: str, timezone: str,
                        external_ids: dict[str, str] | None = None, phone: str | None = None) -> Person:
    email = limits.email(email)
    person = Person(name=limits.text(name, "name"), email=email, timezone=limits.timezone(timezone),
                    phone=limits.phone(phone), external_ids=dict(external_ids or {}))
    if await db.scalar(select(func.count()).where(Person.email == email)):
        raise DomainError(ErrorCode.DUPLICATE, f"Email {email} is already taken.", "email")
    db.add(person)
    await _flush_unique(db, f"Email {email}", "email")
    record_change(db, actor, "person.create", "Person", person.id, None, snapshot(person))
    return person


async def update_person(db: AsyncSession, actor: Actor, person_id: int, **changes: Any) -> Person:
    person = await get_or_404(db, Person, person_id, "personId")
    before = snapshot(person)
    checks = {"name": lambda v: limits.text(v, "name"),
              "email": limits.email,
              "timezone": limits.timezone,
              "phone": limits.phone,
              "external_ids": lambda v: {**person.external_ids, **(v or {})}}
    for name, value in changes.items():
        if name not in checks:
            raise DomainError(ErrorCode.INVALID, f"A person has no changeable field {name!r}.", name)
        setattr(person, name, checks[name](value))
    await _flush_unique(db, f"Email {person.email}", "email")
    record_change(db, actor, "person.update", "Person", person.id, before, snapshot(person))
    return person


# --- venues and resources --------------------------------------------------------------

def _address(value: str | None) -> str | None:
    return limits.text(value, "address", limits.NOTE, required=False, multiline=True)


VENUE_CHECKS = {"name": lambda v: limits.text(v, "name"),
                "address": _address,
                "city": lambda v: limits.text(v, "city", required=False),
                "country": lambda v: limits.text(v, "country", required=False),
                "timezone": limits.timezone}


def _venue_event(db: AsyncSession, venue: Venue, what: str) -> None:
    emit(db, f"venue.{what}", {"venue": to_global_id("Venue", venue.id), "name": venue.name, "city": venue.city,
                               "country": venue.country, "timezone": venue.timezone})


async def create_venue(db: AsyncSession, actor: Actor, *, name: str, timezone: str, address: str | None = None,
                       city: str | None = None, country: str | None = None, source: str | None = None,
                       external_id: str | None = None) -> Venue:
    given = {"name": name, "timezone": timezone, "address": address, "city": city, "country": country}
    venue = Venue(**{field: VENUE_CHECKS[field](value) for field, value in given.items()},
                  source=limits.text(source, "source", limits.CODE, required=False),
                  external_id=limits.text(external_id, "externalId", limits.REF, required=False))
    db.add(venue)
    await _flush_unique(db, f"Venue {external_id!r} from {source!r}", "externalId")
    record_change(db, actor, "venue.create", "Venue", venue.id, None, snapshot(venue))
    _venue_event(db, venue, "created")
    return venue


async def update_venue(db: AsyncSession, actor: Actor, venue_id: int, **changes: Any) -> Venue:
    """Change a venue's name, address, city, country or timezone (its rooms keep their own timezone)."""
    venue = await get_or_404(db, Venue, venue_id, "venueId", lock=True)
    before = snapshot(venue)
    for name, value in changes.items():
        if name not in VENUE_CHECKS:
            raise DomainError(ErrorCode.INVALID, f"A venue has no changeable field {name!r}.", name)
        setattr(venue, name, VENUE_CHECKS[name](value))
    await db.flush()
    record_change(db, actor, "venue.update", "Venue", venue.id, before, snapshot(venue))
    _venue_event(db, venue, "updated")
    return venue


def _qualifications(items: list[tuple[str, date | None]] | None) -> list[Qualification]:
    seen: dict[str, date | None] = {}
    for index, (name, valid_until) in enumerate(limits.items(items, "qualifications")):
        name = limits.text(name, f"qualifications.{index}.name")
        seen[name] = valid_until
    return [Qualification(name=n, valid_until=v) for n, v in seen.items()]


def _check_resource_shape(kind: ResourceKind, capacity: int | None, email: str | None,
                          venue_id: int | None = None) -> None:
    if kind is ResourceKind.ROOM and capacity is None:
        raise DomainError(ErrorCode.INVALID, "A room needs a capacity.", "capacity")
    if kind is not ResourceKind.ROOM and capacity is not None:
        raise DomainError(ErrorCode.INVALID, "Only rooms have a capacity.", "capacity")
    if kind is not ResourceKind.INSTRUCTOR and email is not None:
        raise DomainError(ErrorCode.INVALID, "Only instructors have an email.", "email")
    if kind is not ResourceKind.ROOM and venue_id is not None:
        raise DomainError(ErrorCode.INVALID, "Only rooms are in a venue.", "venueId")


def _calendar_url(kind: ResourceKind, url: str | None) -> str | None:
    """A room's busy-time feed: an http(s) or webcal iCalendar address, read by the venues plugin."""
    url = (url or "").strip() or None
    if url is None:
        return None
    if kind is not ResourceKind.ROOM:
        raise DomainError(ErrorCode.INVALID, "Only rooms have a calendar URL.", "calendarUrl")
    if not url.lower().startswith(("https://", "http://", "webcal://")) or len(url) > limits.URL or " " in url:
        raise DomainError(ErrorCode.INVALID, "calendarUrl must be an http(s) or webcal address.", "calendarUrl")
    return url


async def create_resource(db: AsyncSession, actor: Actor, *, kind: ResourceKind, name: str, timezone: str,
                          capacity: int | None = None, email: str | None = None,
                          qualifications: list[tuple[str, date | None]] | None = None,
                          venue_id: int | None = None,
                          features: list[str] | None = None, source: str | None = None,
                          external_id: str | None = None, calendar_url: str | None = None,
                          weekly_hours: list[tuple[str, str, str]] | None = None) -> Resource:
    """`weekly_hours`: (weekday, "09:00", "17:00") triples on the resource's clock; None: its kind's default
    (availability.set_working_hours changes them later)."""
    kind = ResourceKind(kind)
    weekly = None if weekly_hours is None else working_hours.weekly_hours(
        limits.items(weekly_hours, "workingHours", 7 * working_hours.MAX_RANGES_PER_DAY), "workingHours")
    _check_resource_shape(kind, capacity, email, venue_id)
    if venue_id is not None:
        await get_or_404(db, Venue, venue_id, "venueId")
    resource = Resource(kind=kind, name=limits.text(name, "name"), timezone=limits.timezone(timezone),
                        capacity=_require_positive(capacity, "capacity", True),
                        email=limits.email(email) if email else None, venue_id=venue_id,
                        features=_features(features),
                        source=limits.text(source, "source", limits.CODE, required=False),
                        external_id=limits.text(external_id, "externalId", limits.REF, required=False),
                        calendar_url=_calendar_url(kind, calendar_url), qualifications=_qualifications(qualifications),
                        weekly_hours=None if weekly is None else [list(entry) for entry in weekly])
    db.add(resource)
    await _flush_unique(db, f"Resource {external_id!r} from {source!r}", "externalId")
    record_change(db, actor, "resource.create", "Resource", resource.id, None, resource_snapshot(resource))
    return resource


async def update_resource(db: AsyncSession, actor: Actor, resource_id: int, **changes: Any) -> Resource:
    """Change a resource; `qualifications` replaces the whole list. Room capacity may not drop
    below a booked session's capacity (rule 1)."""
    resource = await db.scalar(select(Resource).where(Resource.id == resource_id)
                               .options(selectinload(Resource.qualifications)).with_for_update())
    if resource is None:
        raise DomainError(ErrorCode.NOT_FOUND, f"No resource {resource_id}.", "resourceId")
    before = resource_snapshot(resource)
    for name, value in changes.items():
        if name == "qualifications":
            _replace_qualifications(resource, _qualifications(value))
        elif name == "email":
            resource.email = limits.email(value) if value else None
        elif name == "calendar_url":
            resource.calendar_url = _calendar_url(resource.kind, value)
        elif name == "venue_id":
            resource.venue_id = None if value is None else (await get_or_404(db, Venue, value, "venueId")).id
        elif name == "name":
            resource.name = limits.text(value, "name")
        elif name == "timezone":
            resource.timezone = limits.timezone(value)
        elif name == "features":
            resource.features = _features(value)
        elif name == "capacity":
            resource.capacity = value
        else:
            raise DomainError(ErrorCode.INVALID, f"A resource has no changeable field {name!r}.", name)
    _check_resource_shape(resource.kind, resource.capacity, resource.email, resource.venue_id)
    _require_positive(resource.capacity, "capacity", allow_none=True)
    if "capacity" in changes:
        await check_room_keeps_sessions(db, resource)
    await db.flush()
    record_change(db, actor, "resource.update", "Resource", resource.id, before, resource_snapshot(resource))
    return resource


def _replace_qualifications(resource: Resource, wanted: list[Qualification]) -> None:
    """The resource's qualifications become `wanted`, changed in place: one kept by name gets its new
    date (replacing the list would insert the new row before deleting the old one of the same name, and
    the unique (resource, name) refuses that)."""
    dates = {q.name: q.valid_until for q in wanted}
    for held in list(resource.qualifications):
        if held.name in dates:
            held.valid_until = dates.pop(held.name)
        else:
            resource.qualifications.remove(held)
    resource.qualifications.extend(Qualification(name=n, valid_until=v) for n, v in dates.items())
    resource.qualifications.sort(key=lambda q: q.name)


def resource_snapshot(resource: Resource) -> dict[str, Any]:
    data = snapshot(resource)
    data["qualifications"] = [{"name": q.name, "valid_until": q.valid_until.isoformat() if q.valid_until else None}
                              for q in resource.qualifications]
    return data
