"""The ``tickets`` table."""

from __future__ import annotations

import sqlite3
from typing import Any

from cstar_emulator import models
from cstar_emulator.models import Resource
from cstar_emulator.repositories.table import ScopedTable

__all__ = ["Tickets"]


class Tickets(ScopedTable):
    """Tickets, each with its ``messageCount``; searched in title, notes and message text."""

    table = "tickets"
    alias = "t"
    select = "SELECT t.*, (SELECT COUNT(*) FROM messages m WHERE m.ticket_id = t.id) AS message_count FROM tickets t"
    id_prefix = "tkt_"
    searched = (
        "t.title {like}",
        "t.notes {like}",
        "EXISTS (SELECT 1 FROM messages m WHERE m.ticket_id = t.id AND m.content {like})",
    )

    def resource(self, row: sqlite3.Row) -> Resource:
        return models.ticket(row)

    defaults = {
        "status": "new",
        "priority": "normal",
        "customer_id": None,
        "assigned_to": None,
        "tags": [],
        "notes": None,
        "metadata": {},
    }

    def completed(self, values: dict[str, Any]) -> dict[str, Any]:
        """A ticket created done is resolved when created."""
        resolved = values["status"] in models.DONE_STATUSES
        return {**values, "resolved_at": values["created_at"] if resolved else None}

    def touch(self, ticket_id: str, when: str) -> None:
        """Set the ticket's ``updated_at`` to ``when`` (ISO 8601)."""
        self.db.run("UPDATE tickets SET updated_at = ? WHERE id = ?", when, ticket_id)

    def unlink_customer(self, customer_id: str) -> None:
        """Clear ``customer_id`` on every ticket of that customer."""
        self.db.run("UPDATE tickets SET customer_id = NULL WHERE customer_id = ?", customer_id)
