"""The `Idempotency-Key` header on a mutation request: the whole operation and its answer are one
write transaction (each mutation field a savepoint), so the answer is stored exactly when the
change is; a retry with the key and the same body gets that answer (core/idempotency.py)."""
from __future__ import annotations

import hashlib
import json
from collections.abc import Awaitable, Callable
from typing import Any

from strawberry.http import GraphQLRequestData
from strawberry.types import ExecutionResult

from podium.core import idempotency
from podium.core.services.access import hash_token

from .context import Context

HEADER = "idempotency-key"
# Faults of ours, not answers: with a key, they undo the whole operation and nothing is stored.
RETRYABLE_CODES = frozenset({"INTERNAL", "UNAVAILABLE", "TIMEOUT"})


class NotStored(Exception):
    """The operation hit a fault: everything it did was rolled back, so the client may simply retry."""


class Unexecuted(Exception):
    """A document refused before it ran (validation, cost) or whose result is null: as Stripe does,
    nothing is stored, so the key is free for the retry; rolled back, as nothing should stand."""

    def __init__(self, answer: dict[str, Any]) -> None:
        super().__init__("not executed")
        self.answer = answer


class StoredAnswer(ExecutionResult):
    """The response body a keyed request got (or gets again), already in its JSON form."""

    def __init__(self, answer: dict[str, Any], replayed: bool) -> None:
        super().__init__(data=None, errors=None)
        self.answer, self.replayed = answer, replayed


def fingerprint(request_data: GraphQLRequestData) -> str:
    """The same request means the same query, variables and operationName."""
    body = [request_data.query, request_data.variables, request_data.operation_name]
    return hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def scope_of(context: Context, token: str | None) -> str:
    """Keys belong to the token that used them (as Stripe's belong to an API key); all anonymous
    callers share one scope."""
    return hash_token(token) if token and context.caller.signed_in else "anonymous"


async def execute_once(context: Context, scope: str, key: str, request_data: GraphQLRequestData,
                       execute: Callable[[], Awaitable[ExecutionResult]],
                       render: Callable[[ExecutionResult], Awaitable[dict[str, Any]]]) -> StoredAnswer:
    """Run the operation and store its rendered answer in one transaction, or return the stored one.
    Raises DomainError(IDEMPOTENCY_KEY_REUSED) for another body, NotStored after a fault."""
    try:
        async with context.changing_as_one() as db:
            async with context.lock:
                stored = await idempotency.claim(db, scope, key, fingerprint(request_data))
            if stored is not None:
                return StoredAnswer(json.loads(stored), replayed=True)
            result = await execute()
            if any((error.extensions or {}).get("code") in RETRYABLE_CODES for error in result.errors or ()):
                raise NotStored
            answer = await render(result)
            if result.data is None:
                raise Unexecuted(answer)
            async with context.lock:
                await idempotency.store_answer(db, scope, key, json.dumps(answer, separators=(",", ":")))
    except Unexecuted as unexecuted:
        return StoredAnswer(unexecuted.answer, replayed=False)
    return StoredAnswer(answer, replayed=False)
