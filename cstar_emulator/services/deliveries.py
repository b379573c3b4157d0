"""The record of every delivery attempt: webhook POSTs made by the emulator and the acks listen
sessions send back (server contract: "acks are what the server records as this session's deliveries")."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from cstar_emulator.db import Database, Scope
from cstar_emulator.ids import iso
from cstar_emulator.models import Resource
from cstar_emulator.repositories.deliveries import DeliveryRecords

__all__ = ["Deliveries"]


class Deliveries:
    """Records deliveries in batches and lists them.

    Records are buffered and written at most :attr:`FLUSH_AFTER` s late, or every :attr:`BATCH`
    records: a listen session acks and a webhook worker attempts thousands of events a second, and
    one commit per record would cost more than sending the events. So a record is stored within a
    few milliseconds of its outcome being known (a killed process loses at most those), one commit
    per batch. :meth:`list` flushes first, and so does the emulator's shutdown.
    """

    BATCH = 500
    FLUSH_AFTER = 0.005

    def __init__(self, db: Database, records: DeliveryRecords) -> None:
        self.db = db
        self.records = records
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
            self.records.insert_many(rows)

    def list(
        self, *, kind: str | None = None, target: str | None = None, event_id: str | None = None, limit: int = 1000
    ) -> list[Resource]:
        """Recorded deliveries, oldest first (see :func:`cstar_emulator.models.delivery`)."""
        self.flush()
        return self.records.list(kind=kind, target=target, event_id=event_id, limit=limit)
