"""Snapshots of the emulator's team data, and resetting it to the seed (docs/emulator.md, "Lifecycle").

A snapshot is one JSON object::

    {"format": "cstar-emulator-snapshot", "version": 1, "schemaVersion": 1,
     "exportedAt": "2025-01-01T00:00:00.000Z", "teamId": "…",
     "tables": {"teams": [{"id": "…", "name": "…", …}], "tickets": [{"id": "tkt_…", …}], …}}

``tables`` holds the ``teams`` row of the team and the team's rows (both modes) of every table with a
``team_id`` column, found in the schema itself, so a table added later is included without a change
here. Rows are objects of column → stored value, in insertion order (which is what "newest first"
lists sort by); JSON columns stay the text they are stored as, event payloads byte for byte, and a
BLOB is ``{"$base64": "…"}``. A snapshot holds the team's API keys and webhook secrets.

Every function here runs in the caller's transaction (or one of its own), so a reset or an import is
all or nothing. The database serves one team: both replace every team's data.
"""

from __future__ import annotations

import base64
import sqlite3
from collections.abc import Callable, Iterable
from typing import Any

from cstar_emulator.db import SCHEMA_VERSION, Database
from cstar_emulator.ids import iso_now
from cstar_emulator.seed import Seed, SeedTables, ensure_seed

__all__ = [
    "FORMAT",
    "VERSION",
    "bare",
    "SnapshotError",
    "clear",
    "counts",
    "export",
    "reset",
    "restore",
    "team_tables",
]

FORMAT = "cstar-emulator-snapshot"
#: The snapshot format's version; a snapshot of a later version is refused.
VERSION = 1
_BYTES = "$base64"
_MODES = ("test", "live")


class SnapshotError(ValueError):
    """A snapshot that cannot be imported; ``str()`` says where and why (one line)."""


def team_tables(db: Database) -> list[str]:
    """Every table with a ``team_id`` column, in the order the schema creates them."""
    names = [str(r["name"]) for r in db.all("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY rowid")]
    return [name for name in names if "team_id" in _columns(db, name)]


def _columns(db: Database, table: str) -> dict[str, sqlite3.Row]:
    """Column name → ``PRAGMA table_info`` row (``type``, ``notnull``, ``dflt_value``, ``pk``)."""
    return {str(r["name"]): r for r in db.all(f'PRAGMA table_info("{table}")')}


def _encode(value: Any) -> Any:
    return {_BYTES: base64.b64encode(value).decode("ascii")} if isinstance(value, bytes) else value


def export(db: Database, team_id: str) -> dict[str, Any]:
    """The snapshot of team ``team_id`` (see the module docstring). Raises SnapshotError when there
    is no such team."""
    team = db.all("SELECT * FROM teams WHERE id = ?", team_id)
    if not team:
        raise SnapshotError(f"there is no team {team_id!r} in the database")
    tables: dict[str, list[dict[str, Any]]] = {"teams": [dict(team[0])]}
    for table in team_tables(db):
        rows = db.all(f'SELECT * FROM "{table}" WHERE team_id = ? ORDER BY rowid', team_id)
        tables[table] = [{k: _encode(v) for k, v in dict(row).items()} for row in rows]
    return {
        "format": FORMAT,
        "version": VERSION,
        "schemaVersion": SCHEMA_VERSION,
        "exportedAt": iso_now(),
        "teamId": team_id,
        "tables": tables,
    }


def counts(db: Database, team_id: str) -> dict[str, int]:
    """Rows per table of team ``team_id`` (tables without any left out)."""
    out = {}
    for table in team_tables(db):
        n = int(db.scalar(f'SELECT COUNT(*) FROM "{table}" WHERE team_id = ?', team_id))
        if n:
            out[table] = n
    return out


def clear(db: Database, *, keep_keys: Iterable[str] = ()) -> None:
    """Delete every team and every row of every team table, except the ``api_keys`` rows whose full
    key is in ``keep_keys``."""
    kept = list(keep_keys)
    with db.transaction():
        for table in team_tables(db):
            if table == "api_keys" and kept:
                marks = ", ".join("?" * len(kept))
                db.run(f"DELETE FROM api_keys WHERE secret NOT IN ({marks})", *kept)
            else:
                db.run(f'DELETE FROM "{table}"')
        db.run("DELETE FROM teams")


def reset(db: Database, seed: Seed, seed_data: Callable[[str], Seed]) -> Seed:
    """Replace the database's team data by the seed: every row is deleted except ``seed``'s keys,
    then ``seed_data(team_id)`` (:meth:`cstar_emulator.state.Emulator.seed_data`) seeds the team
    ``seed`` names again, same id. Keys created or revoked since are gone. Returns the new
    :class:`Seed` (same team id and keys)."""
    with db.transaction():
        clear(db, keep_keys=seed.keys.values())
        return seed_data(seed.team_id)


def bare(db: Database, tables: SeedTables, seed: Seed) -> Seed:
    """Leave only the team ``seed`` names (its row as seeded) and its keys: no sample data."""
    with db.transaction():
        clear(db, keep_keys=seed.keys.values())
        tables.teams.insert(
            seed.team_id,
            name=seed.team["name"],
            slug=seed.team["slug"],
            plan=seed.team["plan"],
            member_count=seed.team["member_count"],
        )
        # The team exists, so this only looks the kept keys up.
        return ensure_seed(db, tables)


def restore(db: Database, tables: SeedTables, snapshot: Any) -> Seed:
    """Replace the database's team data by ``snapshot`` (a parsed snapshot), after checking it
    against this database's schema: format and version, known tables and columns, one ``teams`` row,
    every row of that team, column types. A key kind the snapshot lacks gets a fresh seeded key.
    Returns the team and its keys. Raises SnapshotError (nothing changed) when it does not fit."""
    if not isinstance(snapshot, dict):
        raise SnapshotError("a snapshot is a JSON object")
    if snapshot.get("format") != FORMAT:
        raise SnapshotError(f'not an emulator snapshot ("format" must be "{FORMAT}")')
    version = snapshot.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or not 1 <= version <= VERSION:
        raise SnapshotError(f"unsupported snapshot version {version!r} (this emulator reads 1–{VERSION})")
    team_id = snapshot.get("teamId")
    if not isinstance(team_id, str) or not team_id.strip():
        raise SnapshotError('"teamId" must be a non-empty string')
    data = snapshot.get("tables")
    if not isinstance(data, dict):
        raise SnapshotError('"tables" must be an object of table name → rows')
    known = team_tables(db)
    for name in data:
        if name != "teams" and name not in known:
            raise SnapshotError(f"unknown table {name!r} (is the snapshot from a newer emulator?)")
    teams = data.get("teams")
    if not isinstance(teams, list) or len(teams) != 1 or not isinstance(teams[0], dict):
        raise SnapshotError('"tables.teams" must hold exactly one team')
    if teams[0].get("id") != team_id:
        raise SnapshotError('"tables.teams[0].id" must be the snapshot\'s "teamId"')
    plan = [("teams", _checked(db, "teams", teams, None))]
    plan += [(name, _checked(db, name, data[name], team_id)) for name in known if name in data]
    with db.transaction():
        clear(db)
        for name, rows in plan:
            for i, row in enumerate(rows):
                try:
                    db.insert(f'"{name}"', row)
                except sqlite3.Error as e:
                    raise SnapshotError(f"tables.{name}[{i}]: {e}") from None
        return ensure_seed(db, tables)


_TYPES: dict[str, tuple[type, ...]] = {"TEXT": (str,), "INTEGER": (int,), "REAL": (int, float), "BLOB": (bytes,)}


def _checked(db: Database, table: str, rows: Any, team_id: str | None) -> list[dict[str, Any]]:
    """``rows`` of ``table`` as values to insert; SnapshotError naming the first row that does not fit."""
    if not isinstance(rows, list):
        raise SnapshotError(f'"tables.{table}" must be an array of rows')
    columns = _columns(db, table)
    out = []
    for i, row in enumerate(rows):
        where = f"tables.{table}[{i}]"
        if not isinstance(row, dict):
            raise SnapshotError(f"{where}: a row is an object of column → value")
        values: dict[str, Any] = {}
        for name, value in row.items():
            info = columns.get(name)
            if info is None:
                raise SnapshotError(f"{where}: unknown column {name!r}")
            if isinstance(value, dict) and set(value) == {_BYTES} and isinstance(value[_BYTES], str):
                try:
                    value = base64.b64decode(value[_BYTES], validate=True)
                except ValueError:
                    raise SnapshotError(f"{where}.{name}: not valid base64") from None
            allowed = _TYPES.get(str(info["type"]).upper(), (str, int, float, bytes))
            ok = value is None or (isinstance(value, allowed) and not isinstance(value, bool))
            if not ok:
                raise SnapshotError(f"{where}.{name}: expected {str(info['type']).lower() or 'a scalar'}")
            values[name] = value
        if team_id is not None and values.get("team_id") != team_id:
            raise SnapshotError(f"{where}: team_id must be the snapshot's teamId")
        if "mode" in columns and values.get("mode") not in _MODES and values.get("mode") is not None:
            raise SnapshotError(f"{where}.mode: must be test or live")
        out.append(values)
    return out

