"""The emulator touches only files that are its own: a --db that is not an emulator database is
refused before its mode (or anything else) changes."""

from __future__ import annotations

import sqlite3
import stat
from pathlib import Path

import pytest

from cstar_emulator.db import Database, DatabaseError


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_file_that_is_not_sqlite_is_refused_and_left_as_it_was(tmp_path: Path) -> None:
    victim = tmp_path / "notes.txt"
    victim.write_text("keep me\n")
    victim.chmod(0o644)
    with pytest.raises(DatabaseError, match="not an SQLite file"):
        Database(victim)
    assert mode(victim) == 0o644 and victim.read_text() == "keep me\n"


def test_another_programs_sqlite_database_is_refused_and_left_as_it_was(tmp_path: Path) -> None:
    other = tmp_path / "app.db"
    with sqlite3.connect(other) as conn:
        conn.execute("CREATE TABLE orders (id INTEGER)")
    other.chmod(0o644)
    before = other.read_bytes()
    with pytest.raises(DatabaseError, match="holds other tables"):
        Database(other)
    assert mode(other) == 0o644 and other.read_bytes() == before


@pytest.mark.parametrize("start", ["missing", "empty", "ours"])
def test_new_empty_and_own_databases_are_used_and_made_private(tmp_path: Path, start: str) -> None:
    path = tmp_path / "emulator.db"
    if start == "empty":
        path.touch()
        path.chmod(0o644)
    elif start == "ours":
        Database(path).close()
        path.chmod(0o644)
    db = Database(path)
    try:
        assert mode(path) == 0o600
        assert db.scalar("SELECT value FROM meta WHERE key = 'started'") is not None
    finally:
        db.close()
