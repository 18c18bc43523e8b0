"""Hardening that is on by default: document size, depth and aliases, parse/validation caches,
and masking of unexpected errors (logged with the request id the client sees)."""
from __future__ import annotations

import logging

from graphql import GraphQLError
from strawberry.extensions import (
    AddValidationRules, MaskErrors, MaxAliasesLimiter, MaxTokensLimiter, ParserCache, QueryDepthLimiter,
    ValidationCache,
)

from podium.core.text_search import MAX_TERM

from .errors import ClientError

log = logging.getLogger("podium.graphql")

MAX_DEPTH = 12
MAX_TOKENS = 2_000
MAX_ALIASES = 30
MASKED_MESSAGE = "Unexpected error."


def query_term(value: str, name: str) -> str:
    """A search term or name in a query's filter, trimmed; a longer one than MAX_TERM is refused before
    any SQL runs (INVALID, naming the argument), so a huge term is never a slow query."""
    value = value.strip()
    if len(value) > MAX_TERM:
        raise ClientError(f"{name} is longer than {MAX_TERM} characters.", field=name)
    return value


def is_unexpected(error: GraphQLError) -> bool:
    """Errors the client caused (validation, bad variables, ClientError) are shown; a crash inside a
    resolver is not. A scalar that refuses a literal or a variable with a plain exception (an Int of
    5,000 digits) is a validation error, located in the document but on no path: shown too."""
    original = error.original_error
    if original is None or isinstance(original, GraphQLError):
        return False
    return error.path is not None or not error.nodes


class MaskUnexpectedErrors(MaskErrors):
    def __init__(self) -> None:
        super().__init__(should_mask_error=is_unexpected, error_message=MASKED_MESSAGE)

    def anonymise_error(self, error: GraphQLError) -> GraphQLError:
        request_id = getattr(self.execution_context.context, "request_id", None)
        log.error("unexpected error in %s (request %s)", ".".join(map(str, error.path or [])) or "the operation",
                  request_id, exc_info=error.original_error)
        masked = super().anonymise_error(error)
        masked.extensions = {"code": "INTERNAL", "requestId": request_id}
        return masked


def extensions() -> list:
    """Factories: strawberry builds fresh extension objects for each request. The depth and alias
    rules are made once, so the validation cache (keyed by document and rules) hits across requests."""
    rules = (QueryDepthLimiter(max_depth=MAX_DEPTH).validation_rules
             + MaxAliasesLimiter(max_alias_count=MAX_ALIASES).validation_rules)
    return [
        lambda: MaxTokensLimiter(max_token_count=MAX_TOKENS),
        lambda: ParserCache(maxsize=512),
        lambda: AddValidationRules(rules),
        lambda: ValidationCache(maxsize=512),
        MaskUnexpectedErrors,
    ]
