"""How failures reach a client: expected ones as `UserError` data in a payload, misuse of the
query itself as a GraphQL error with a `code` extension, anything else masked (see limits.py)."""
from __future__ import annotations

import re
from typing import TYPE_CHECKING, Annotated

import strawberry
from graphql import GraphQLError
from strawberry.types import Info

from podium.core.errors import DomainError, DomainWarning
from podium.core.errors import ErrorCode as CoreErrorCode
from podium.core.errors import WarningCode as CoreWarningCode

if TYPE_CHECKING:
    from .budgets.types import Budget

ErrorCode = strawberry.enum(CoreErrorCode, name="ErrorCode")


@strawberry.type(description="An expected failure of a mutation: nothing was changed.")
class UserError:
    code: ErrorCode
    message: str
    field: list[str] | None = strawberry.field(
        description='Path into the input, e.g. ["input", "endsAt"]; null when the error is not about one field.')


class ClientError(GraphQLError):
    """A request the API refuses as asked (bad cursor, page too large, not signed in): shown, never masked."""

    def __init__(self, message: str, code: CoreErrorCode = CoreErrorCode.INVALID, field: str | None = None) -> None:
        extensions = {"code": code.value} if field is None else {"code": code.value, "field": field}
        super().__init__(message, extensions=extensions)


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def field_path(field: str | None) -> list[str] | None:
    """A service's field name ("endsAt", "records.0.enrollmentId") as a path from the mutation's input."""
    if not field:
        return None
    return ["input", *(_camel(part) for part in re.split(r"[.]", field) if part)]


def user_error(error: DomainError) -> UserError:
    return UserError(code=error.code, message=error.message, field=field_path(error.field))


WarningCode = strawberry.enum(CoreWarningCode, name="WarningCode")


@strawberry.type(description="Something the caller should know about a change that went through: warnings are "
                              "data, like errors, and change nothing.")
class Warning:
    code: WarningCode
    message: str
    budget_pk: strawberry.Private[int | None] = None

    @strawberry.field(description="BUDGET_EXCEEDED: the budget that is over.")
    async def budget(self, info: Info) -> Annotated["Budget", strawberry.lazy("podium.schema.budgets.types")] | None:
        return None if self.budget_pk is None else await info.context.loaders.budgets.load(self.budget_pk)


def warning(found: DomainWarning) -> Warning:
    return Warning(code=found.code, message=found.message, budget_pk=found.budget_id)
