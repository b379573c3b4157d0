"""Request logs (server contract: "Request logs").

Every ``/api/v1`` request is recorded once it has answered, failures included; the log stream's own
request is not. ``GET /logs`` pages newest first with a ``before`` cursor; ``GET /logs/stream`` is
Server-Sent Events (``id:``, ``event: request``, ``data:``), resumable with ``Last-Event-ID``, with a
``: ping`` comment every 15 s.
"""

from __future__ import annotations

import re
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from cstar_emulator import validate as v
from cstar_emulator.auth import request_context, require_secret
from cstar_emulator.db import Database, Scope, dumps, escape_like
from cstar_emulator.envelope import ApiError, ok
from cstar_emulator.hub import Hub, replay_then_live

__all__ = ["LogFilter", "LogItem", "RequestLog", "list_logs", "stream_logs"]

_STATUS_RE = re.compile(r"^[1-5](?:xx|\d\d)$")
_METHOD_RE = re.compile(r"^[A-Za-z]{3,7}$")
RETAIN_SECONDS = 7 * 24 * 3600


@dataclass(frozen=True, slots=True)
class LogItem:
    """A log entry and its database sequence number (what the stream orders and de-duplicates by)."""

    seq: int
    entry: dict[str, Any]


def _entry(row: Any) -> dict[str, Any]:
    return {
        "id": row["id"],
        "method": row["method"],
        "path": row["path"],
        "status": row["status"],
        "durationMs": row["duration_ms"],
        "createdAt": row["created_at"],
        "keyId": row["key_id"],
        "ip": row["ip"],
        "userAgent": row["user_agent"],
        "errorCode": row["error_code"],
    }


@dataclass(frozen=True)
class LogFilter:
    """``method`` (any case), ``status`` (``4xx`` or exact ``404``) and ``path`` prefix. A prefix
    matches the full path or the path after ``/api/v1`` or after ``/api/v1/teams/{teamId}``, so
    ``/tickets`` finds ``/api/v1/teams/…/tickets/tkt_…``."""

    method: str | None = None
    status: str | None = None
    path: str | None = None

    @classmethod
    def from_request(cls, request: Request) -> LogFilter:
        """Parse the query; 400 with ``field`` naming a bad value."""
        q = request.query_params
        method = q.get("method") or None
        status = (q.get("status") or "").lower() or None
        path = q.get("path") or None
        if method is not None and not _METHOD_RE.match(method):
            raise ApiError.invalid("method", f"method must be an HTTP method such as GET or POST (got {method!r}).")
        if status is not None and not _STATUS_RE.match(status):
            raise ApiError.invalid(
                "status", f"status must be a class such as 4xx or a code such as 404 (got {status!r})."
            )
        if path is not None and not path.startswith("/"):
            raise ApiError.invalid("path", "path must start with '/'.")
        return cls(method.upper() if method else None, status, path)

    def _prefixes(self, team_id: str) -> tuple[str, ...]:
        assert self.path is not None
        return (self.path, "/api/v1" + self.path, f"/api/v1/teams/{team_id}" + self.path)

    def sql(self, team_id: str) -> tuple[list[str], list[Any]]:
        """WHERE clauses and their parameters for this filter."""
        where: list[str] = []
        params: list[Any] = []
        if self.method:
            where.append("method = ?")
            params.append(self.method)
        if self.status:
            if self.status.endswith("xx"):
                low = int(self.status[0]) * 100
                where.append("status BETWEEN ? AND ?")
                params += [low, low + 99]
            else:
                where.append("status = ?")
                params.append(int(self.status))
        if self.path:
            where.append("(" + " OR ".join(["path LIKE ? ESCAPE '\\'"] * 3) + ")")
            params += [escape_like(p) + "%" for p in self._prefixes(team_id)]
        return where, params

    def match(self, entry: dict[str, Any], team_id: str) -> bool:
        """Whether ``entry`` passes this filter (the stream's in-memory twin of :meth:`sql`)."""
        if self.method and entry["method"] != self.method:
            return False
        if self.status:
            code = str(entry["status"])
            if self.status.endswith("xx") and code[0] != self.status[0]:
                return False
            if not self.status.endswith("xx") and code != self.status:
                return False
        return not self.path or entry["path"].startswith(self._prefixes(team_id))


class RequestLog:
    """The ``request_logs`` table plus live fan-out to open streams through ``hub``."""

    def __init__(self, db: Database, hub: Hub[LogItem]) -> None:
        self.db = db
        self.hub = hub

    def record(self, scope: Scope | None, entry: dict[str, Any], created: float) -> None:
        """Store ``entry`` (the contract's shape) under ``scope`` (None: no team could be told) and
        hand it to the streams of that scope."""
        cur = self.db.run(
            "INSERT INTO request_logs (id, team_id, mode, method, path, status, duration_ms, created_at, created, "
            "key_id, ip, user_agent, error_code) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            entry["id"],
            scope.team_id if scope else None,
            scope.mode if scope else None,
            entry["method"],
            entry["path"],
            entry["status"],
            entry["durationMs"],
            entry["createdAt"],
            created,
            entry["keyId"],
            entry["ip"],
            entry["userAgent"],
            entry["errorCode"],
        )
        if scope is not None and cur.lastrowid is not None:
            self.hub.publish(scope, LogItem(cur.lastrowid, entry))

    def seq_of(self, scope: Scope, request_id: str) -> int | None:
        """The sequence number of a logged request of ``scope``, or None."""
        return self.db.scalar(
            "SELECT seq FROM request_logs WHERE id = ? AND team_id = ? AND mode = ?", request_id, *scope
        )

    def page(self, scope: Scope, filt: LogFilter, limit: int, before: int | None) -> tuple[list[dict[str, Any]], bool]:
        """Up to ``limit`` entries, newest first, older than sequence ``before``; and whether more exist."""
        where, params = filt.sql(scope.team_id)
        if before is not None:
            where.append("seq < ?")
            params.append(before)
        clause = "".join(f" AND {w}" for w in where)
        rows = self.db.all(
            f"SELECT * FROM request_logs WHERE team_id = ? AND mode = ?{clause} ORDER BY seq DESC LIMIT ?",
            *scope,
            *params,
            limit + 1,
        )
        return [_entry(r) for r in rows[:limit]], len(rows) > limit

    def after(self, scope: Scope, seq: int, limit: int = 500) -> list[LogItem]:
        """Up to ``limit`` entries with a sequence number above ``seq``, oldest first."""
        rows = self.db.all(
            "SELECT * FROM request_logs WHERE team_id = ? AND mode = ? AND seq > ? ORDER BY seq LIMIT ?",
            *scope,
            seq,
            limit,
        )
        return [LogItem(r["seq"], _entry(r)) for r in rows]

    def prune(self, now: float | None = None) -> None:
        """Drop entries older than 7 days."""
        self.db.run(
            "DELETE FROM request_logs WHERE created < ?", (time.time() if now is None else now) - RETAIN_SECONDS
        )


async def list_logs(request: Request) -> Response:
    """``GET /logs?method&status&path&limit&before`` (secret key) → entries newest first, ``meta.pagination``
    ``{"limit", "hasMore", "nextCursor"}``. ``limit`` 1–100 (default 50); an unknown ``before`` is 400."""
    emulator, key = request_context(request)
    # Logs show every caller's IP, user agent and key ID: not for keys that ship in browsers.
    require_secret(key, "Reading request logs")
    filt = LogFilter.from_request(request)
    limit = v.integer(request.query_params.get("limit", "50"), "limit", minimum=1, maximum=100)
    before_id = request.query_params.get("before")
    before = None
    if before_id:
        before = emulator.logs.seq_of(key.scope, before_id)
        if before is None:
            raise ApiError.invalid("before", f"No request log entry {before_id!r}.")
    entries, has_more = emulator.logs.page(key.scope, filt, limit, before)
    cursor = entries[-1]["id"] if has_more and entries else None
    return ok(request, entries, pagination={"limit": limit, "hasMore": has_more, "nextCursor": cursor})


def _sse(item: LogItem) -> str:
    return f"id: {item.entry['id']}\nevent: request\ndata: {dumps(item.entry)}\n\n"


async def stream_logs(request: Request) -> Response:
    """``GET /logs/stream`` (filters as :func:`list_logs`) → ``text/event-stream``. ``Last-Event-ID``
    (a ``req_…`` id) first replays the matching entries after it. Ends when the key is revoked or the
    emulator stops."""
    emulator, key = request_context(request)
    require_secret(key, "Reading request logs")
    filt = LogFilter.from_request(request)
    resume = request.headers.get("last-event-id")
    interval = emulator.settings.log_ping_interval

    async def events() -> AsyncIterator[str]:
        # Subscribed before anything is read, so nothing logged meanwhile is missed.
        sub = emulator.log_hub.subscribe(key.scope, tag=key.id)
        try:
            # A comment first, so the client sees the stream open before any entry arrives.
            yield ": connected\n\n"
            after = emulator.logs.seq_of(key.scope, resume) if resume else None
            items = replay_then_live(sub, after, lambda seq: emulator.logs.after(key.scope, seq), idle=interval)
            async for item in items:
                if item is None:
                    yield ": ping\n\n"
                elif filt.match(item.entry, key.team_id):
                    yield _sse(item)
        finally:
            sub.close()

    return StreamingResponse(
        events(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
