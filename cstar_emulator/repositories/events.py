"""The ``events`` table: the stored event log, numbered per partition by ``seq``."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from cstar_emulator.db import Database, Scope

__all__ = ["Event", "EventLog"]


@dataclass(frozen=True, slots=True)
class Event:
    """One stored event: its partition, ``seq`` (per partition, from 1), ``id`` (``evt_…``), ``type``,
    the exact ``payload`` text and the ``request_id`` of the API call that caused it."""

    scope: Scope
    seq: int
    id: str
    type: str
    payload: str
    request_id: str | None


class EventLog:
    """Stored events."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def insert(self, events: Sequence[Event], created: float) -> None:
        """Store ``events``, created at ``created`` (unix seconds)."""
        self.db.many(
            "INSERT INTO events (team_id, mode, seq, id, type, payload, request_id, created) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [(*e.scope, e.seq, e.id, e.type, e.payload, e.request_id, created) for e in events],
        )

    def top_seq(self, scope: Scope) -> int:
        """The highest stored ``seq`` of ``scope`` (0 when there is none)."""
        return int(self.db.scalar("SELECT MAX(seq) FROM events WHERE team_id = ? AND mode = ?", *scope) or 0)

    def seq_of(self, scope: Scope, event_id: str) -> int | None:
        """The ``seq`` of a stored event of ``scope``, or None."""
        value = self.db.scalar("SELECT seq FROM events WHERE id = ? AND team_id = ? AND mode = ?", event_id, *scope)
        return int(value) if value is not None else None

    def id_at(self, scope: Scope, seq: int) -> str | None:
        """The id of the event numbered ``seq`` in ``scope``, or None."""
        value = self.db.scalar("SELECT id FROM events WHERE team_id = ? AND mode = ? AND seq = ?", *scope, seq)
        return str(value) if value is not None else None

    def latest_id(self, scope: Scope) -> str | None:
        """The id of the newest stored event of ``scope``, or None."""
        value = self.db.scalar("SELECT id FROM events WHERE team_id = ? AND mode = ? ORDER BY seq DESC LIMIT 1", *scope)
        return str(value) if value is not None else None

    def after(self, scope: Scope, seq: int, limit: int) -> list[Event]:
        """Up to ``limit`` events of ``scope`` numbered above ``seq``, in order."""
        rows = self.db.all(
            "SELECT seq, id, type, payload, request_id FROM events WHERE team_id = ? AND mode = ? AND seq > ? "
            "ORDER BY seq LIMIT ?",
            *scope,
            seq,
            limit,
        )
        return [Event(scope, r["seq"], r["id"], r["type"], r["payload"], r["request_id"]) for r in rows]

    def tops(self) -> list[tuple[Scope, int]]:
        """Every partition that has events, with its highest ``seq``."""
        rows = self.db.all("SELECT team_id, mode, MAX(seq) AS top FROM events GROUP BY team_id, mode")
        return [(Scope(r["team_id"], r["mode"]), int(r["top"])) for r in rows]

    def delete_old(self, scope: Scope, created_before: float, seq_up_to: int) -> int:
        """Delete the events of ``scope`` created before ``created_before`` (unix seconds) and
        numbered at most ``seq_up_to``; returns how many."""
        cur = self.db.run(
            "DELETE FROM events WHERE team_id = ? AND mode = ? AND created < ? AND seq <= ?",
            *scope,
            created_before,
            seq_up_to,
        )
        return cur.rowcount
