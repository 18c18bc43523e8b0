"""GraphQL over HTTP and WebSocket: the per-request context, a body size limit, and client
mistakes answered as 4xx with GraphQL `errors`, never 500."""
from __future__ import annotations

import asyncio
import json
import logging
import re
import time
from collections.abc import Callable
from typing import Any, Protocol

from cross_web import HTTPException
from graphql import GraphQLError, OperationDefinitionNode, OperationType, parse
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import Message, Receive, Scope, Send
from strawberry.asgi import GraphQL
from strawberry.exceptions import ConnectionRejectionError
from strawberry.http import GraphQLRequestData
from strawberry.schema import BaseSchema
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import BaseGraphQLTransportWSHandler
from strawberry.types.unset import UNSET

from podium.core.db import is_unavailable
from podium.core.errors import DomainError
from podium.core.events import EventBus
from podium.core.idempotency import key_refusal

from .access.callers import Caller, TokenCheck, Unauthenticated, authenticate, bearer, is_text
from .context import REQUEST_ID_KEY, Context
from .idempotency import HEADER as IDEMPOTENCY_HEADER
from .idempotency import NotStored, StoredAnswer, execute_once, scope_of
from .limits import MAX_TOKENS, UNAVAILABLE_MESSAGE, CostLimits, answer_unavailable
from .throttle import RateLimited, Throttle, token_key

log = logging.getLogger("podium.graphql")
CONTEXT_KEY = "podium.context"
ANSWER_KEY = "podium.answer"  # scope: the operation name and the GraphQL error codes of the answer


class Observer(Protocol):
    """What the server measures (server/metrics.py); the API itself knows nothing of Prometheus."""

    def request_done(self, operation: str | None, seconds: float, error_codes: list[str]) -> None: ...

    def subscription_opened(self) -> None: ...

    def subscription_closed(self) -> None: ...


class BodyTooLarge(Exception):
    pass


class BodyTimeout(Exception):
    """The body did not arrive within PODIUM_BODY_TIMEOUT_SECONDS: a slow client does not hold a worker."""


class ClientDisconnected(Exception):
    """The client went away before its body arrived: nothing to answer, nothing of ours failed."""


class Refused(HTTPException):
    """A request refused before it ran, with its own `extensions.code`."""

    def __init__(self, status_code: int, reason: str, code: str) -> None:
        super().__init__(status_code, reason)
        self.code = code


def _operation_types(query: str, operation_name: str | None) -> set[OperationType]:
    """The types of the operations the request may run; empty when it does not parse (validation says why)."""
    try:
        document = parse(query, max_tokens=MAX_TOKENS)
    except GraphQLError:
        return set()
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    chosen = [o for o in operations if operation_name is None or (o.name and o.name.value == operation_name)]
    return {o.operation for o in chosen}


def _is_subscription(query: str, operation_name: str | None) -> bool:
    # Without an operationName, any subscription among several is refused too: strawberry would run it.
    return OperationType.SUBSCRIPTION in _operation_types(query, operation_name)


def _errors(message: str, status: int, code: str, **extensions: object) -> JSONResponse:
    return JSONResponse({"errors": [{"message": message, "extensions": {"code": code, **extensions}}]},
                        status_code=status)


def _client_ip(scope: Scope) -> str:
    """The peer uvicorn reports (behind a proxy: from X-Forwarded-For when FORWARDED_ALLOW_IPS trusts it)."""
    client = scope.get("client")
    return client[0] if client else "unknown"


class TransportWS(BaseGraphQLTransportWSHandler):
    """graphql-transport-ws with the checks an HTTP body gets: a malformed subscribe message closes
    the socket with 4400 (as the protocol says); text no database stores is an `error` for that id."""

    async def handle_subscribe(self, message) -> None:
        payload = message.get("payload")
        if not isinstance(payload, dict) or not isinstance(payload.get("query"), str) \
                or not isinstance(payload.get("variables"), (dict, type(None))) \
                or not isinstance(payload.get("operationName"), (str, type(None))):
            await self.handle_invalid_message("A subscribe payload is an object with a query string, and "
                                              "variables an object.")
            return
        refusal = _text_refusal(payload["query"], payload.get("variables"))
        if refusal and self.connection_acknowledged and message["id"] not in self.operations:
            await self.send_message({"id": message["id"], "type": "error",
                                     "payload": [{"message": refusal, "extensions": {"code": "BAD_REQUEST"}}]})
            return
        await super().handle_subscribe(message)

    async def run_operation(self, operation) -> None:
        observer = self.view.observer
        if observer is not None:
            observer.subscription_opened()
        try:
            await super().run_operation(operation)
        finally:
            if observer is not None:
                observer.subscription_closed()


class PodiumGraphQL(GraphQL):
    graphql_transport_ws_handler_class = TransportWS

    def __init__(self, schema: BaseSchema, sessions: async_sessionmaker[AsyncSession], bus: EventBus, *,
                 tokens: TokenCheck, max_body_bytes: int, plugins: Any = None,
                 graphiql_page: Callable[[], Response] | None = None, body_timeout_seconds: float = 30.0,
                 introspection: bool = True, cost_limits: CostLimits | None = None,
                 throttle: Throttle | None = None, request_timeout: float = 0,
                 observer: Observer | None = None) -> None:
        super().__init__(schema, graphql_ide="graphiql" if graphiql_page else None, allow_queries_via_get=False,
                         subscription_protocols=(GRAPHQL_TRANSPORT_WS_PROTOCOL,))  # the one docs/api.md promises
        self.sessions, self.bus, self.plugins = sessions, bus, plugins
        self.tokens, self.max_body_bytes = tokens, max_body_bytes
        self.graphiql_page = graphiql_page
        self.body_timeout_seconds, self.introspection = body_timeout_seconds, introspection
        self.cost_limits, self.throttle, self.request_timeout = cost_limits, throttle, request_timeout
        self.heavy_turns = asyncio.Semaphore(1)
        self.observer = observer

    async def render_graphql_ide(self, request) -> Response:
        """Podium's own page (server/graphiql), not strawberry's, which loads its scripts from a CDN."""
        return self.graphiql_page()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            if scope["type"] == "http":
                started = time.monotonic()
                await self._http(scope, receive, send)
                if self.observer is not None:
                    answer = scope.get(ANSWER_KEY) or {}
                    self.observer.request_done(answer.get("operation"), time.monotonic() - started,
                                               answer.get("codes", []))
            else:
                await super().__call__(scope, receive, send)
        finally:
            context = scope.get(CONTEXT_KEY)
            if context is not None:
                await context.close()

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            receive = await self._read_body(scope, receive)
            request = Request(scope, receive)
            deadline = asyncio.timeout(self.request_timeout or None)
            scope["podium.deadline"] = deadline  # a solve (schema/planning) extends it by its own time limit
            try:
                async with deadline:
                    response = await self.run(request)
            except HTTPException as error:
                response = _errors(error.reason, error.status_code, getattr(error, "code", "BAD_REQUEST"))
            except TimeoutError:
                if not deadline.expired():
                    raise  # a time-out of something else: a fault like any other
                log.warning("GraphQL request %s stopped after %ss", scope.get(REQUEST_ID_KEY), self.request_timeout)
                response = _errors(f"The request did not finish within {self.request_timeout:g} seconds and was "
                                   f"stopped; ask for less.", 503, "TIMEOUT")
        except NotStored:  # the fault itself was logged where it was masked
            response = _errors("The request failed and changed nothing; retry it with the same Idempotency-Key.",
                               503, "UNAVAILABLE")
            answer_unavailable(response)
        except ClientDisconnected:
            log.info("client disconnected before sending its whole request body (request %s)",
                     scope.get(REQUEST_ID_KEY))
            return
        except BodyTimeout:
            response = _errors(f"The request body did not arrive within {self.body_timeout_seconds:g} seconds.",
                               408, "TIMEOUT")
            response.headers["Connection"] = "close"
        except BodyTooLarge:
            response = _errors(f"The request body is larger than {self.max_body_bytes} bytes.", 413,
                               "PAYLOAD_TOO_LARGE")
        except Unauthenticated as error:
            response = _errors(str(error), 401, "UNAUTHENTICATED")
            response.headers["WWW-Authenticate"] = 'Bearer error="invalid_token"'
        except RateLimited as error:
            response = _errors(error.message, 429, "RATE_LIMITED", retryAfter=error.retry_after)
            response.headers["Retry-After"] = str(error.retry_after)
        except Exception as error:  # the database (or a fault of ours) outside execution: 503, never 500
            context = scope.get(CONTEXT_KEY)
            request_id = getattr(context, "request_id", None)
            if is_unavailable(error):
                log.warning("database unavailable (request %s): %s", request_id, error)
            else:
                log.exception("GraphQL request %s failed", request_id)
            response = JSONResponse({"errors": [{"message": UNAVAILABLE_MESSAGE,
                                                 "extensions": {"code": "UNAVAILABLE", "requestId": request_id}}]})
            answer_unavailable(response)
        if self.observer is not None and "codes" not in scope.setdefault(ANSWER_KEY, {}):
            scope[ANSWER_KEY]["codes"] = _codes_of(response)  # refused before execution: 4xx, 503
        await response(scope, receive, send)

    async def _read_body(self, scope: Scope, receive: Receive) -> Receive:
        """Read the whole body up front, refusing it past the size limit or the time limit; replay it
        to strawberry."""
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared and declared.isdigit() and int(declared) > self.max_body_bytes:
            raise BodyTooLarge
        chunks, size, more = [], 0, True
        deadline = asyncio.get_running_loop().time() + self.body_timeout_seconds
        while more:
            try:
                async with asyncio.timeout_at(deadline):  # not wait_for: on Python 3.11 that makes a task per call
                    message = await receive()
            except TimeoutError:
                raise BodyTimeout from None
            if message["type"] == "http.disconnect":
                raise ClientDisconnected
            if message["type"] != "http.request":
                return receive
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body_bytes:
                raise BodyTooLarge
            chunks.append(chunk)
            more = message.get("more_body", False)
        body = b"".join(chunks)
        sent = False

        async def replay() -> Message:
            nonlocal sent
            if sent:
                return await receive()
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}

        return replay

    async def parse_http_body(self, request_adapter):
        """A JSON body that is not an object (a string, a number) is a client mistake too."""
        try:
            data = await self._plain_request(request_adapter) or await super().parse_http_body(request_adapter)
        except (AttributeError, TypeError, ValueError, RecursionError) as error:  # RecursionError: [[[[…]]]]
            raise HTTPException(400, "The body must be a JSON object with a GraphQL query.") from error
        query, variables = getattr(data, "query", None), getattr(data, "variables", None)
        refusal = _text_refusal(query, variables)
        if refusal:
            raise HTTPException(400, refusal)
        if isinstance(query, str) and "subscription" in query and _is_subscription(query, data.operation_name):
            raise HTTPException(400, "Subscriptions are served over WebSocket (graphql-transport-ws) on /graphql.")
        return data

    async def _plain_request(self, request_adapter) -> GraphQLRequestData | None:
        """The usual request, a JSON object POSTed as application/json with a string query, read here;
        None for anything else, which strawberry's general path reads (and refuses with its reasons).
        That path parses the content type with the email package: a twelfth of an enrol's CPU."""
        headers = request_adapter.headers
        if request_adapter.method != "POST" \
                or headers.get("content-type", "").partition(";")[0].strip().lower() != "application/json" \
                or self._get_stream_transport_from_headers(headers) is not None:
            return None
        data = json.loads(await request_adapter.get_body())
        if not isinstance(data, dict) or not isinstance(data.get("query"), str) \
                or not isinstance(data.get("variables"), (dict, type(None))) \
                or not isinstance(data.get("extensions"), (dict, type(None))):
            return None
        return GraphQLRequestData(query=data["query"], variables=data.get("variables"),
                                  operation_name=data.get("operationName"), extensions=data.get("extensions"))

    async def execute_single(self, request, request_adapter, sub_response, context, root_value, request_data):
        """A mutation request with an Idempotency-Key runs once per key (idempotency.py); the rest as usual."""
        request.scope.setdefault(ANSWER_KEY, {})["operation"] = request_data.operation_name
        key = request.headers.get(IDEMPOTENCY_HEADER)

        async def execute():
            return await super(PodiumGraphQL, self).execute_single(request, request_adapter, sub_response, context,
                                                                   root_value, request_data)

        if key is None or OperationType.MUTATION not in _operation_types(request_data.query or "",
                                                                         request_data.operation_name):
            return await execute()
        refusal = key_refusal(key)
        if refusal:
            raise Refused(400, refusal, "INVALID")
        scope = scope_of(context, bearer(request.headers.get("authorization")))
        try:
            answer = await execute_once(context, scope, key, request_data, execute,
                                        lambda result: super(PodiumGraphQL, self).process_result(request, result))
        except DomainError as error:  # IDEMPOTENCY_KEY_REUSED: the key was used for another body
            raise Refused(422, error.message, error.code.value) from error
        if answer.replayed:
            sub_response.headers["Idempotent-Replayed"] = "true"
        return answer

    async def process_result(self, request, result):
        if isinstance(result, StoredAnswer):
            return result.answer
        answer = await super().process_result(request, result)
        if self.observer is not None:
            codes = request.scope.setdefault(ANSWER_KEY, {}).setdefault("codes", [])
            codes += [_code_of(error) for error in answer.get("errors") or []]
        return answer

    async def get_context(self, request, response) -> Context:
        context = Context(self.sessions, self.bus, request=request, response=response, plugins=self.plugins,
                          introspection=self.introspection, cost_limits=self.cost_limits, throttle=self.throttle)
        context.heavy_turns = self.heavy_turns
        context.rate_key = f"ip:{_client_ip(request.scope)}"
        request.scope[CONTEXT_KEY] = context
        authorization = request.headers.get("authorization")
        if isinstance(response, Response):
            context.caller = await self._sign_in(context, authorization)  # 401 when bad, 429 after many
        else:  # a WebSocket: its token is checked at connection_init (on_ws_connect)
            await context.release()  # a WebSocket context holds no connection between messages
        return context

    async def on_ws_connect(self, context: Context):
        """Browsers cannot set headers on a WebSocket: the token may come in connection_init's payload
        (or the upgrade request's header). A bad one closes the socket with 4403 Forbidden, the
        protocol's refusal; none at all is anonymous."""
        params = context.connection_params if isinstance(context.connection_params, dict) else {}
        authorization = params.get("Authorization") or params.get("authorization")
        if authorization is None:
            header = context.request.headers.get("authorization")
            authorization = header if header and header.strip() else None
        if authorization is None:
            return UNSET
        token = bearer(authorization) if isinstance(authorization, str) else None
        ip = _client_ip(context.request.scope)
        if token is None or (self.throttle is not None and await self.throttle.auth_blocked(ip) is not None):
            raise ConnectionRejectionError()
        context.signed_in_with = self._caller_of(token)
        try:
            await context.recheck_caller()
        except Unauthenticated:
            if self.throttle is not None:
                await self.throttle.auth_failed(ip)
            raise ConnectionRejectionError() from None
        finally:
            await context.release()
        context.rate_key = token_key(token)
        return UNSET

    async def _sign_in(self, context: Context, authorization: str | None) -> Caller:
        """The caller of an HTTP request (Unauthenticated, 401, for a bad token); a client IP that sent
        too many bad tokens is refused (RateLimited, 429) before its token is even looked at."""
        ip = _client_ip(context.request.scope)
        if authorization and authorization.strip() and self.throttle is not None:
            wait = await self.throttle.auth_blocked(ip)
            if wait is not None:
                raise RateLimited("Too many failed sign-ins from this address; try again later.", wait)
        try:
            caller = await authenticate(self.tokens, authorization)
        except Unauthenticated:
            if self.throttle is not None:
                await self.throttle.auth_failed(ip)
            raise
        if caller.signed_in:
            context.rate_key = token_key(bearer(authorization) or "")
        return caller

    def _caller_of(self, token: str):
        async def resolve() -> Caller | None:
            return await self.tokens.caller_for(token)

        return resolve

    def encode_json(self, data: object) -> str:
        return json.dumps(data, separators=(",", ":"))


def _code_of(error: object) -> str:
    extensions = error.get("extensions") if isinstance(error, dict) else None
    code = extensions.get("code") if isinstance(extensions, dict) else None
    return code if isinstance(code, str) else "GRAPHQL_VALIDATION"  # parse and validation errors carry none


def _codes_of(response: Response) -> list[str]:
    """The codes of an answer Podium made before executing (it is small: a few errors)."""
    if not isinstance(response, JSONResponse) or response.status_code == 200:
        return []
    try:
        errors = json.loads(response.body).get("errors") or []
    except (ValueError, AttributeError):
        return []
    return [_code_of(error) for error in errors]


NUL_ESCAPE = re.compile(r"\\u(0000|\{0+\})")


def _text_refusal(query: object, variables: object) -> str | None:
    """Why the text of a request cannot be taken, or None."""
    if _carries_nul(query, variables):
        return "Text may not contain NUL characters (\\u0000); no database stores them."
    if _has_lone_surrogate(variables):
        return "Text may not contain lone surrogates (\\ud800 to \\udfff); they are not Unicode."
    return None


def _carries_nul(query: object, variables: object) -> bool:
    """A NUL written as an escape in the query's string literals, or anywhere in the variables."""
    in_query = isinstance(query, str) and ("\x00" in query or NUL_ESCAPE.search(query) is not None)
    return in_query or any("\x00" in text for text in _texts(variables))


def _has_lone_surrogate(variables: object) -> bool:
    """A JSON escape such as \\ud800 without its pair decodes to text no database can store (the
    GraphQL parser already refuses one in the query)."""
    return any(not text.isascii() and not is_text(text) for text in _texts(variables))


def _texts(value: object):
    """Every string in decoded JSON, keys too; a loop, not recursion, however deep the nesting."""
    stack = [value]
    while stack:
        value = stack.pop()
        if isinstance(value, str):
            yield value
        elif isinstance(value, dict):
            stack.extend(value.keys())
            stack.extend(value.values())
        elif isinstance(value, list):
            stack.extend(value)
