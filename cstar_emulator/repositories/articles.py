"""The ``articles`` table (knowledge-base articles)."""

from __future__ import annotations

import sqlite3

from cstar_emulator import models
from cstar_emulator.models import Resource
from cstar_emulator.repositories.table import ScopedTable

__all__ = ["Articles"]


class Articles(ScopedTable):
    """Articles; searched in title and content, ``category`` compared in any case."""

    table = "articles"
    alias = "a"
    select = "SELECT a.* FROM articles a"
    id_prefix = "art_"
    searched = ("a.title {like}", "a.content {like}")
    nocase = frozenset({"category"})

    def resource(self, row: sqlite3.Row) -> Resource:
        return models.article(row)

    defaults = {
        "content": "",
        "category": None,
        "status": "draft",
        "is_public": False,
        "tags": [],
        "view_count": 0,
        "use_count": 0,
        "metadata": {},
    }
