"""The ``deliveries`` table: webhook attempts and listen-session acks, numbered by ``seq``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from cstar_emulator import models
from cstar_emulator.db import Database
from cstar_emulator.models import Resource

__all__ = ["COLUMNS", "DeliveryRecords"]

#: The columns of one record, in the order :meth:`DeliveryRecords.insert_many` takes them.
COLUMNS = (
    "kind",
    "target",
    "team_id",
    "mode",
    "event_id",
    "event_type",
    "attempt",
    "status",
    "duration_ms",
    "error",
    "created_at",
    "created",
)


class DeliveryRecords:
    """Recorded deliveries."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def insert_many(self, rows: Sequence[Sequence[Any]]) -> None:
        """Store ``rows``, each the values of :data:`COLUMNS` in order."""
        marks = ", ".join("?" * len(COLUMNS))
        self.db.many(f"INSERT INTO deliveries ({', '.join(COLUMNS)}) VALUES ({marks})", rows)

    def list(
        self, *, kind: str | None = None, target: str | None = None, event_id: str | None = None, limit: int = 1000
    ) -> list[Resource]:
        """Up to ``limit`` records, oldest first, of that ``kind``, ``target`` and ``event_id`` (each
        None or empty: any)."""
        where, params = [], []
        for column, value in (("kind", kind), ("target", target), ("event_id", event_id)):
            if value:
                where.append(f"{column} = ?")
                params.append(value)
        sql_where = (" WHERE " + " AND ".join(where)) if where else ""
        rows = self.db.all(f"SELECT * FROM deliveries{sql_where} ORDER BY seq LIMIT ?", *params, limit)
        return [models.delivery(r) for r in rows]
