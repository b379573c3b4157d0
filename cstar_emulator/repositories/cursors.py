"""Where each listening device stopped: ``cli_resume_keys`` (a session's resume key) and
``cli_cursors`` (per team, mode and resume key, the newest event its sessions acknowledged in order).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from cstar_emulator.db import Database, Scope

__all__ = ["CatchUp", "Cursor", "ResumeCursors"]


@dataclass(frozen=True)
class Cursor:
    """The newest event (``seq``, ``event_id``) a device acknowledged in order."""

    seq: int
    event_id: str


@dataclass(frozen=True)
class CatchUp:
    """The stored events after a cursor: per-type ``counts``, and the ``first_created`` (unix
    seconds) of the oldest of them (None when there are none)."""

    counts: dict[str, int]
    first_created: float | None


class ResumeCursors:
    """Resume keys of sessions and the cursors of resume keys."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def bind(self, scope: Scope, session_id: str, resume_key: str) -> None:
        """Remember that ``session_id`` acks for ``resume_key``."""
        self.db.insert(
            "cli_resume_keys",
            {"session_id": session_id, "team_id": scope.team_id, "mode": scope.mode, "resume_key": resume_key},
        )

    def key_of(self, session_id: str) -> str | None:
        """The resume key of a session, or None when it was created without one."""
        value = self.db.scalar("SELECT resume_key FROM cli_resume_keys WHERE session_id = ?", session_id)
        return str(value) if value is not None else None

    def get(self, scope: Scope, resume_key: str) -> Cursor | None:
        """The stored cursor of ``resume_key`` in ``scope``, or None."""
        row = self.db.one(
            "SELECT seq, event_id FROM cli_cursors WHERE team_id = ? AND mode = ? AND resume_key = ?",
            *scope,
            resume_key,
        )
        return Cursor(int(row["seq"]), str(row["event_id"])) if row else None

    def upsert_many(self, rows: Iterable[tuple[Scope, str, Cursor, float]]) -> None:
        """Store cursors ``(scope, resume key, cursor, updated)``; an older one never replaces a newer."""
        self.db.many(
            "INSERT INTO cli_cursors (team_id, mode, resume_key, seq, event_id, updated) VALUES (?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (team_id, mode, resume_key) DO UPDATE SET seq = excluded.seq, "
            "event_id = excluded.event_id, updated = excluded.updated WHERE excluded.seq > cli_cursors.seq",
            [(*scope, key, c.seq, c.event_id, updated) for scope, key, c, updated in rows],
        )

    def oldest(self, scope: Scope) -> tuple[int, float] | None:
        """The ``(seq, created)`` of the oldest stored event of ``scope``, or None."""
        row = self.db.one(
            "SELECT seq, created FROM events WHERE team_id = ? AND mode = ? ORDER BY seq LIMIT 1", *scope
        )
        return (int(row["seq"]), float(row["created"])) if row else None

    def catch_up(self, scope: Scope, after: int) -> CatchUp:
        """What is stored in ``scope`` after sequence number ``after``."""
        rows = self.db.all(
            "SELECT type, COUNT(*) AS n, MIN(created) AS first FROM events "
            "WHERE team_id = ? AND mode = ? AND seq > ? GROUP BY type",
            *scope,
            after,
        )
        firsts = [float(r["first"]) for r in rows]
        return CatchUp({str(r["type"]): int(r["n"]) for r in rows}, min(firsts) if firsts else None)
