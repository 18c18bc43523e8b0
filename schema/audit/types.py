"""An audit entry as an ADMIN reads it."""
from __future__ import annotations

import json
from datetime import datetime

import strawberry

from podium.core.ids import to_global_id

from ..relay import Connection


@strawberry.type(description="One change, written in the same transaction as the change itself (rule 6).")
class AuditEntry:
    id: int = strawberry.field(description="The row id; entries are numbered in the order they were written.")
    at: datetime
    actor: str = strawberry.field(description="Who: `api:person:<id>` (a person's token), `api:admin-token`, "
                                  "`demo`, `cli:<command>`, a plugin or worker.")
    action: str = strawberry.field(description="What, e.g. `enrollment.cancel`, `attendance.record`.")
    target_type: str = strawberry.field(description="The kind of thing changed, e.g. `Enrollment`.")
    target_id: strawberry.ID | None = strawberry.field(description="The global ID of the thing changed.")
    before: str | None = strawberry.field(description="Its recorded state before, as JSON text.")
    after: str | None = strawberry.field(description="Its recorded state after, as JSON text.")


@strawberry.type
class AuditEntryConnection(Connection[AuditEntry]):
    pass


def _json(value) -> str | None:
    return None if value is None else json.dumps(value, sort_keys=True, ensure_ascii=False)


def audit_entry_from(row) -> AuditEntry:
    return AuditEntry(id=row.id, at=row.at, actor=row.actor, action=row.action, target_type=row.target_type,
                      target_id=None if row.target_id is None else to_global_id(row.target_type, row.target_id),
                      before=_json(row.before), after=_json(row.after))
