"""Rule 6: every change is written to the audit log in its own transaction."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

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
    """The values of a change's audit row (`AUDIT_TABLE`), for `record_change`, or for statements that write
    it with other rows (core.db.insert_rows)."""
    return {"at": utc_now(), "actor": actor.label, "action": action, "target_type": target_type,
            "target_id": target_id, "before": before, "after": after}


def record_change(db: AsyncSession, actor: Actor, action: str, target_type: str, target_id: int | None,
                  before: dict[str, Any] | None, after: dict[str, Any] | None) -> AuditEntry:
    """The audit row of a change, written with the transaction's next flush."""
    entry = AuditEntry(**change_row(actor, action, target_type, target_id, before, after))
    db.add(entry)
    return entry


AUDIT_TABLE = AuditEntry.__table__
