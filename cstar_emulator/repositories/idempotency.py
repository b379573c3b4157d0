"""The ``idempotency`` table: the stored first response per ``Idempotency-Key`` and partition."""

from __future__ import annotations

from dataclasses import dataclass

from cstar_emulator.db import Database, Scope

__all__ = ["IdempotencyRecords", "Stored"]


@dataclass(frozen=True)
class Stored:
    """A stored first response: request ``fingerprint``, ``status``, raw ``body``, ``content_type``,
    the first request's ``request_id`` and its ``error_code`` (for the log of a replay)."""

    fingerprint: str
    status: int
    body: bytes
    content_type: str | None
    request_id: str
    error_code: str | None


class IdempotencyRecords:
    """Stored responses keyed by (team, mode, key)."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def get(self, scope: Scope, key: str, since: float) -> Stored | None:
        """The response stored for ``key`` after ``since`` (unix seconds), or None."""
        row = self.db.one(
            "SELECT fingerprint, status, body, content_type, request_id, error_code FROM idempotency "
            "WHERE team_id = ? AND mode = ? AND key = ? AND created > ?",
            *scope,
            key,
            since,
        )
        if row is None:
            return None
        return Stored(
            row["fingerprint"],
            row["status"],
            bytes(row["body"]),
            row["content_type"],
            row["request_id"],
            row["error_code"],
        )

    def put(self, scope: Scope, key: str, stored: Stored, created: float) -> None:
        """Store ``stored`` for ``key`` at ``created`` (unix seconds), replacing an older record."""
        self.db.run(
            "INSERT OR REPLACE INTO idempotency (team_id, mode, key, fingerprint, status, body, content_type, "
            "request_id, error_code, created) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            *scope,
            key,
            stored.fingerprint,
            stored.status,
            stored.body,
            stored.content_type,
            stored.request_id,
            stored.error_code,
            created,
        )

    def delete_before(self, cutoff: float) -> None:
        """Delete records created before ``cutoff`` (unix seconds)."""
        self.db.run("DELETE FROM idempotency WHERE created < ?", cutoff)
