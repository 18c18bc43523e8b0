"""Rule 6: every change is written to the audit log in its own transaction."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession

from .instants import utc_now
from .models import AuditEntry, Role


@dataclass(frozen=True)
class Actor:
    """Who makes a change: a person with a role, or the system (a plugin, the demo, a worker)."""

    label: str
    person_id: int | None = None
    role: Role | None = None

    @classmethod
    def system(cls, what: str = "system") -> "Actor":
        return cls(label=what, role=Role.ADMIN)


def person_actor(person_id: int) -> str:
    """The actor label of a change made with a person's token: what `auditLog(actorId:)` looks for."""
    return f"api:person:{person_id}"


def change_row(actor: Actor, action: str, target_type: str, target_id: int | None, before: dict[str, Any] | None,
               after: dict[str, Any] | None) -> dict[str, Any]:
    """The values of a change's audit row (`AUDIT_TABLE`), for `record_change`, `write_change` or a
    statement that writes it with other rows (core.db.insert_rows)."""
    return {"at": utc_now(), "actor": actor.label, "action": action, "target_type": target_type,
            "target_id": target_id, "before": before, "after": after}


def record_change(db: AsyncSession, actor: Actor, action: str, target_type: str, target_id: int | None,
                  before: dict[str, Any] | None, after: dict[str, Any] | None) -> AuditEntry:
    """The audit row of a change, written with the transaction's next flush."""
    entry = AuditEntry(**change_row(actor, action, target_type, target_id, before, after))
    db.add(entry)
    return entry


AUDIT_TABLE = AuditEntry.__table__
INSERT_ENTRY = insert(AUDIT_TABLE)  # the table, not the entity: no ORM bulk-insert layer


async def write_change(db: AsyncSession, actor: Actor, action: str, target_type: str, target_id: int | None,
                       before: dict[str, Any] | None, after: dict[str, Any] | None) -> None:
    """`record_change` written at once, one INSERT without the unit of work: for a hot path (enrol)
    that makes its change with statements rather than ORM objects."""
    await db.execute(INSERT_ENTRY, change_row(actor, action, target_type, target_id, before, after))
