"""GET /exports/<enrollments|attendance|audit|report>.csv?from=DAY&to=DAY: CSV streamed page by page
(core/services/exports.py), for an ADMIN's or a COORDINATOR's bearer token."""
from __future__ import annotations

import csv
import io
import logging
from collections.abc import AsyncIterator
from datetime import date

from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from podium.core.errors import DomainError, ErrorCode
from podium.core.models import STAFF_ROLES
from podium.core.services import exports
from podium.schema.access.callers import Unauthenticated, authenticate

log = logging.getLogger("podium.exports")


def _refusal(status: int, code: str, message: str, field: str | None = None) -> JSONResponse:
    extensions = {"code": code, **({"field": field} if field else {})}
    headers = {"WWW-Authenticate": 'Bearer error="invalid_token"'} if status == 401 else None
    return JSONResponse({"errors": [{"message": message, "extensions": extensions}]}, status_code=status,
                        headers=headers)


def _day(request: Request, name: str) -> date:
    raw = request.query_params.get(name)
    if raw is None:
        raise DomainError(ErrorCode.INVALID, f"Give {name} as a day, YYYY-MM-DD.", name)
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise DomainError(ErrorCode.INVALID, f"{name} is not a day (YYYY-MM-DD).", name) from None


def _list(request: Request, name: str) -> list[str]:
    return [part for value in request.query_params.getlist(name) for part in value.split(",") if part.strip()]


def csv_lines(values: list) -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerows(values)
    return buffer.getvalue().encode("utf-8")


async def export_csv(request: Request) -> Response:
    state = request.app.state.podium
    name = request.path_params["name"]
    try:
        caller = await authenticate(state.tokens, request.headers.get("authorization"))
    except Unauthenticated as error:
        return _refusal(401, "UNAUTHENTICATED", str(error))
    except Exception:  # the database is down: say so, never 500
        log.exception("export sign-in failed")
        return _refusal(503, "UNAVAILABLE", "The service is unavailable, try again.")
    if not caller.signed_in:
        return _refusal(401, "UNAUTHENTICATED", "Exports need an Authorization: Bearer <token> header.")
    if caller.role not in STAFF_ROLES:
        return _refusal(403, "FORBIDDEN", f"Only an admin or a coordinator may export {name}.")
    try:
        req = exports.request(name, _day(request, "from"), _day(request, "to"),
                              request.query_params.get("timezone", "UTC"), _list(request, "metrics"),
                              _list(request, "groupBy") or _list(request, "by"))
        ready = await _report_pages(state, req) if name == "report" else None
    except DomainError as error:
        status = 404 if error.code is ErrorCode.NOT_FOUND else 400
        return _refusal(status, error.code.value, error.message, error.field)

    async def body() -> AsyncIterator[bytes]:
        yield csv_lines([exports.header(req)])
        async with state.sessions() as db:
            async for page in _aiter(ready) if ready is not None else exports.rows(db, req, state.settings):
                yield csv_lines([[exports.safe_cell(v) for v in row] for row in page])

    filename = f"podium-{name}-{req.span.first}-{req.span.last}.csv"
    return StreamingResponse(body(), media_type="text/csv; charset=utf-8",
                             headers={"Content-Disposition": f'attachment; filename="{filename}"',
                                      "Cache-Control": "no-store"})


async def _report_pages(state, req: exports.ExportRequest) -> list[list]:
    """A report is computed whole before the answer starts (at most 10,000 rows), so a refusal (too many
    groups) is a 400, not a cut-off file."""
    async with state.sessions() as db:
        return [page async for page in exports.rows(db, req, state.settings)]


async def _aiter(pages: list[list]) -> AsyncIterator[list]:
    for page in pages:
        yield page


ROUTES = [Route("/exports/{name}.csv", export_csv)]
