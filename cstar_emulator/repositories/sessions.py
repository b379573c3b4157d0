"""The ``cli_sessions`` table and the per-(team, mode, device) signing secrets in ``cli_secrets``."""

from __future__ import annotations

from dataclasses import dataclass

from cstar_emulator import models
from cstar_emulator.db import Database, Scope, loads_list
from cstar_emulator.ids import iso, new_id
from cstar_emulator.models import Resource

__all__ = ["ActiveSession", "CliSessions"]


@dataclass(frozen=True)
class ActiveSession:
    """What a connecting socket needs of a live session: its event ``patterns`` and ``start_seq``."""

    patterns: list[str]
    start_seq: int


class CliSessions:
    """Listen sessions (``expired`` marks one unknown before its time) and device secrets."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def insert(
        self,
        scope: Scope,
        *,
        key_id: str,
        device_name: str,
        events: list[str],
        created: float,
        expires: float,
        start_seq: int,
    ) -> str:
        """Insert a session (``created``/``expires`` in unix seconds); returns its ``cls_`` id."""
        session_id = new_id("cls_")
        self.db.insert(
            "cli_sessions",
            {
                "id": session_id,
                "team_id": scope.team_id,
                "mode": scope.mode,
                "key_id": key_id,
                "device_name": device_name,
                "events": events,
                "created_at": iso(created),
                "expires": expires,
                "start_seq": start_seq,
            },
        )
        return session_id

    def active(self, scope: Scope, session_id: str, now: float) -> ActiveSession | None:
        """The session of ``scope`` if it is neither expired nor marked so at ``now``, else None."""
        row = self.db.one(
            "SELECT events, start_seq FROM cli_sessions "
            "WHERE id = ? AND team_id = ? AND mode = ? AND expired = 0 AND expires > ?",
            session_id,
            *scope,
            now,
        )
        return ActiveSession(loads_list(row["events"]), int(row["start_seq"])) if row else None

    def live(self, scope: Scope, now: float) -> list[Resource]:
        """The sessions of ``scope`` still live at ``now``, newest first (no secret)."""
        rows = self.db.all(
            "SELECT id, device_name, events, created_at, expires FROM cli_sessions "
            "WHERE team_id = ? AND mode = ? AND expired = 0 AND expires > ? ORDER BY created_at DESC, rowid DESC",
            *scope,
            now,
        )
        return [models.cli_session(row) for row in rows]

    def delete(self, scope: Scope, session_id: str) -> bool:
        """Delete a session of ``scope``; False when there was none."""
        cur = self.db.run("DELETE FROM cli_sessions WHERE id = ? AND team_id = ? AND mode = ?", session_id, *scope)
        return cur.rowcount > 0

    def expire_all(self) -> int:
        """Mark every session expired; returns how many were not yet."""
        return self.db.run("UPDATE cli_sessions SET expired = 1 WHERE expired = 0").rowcount

    def delete_expired_before(self, cutoff: float) -> None:
        """Delete sessions whose expiry (unix seconds) is before ``cutoff``."""
        self.db.run("DELETE FROM cli_sessions WHERE expires < ?", cutoff)

    def device_secret(self, scope: Scope, device_name: str) -> str | None:
        """The signing secret of a device in ``scope``, or None when it has none yet."""
        value = self.db.scalar(
            "SELECT secret FROM cli_secrets WHERE team_id = ? AND mode = ? AND device_name = ?", *scope, device_name
        )
        return str(value) if value is not None else None

    def add_device_secret(self, scope: Scope, device_name: str, secret: str) -> None:
        """Store the signing secret of a device in ``scope``."""
        self.db.insert(
            "cli_secrets", {"team_id": scope.team_id, "mode": scope.mode, "device_name": device_name, "secret": secret}
        )
