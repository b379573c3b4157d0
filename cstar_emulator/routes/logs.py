"""``GET /logs`` and ``GET /logs/stream`` (server contract: "Request logs").

``/logs`` pages newest first with a ``before`` cursor; ``/logs/stream`` is Server-Sent Events
(``id:``, ``event: request``, ``data:``), resumable with ``Last-Event-ID``, with a ``: ping`` comment
every 15 s. Both need a secret key: logs show every caller's IP, user agent and key ID.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from functools import partial

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from cstar_emulator import validate as v
from cstar_emulator.db import dumps
from cstar_emulator.envelope import ok
from cstar_emulator.hub import replay_then_live
from cstar_emulator.repositories.request_logs import LoggedRequest
from cstar_emulator.routes._http import TEAM, Caller, api_routes, caller
from cstar_emulator.services.auth import require_secret
from cstar_emulator.services.logs import LogFilter

__all__ = ["ROUTES"]


def _reader(request: Request) -> tuple[Caller, LogFilter]:
    c = caller(request)
    require_secret(c.key, "Reading request logs")
    q = request.query_params
    return c, LogFilter.parse(q.get("method"), q.get("status"), q.get("path"))


async def list_logs(request: Request) -> Response:
    """``GET /logs?method&status&path&limit&before`` (secret key) → entries newest first, ``meta.pagination``
    ``{"limit", "hasMore", "nextCursor"}``. ``limit`` 1–100 (default 50); an unknown ``before`` is 400."""
    c, filt = _reader(request)
    limit = v.integer(request.query_params.get("limit", "50"), "limit", minimum=1, maximum=100)
    entries, has_more, cursor = c.emulator.logs.page(c.scope, filt, limit, request.query_params.get("before"))
    return ok(request, entries, pagination={"limit": limit, "hasMore": has_more, "nextCursor": cursor})


def _sse(item: LoggedRequest) -> str:
    return f"id: {item.entry['id']}\nevent: request\ndata: {dumps(item.entry)}\n\n"


async def stream_logs(request: Request) -> Response:
    """``GET /logs/stream`` (filters as :func:`list_logs`) → ``text/event-stream``. ``Last-Event-ID``
    (a ``req_…`` id) first replays the matching entries after it. Ends when the key is revoked or the
    emulator stops."""
    c, filt = _reader(request)
    logs, scope = c.emulator.logs, c.scope
    resume = request.headers.get("last-event-id")
    interval = c.emulator.settings.log_ping_interval

    async def events() -> AsyncIterator[str]:
        # Subscribed before anything is read, so nothing logged meanwhile is missed.
        sub = c.emulator.log_hub.subscribe(scope, tag=c.key.id)
        try:
            # A comment first, so the client sees the stream open before any entry arrives.
            yield ": connected\n\n"
            after = logs.seq_of(scope, resume) if resume else None
            async for item in replay_then_live(sub, after, partial(logs.after, scope), idle=interval):
                if item is None:
                    yield ": ping\n\n"
                elif filt.match(item.entry, c.key.team_id):
                    yield _sse(item)
        finally:
            sub.close()

    return StreamingResponse(
        events(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


ROUTES = api_routes(TEAM, [("GET", "/logs", list_logs), ("GET", "/logs/stream", stream_logs)])
