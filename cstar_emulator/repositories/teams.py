"""The ``teams`` table."""

from __future__ import annotations

import sqlite3

from cstar_emulator.db import Database
from cstar_emulator.ids import iso_now

__all__ = ["Teams"]


class Teams:
    """Teams (the emulator seeds one)."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def get(self, team_id: str) -> sqlite3.Row | None:
        """The team row, or None."""
        return self.db.one("SELECT * FROM teams WHERE id = ?", team_id)

    def first(self) -> sqlite3.Row | None:
        """The oldest team row, or None on an empty database."""
        return self.db.one("SELECT * FROM teams ORDER BY rowid LIMIT 1")

    def exists(self, team_id: str) -> bool:
        """Whether there is a team ``team_id``."""
        return self.db.one("SELECT 1 FROM teams WHERE id = ?", team_id) is not None

    def insert(self, team_id: str, *, name: str, slug: str, plan: str, member_count: int) -> None:
        """Insert a team."""
        self.db.insert(
            "teams",
            {
                "id": team_id,
                "name": name,
                "slug": slug,
                "plan": plan,
                "member_count": member_count,
                "created_at": iso_now(),
            },
        )
