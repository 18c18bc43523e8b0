"""Inputs of the catalogue operations."""
from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING, Annotated

import strawberry

from .types import ResourceKind

if TYPE_CHECKING:
    from ..availability.inputs import WorkingHoursInput


@strawberry.input
class CreateCourseInput:
    code: str
    title: str
    duration_minutes: int
    default_capacity: int
    description: str | None = None
    required_qualifications: list[str] | None = None
    certification_validity_days: int | None = strawberry.field(
        default=None, description="How long a certification from this course's programs lasts; null: no expiry.")
    default_conferencing: str | None = strawberry.field(default=None, description=(
        "The conferencing provider this course's VIRTUAL and HYBRID sessions use when scheduleSession names "
        "none: a loaded provider's name (e.g. `zoom`) or `manual`; null: PODIUM_DEFAULT_CONFERENCING."))
    minimum_parts_attended: int | None = strawberry.field(default=None, description=(
        "How many parts of a multi-part session a learner attends to have attended the session; null: every part."))


@strawberry.input
class CreatePersonInput:
    name: str
    email: str
    timezone: str
    phone: str | None = strawberry.field(default=None, description=(
        "International form with + and the country code (e.g. +44 20 7946 0958); stored as E.164. For SMS "
        "channels."))


@strawberry.input
class QualificationInput:
    name: str
    valid_until: date | None = None


@strawberry.input
class CreateResourceInput:
    kind: ResourceKind
    name: str
    timezone: str
    capacity: int | None = None
    email: str | None = None
    qualifications: list[QualificationInput] | None = None
    calendar_url: str | None = strawberry.field(default=None, description="Rooms: an iCalendar feed (http, https or "
                                                "webcal) of when the room is busy outside Podium.")
    venue_id: strawberry.ID | None = strawberry.field(default=None, description="Rooms: the venue the room is in.")
    working_hours: list[Annotated["WorkingHoursInput", strawberry.lazy("podium.schema.availability.inputs")]] | None = (
        strawberry.field(default=None, description="Weekly hours on the resource's clock; default Monday to Friday "
                                                   "09:00-17:00 (instructors, rooms) or always (equipment)."))


@strawberry.input
class CreateVenueInput:
    name: str
    timezone: str
    address: str | None = strawberry.field(default=None, description="The street address, as written for people.")
    city: str | None = None
    country: str | None = None


@strawberry.input(description="Only the fields given change; null clears address, city or country.")
class UpdateVenueInput:
    venue_id: strawberry.ID
    name: str | None = strawberry.UNSET
    timezone: str | None = strawberry.UNSET
    address: str | None = strawberry.UNSET
    city: str | None = strawberry.UNSET
    country: str | None = strawberry.UNSET


@strawberry.input(description="The travel time between two venues, the same both ways.")
class SetTravelTimeInput:
    from_venue_id: strawberry.ID
    to_venue_id: strawberry.ID = strawberry.field(description="Another venue than fromVenueId.")
    minutes: int = strawberry.field(description="0 to 1440; 0 removes the travel time.")


@strawberry.input
class VenueFilter:
    city: str | None = strawberry.field(default=None, description="Venues in this city (case-insensitive).")


@strawberry.input(description="Only the fields given change; null clears what may be empty.")
class UpdateCourseInput:
    course_id: strawberry.ID
    title: str | None = strawberry.UNSET
    description: str | None = strawberry.UNSET
    duration_minutes: int | None = strawberry.UNSET
    default_capacity: int | None = strawberry.UNSET
    required_qualifications: list[str] | None = strawberry.UNSET
    certification_validity_days: int | None = strawberry.UNSET
    default_conferencing: str | None = strawberry.field(default=strawberry.UNSET, description=(
        "A loaded conferencing provider's name or `manual`; null: PODIUM_DEFAULT_CONFERENCING."))
    minimum_parts_attended: int | None = strawberry.UNSET


@strawberry.input(description="Only the fields given change.")
class UpdatePersonInput:
    person_id: strawberry.ID
    name: str | None = strawberry.UNSET
    email: str | None = strawberry.UNSET
    timezone: str | None = strawberry.UNSET
    phone: str | None = strawberry.field(default=strawberry.UNSET, description="As in createPerson; null removes it.")


@strawberry.input(description="Only the fields given change; `qualifications` replaces the whole list. A room "
                              "cannot shrink below a booked session's capacity.")
class UpdateResourceInput:
    resource_id: strawberry.ID
    name: str | None = strawberry.UNSET
    timezone: str | None = strawberry.UNSET
    capacity: int | None = strawberry.UNSET
    email: str | None = strawberry.UNSET
    calendar_url: str | None = strawberry.field(default=strawberry.UNSET, description="Rooms: an iCalendar feed "
                                                "(http, https or webcal) of when the room is busy outside Podium.")
    qualifications: list[QualificationInput] | None = strawberry.UNSET
    venue_id: strawberry.ID | None = strawberry.field(default=strawberry.UNSET, description="Rooms: the venue the "
                                                      "room is in; null: none.")


def given(input: object, *names: str) -> dict:
    """The fields a client sent (null included), as the catalogue service's keyword arguments."""
    return {name: getattr(input, name) for name in names if getattr(input, name) is not strawberry.UNSET}
