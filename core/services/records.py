"""Small shared pieces of every service: loading by id and snapshotting rows for audit and events."""
from __future__ import annotations

import enum
from datetime import date, datetime
from typing import Any, TypeVar

from sqlalchemy import inspect
from sqlalchemy.ext.asyncio import AsyncSession

from ..errors import DomainError, ErrorCode
from ..ids import type_words

T = TypeVar("T")


async def get_or_404(db: AsyncSession, model: type[T], pk: int | None, field: str, *, lock: bool = False) -> T:
    obj = await db.get(model, pk, with_for_update=lock) if pk is not None else None
    if obj is None:
        raise DomainError(ErrorCode.NOT_FOUND, f"No {type_words(model.__name__)} with that id.", field)
    return obj


def _json_ready(value: Any) -> Any:
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    return value


def _snapshot_keys(model: type) -> tuple[str, ...]:
    keys = _SNAPSHOT_KEYS.get(model)
    if keys is None:
        keys = _SNAPSHOT_KEYS[model] = tuple(attr.key for attr in inspect(model).column_attrs
                                             if not attr.columns[0].info.get("derived"))
    return keys


_SNAPSHOT_KEYS: dict[type, tuple[str, ...]] = {}


def snapshot_values(model: type, values: Any) -> dict[str, Any]:
    """`snapshot` of a row written with a statement: `values` maps (or has attributes for) every column."""
    get = values.__getitem__ if isinstance(values, dict) else values._mapping.__getitem__
    return {key: _json_ready(get(key)) for key in _snapshot_keys(model)}


def snapshot(obj: Any) -> dict[str, Any]:
    """The row's column values, JSON-ready, for audit before/after (not the derived search keys)."""
    return {attr.key: _json_ready(getattr(obj, attr.key)) for attr in inspect(obj).mapper.column_attrs
            if not attr.columns[0].info.get("derived")}
