"""The ``messages`` table (each row belongs to one ticket)."""

from __future__ import annotations

import sqlite3

from cstar_emulator import models
from cstar_emulator.db import Scope
from cstar_emulator.models import Resource
from cstar_emulator.repositories.table import ScopedTable

__all__ = ["Messages"]


class Messages(ScopedTable):
    """Messages on tickets."""

    table = "messages"
    alias = "m"
    select = "SELECT m.* FROM messages m"
    id_prefix = "msg_"
    id_hex = 12

    def resource(self, row: sqlite3.Row) -> Resource:
        return models.message(row)

    defaults = {"sender": "agent", "sender_name": None, "is_internal": False}
    updatable = False

    def of_ticket(self, scope: Scope, ticket_id: str) -> list[Resource]:
        """A ticket's messages, oldest first."""
        rows = self.db.all(
            f"{self.select} WHERE m.ticket_id = ? AND m.team_id = ? AND m.mode = ? ORDER BY m.rowid", ticket_id, *scope
        )
        return [self.resource(r) for r in rows]

    def delete_of_ticket(self, ticket_id: str) -> None:
        """Delete every message of a ticket."""
        self.db.run("DELETE FROM messages WHERE ticket_id = ?", ticket_id)
