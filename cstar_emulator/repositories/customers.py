"""The ``customers`` table (emails unique per team and mode, compared case-insensitively)."""

from __future__ import annotations

import sqlite3

from cstar_emulator import models
from cstar_emulator.db import Scope
from cstar_emulator.models import Resource
from cstar_emulator.repositories.table import ScopedTable

__all__ = ["Customers"]


class Customers(ScopedTable):
    """Customers, each with its ``ticketCount``; searched in name and email."""

    table = "customers"
    alias = "c"
    select = "SELECT c.*, (SELECT COUNT(*) FROM tickets t WHERE t.customer_id = c.id) AS ticket_count FROM customers c"
    id_prefix = "cus_"
    searched = ("c.name {like}", "c.email {like}")

    def resource(self, row: sqlite3.Row) -> Resource:
        return models.customer(row)

    defaults = {"status": "active", "sentiment": "neutral", "tags": [], "notes": None, "metadata": {}}

    def id_by_email(self, scope: Scope, email: str) -> str | None:
        """The id of the customer of ``scope`` with ``email`` (any case), or None."""
        value = self.db.scalar(
            "SELECT id FROM customers WHERE team_id = ? AND mode = ? AND email = ? COLLATE NOCASE", *scope, email
        )
        return str(value) if value is not None else None
