"""``cstar listen`` sessions (server contract: "Listening — CLI sessions").

``POST /api/v1/teams/{teamId}/cli/sessions`` creates a session, ``DELETE …/cli/sessions/{id}``
ends it; its ``websocketUrl`` streams the team's events to the CLI. On connect the server checks the
bearer key (close 4401; a publishable key 4403) and the session (close 4404), sends ``welcome``,
replays everything after ``Last-Event-ID`` and then streams live events, without a gap or a repeat
in between (:func:`cstar_emulator.hub.replay_then_live`). An event whose frame would exceed the
client's ``X-Max-Frame-Bytes`` goes out as a small ``event_too_large`` notice instead.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.websockets import WebSocket

from cstar_cli.protocol import events as catalog
from cstar_emulator import validate as v
from cstar_emulator.auth import KeyContext, request_context, require_secret
from cstar_emulator.db import Database, Scope, dumps, loads_list
from cstar_emulator.envelope import ApiError, ok
from cstar_emulator.events import Event
from cstar_emulator.hub import Subscription, replay_then_live
from cstar_emulator.idempotency import atomic
from cstar_emulator.ids import iso, new_id

if TYPE_CHECKING:
    from cstar_emulator.state import Emulator

__all__ = [
    "CLOSE_ABRUPT",
    "CLOSE_KEY_INVALID",
    "CLOSE_SECRET_KEY_REQUIRED",
    "CLOSE_SESSION_UNKNOWN",
    "Listener",
    "Listeners",
    "Sessions",
    "create_session",
    "delete_session",
    "list_sessions",
    "listen",
]

log = logging.getLogger("cstar.emulator")

CLOSE_KEY_INVALID = 4401
CLOSE_SECRET_KEY_REQUIRED = 4403
CLOSE_SESSION_UNKNOWN = 4404
#: Not a real close frame: the TCP connection is dropped without one (the client sees 1006).
CLOSE_ABRUPT = 1006
SESSION_TTL = 24 * 3600
DEFAULT_DEVICE = "cstar-cli"


class Sessions:
    """Session rows and the per-(team, mode, deviceName) signing secrets."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def create(self, key: KeyContext, events: list[str], device_name: str, start_seq: int) -> dict[str, Any]:
        """A new session row; returns ``{"id", "secret", "events", "expiresAt"}``. ``start_seq`` is the
        partition's newest event sequence number now: a socket of this session that names no
        ``Last-Event-ID`` is sent everything after it, so nothing between creating the session,
        connecting and reconnecting before a first ack is missed."""
        secret = self._secret(key.scope, device_name)
        sid = new_id("cls_")
        now = time.time()
        expires = now + SESSION_TTL
        self.db.run(
            "INSERT INTO cli_sessions (id, team_id, mode, key_id, device_name, events, created_at, expires, "
            "start_seq) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            sid,
            *key.scope,
            key.id,
            device_name,
            dumps(events),
            iso(now),
            expires,
            start_seq,
        )
        return {"id": sid, "secret": secret, "events": events, "expiresAt": iso(expires)}

    def active(self, scope: Scope, session_id: str) -> tuple[list[str], int] | None:
        """The event filter and start sequence number of a live (known, unexpired) session of
        ``scope``, else None."""
        row = self.db.one(
            "SELECT events, start_seq FROM cli_sessions "
            "WHERE id = ? AND team_id = ? AND mode = ? AND expired = 0 AND expires > ?",
            session_id,
            *scope,
            time.time(),
        )
        return (loads_list(row["events"]), int(row["start_seq"])) if row else None

    def live(self, scope: Scope) -> list[dict[str, Any]]:
        """The unexpired sessions of ``scope``, newest first: ``{"id", "deviceName", "events",
        "createdAt", "expiresAt"}`` (no secret)."""
        rows = self.db.all(
            "SELECT id, device_name, events, created_at, expires FROM cli_sessions "
            "WHERE team_id = ? AND mode = ? AND expired = 0 AND expires > ? ORDER BY created_at DESC, rowid DESC",
            *scope,
            time.time(),
        )
        return [
            {
                "id": row["id"],
                "deviceName": row["device_name"],
                "events": loads_list(row["events"]),
                "createdAt": row["created_at"],
                "expiresAt": iso(row["expires"]),
            }
            for row in rows
        ]

    def delete(self, scope: Scope, session_id: str) -> bool:
        """Forget a session of ``scope`` (its device's signing secret stays). True if it existed."""
        return (
            self.db.run(
                "DELETE FROM cli_sessions WHERE id = ? AND team_id = ? AND mode = ?", session_id, *scope
            ).rowcount
            > 0
        )

    def expire_all(self) -> int:
        """Make every session unknown to new connections. Returns how many were live."""
        return self.db.run("UPDATE cli_sessions SET expired = 1 WHERE expired = 0").rowcount

    def prune(self, now: float | None = None) -> None:
        """Drop sessions that expired more than 7 days ago."""
        cutoff = (time.time() if now is None else now) - 7 * 24 * 3600
        self.db.run("DELETE FROM cli_sessions WHERE expires < ?", cutoff)

    def _secret(self, scope: Scope, device_name: str) -> str:
        row = self.db.one(
            "SELECT secret FROM cli_secrets WHERE team_id = ? AND mode = ? AND device_name = ?", *scope, device_name
        )
        if row is not None:
            return str(row["secret"])
        secret = new_id("whsec_", 48)
        self.db.run(
            "INSERT INTO cli_secrets (team_id, mode, device_name, secret) VALUES (?, ?, ?, ?)",
            *scope,
            device_name,
            secret,
        )
        return secret


class Listener:
    """One open listen WebSocket: which session and key it belongs to, its event filter and the
    largest frame its client accepts (``max_frame`` bytes, None: no limit announced)."""

    def __init__(
        self,
        websocket: WebSocket,
        session_id: str,
        key: KeyContext,
        patterns: list[str],
        max_frame: int | None = None,
    ) -> None:
        self.websocket = websocket
        self.session_id = session_id
        self.key = key
        self.patterns = patterns
        self.max_frame = max_frame
        self.close_code: int | None = None
        self._close_requested = asyncio.Event()
        self._matches: dict[str, bool] = {}
        self._sent = 0

    def wants(self, event_type: str) -> bool:
        """Whether this listener's filter matches ``event_type`` (cached per type)."""
        hit = self._matches.get(event_type)
        if hit is None:
            hit = self._matches[event_type] = catalog.matches(event_type, self.patterns)
        return hit

    def request_close(self, code: int) -> None:
        """Ask the connection to close with ``code`` (:data:`CLOSE_ABRUPT`: drop it without a close frame)."""
        if self.close_code is None:
            self.close_code = code
        self._close_requested.set()

    def frame(self, event: Event) -> str:
        """The contract's ``event`` frame for ``event``, as text."""
        return dumps(
            {
                "type": "event",
                "eventId": event.id,
                "eventType": event.type,
                "payload": event.payload,
                "headers": {
                    "X-Event-Type": event.type,
                    "X-Event-ID": event.id,
                    "X-Webhook-ID": self.session_id,
                    "x-cstar-request-id": event.request_id,
                },
            }
        )

    async def run(self, emulator: Emulator, sub: Subscription[Event], after: int | None) -> None:
        """Stream until the client leaves, the hub ends or a close is requested; then close as asked."""
        tasks = {
            asyncio.create_task(self._send(emulator, sub, after)),
            asyncio.create_task(self._receive(emulator)),
            asyncio.create_task(self._close_requested.wait()),
        }
        try:
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        for task in done:
            if not task.cancelled() and task.exception() is not None:
                # Usually the client vanished mid-send; worth a trace when debugging, nothing more.
                log.debug("Listener %s ended: %r", self.session_id, task.exception())
        if self.close_code is not None and self.close_code != CLOSE_ABRUPT:
            with contextlib.suppress(Exception):
                await self.websocket.close(self.close_code)

    async def _send(self, emulator: Emulator, sub: Subscription[Event], after: int | None) -> None:
        scope = self.key.scope
        async for event in replay_then_live(sub, after, lambda seq: emulator.bus.after(scope, seq)):
            if event is not None:
                await self._deliver(event)
        self.request_close(1001)

    def too_large(self, event: Event, size: int) -> str:
        """The ``event_too_large`` notice sent instead of an event frame of ``size`` bytes."""
        return dumps({"type": "event_too_large", "eventId": event.id, "eventType": event.type, "size": size})

    async def _deliver(self, event: Event) -> None:
        if not self.wants(event.type):
            return
        text = self.frame(event)
        limit = self.max_frame
        # A character is at most 4 bytes in UTF-8: only frames that might be over the limit get encoded.
        if limit is not None and len(text) * 4 > limit:
            size = len(text.encode("utf-8", "surrogatepass"))
            if size > limit:
                text = self.too_large(event, size)
        await self.websocket.send_text(text)
        self._sent += 1
        if self._sent % 64 == 0:
            # Neither a ready queue nor a writable socket suspends, so a long burst would otherwise
            # hold the event loop (acks, API calls) until it is fully sent.
            await asyncio.sleep(0)

    async def _receive(self, emulator: Emulator) -> None:
        while True:
            message = await self.websocket.receive()
            if message["type"] == "websocket.disconnect":
                return
            raw = message.get("text") or (message.get("bytes") or b"").decode("utf-8", "replace")
            try:
                frame = json.loads(raw)
            except ValueError:
                continue
            if isinstance(frame, dict) and frame.get("type") == "ack":
                self._record_ack(emulator, frame)

    def _record_ack(self, emulator: Emulator, frame: dict[str, Any]) -> None:
        event_id = frame.get("eventId")
        status = frame.get("status")
        attempts = frame.get("attempts")
        duration = frame.get("durationMs")
        error = frame.get("error")
        emulator.deliveries.record(
            "cli",
            self.session_id,
            self.key.scope,
            event_id=event_id if isinstance(event_id, str) else None,
            attempt=attempts if isinstance(attempts, int) else None,
            status=status if isinstance(status, int) else None,
            duration_ms=duration if isinstance(duration, (int, float)) else None,
            error=str(error) if error is not None else None,
        )


class Listeners:
    """The open listen WebSockets, for trigger-test's target list and the close controls."""

    def __init__(self) -> None:
        self._open: set[Listener] = set()

    def add(self, listener: Listener) -> None:
        self._open.add(listener)

    def remove(self, listener: Listener) -> None:
        self._open.discard(listener)

    def matching(self, scope: Scope, event_type: str | None) -> list[str]:
        """Session ids (each once) of connected listeners of ``scope`` whose filter matches
        ``event_type`` (None: any listener)."""
        ids: list[str] = []
        for listener in self._open:
            if (
                listener.key.scope == scope
                and (event_type is None or listener.wants(event_type))
                and listener.session_id not in ids
            ):
                ids.append(listener.session_id)
        return sorted(ids)

    def close(self, code: int, *, key_id: str | None = None, session_id: str | None = None) -> int:
        """Close every listener (or those authenticated with ``key_id``, or those of ``session_id``)
        with ``code``. Returns how many."""
        chosen = [
            item
            for item in self._open
            if (key_id is None or item.key.id == key_id) and (session_id is None or item.session_id == session_id)
        ]
        for listener in chosen:
            listener.request_close(code)
        return len(chosen)


def websocket_url(request: Request, team_id: str, session_id: str) -> str:
    """The absolute ``ws://`` URL of a session, on the host the client reached the emulator at."""
    scheme = "wss" if request.url.scheme == "https" else "ws"
    host = request.headers.get("host") or request.url.netloc
    return f"{scheme}://{host}/api/v1/teams/{team_id}/cli/sessions/{session_id}/ws"


@atomic
async def create_session(request: Request) -> Response:
    """``POST /cli/sessions {"events"?, "deviceName"?}`` → 201 ``{"id", "object": "cli_session",
    "websocketUrl", "secret", "events", "expiresAt"}``; the secret is stable per team, mode and device."""
    emulator, key = request_context(request)
    body = await v.body(request)
    events = v.event_patterns(body["events"], "events") if body.get("events") is not None else ["*"]
    device = body.get("deviceName")
    device_name = v.text(device, "deviceName", max_len=100) if device is not None else ""
    session = emulator.sessions.create(key, events, device_name or DEFAULT_DEVICE, emulator.bus.last_seq(key.scope))
    data = {
        "id": session["id"],
        "object": "cli_session",
        "websocketUrl": websocket_url(request, key.team_id, session["id"]),
        "secret": session["secret"],
        "events": session["events"],
        "expiresAt": session["expiresAt"],
    }
    return ok(request, data, status=201)


async def list_sessions(request: Request) -> Response:
    """``GET /cli/sessions`` (secret key) → the team and mode's live sessions, newest first:
    ``[{"id", "object": "cli_session", "deviceName", "events", "createdAt", "expiresAt", "connected"}]``."""
    emulator, key = request_context(request)
    require_secret(key, "Listing CLI sessions")
    connected = set(emulator.listeners.matching(key.scope, None))
    data = [
        {"object": "cli_session", **row, "connected": row["id"] in connected}
        for row in emulator.sessions.live(key.scope)
    ]
    return ok(request, data)


@atomic
async def delete_session(request: Request) -> Response:
    """``DELETE /cli/sessions/{session_id}`` → 200 ``{"id", "object": "cli_session", "deleted": true}``;
    404 for a session the key's team and mode do not have. Its open WebSockets close with 4404; the
    device's signing secret is kept, so the next session gets the same one."""
    emulator, key = request_context(request)
    session_id = request.path_params["session_id"]
    if not emulator.sessions.delete(key.scope, session_id):
        raise ApiError(404, "not_found", f"No CLI session {session_id}.")
    emulator.listeners.close(CLOSE_SESSION_UNKNOWN, session_id=session_id)
    return ok(request, {"id": session_id, "object": "cli_session", "deleted": True})


def _max_frame(value: str | None) -> int | None:
    """``X-Max-Frame-Bytes`` as a positive int; None when absent or malformed (no limit)."""
    if value is None or not value.strip().isdigit():
        return None
    limit = int(value.strip())
    return limit if limit > 0 else None


def _event_id_at(emulator: Emulator, scope: Scope, seq: int) -> str | None:
    value = emulator.db.scalar("SELECT id FROM events WHERE team_id = ? AND mode = ? AND seq = ?", *scope, seq)
    return str(value) if value is not None else None


async def listen(websocket: WebSocket) -> None:
    """The session WebSocket. Close codes: 4401 bad or revoked key, 4403 a publishable key, 4404
    unknown, expired or deleted session (or one of another team or mode), 1001 server going away;
    anything the drop-websockets control asks for."""
    emulator: Emulator = websocket.app.state.emulator
    # Accept first: a close before the handshake would reach the client as an HTTP 403, not a code.
    await websocket.accept()
    lookup = emulator.keys.lookup(websocket.headers.get("authorization"))
    key = lookup.key
    if lookup.error is not None or key is None or key.team_id != websocket.path_params["team_id"]:
        await websocket.close(CLOSE_KEY_INVALID, "invalid or revoked API key")
        return
    if not key.is_secret:
        # A session's id travels in every delivery (X-Webhook-ID): only a key that could have created
        # the session may read its full payloads.
        await websocket.close(CLOSE_SECRET_KEY_REQUIRED, "a secret key is required")
        return
    session_id = websocket.path_params["session_id"]
    found = emulator.sessions.active(key.scope, session_id)
    if found is None:
        await websocket.close(CLOSE_SESSION_UNKNOWN, "unknown or expired session")
        return
    patterns, start_seq = found
    listener = Listener(websocket, session_id, key, patterns, _max_frame(websocket.headers.get("x-max-frame-bytes")))
    sub = emulator.event_hub.subscribe(key.scope)
    emulator.listeners.add(listener)
    try:
        resume = websocket.headers.get("last-event-id")
        # No Last-Event-ID: everything since the session was created (the client acked nothing yet).
        after = emulator.bus.seq_of(key.scope, resume) if resume else start_seq
        # The event this socket's stream starts after: a client that loses the socket before its
        # first ack resumes after it and misses nothing (not even events replayed but not yet acked).
        if after is None:
            # An unknown Last-Event-ID: live events only, i.e. after the newest one at subscribe time
            # (no await since subscribe, so nothing slipped in between).
            start = emulator.bus.latest_id(key.scope)
        elif resume:
            start = resume
        else:
            start = _event_id_at(emulator, key.scope, after)
        welcome = {
            "type": "welcome",
            "sessionId": session_id,
            "resumedAfter": resume if resume and after is not None else None,
            "lastEventId": start,
        }
        try:
            await websocket.send_text(dumps(welcome))
        except Exception:  # the client left during the handshake
            return
        await listener.run(emulator, sub, after)
    finally:
        emulator.listeners.remove(listener)
        sub.close()
