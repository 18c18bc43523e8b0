"""Inputs of the catalogue operations."""
from __future__ import annotations

from datetime import date

import strawberry

from .types import ResourceKind


@strawberry.input
class CreateCourseInput:
    code: str
    title: str
    duration_minutes: int
    default_capacity: int
    description: str | None = None
    required_qualifications: list[str] | None = None


@strawberry.input
class CreatePersonInput:
    name: str
    email: str
    timezone: str


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
