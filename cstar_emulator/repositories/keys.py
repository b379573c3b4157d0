"""The ``api_keys`` table."""

from __future__ import annotations

import sqlite3
from typing import Any

from cstar_emulator import models
from cstar_emulator.db import Database
from cstar_emulator.ids import iso_now, new_id
from cstar_emulator.models import Resource

__all__ = ["ApiKeys"]


class ApiKeys:
    """API keys of every team (both modes); ``secret`` is the full key."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def by_secret(self, secret: str) -> sqlite3.Row | None:
        """``id, team_id, type, mode, revoked_at`` of the key whose full text is ``secret``, or None."""
        return self.db.one("SELECT id, team_id, type, mode, revoked_at FROM api_keys WHERE secret = ?", secret)

    def touch(self, key_id: str, when: str) -> None:
        """Record ``when`` (ISO 8601) as the key's ``last_used_at``."""
        self.db.run("UPDATE api_keys SET last_used_at = ? WHERE id = ?", when, key_id)

    def page(self, team_id: str, page: int, page_size: int) -> tuple[list[Resource], int]:
        """Page ``page`` (from 1) of the team's keys, newest first, redacted; and how many it has."""
        total = int(self.db.scalar("SELECT COUNT(*) FROM api_keys WHERE team_id = ?", team_id))
        rows = self.db.all(
            "SELECT * FROM api_keys WHERE team_id = ? ORDER BY rowid DESC LIMIT ? OFFSET ?",
            team_id,
            page_size,
            (page - 1) * page_size,
        )
        return [models.api_key(r) for r in rows], total

    def insert(self, team_id: str, *, name: str, key_type: str, mode: str, secret: str, seeded: bool = False) -> str:
        """Insert a key; returns its ``key_`` id."""
        key_id = new_id("key_")
        values: dict[str, Any] = {
            "id": key_id,
            "team_id": team_id,
            "name": name,
            "type": key_type,
            "mode": mode,
            "secret": secret,
            "seeded": int(seeded),
            "created_at": iso_now(),
        }
        self.db.insert("api_keys", values)
        return key_id

    def get_with_secret(self, key_id: str) -> Resource | None:
        """The key object including the full ``key``, or None."""
        row = self.db.one("SELECT * FROM api_keys WHERE id = ?", key_id)
        return models.api_key(row, with_secret=True) if row is not None else None

    def revoked_at(self, team_id: str, key_id: str) -> tuple[bool, str | None]:
        """Whether the team has the key, and when it was revoked (None: it was not)."""
        row = self.db.one("SELECT revoked_at FROM api_keys WHERE id = ? AND team_id = ?", key_id, team_id)
        return (row is not None, row["revoked_at"] if row is not None else None)

    def revoke(self, key_id: str, when: str) -> None:
        """Set the key's ``revoked_at`` to ``when`` (ISO 8601)."""
        self.db.run("UPDATE api_keys SET revoked_at = ? WHERE id = ?", when, key_id)

    def seeded_secret(self, team_id: str, key_type: str, mode: str) -> str | None:
        """The newest unrevoked seeded key of that type and mode, in full, or None."""
        value = self.db.scalar(
            "SELECT secret FROM api_keys WHERE team_id = ? AND seeded = 1 AND type = ? AND mode = ? "
            "AND revoked_at IS NULL ORDER BY rowid DESC LIMIT 1",
            team_id,
            key_type,
            mode,
        )
        return str(value) if value is not None else None
