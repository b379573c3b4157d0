"""The record of every delivery attempt: webhook POSTs made by the emulator and the acks listen
sessions send back (server contract: "acks are what the server records as this session's deliveries")."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from cstar_emulator.db import Database, Scope
from cstar_emulator.ids import iso

__all__ = ["Deliveries"]


class Deliveries:
    """Append and list rows of the ``deliveries`` table.

    Records are buffered and written in batches (at most :attr:`FLUSH_AFTER` s late, or every
    :attr:`BATCH` records): a listen session acks thousands of events a second, and one commit per
    ack would cost more than sending the events. :meth:`list` flushes first.
    """

    BATCH = 500
    FLUSH_AFTER = 0.05

    def __init__(self, db: Database) -> None:
        self.db = db
        self._pending: list[tuple[Any, ...]] = []
        self._timer: asyncio.TimerHandle | None = None

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
        self._pending.append(
            (kind, target, *scope, event_id, event_type, attempt, status, duration_ms, error, iso(now), now)
        )
        if len(self._pending) >= self.BATCH:
            self.flush()
        elif self._timer is None:
            try:
                self._timer = asyncio.get_running_loop().call_later(self.FLUSH_AFTER, self.flush)
            except RuntimeError:
                self.flush()

    def flush(self) -> None:
        """Write the buffered records now."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if not self._pending:
            return
        rows, self._pending = self._pending, []
        with self.db.transaction():
            self.db.many(
                "INSERT INTO deliveries (kind, target, team_id, mode, event_id, event_type, attempt, status, "
                "duration_ms, error, created_at, created) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                rows,
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
        self.flush()
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
