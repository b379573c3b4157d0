"""The ``automations`` table (automation rules)."""

from __future__ import annotations

import sqlite3

from cstar_emulator import models_computed
from cstar_emulator.models import Resource
from cstar_emulator.repositories.table import ScopedTable

__all__ = ["Automations"]


class Automations(ScopedTable):
    """Automation rules; searched in name."""

    table = "automations"
    alias = "r"
    select = "SELECT r.* FROM automations r"
    id_prefix = "rule_"
    searched = ("r.name {like}",)
    defaults = {"conditions": {}, "actions": [], "enabled": True, "execution_count": 0}

    def resource(self, row: sqlite3.Row) -> Resource:
        return models_computed.automation(row)
