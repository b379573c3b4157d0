"""The ``imports`` table: one row per ``POST /import`` (its history)."""

from __future__ import annotations

import sqlite3

from cstar_emulator import models_computed
from cstar_emulator.models import Resource
from cstar_emulator.repositories.table import ScopedTable

__all__ = ["ImportLogs"]


class ImportLogs(ScopedTable):
    """Finished imports, newest first; written once, never updated."""

    table = "imports"
    alias = "i"
    select = "SELECT i.* FROM imports i"
    id_prefix = "imp_"
    updatable = False
    defaults = {"status": "completed", "errors": []}

    def resource(self, row: sqlite3.Row) -> Resource:
        return models_computed.import_log(row)
