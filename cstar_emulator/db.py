"""The emulator's SQLite file: schema, connection settings and small query helpers.

One connection, used only from the server's event loop, so statements never interleave; nothing
awaits inside :meth:`Database.transaction` (a transaction joined from another task raises, as that
would mix two requests' writes). WAL with ``synchronous=NORMAL`` keeps every committed write across a
killed process without an fsync per commit, and ``locking_mode=EXCLUSIVE`` stops a second emulator
from sharing (and corrupting the event sequence of) the same file.

The file holds every API key, so it and its ``-wal``, ``-shm`` and ``-journal`` companions are 0600,
whatever mode a file had before; a folder the emulator creates for it is 0700.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import sqlite3
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NamedTuple

__all__ = [
    "Database",
    "DatabaseError",
    "Scope",
    "default_db_path",
    "dumps",
    "escape_like",
    "loads_list",
    "loads_obj",
    "to_column",
]

SCHEMA_VERSION = 1
#: Mode of the database file and of the files SQLite keeps beside it.
FILE_MODE = 0o600
_COMPANIONS = ("-wal", "-shm", "-journal")

log = logging.getLogger("cstar.emulator")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT);
CREATE TABLE IF NOT EXISTS teams (
  id TEXT PRIMARY KEY, name TEXT NOT NULL, slug TEXT NOT NULL, plan TEXT NOT NULL,
  member_count INTEGER NOT NULL, created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS api_keys (
  id TEXT PRIMARY KEY, team_id TEXT NOT NULL, name TEXT NOT NULL, type TEXT NOT NULL, mode TEXT NOT NULL,
  secret TEXT NOT NULL UNIQUE, seeded INTEGER NOT NULL DEFAULT 0, created_at TEXT NOT NULL,
  last_used_at TEXT, revoked_at TEXT
);
CREATE TABLE IF NOT EXISTS customers (
  id TEXT PRIMARY KEY, team_id TEXT NOT NULL, mode TEXT NOT NULL, name TEXT NOT NULL, email TEXT,
  status TEXT NOT NULL, sentiment TEXT NOT NULL, tags TEXT NOT NULL, notes TEXT, metadata TEXT NOT NULL,
  created_at TEXT NOT NULL, updated_at TEXT NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS customers_email ON customers (team_id, mode, email COLLATE NOCASE);
CREATE TABLE IF NOT EXISTS tickets (
  id TEXT PRIMARY KEY, team_id TEXT NOT NULL, mode TEXT NOT NULL, title TEXT NOT NULL, status TEXT NOT NULL,
  priority TEXT NOT NULL, customer_id TEXT, assigned_to TEXT, tags TEXT NOT NULL, notes TEXT,
  metadata TEXT NOT NULL, created_at TEXT NOT NULL, updated_at TEXT NOT NULL, resolved_at TEXT
);
CREATE INDEX IF NOT EXISTS tickets_scope ON tickets (team_id, mode);
CREATE TABLE IF NOT EXISTS messages (
  id TEXT PRIMARY KEY, team_id TEXT NOT NULL, mode TEXT NOT NULL, ticket_id TEXT NOT NULL,
  content TEXT NOT NULL, sender TEXT NOT NULL, sender_name TEXT, is_internal INTEGER NOT NULL,
  created_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS messages_ticket ON messages (ticket_id);
CREATE TABLE IF NOT EXISTS articles (
  id TEXT PRIMARY KEY, team_id TEXT NOT NULL, mode TEXT NOT NULL, title TEXT NOT NULL, content TEXT NOT NULL,
  category TEXT, status TEXT NOT NULL, is_public INTEGER NOT NULL, tags TEXT NOT NULL,
  view_count INTEGER NOT NULL DEFAULT 0, use_count INTEGER NOT NULL DEFAULT 0, metadata TEXT NOT NULL,
  created_at TEXT NOT NULL, updated_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS webhooks (
  id TEXT PRIMARY KEY, team_id TEXT NOT NULL, mode TEXT NOT NULL, name TEXT NOT NULL, url TEXT NOT NULL,
  events TEXT NOT NULL, secret TEXT NOT NULL, is_active INTEGER NOT NULL, created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS events (
  team_id TEXT NOT NULL, mode TEXT NOT NULL, seq INTEGER NOT NULL, id TEXT NOT NULL UNIQUE,
  type TEXT NOT NULL, payload TEXT NOT NULL, request_id TEXT, created REAL NOT NULL,
  PRIMARY KEY (team_id, mode, seq)
);
CREATE TABLE IF NOT EXISTS cli_secrets (
  team_id TEXT NOT NULL, mode TEXT NOT NULL, device_name TEXT NOT NULL, secret TEXT NOT NULL,
  PRIMARY KEY (team_id, mode, device_name)
);
CREATE TABLE IF NOT EXISTS cli_sessions (
  id TEXT PRIMARY KEY, team_id TEXT NOT NULL, mode TEXT NOT NULL, key_id TEXT NOT NULL,
  device_name TEXT NOT NULL, events TEXT NOT NULL, created_at TEXT NOT NULL, expires REAL NOT NULL,
  expired INTEGER NOT NULL DEFAULT 0, start_seq INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS deliveries (
  seq INTEGER PRIMARY KEY AUTOINCREMENT, kind TEXT NOT NULL, target TEXT NOT NULL, team_id TEXT NOT NULL,
  mode TEXT NOT NULL, event_id TEXT, event_type TEXT, attempt INTEGER, status INTEGER, duration_ms REAL,
  error TEXT, created_at TEXT NOT NULL, created REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS idempotency (
  team_id TEXT NOT NULL, mode TEXT NOT NULL, key TEXT NOT NULL, fingerprint TEXT NOT NULL,
  status INTEGER NOT NULL, body BLOB NOT NULL, content_type TEXT, request_id TEXT NOT NULL,
  error_code TEXT, created REAL NOT NULL, PRIMARY KEY (team_id, mode, key)
);
CREATE TABLE IF NOT EXISTS request_logs (
  seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE, team_id TEXT, mode TEXT,
  method TEXT NOT NULL, path TEXT NOT NULL, status INTEGER NOT NULL, duration_ms REAL NOT NULL,
  created_at TEXT NOT NULL, created REAL NOT NULL, key_id TEXT, ip TEXT, user_agent TEXT, error_code TEXT
);
CREATE INDEX IF NOT EXISTS request_logs_scope ON request_logs (team_id, mode, seq);
"""


class DatabaseError(Exception):
    """The database file cannot be opened, created or locked (message says which and why)."""


class Scope(NamedTuple):
    """The data partition a key sees: its team and mode (``"test"`` or ``"live"``)."""

    team_id: str
    mode: str


def default_db_path() -> Path:
    """``$CSTAR_DATA_DIR/emulator.db``, else ``platformdirs.user_data_dir("cstar")/emulator.db``."""
    override = os.environ.get("CSTAR_DATA_DIR")
    if override:
        return Path(override).expanduser() / "emulator.db"
    import platformdirs

    return Path(platformdirs.user_data_dir("cstar", appauthor=False)) / "emulator.db"


def dumps(value: Any) -> str:
    """Compact JSON text, UTF-8 kept: the one serialisation of payloads, responses and JSON columns.
    Raises ValueError for NaN or an infinity, which JSON cannot spell."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)


def to_column(value: Any) -> Any:
    """``value`` as stored: lists and dicts as JSON text (:func:`dumps`), anything else as it is."""
    return dumps(value) if isinstance(value, (list, dict)) else value


def escape_like(text: str) -> str:
    """``text`` with LIKE wildcards taken literally; use the pattern with ``ESCAPE '\\'``."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def loads_list(text: str | None) -> list[Any]:
    """A JSON array column as a list (``[]`` for NULL)."""
    return json.loads(text) if text else []


def loads_obj(text: str | None) -> dict[str, Any]:
    """A JSON object column as a dict (``{}`` for NULL)."""
    return json.loads(text) if text else {}


class Database:
    """The open emulator database at ``path`` (created with its folder when missing).

    Raises :class:`DatabaseError` when the file cannot be opened or another emulator holds it.
    """

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path).expanduser().resolve()
        self._depth = 0
        self._owner: asyncio.Task[Any] | None = None
        self._on_commit: list[Callable[[], object]] = []
        self._on_rollback: list[Callable[[], object]] = []
        try:
            self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            self._restrict_files(create=True)
            self.conn = sqlite3.connect(str(self.path), isolation_level=None, check_same_thread=False)
        except (OSError, sqlite3.Error) as e:
            raise DatabaseError(f"cannot open {self.path}: {e}") from e
        self.conn.row_factory = sqlite3.Row
        try:
            self.conn.execute("PRAGMA busy_timeout = 1000")
            self.conn.execute("PRAGMA locking_mode = EXCLUSIVE")
            self.conn.execute("PRAGMA journal_mode = WAL")
            self.conn.execute("PRAGMA synchronous = NORMAL")
            self.conn.executescript(_SCHEMA)
            # A write takes the exclusive lock now rather than at the first API call.
            self.conn.execute(
                "INSERT INTO meta (key, value) VALUES ('started', ?) "
                "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (str(time.time()),),
            )
            self.conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            # SQLite creates -wal and -shm with the database file's mode; this also covers a
            # companion left behind by an older run with a looser one.
            self._restrict_files()
        except OSError as e:
            self.conn.close()
            raise DatabaseError(f"cannot restrict the permissions of {self.path}: {e}") from e
        except sqlite3.OperationalError as e:
            self.conn.close()
            if "locked" in str(e):
                raise DatabaseError(f"{self.path} is in use by another emulator") from e
            raise DatabaseError(f"cannot use {self.path}: {e}") from e
        except sqlite3.DatabaseError as e:
            self.conn.close()
            raise DatabaseError(f"{self.path} is not an emulator database: {e}") from e

    def _restrict_files(self, *, create: bool = False) -> None:
        """Make the database file and its companions 0600; with ``create``, first create the file
        0600 if it is missing (only before SQLite opens it: closing any descriptor of a file drops
        this process's POSIX locks on it, SQLite's included)."""
        if create:
            # O_CREAT with an explicit mode, rather than a process-wide umask, so no other thread's
            # files are affected; the umask can only narrow 0600 further.
            os.close(os.open(self.path, os.O_RDWR | os.O_CREAT, FILE_MODE))
        for suffix in ("", *_COMPANIONS):
            path = self.path.with_name(self.path.name + suffix)
            try:
                if path.stat().st_mode & 0o777 != FILE_MODE:
                    path.chmod(FILE_MODE)
            except FileNotFoundError:
                pass

    def one(self, sql: str, *params: Any) -> sqlite3.Row | None:
        """The first row of ``sql``, or None."""
        row: sqlite3.Row | None = self.conn.execute(sql, params).fetchone()
        return row

    def all(self, sql: str, *params: Any) -> list[sqlite3.Row]:
        """Every row of ``sql``."""
        return self.conn.execute(sql, params).fetchall()

    def run(self, sql: str, *params: Any) -> sqlite3.Cursor:
        """Execute one statement (autocommit unless inside :meth:`transaction`)."""
        return self.conn.execute(sql, params)

    def insert(self, table: str, values: Mapping[str, Any]) -> sqlite3.Cursor:
        """Insert one row of ``values`` (column → value; lists and dicts stored as JSON text) into
        ``table``, a name from the schema, never from a request."""
        columns = ", ".join(values)
        marks = ", ".join("?" * len(values))
        return self.run(f"INSERT INTO {table} ({columns}) VALUES ({marks})", *map(to_column, values.values()))

    def many(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        """Execute ``sql`` once per parameter row."""
        self.conn.executemany(sql, rows)

    def scalar(self, sql: str, *params: Any) -> Any:
        """The first column of the first row, or None."""
        row = self.conn.execute(sql, params).fetchone()
        return row[0] if row is not None else None

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """One atomic write; nested uses join the outer transaction. An exception rolls it back.

        Raises RuntimeError when joined from another asyncio task than the one that began it: the
        outer transaction is suspended in an ``await``, and joining would commit or roll back this
        task's writes with that one's.
        """
        task = _current_task()
        if self._depth:
            if task is not self._owner:
                raise RuntimeError("a database transaction is open across an await in another task")
            self._depth += 1
            try:
                yield
            finally:
                self._depth -= 1
            return
        self.conn.execute("BEGIN IMMEDIATE")
        self._depth = 1
        self._owner = task
        try:
            yield
            self.conn.execute("COMMIT")
        except BaseException:
            try:
                if self.conn.in_transaction:
                    self.conn.execute("ROLLBACK")
            finally:
                _, undo = self._reset()
            _run(undo, "rollback")
            raise
        done, _ = self._reset()
        _run(done, "commit")

    def on_commit(self, callback: Callable[[], object]) -> None:
        """Run ``callback`` once the current transaction has committed (now, outside one); it is
        dropped if the transaction rolls back. For effects outside the database, such as publishing
        an event, that must not happen for a write that did not."""
        if self._depth:
            self._on_commit.append(callback)
        else:
            callback()

    def on_rollback(self, callback: Callable[[], object]) -> None:
        """Run ``callback`` if the current transaction rolls back (never, outside one); for caches
        that already reflect its writes."""
        if self._depth:
            self._on_rollback.append(callback)

    def _reset(self) -> tuple[list[Callable[[], object]], list[Callable[[], object]]]:
        """End the transaction's bookkeeping; returns its commit and rollback callbacks."""
        self._depth = 0
        self._owner = None
        callbacks = (self._on_commit, self._on_rollback)
        self._on_commit, self._on_rollback = [], []
        return callbacks

    def close(self) -> None:
        self.conn.close()


def _run(callbacks: list[Callable[[], object]], when: str) -> None:
    for callback in callbacks:
        try:
            callback()
        except Exception:
            log.exception("A database %s callback failed", when)


def _current_task() -> asyncio.Task[Any] | None:
    try:
        return asyncio.current_task()
    except RuntimeError:  # no running event loop
        return None
