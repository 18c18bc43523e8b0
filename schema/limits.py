"""Hardening that is on by default: document size, depth and aliases, parse/validation caches,
and masking of unexpected errors (logged with the request id the client sees)."""
from __future__ import annotations

import logging
import re
from collections.abc import Iterator

from graphql import GraphQLError
from graphql.validation import NoSchemaIntrospectionCustomRule
from starlette.responses import Response
from strawberry.extensions import (
    AddValidationRules, MaskErrors, MaxAliasesLimiter, MaxTokensLimiter, ParserCache, QueryDepthLimiter,
    SchemaExtension, ValidationCache,
)

from podium.core.db import is_unavailable
from podium.core.text_search import MAX_TERM

from .errors import ClientError

log = logging.getLogger("podium.graphql")

MAX_DEPTH = 12
MAX_TOKENS = 2_000
MAX_ALIASES = 30
MASKED_MESSAGE = "Unexpected error."
UNAVAILABLE_MESSAGE = "The database is unavailable (unreachable, full or read-only); try again later."
RETRY_AFTER_SECONDS = 5


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
        context = self.execution_context.context
        request_id = getattr(context, "request_id", None)
        if is_unavailable(error.original_error):
            log.warning("database unavailable in %s (request %s): %s", ".".join(map(str, error.path or [])),
                        request_id, error.original_error)
            answer_unavailable(getattr(context, "response", None))
            return GraphQLError(UNAVAILABLE_MESSAGE, nodes=error.nodes, path=error.path,
                                extensions={"code": "UNAVAILABLE", "requestId": request_id})
        log.error("unexpected error in %s (request %s)", ".".join(map(str, error.path or [])) or "the operation",
                  request_id, exc_info=error.original_error)
        masked = super().anonymise_error(error)
        masked.extensions = {"code": "INTERNAL", "requestId": request_id}
        return masked


SUGGESTION = re.compile(r"\s*Did you mean .*\?$")


class IntrospectionSwitch(SchemaExtension):
    """With PODIUM_INTROSPECTION=false (the context's `introspection`), `__schema` and `__type` are
    refused and errors lose their "Did you mean ...?" hints, which would spell the schema out anyway."""

    def on_operation(self) -> Iterator[None]:
        context = self.execution_context
        hidden = getattr(context.context, "introspection", True) is False
        if hidden:
            context.validation_rules = (*context.validation_rules, NoSchemaIntrospectionCustomRule)
        yield
        if hidden:
            result = context.result
            for error in [*(context.pre_execution_errors or []), *(getattr(result, "errors", None) or [])]:
                error.message = SUGGESTION.sub("", error.message)


def answer_unavailable(response: object) -> None:
    """The HTTP answer becomes 503 with Retry-After, so load balancers and clients know to retry."""
    if isinstance(response, Response):
        response.status_code = 503
        response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)


def extensions() -> list:
    """Factories: strawberry builds fresh extension objects for each request. The depth and alias
    rules are made once, so the validation cache (keyed by document and rules) hits across requests."""
    rules = (QueryDepthLimiter(max_depth=MAX_DEPTH).validation_rules
             + MaxAliasesLimiter(max_alias_count=MAX_ALIASES).validation_rules)
    return [
        lambda: MaxTokensLimiter(max_token_count=MAX_TOKENS),
        lambda: ParserCache(maxsize=512),
        lambda: AddValidationRules(rules),
        IntrospectionSwitch,
        lambda: ValidationCache(maxsize=512),
        MaskUnexpectedErrors,
    ]
