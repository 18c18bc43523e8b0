"""Hardening that is on by default: document size, depth and aliases, parse/validation caches, the
cost of each operation (refused before execution over the caller's limit), and masking of
unexpected errors (logged with the request id the client sees)."""
from __future__ import annotations

import logging
import re
from collections import OrderedDict
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from graphql import (
    FieldNode, FragmentDefinitionNode, FragmentSpreadNode, GraphQLError, OperationDefinitionNode, ValidationRule,
    get_operation_ast, parse,
)
from graphql.validation import NoSchemaIntrospectionCustomRule
from starlette.responses import Response
from strawberry.extensions import MaskErrors
from strawberry.schema.schema import validate_document

from podium.core.db import is_unavailable
from podium.core.settings import Settings
from podium.core.text_search import MAX_TERM

from .cost import CyclicFragment, operation_cost_and_reads
from .errors import ClientError

log = logging.getLogger("podium.graphql")

MAX_DEPTH = 12
MAX_TOKENS = 2_000
MAX_ALIASES = 30
MASKED_MESSAGE = "Unexpected error."
UNAVAILABLE_MESSAGE = "The database is unavailable (unreachable, full or read-only); try again later."
RETRY_AFTER_SECONDS = 5
DOCUMENTS_KEPT = 512  # parsed and validated documents cached, by query text


@dataclass(frozen=True)
class CostLimits:
    """The most an operation may cost: signed-in callers, anonymous ones (PODIUM_MAX_*QUERY_COST)."""

    signed_in: int = Settings.max_query_cost
    anonymous: int = Settings.max_anonymous_query_cost


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


class _FragmentMeasure:
    """A number per selection, each fragment measured once (memoized): strawberry's depth and alias
    limiters expand every spread anew, so `fragment L2 { ...L1 ...L1 }` chains took 2^n steps."""

    def __init__(self, document) -> None:
        self.fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
        self.known: dict[str, int] = {}

    def fragment(self, name: str) -> int:
        if name not in self.known:
            self.known[name] = 0  # a cycle counts 0 here; graphql-core's NoFragmentCycles reports it
            definition = self.fragments.get(name)
            self.known[name] = self.measure(definition.selection_set) if definition else 0
        return self.known[name]


class _Depth(_FragmentMeasure):
    def measure(self, selection_set) -> int:
        deepest = 0
        for node in selection_set.selections:
            if isinstance(node, FieldNode):
                depth = 0 if node.name.value.startswith("__") or not node.selection_set \
                    else 1 + self.measure(node.selection_set)
            elif isinstance(node, FragmentSpreadNode):
                depth = self.fragment(node.name.value)
            else:
                depth = self.measure(node.selection_set)
            deepest = max(deepest, depth)
        return deepest


class _Aliases(_FragmentMeasure):
    def measure(self, selection_set) -> int:
        count = 0
        for node in selection_set.selections:
            if isinstance(node, FragmentSpreadNode):
                count += self.fragment(node.name.value)
                continue
            if isinstance(node, FieldNode) and node.alias:
                count += 1
            if node.selection_set:
                count += self.measure(node.selection_set)
        return count


class DepthAndAliasLimits(ValidationRule):
    """At most MAX_DEPTH nested fields per operation and MAX_ALIASES aliases per document, fragments
    expanded, in time linear in the document."""

    def __init__(self, context) -> None:
        super().__init__(context)
        document = context.document
        operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
        depth, aliases = _Depth(document), _Aliases(document)
        for operation in operations:
            if depth.measure(operation.selection_set) > MAX_DEPTH:
                name = operation.name.value if operation.name else "anonymous"
                context.report_error(GraphQLError(f"'{name}' exceeds maximum operation depth of {MAX_DEPTH}",
                                                  operation))
        total = sum(aliases.measure(operation.selection_set) for operation in operations)
        if total > MAX_ALIASES:
            context.report_error(GraphQLError(f"{total} aliases found. Allowed: {MAX_ALIASES}"))


SUGGESTION = re.compile(r"\s*Did you mean .*\?$")


def answer_unavailable(response: object) -> None:
    """The HTTP answer becomes 503 with Retry-After, so load balancers and clients know to retry."""
    if isinstance(response, Response):
        response.status_code = 503
        response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)


_COSTS: OrderedDict[int, tuple[Any, dict[str | None, int]]] = OrderedDict()
"""id(document) -> (document, cost by operation name) of documents whose cost depends on no variable.
The parser cache hands every request of one query text the same document object: an enrol costs it
once, not per request. Bounded like the parser cache."""
COSTS_KEPT = 512


def _remember_cost(document: Any, operation_name: str | None, cost: int) -> None:
    known = _COSTS.get(id(document))
    if known is None or known[0] is not document:
        known = _COSTS[id(document)] = (document, {})
        while len(_COSTS) > COSTS_KEPT:
            _COSTS.popitem(last=False)
    known[1][operation_name] = cost


@lru_cache(maxsize=DOCUMENTS_KEPT)
def _parse(query: str):
    return parse(query, max_tokens=MAX_TOKENS)


@lru_cache(maxsize=DOCUMENTS_KEPT)
def _validation_errors(schema, query: str, rules: tuple) -> list[GraphQLError]:
    """Keyed by the query's text, not its document: a document hashes its whole tree at every lookup."""
    return validate_document(schema, _parse(query), rules)
RULES = (DepthAndAliasLimits,)
RULES_HIDDEN = (DepthAndAliasLimits, NoSchemaIntrospectionCustomRule)


class Hardening(MaskErrors):
    """Every limit on an operation, as one extension: strawberry wraps each hook of each extension
    anew for every request, and as seven extensions (strawberry's parser and validation caches, token
    limit and validation rules, and ours) they cost ~60-90 us of CPU per request (a `{ __typename }`
    request: 640-705 -> 565-616 us, in process):

    - parse: at most MAX_TOKENS tokens; parsed documents cached by their text;
    - validate: depth and aliases (DepthAndAliasLimits), introspection refused when
      PODIUM_INTROSPECTION=false (the context's `introspection`; errors then lose their "Did you
      mean ...?" hints, which would spell the schema out anyway); results cached by document and rules;
    - execute: the operation's cost (cost.py) over the caller's limit is refused with QUERY_TOO_COSTLY
      before any resolver runs, and taken from the caller's rate limit (throttle.py); every answer
      reports `extensions.cost`. An operation costing more than an anonymous caller may ask for is
      heavy: heavy ones run one at a time per process (`Context.heavy_turns`), so a few clients looping
      them cannot crowd out everyone else;
    - answer: errors the client did not cause are masked (`is_unexpected`), logged with the request id
      the client sees; the database being unavailable is UNAVAILABLE with HTTP 503."""

    def __init__(self) -> None:
        super().__init__(should_mask_error=is_unexpected, error_message=MASKED_MESSAGE)
        self.cost: int | None = None

    def on_operation(self) -> Iterator[None]:
        context = self.execution_context
        hidden = getattr(context.context, "introspection", True) is False
        context.validation_rules = (*context.validation_rules, *(RULES_HIDDEN if hidden else RULES))
        yield
        if not self._stream_result_processed:  # a stream's results were masked one by one
            result = context.result
            self._process_result(getattr(result, "initial_result", None) or result)
        if hidden:
            for error in [*(context.pre_execution_errors or []), *(getattr(context.result, "errors", None) or [])]:
                error.message = SUGGESTION.sub("", error.message)

    def on_parse(self) -> Iterator[None]:
        context = self.execution_context
        context.graphql_document = _parse(context.query)
        yield

    def on_validate(self) -> Iterator[None]:
        context = self.execution_context
        context.pre_execution_errors = _validation_errors(context.schema._schema, context.query,
                                                          context.validation_rules)
        yield

    def _process_result(self, result: object) -> None:
        errors = getattr(result, "errors", None)
        if errors:
            result.errors = self._process_errors(errors)

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

    async def on_execute(self) -> AsyncIterator[None]:
        refusal = self.refusal() or await self.charge()
        if refusal is not None:
            raise refusal  # strawberry answers it as the operation's error; nothing has run
        request = self.execution_context.context
        turns = getattr(request, "heavy_turns", None)
        if turns is None or self.cost is None or self.cost <= self.limits().anonymous:
            yield
            return
        async with turns:  # heavy operations take turns, so cheap ones wait on one at most
            yield

    def limits(self) -> CostLimits:
        return getattr(self.execution_context.context, "cost_limits", None) or CostLimits()

    async def charge(self) -> GraphQLError | None:
        """Take the cost from the caller's rate limit (throttle.py); over it, RATE_LIMITED and HTTP 429."""
        request = self.execution_context.context
        throttle = getattr(request, "throttle", None)
        if throttle is None or self.cost is None:
            return None
        wait = await throttle.charge(request.rate_key, request.caller.signed_in, self.cost)
        if wait is None:
            return None
        response = request.response
        if isinstance(response, Response):
            response.status_code = 429
            response.headers["Retry-After"] = str(int(wait))
        return GraphQLError(f"Rate limit reached: this query costs {self.cost}; try again in {int(wait)} s.",
                            extensions={"code": "RATE_LIMITED", "cost": self.cost, "retryAfter": int(wait)})

    def refusal(self) -> GraphQLError | None:
        context = self.execution_context
        document = context.graphql_document
        known = _COSTS.get(id(document))
        self.cost = known[1].get(context.operation_name) if known is not None and known[0] is document else None
        if self.cost is None:
            operation = get_operation_ast(document, context.operation_name)
            if operation is None:
                return None  # graphql-core says why
            fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
            try:
                self.cost, read_variables = operation_cost_and_reads(context.schema._schema, operation, fragments,
                                                                     context.variables)
            except (CyclicFragment, RecursionError):
                return GraphQLError("The query's fragments are nested too deeply or spread themselves.",
                                    extensions={"code": "QUERY_TOO_COSTLY"})
            if not read_variables:  # the same for every request of this (cached) document
                _remember_cost(document, context.operation_name, self.cost)
        limits, caller = self.limits(), getattr(context.context, "caller", None)
        limit = limits.signed_in if caller is not None and caller.signed_in else limits.anonymous
        if self.cost <= limit:
            return None
        return GraphQLError(
            f"The query could return up to {self.cost} objects; the limit is {limit}. Ask for smaller pages "
            f"(first), fewer nested connections or fewer aliases.",
            extensions={"code": "QUERY_TOO_COSTLY", "cost": self.cost, "limit": limit})

    def get_results(self) -> dict:
        return {} if self.cost is None else {"cost": self.cost}


def extensions() -> list:
    """The factory strawberry calls for each request."""
    return [Hardening]
