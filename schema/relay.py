"""Relay conventions: the Node interface, opaque IDs, and connections that page in SQL by keyset."""
from __future__ import annotations

import base64
import binascii
from functools import lru_cache
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from typing import Generic, TypeVar

import strawberry

from podium.core.errors import DomainError, ErrorCode
from podium.core.ids import MAX_PK, from_global_id, to_global_id, type_words, with_article
from podium.core.instants import require_aware

from .errors import ClientError

DEFAULT_PAGE = 20
MAX_PAGE = 100

T = TypeVar("T")

global_id = lru_cache(maxsize=65_536)(to_global_id)  # a page names the same courses and instructors again and again


@strawberry.interface(description="An object with an opaque global ID; fetch any of them with `node(id:)`.")
class Node:
    id: strawberry.ID


@strawberry.type
class PageInfo:
    has_next_page: bool
    has_previous_page: bool
    start_cursor: str | None
    end_cursor: str | None


@strawberry.type
class Edge(Generic[T]):
    cursor: str
    node: T


@strawberry.type
class Connection(Generic[T]):
    edges: list[Edge[T]]
    page_info: PageInfo
    count_total: strawberry.Private[Callable[[], Awaitable[int]]]

    @strawberry.field(description="How many match, over all pages.")
    async def total_count(self) -> int:
        return await self.count_total()


def page_size(first: int | None) -> int:
    """`first` defaults to 20 and may not exceed 100: a bigger page is refused, not silently cut."""
    if first is None:
        return DEFAULT_PAGE
    if first < 0 or first > MAX_PAGE:
        raise ClientError(f"first must be between 0 and {MAX_PAGE}.")
    return first


def encode_cursor(*parts: object) -> str:
    return base64.urlsafe_b64encode("|".join(str(p) for p in parts).encode()).decode()


def decode_cursor(cursor: str | None, parts: int) -> list[str] | None:
    if cursor is None:
        return None
    try:
        values = base64.urlsafe_b64decode(cursor.encode()).decode().split("|")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        values = []
    if len(values) != parts:
        raise ClientError("after is not a cursor this connection gave out.")
    return values


def cursor_pk(value: str) -> int:
    """The id part of a cursor, refused unless it is one a row could have."""
    if not (value.isascii() and value.isdigit() and int(value) <= MAX_PK):
        raise ClientError("after is not a cursor this connection gave out.")
    return int(value)


def instant_after(after: str | None) -> tuple[datetime, int] | None:
    """The keyset position (instant, id) of a connection ordered by a time, then id."""
    values = decode_cursor(after, 2)
    if values is None:
        return None
    try:
        instant = require_aware(datetime.fromisoformat(values[0]), "after")
    except (ValueError, DomainError):
        raise ClientError("after is not a cursor this connection gave out.") from None
    return instant, cursor_pk(values[1])


def id_after(after: str | None) -> int | None:
    """The keyset position of an id-ordered connection."""
    values = decode_cursor(after, 1)
    return None if values is None else cursor_pk(values[0])


def connection(page: Sequence[T], has_next: bool, after: str | None, cursor_of: Callable[[T], str],
               count_total: Callable[[], Awaitable[int]]) -> Connection[T]:
    """A page fetched past the cursor; callers fetch one row more than asked to learn `has_next`."""
    edges = [Edge(cursor=cursor_of(item), node=item) for item in page]
    return Connection(edges=edges, count_total=count_total, page_info=PageInfo(
        has_next_page=has_next, has_previous_page=after is not None,
        start_cursor=edges[0].cursor if edges else None, end_cursor=edges[-1].cursor if edges else None))


def decode_id(global_id: str | None, type_name: str, field: str) -> int:
    """The database id behind a global ID of `type_name`; anything else names nothing."""
    decoded = from_global_id(global_id) if global_id else None
    if decoded is None or decoded[0] != type_name:
        raise DomainError(ErrorCode.NOT_FOUND, f"{global_id!r} is not the ID of {with_article(type_words(type_name))}.", field)
    return decoded[1]


def query_id(global_id: str, type_name: str, name: str) -> int:
    """`decode_id` for a query argument: a wrong ID is a GraphQL error, not a UserError."""
    try:
        return decode_id(global_id, type_name, name)
    except DomainError as error:
        raise ClientError(error.message, ErrorCode.NOT_FOUND) from None
