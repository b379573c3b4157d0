"""The record of every delivery attempt: webhook POSTs made by the emulator and the acks listen
sessions send back (server contract: "acks are what the server records as this session's deliveries")."""

from __future__ import annotations

import time
from typing import Any

from cstar_cli.emulator.db import Database, Scope
from cstar_cli.emulator.ids import iso

__all__ = ["Deliveries"]


class Deliveries:
    """Append and list rows of the ``deliveries`` table."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def record(
        self,
        kind: str,
        target: str,
        scope: Scope,
        *,
        event_id: str | None,
        event_type: str | None = None,
        attempt: int | None = None,
        status: int | None = None,
        duration_ms: float | None = None,
        error: str | None = None,
    ) -> None:
        """One attempt (``kind`` ``"webhook"``, target ``whk_…``) or ack (``"cli"``, target ``cls_…``)."""
        now = time.time()
        self.db.run(
            "INSERT INTO deliveries (kind, target, team_id, mode, event_id, event_type, attempt, status, "
            "duration_ms, error, created_at, created) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            kind,
            target,
            *scope,
            event_id,
            event_type,
            attempt,
            status,
            duration_ms,
            error,
            iso(now),
            now,
        )

    def list(
        self,
        *,
        kind: str | None = None,
        target: str | None = None,
        event_id: str | None = None,
        limit: int = 1000,
    ) -> list[dict[str, Any]]:
        """Recorded deliveries, oldest first: ``{"kind", "target", "teamId", "mode", "eventId",
        "eventType", "attempt", "status", "durationMs", "error", "createdAt"}``."""
        where, params = [], []
        for column, value in (("kind", kind), ("target", target), ("event_id", event_id)):
            if value:
                where.append(f"{column} = ?")
                params.append(value)
        sql_where = (" WHERE " + " AND ".join(where)) if where else ""
        rows = self.db.all(f"SELECT * FROM deliveries{sql_where} ORDER BY seq LIMIT ?", *params, limit)
        return [
            {
                "kind": r["kind"],
                "target": r["target"],
                "teamId": r["team_id"],
                "mode": r["mode"],
                "eventId": r["event_id"],
                "eventType": r["event_type"],
                "attempt": r["attempt"],
                "status": r["status"],
                "durationMs": r["duration_ms"],
                "error": r["error"],
                "createdAt": r["created_at"],
            }
            for r in rows
        ]
