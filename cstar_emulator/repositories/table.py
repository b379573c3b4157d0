"""What every partitioned resource table shares: get, page, update and delete by id inside one
:class:`~cstar_emulator.db.Scope`, so a test key can never read or change live rows."""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from cstar_emulator.db import COUNTED_TABLES, Database, Scope, escape_like, to_column
from cstar_emulator.ids import iso_now, new_id
from cstar_emulator.models import Resource

__all__ = ["ListQuery", "ScopedTable", "like"]


def like(term: str) -> str:
    """A LIKE pattern matching ``term`` anywhere (use with ``ESCAPE '\\'``)."""
    return f"%{escape_like(term)}%"


@dataclass(frozen=True)
class ListQuery:
    """Which rows a list wants: ``equals`` maps a column to the value it must hold (None: any), and
    ``search`` is a term one of the table's searched columns must contain (None or blank: none)."""

    equals: Mapping[str, object] = field(default_factory=dict)
    search: str | None = None


class ScopedTable:
    """SQL for one resource table whose rows each belong to a team and mode.

    Subclasses name the ``table``, the ``alias`` their ``select`` (``SELECT … FROM table alias``,
    computed columns included) uses, the ``searched`` conditions (``{like}`` standing for "contains
    the term"), the ``nocase`` columns compared case-insensitively, and map a row with
    :meth:`resource`.
    """

    table: ClassVar[str]
    alias: ClassVar[str]
    select: ClassVar[str]
    id_prefix: ClassVar[str]
    id_hex: ClassVar[int] = 32
    searched: ClassVar[tuple[str, ...]] = ()
    nocase: ClassVar[frozenset[str]] = frozenset()
    #: Column values of a new row unless given (besides id, team, mode and timestamps).
    defaults: ClassVar[Mapping[str, Any]] = {}
    #: Whether rows carry ``updated_at`` (set on insert and by :meth:`update`).
    updatable: ClassVar[bool] = True
    #: The ORDER BY of lists (SQL over the alias); empty: newest first.
    order: ClassVar[str] = ""

    def __init__(self, db: Database) -> None:
        self.db = db

    def resource(self, row: sqlite3.Row) -> Resource:
        """The API object of one row of :attr:`select`."""
        raise NotImplementedError

    def get(self, scope: Scope, row_id: str) -> Resource | None:
        """The object with id ``row_id`` in ``scope``, or None."""
        a = self.alias
        row = self.db.one(f"{self.select} WHERE {a}.id = ? AND {a}.team_id = ? AND {a}.mode = ?", row_id, *scope)
        return self.resource(row) if row is not None else None

    def page(
        self, scope: Scope, query: ListQuery, page: int, page_size: int, *, order: str | None = None
    ) -> tuple[list[Resource], int]:
        """Page ``page`` (from 1) of ``page_size`` objects matching ``query`` in ``order`` (an ORDER
        BY over the alias; default :attr:`order`, else newest first), and how many match in all."""
        a = self.alias
        where = [f"{a}.team_id = ?", f"{a}.mode = ?"]
        params: list[Any] = [*scope]
        for column, value in query.equals.items():
            if value is not None:
                where.append(f"{a}.{column} = ?" + (" COLLATE NOCASE" if column in self.nocase else ""))
                params.append(value)
        term = (query.search or "").strip()
        if term and self.searched:
            cond = "LIKE ? ESCAPE '\\'"
            where.append("(" + " OR ".join(s.format(like=cond) for s in self.searched) + ")")
            params += [like(term)] * len(self.searched)
        sql_where = " WHERE " + " AND ".join(where)
        if len(where) == 2 and self.table in COUNTED_TABLES:
            total = self.db.row_count(self.table, scope)
        else:
            total = int(self.db.scalar(f"SELECT COUNT(*) FROM {self.table} {a}{sql_where}", *params))
        offset = (page - 1) * page_size
        if total <= offset:
            return [], total
        sort = order or self.order
        if sort:
            rows = self.db.all(f"{self.select}{sql_where} ORDER BY {sort} LIMIT ? OFFSET ?", *params, page_size, offset)
        else:
            # Newest first: the rowids of the page come from the scope's index alone, so a deep
            # page skips index entries rather than reading (and computing the columns of) rows.
            rows = self.db.all(
                f"{self.select} WHERE {a}.rowid IN (SELECT {a}.rowid FROM {self.table} {a}{sql_where} "
                f"ORDER BY {a}.rowid DESC LIMIT ? OFFSET ?) ORDER BY {a}.rowid DESC",
                *params,
                page_size,
                offset,
            )
        return [self.resource(r) for r in rows], total

    def update(self, scope: Scope, row_id: str, changes: Mapping[str, Any]) -> None:
        """Set ``changes`` (column → value; lists and dicts stored as JSON) and ``updated_at`` on one
        row. Raises ``sqlite3.IntegrityError`` when a unique column would repeat."""
        values = {**changes, "updated_at": iso_now()}
        assignments = ", ".join(f"{col} = ?" for col in values)
        self.db.run(
            f"UPDATE {self.table} SET {assignments} WHERE id = ? AND team_id = ? AND mode = ?",
            *map(to_column, values.values()),
            row_id,
            *scope,
        )

    def delete(self, scope: Scope, row_id: str) -> bool:
        """Delete one row of ``scope``; False when there was none."""
        cur = self.db.run(f"DELETE FROM {self.table} WHERE id = ? AND team_id = ? AND mode = ?", row_id, *scope)
        return cur.rowcount > 0

    def insert(self, scope: Scope, fields: Mapping[str, Any], *, created_at: str | None = None) -> str:
        """Insert a row of ``fields`` (column → value; lists and dicts stored as JSON) over
        :attr:`defaults`, created at ``created_at`` (ISO 8601; default now), with a fresh id; returns
        it. Raises ``sqlite3.IntegrityError`` when a unique column would repeat."""
        row_id = self.new_id()
        now = created_at or iso_now()
        values = {"id": row_id, "team_id": scope.team_id, "mode": scope.mode, **self.defaults, **fields}
        values["created_at"] = now
        if self.updatable:
            values["updated_at"] = now
        self.db.insert(self.table, self.completed(values))
        return row_id

    def new_id(self) -> str:
        """A fresh row id: :attr:`id_prefix` and :attr:`id_hex` random hex digits."""
        return new_id(self.id_prefix, self.id_hex)

    def completed(self, values: dict[str, Any]) -> dict[str, Any]:
        """A new row's ``values`` with the columns derived from the others (none by default)."""
        return values
