"""How failures reach a client: expected ones as `UserError` data in a payload, misuse of the
query itself as a GraphQL error with a `code` extension, anything else masked (see limits.py)."""
from __future__ import annotations

import re

import strawberry
from graphql import GraphQLError

from podium.core.errors import DomainError
from podium.core.errors import ErrorCode as CoreErrorCode

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
