"""``/cli/sessions`` and the session WebSocket (server contract: "Listening — CLI sessions").

On connect the server checks the bearer key (close 4401; a publishable key 4403) and the session
(close 4404), sends ``welcome``, replays everything after ``Last-Event-ID`` and then streams live
events (:class:`~cstar_emulator.listeners.Listener`).
"""

from __future__ import annotations

import contextlib
from functools import partial

from starlette.requests import Request
from starlette.responses import Response
from starlette.websockets import WebSocket

from cstar_cli.protocol import frames
from cstar_emulator import validate as v
from cstar_emulator.db import dumps
from cstar_emulator.envelope import ok
from cstar_emulator.listeners import Listener, max_frame
from cstar_emulator.routes._http import TEAM, RouteSpec, api_routes, caller
from cstar_emulator.services.auth import require_secret
from cstar_emulator.state import Emulator

__all__ = ["ROUTES", "WEBSOCKET_PATH", "listen"]

WEBSOCKET_PATH = TEAM + "/cli/sessions/{session_id}/ws"


def websocket_url(request: Request, team_id: str, session_id: str) -> str:
    """The absolute ``ws://`` URL of a session, on the host the client reached the emulator at."""
    scheme = "wss" if request.url.scheme == "https" else "ws"
    host = request.headers.get("host") or request.url.netloc
    return f"{scheme}://{host}/api/v1/teams/{team_id}/cli/sessions/{session_id}/ws"


async def create_session(request: Request) -> Response:
    """``POST /cli/sessions {"events"?, "deviceName"?, "resumeKey"?, "resume"?}`` → 201 ``{"id",
    "object": "cli_session", "websocketUrl", "secret", "events", "expiresAt", "resume"}``; the secret
    is stable per team, mode and device name; ``resume`` (null unless asked for with a ``resumeKey``)
    says what the session catches up: ``{"after", "count", "since", "missingBefore"}``."""
    c = caller(request)
    body = await v.body(request)
    events = v.event_patterns(body["events"], "events") if body.get("events") is not None else ["*"]
    device = body.get("deviceName")
    device_name = v.text(device, "deviceName", max_len=100) if device is not None else None
    raw_key = body.get("resumeKey")
    resume_key = v.text(raw_key, "resumeKey", max_len=200) if raw_key is not None else None
    resume = v.flag(body["resume"], "resume") if body.get("resume") is not None else False
    session = c.emulator.sessions.create(c.key, events, device_name, resume_key=resume_key or None, resume=resume)
    data = {
        "id": session["id"],
        "object": "cli_session",
        "websocketUrl": websocket_url(request, c.key.team_id, session["id"]),
        "secret": session["secret"],
        "events": session["events"],
        "expiresAt": session["expiresAt"],
        "resume": session["resume"],
    }
    return ok(request, data, status=201)


async def list_sessions(request: Request) -> Response:
    """``GET /cli/sessions`` (secret key) → the team and mode's live sessions, newest first:
    ``[{"id", "object": "cli_session", "deviceName", "events", "createdAt", "expiresAt", "connected"}]``."""
    c = caller(request)
    require_secret(c.key, "Listing CLI sessions")
    return ok(request, c.emulator.sessions.live(c.scope))


async def delete_session(request: Request) -> Response:
    """``DELETE /cli/sessions/{session_id}`` → 200 ``{"id", "object": "cli_session", "deleted": true}``;
    404 for a session the key's team and mode do not have. Its open WebSockets close with 4404."""
    c = caller(request)
    return ok(request, c.emulator.sessions.delete(c.scope, request.path_params["session_id"]))


async def listen(websocket: WebSocket) -> None:
    """The session WebSocket. Close codes: 4401 bad or revoked key, 4403 a publishable key, 4404
    unknown, expired or deleted session (or one of another team or mode), 1001 server going away;
    anything the drop-websockets control asks for."""
    emulator: Emulator = websocket.app.state.emulator
    # Accept first: a close before the handshake would reach the client as an HTTP 403, not a code.
    await websocket.accept()
    lookup = emulator.auth.lookup(websocket.headers.get("authorization"))
    key = lookup.key
    if lookup.error is not None or key is None or key.team_id != websocket.path_params["team_id"]:
        await websocket.close(frames.CLOSE_UNAUTHORIZED, "invalid or revoked API key")
        return
    if not key.is_secret:
        # A session's id travels in every delivery (X-Webhook-ID): only a key that could have created
        # the session may read its full payloads.
        await websocket.close(frames.CLOSE_FORBIDDEN, "a secret key is required")
        return
    session_id = websocket.path_params["session_id"]
    scope = key.scope
    session = emulator.sessions.active(scope, session_id)
    if session is None:
        await websocket.close(frames.CLOSE_SESSION_UNKNOWN, "unknown or expired session")
        return
    limit = max_frame(websocket.headers.get(frames.MAX_FRAME_HEADER))
    listener = Listener(websocket, session_id, key.id, scope, session.patterns, limit)
    # Subscribed before the resume point is read, with no await in between: nothing slips through.
    sub = emulator.event_hub.subscribe(scope)
    emulator.listeners.add(listener)
    try:
        point = emulator.sessions.resume_point(
            scope, websocket.headers.get(frames.LAST_EVENT_ID_HEADER), session.start_seq
        )
        welcome = {
            "type": frames.FRAME_WELCOME,
            "sessionId": session_id,
            "resumedAfter": point.resumed_after,
            "lastEventId": point.last_event_id,
        }
        try:
            await websocket.send_text(dumps(welcome))
        except Exception:  # the client left during the handshake
            return
        backlog = partial(emulator.bus.after, scope)
        resume_key = emulator.sessions.resume_key_of(session_id)
        on_ack = partial(emulator.sessions.record_ack, session_id, scope, resume_key=resume_key)
        await listener.run(sub, point.after, backlog, on_ack)
    finally:
        emulator.listeners.remove(listener)
        sub.close()
        # The device's cursor is on disk once its socket is gone (the database may already be closed
        # when the emulator is shutting down; the cursor is then lost with at most the last 50 ms).
        with contextlib.suppress(Exception):
            emulator.sessions.flush_cursors()


ROUTES: list[RouteSpec] = api_routes(
    TEAM,
    [
        ("POST", "/cli/sessions", create_session),
        ("GET", "/cli/sessions", list_sessions),
        ("DELETE", "/cli/sessions/{session_id}", delete_session),
    ],
)
