"""The ``request_logs`` table: one row per answered ``/api/v1`` request, numbered by ``seq``."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from cstar_emulator import models
from cstar_emulator.db import Database, Scope, escape_like
from cstar_emulator.models import Resource

__all__ = ["LogQuery", "LoggedRequest", "RequestLogs"]


@dataclass(frozen=True)
class LogQuery:
    """Which entries to list: exact ``method``, ``status`` between ``status_range`` (inclusive) and
    ``path_prefixes`` (any of them); None: no condition."""

    method: str | None = None
    status_range: tuple[int, int] | None = None
    path_prefixes: Sequence[str] | None = None


@dataclass(frozen=True, slots=True)
class LoggedRequest:
    """A log entry (the contract's shape) and its ``seq``, which streams order and de-duplicate by."""

    seq: int
    entry: Resource


class RequestLogs:
    """Request-log rows; ``team_id``/``mode`` are NULL for a request no team could be told for."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def insert(self, scope: Scope | None, entry: Resource, created: float) -> int | None:
        """Store ``entry`` (the contract's shape) at ``created`` (unix seconds); returns its ``seq``."""
        cur = self.db.insert(
            "request_logs",
            {
                "id": entry["id"],
                "team_id": scope.team_id if scope else None,
                "mode": scope.mode if scope else None,
                "method": entry["method"],
                "path": entry["path"],
                "status": entry["status"],
                "duration_ms": entry["durationMs"],
                "created_at": entry["createdAt"],
                "created": created,
                "key_id": entry["keyId"],
                "ip": entry["ip"],
                "user_agent": entry["userAgent"],
                "error_code": entry["errorCode"],
            },
        )
        return cur.lastrowid

    def seq_of(self, scope: Scope, request_id: str) -> int | None:
        """The ``seq`` of a logged request of ``scope``, or None."""
        value = self.db.scalar(
            "SELECT seq FROM request_logs WHERE id = ? AND team_id = ? AND mode = ?", request_id, *scope
        )
        return int(value) if value is not None else None

    def page(self, scope: Scope, query: LogQuery, limit: int, before: int | None) -> tuple[list[Resource], bool]:
        """Up to ``limit`` entries matching ``query``, newest first, numbered below ``before`` (None:
        from the newest); and whether more exist."""
        where: list[str] = []
        params: list[Any] = []
        if query.method:
            where.append("method = ?")
            params.append(query.method)
        if query.status_range:
            where.append("status BETWEEN ? AND ?")
            params += list(query.status_range)
        if query.path_prefixes:
            where.append("(" + " OR ".join(["path LIKE ? ESCAPE '\\'"] * len(query.path_prefixes)) + ")")
            params += [escape_like(p) + "%" for p in query.path_prefixes]
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
        return [models.log_entry(r) for r in rows[:limit]], len(rows) > limit

    def after(self, scope: Scope, seq: int, limit: int) -> list[LoggedRequest]:
        """Up to ``limit`` entries of ``scope`` numbered above ``seq``, oldest first."""
        rows = self.db.all(
            "SELECT * FROM request_logs WHERE team_id = ? AND mode = ? AND seq > ? ORDER BY seq LIMIT ?",
            *scope,
            seq,
            limit,
        )
        return [LoggedRequest(r["seq"], models.log_entry(r)) for r in rows]

    def delete_before(self, cutoff: float) -> None:
        """Delete entries created before ``cutoff`` (unix seconds)."""
        self.db.run("DELETE FROM request_logs WHERE created < ?", cutoff)
