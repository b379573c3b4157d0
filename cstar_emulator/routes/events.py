"""``/events``: event history and resend (server contract: "Event history and resend").

All three need a secret key: an event's payload and delivery outcomes are as private as the
listen stream they went out on.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from cstar_emulator import validate as v
from cstar_emulator.envelope import ApiError, ok
from cstar_emulator.routes._http import TEAM, Caller, RouteSpec, api_routes, caller
from cstar_emulator.services.auth import require_secret

__all__ = ["ROUTES"]


def _reader(request: Request) -> Caller:
    c = caller(request)
    require_secret(c.key, "Reading event history")
    return c


async def list_events(request: Request) -> Response:
    """``GET /events?type&failed&limit&before`` → events newest first (no payload), ``meta.pagination``
    ``{"limit", "hasMore", "nextCursor"}``; ``after=evt_…`` instead: the events newer than that one,
    oldest first. ``type``: patterns as a session's filter; ``failed=true``:
    only events whose latest outcome at some target failed; ``limit`` 1–100 (default 20)."""
    c = _reader(request)
    q = request.query_params
    patterns = v.event_patterns(q["type"], "type") if q.get("type") else []
    failed = v.flag(q["failed"], "failed") if q.get("failed") else False
    limit = v.integer(q.get("limit", "20"), "limit", minimum=1, maximum=100)
    items, has_more, cursor = c.emulator.history.page(
        c.scope, patterns, failed=failed, limit=limit, before=q.get("before"), after=q.get("after")
    )
    return ok(request, items, pagination={"limit": limit, "hasMore": has_more, "nextCursor": cursor})


async def get_event(request: Request) -> Response:
    """``GET /events/{event_id}`` → the event with ``payload`` (the exact JSON text); 404 ``event_not_found``."""
    c = _reader(request)
    return ok(request, c.emulator.history.get(c.scope, request.path_params["event_id"]))


def _id(body: dict[str, Any], field: str, prefix: str) -> str | None:
    value = body.get(field)
    if value is None:
        return None
    text = v.text(value, field, max_len=100) or ""
    if not text.startswith(prefix):
        raise ApiError.invalid(field, f"{field} must be a {prefix}… id.")
    return text


async def resend_event(request: Request) -> Response:
    """``POST /events/{event_id}/resend {"webhookId"? | "sessionId"?, "deviceName"?}`` → 202
    ``{"eventId", "target", "queued": true}``. Without a target: the newest connected session of
    ``deviceName`` (or of the team and mode). 404 ``event_not_found`` / ``webhook_not_found`` /
    ``session_not_found``; 409 ``no_listener``, ``webhook_inactive``."""
    c = _reader(request)
    body = await v.body(request)
    webhook_id = _id(body, "webhookId", "whk_")
    session_id = _id(body, "sessionId", "cls_")
    if webhook_id is not None and session_id is not None:
        raise ApiError.invalid("sessionId", "Give webhookId or sessionId, not both.")
    device = body.get("deviceName")
    device_name = v.text(device, "deviceName", max_len=100) if device is not None else None
    result = c.emulator.history.resend(
        c.scope, request.path_params["event_id"], webhook_id=webhook_id, session_id=session_id, device_name=device_name
    )
    return ok(request, result, status=202)


ROUTES: list[RouteSpec] = api_routes(
    TEAM,
    [
        ("GET", "/events", list_events),
        ("GET", "/events/{event_id}", get_event),
        ("POST", "/events/{event_id}/resend", resend_event),
    ],
)
