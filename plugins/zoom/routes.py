"""The webhook receiver, mounted at /plugins/zoom/webhook: verify, acknowledge at once, work through the outbox."""
from __future__ import annotations

import json
import logging

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from podium.plugin import PluginContext

from .config import ZoomSettings
from .webhook import MEETING_ENDED, URL_VALIDATION, WebhookRefused, url_validation_answer, verify

log = logging.getLogger("podium.plugins.zoom")

MAX_BODY_BYTES = 256 * 1024


def webhook_routes(settings: ZoomSettings, context: PluginContext, provider_name: str = "zoom") -> list[Route]:
    async def receive(request: Request) -> Response:
        secret = settings.webhook_secret_token
        if not secret:
            return JSONResponse({"error": "PODIUM_ZOOM_WEBHOOK_SECRET_TOKEN is not set"}, status_code=404)
        body = await request.body()
        if len(body) > MAX_BODY_BYTES:
            return JSONResponse({"error": "body too large"}, status_code=413)
        try:
            verify(secret, request.headers.get("x-zm-request-timestamp"), request.headers.get("x-zm-signature"),
                   body, settings.webhook_tolerance_seconds)
        except WebhookRefused as exc:
            log.warning("zoom webhook refused: %s", exc)
            return JSONResponse({"error": str(exc)}, status_code=401)
        try:
            message = json.loads(body)
            event, payload = message["event"], message.get("payload") or {}
        except (ValueError, KeyError, TypeError, AttributeError):
            return JSONResponse({"error": "not a Zoom event"}, status_code=400)
        if event == URL_VALIDATION:
            token = payload.get("plainToken") if isinstance(payload, dict) else None
            if not isinstance(token, str) or not token:
                return JSONResponse({"error": "no plainToken"}, status_code=400)
            return JSONResponse(url_validation_answer(secret, token))
        if event == MEETING_ENDED:
            meeting = payload.get("object") if isinstance(payload, dict) else None
            if not isinstance(meeting, dict) or meeting.get("id") in (None, ""):
                return JSONResponse({"error": "no meeting id"}, status_code=400)
            key = str(meeting.get("uuid") or f"{meeting['id']}:{message.get('event_ts', '')}")
            async with context.changing() as db:
                ours = await context.meeting_ended(db, provider_name, str(meeting["id"]), key)
            log.info("zoom meeting %s ended: %s", meeting["id"], "attendance import queued" if ours else "not one of ours")
        return JSONResponse({"status": "accepted"})

    return [Route("/webhook", receive, methods=["POST"])]
