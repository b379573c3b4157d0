"""The ``webhooks`` table. Secrets leave it only through :meth:`Webhooks.get_with_secret` and
:meth:`Webhooks.target`."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from typing import Any

from cstar_emulator import models
from cstar_emulator.db import Scope, loads_list
from cstar_emulator.ids import new_id
from cstar_emulator.models import Resource
from cstar_emulator.repositories.table import ScopedTable

__all__ = ["Target", "Webhooks"]


@dataclass(frozen=True)
class Target:
    """Where and how to deliver to an active webhook: its ``url`` and signing ``secret``."""

    url: str
    secret: str


class Webhooks(ScopedTable):
    """Webhook subscriptions."""

    table = "webhooks"
    alias = "w"
    select = "SELECT w.* FROM webhooks w"
    id_prefix = "whk_"
    id_hex = 12

    def resource(self, row: sqlite3.Row) -> Resource:
        return models.webhook(row)

    def completed(self, values: dict[str, Any]) -> dict[str, Any]:
        """A new webhook gets a fresh ``whsec_`` signing secret."""
        return {**values, "secret": new_id("whsec_", 48)}

    def get_with_secret(self, scope: Scope, webhook_id: str) -> Resource | None:
        """The webhook object including its ``secret``, or None."""
        row = self.db.one(f"{self.select} WHERE w.id = ? AND w.team_id = ? AND w.mode = ?", webhook_id, *scope)
        return models.webhook(row, with_secret=True) if row is not None else None

    def subscriptions(self, scope: Scope) -> list[tuple[str, list[str]]]:
        """``(id, event patterns)`` of the active webhooks of ``scope``, oldest first."""
        rows = self.db.all(
            "SELECT id, events FROM webhooks WHERE team_id = ? AND mode = ? AND is_active = 1 ORDER BY rowid", *scope
        )
        return [(r["id"], loads_list(r["events"])) for r in rows]

    def target(self, webhook_id: str) -> Target | None:
        """Where to deliver to the webhook now; None when it was deleted or paused."""
        row = self.db.one("SELECT url, secret, is_active FROM webhooks WHERE id = ?", webhook_id)
        if row is None or not row["is_active"]:
            return None
        return Target(row["url"], row["secret"])
