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
    "COUNTED_TABLES",
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
CREATE INDEX IF NOT EXISTS customers_scope ON customers (team_id, mode);
CREATE INDEX IF NOT EXISTS customers_status ON customers (team_id, mode, status);
CREATE TABLE IF NOT EXISTS tickets (
  id TEXT PRIMARY KEY, team_id TEXT NOT NULL, mode TEXT NOT NULL, title TEXT NOT NULL, status TEXT NOT NULL,
  priority TEXT NOT NULL, customer_id TEXT, assigned_to TEXT, tags TEXT NOT NULL, notes TEXT,
  metadata TEXT NOT NULL, created_at TEXT NOT NULL, updated_at TEXT NOT NULL, resolved_at TEXT
);
CREATE INDEX IF NOT EXISTS tickets_scope ON tickets (team_id, mode);
CREATE INDEX IF NOT EXISTS tickets_status ON tickets (team_id, mode, status);
CREATE INDEX IF NOT EXISTS tickets_priority ON tickets (team_id, mode, priority);
CREATE INDEX IF NOT EXISTS tickets_customer ON tickets (customer_id, team_id, mode);
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
CREATE INDEX IF NOT EXISTS articles_scope ON articles (team_id, mode);
CREATE INDEX IF NOT EXISTS articles_status ON articles (team_id, mode, status);
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
CREATE TABLE IF NOT EXISTS cli_resume_keys (
  session_id TEXT PRIMARY KEY, team_id TEXT NOT NULL, mode TEXT NOT NULL, resume_key TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS cli_cursors (
  team_id TEXT NOT NULL, mode TEXT NOT NULL, resume_key TEXT NOT NULL, seq INTEGER NOT NULL,
  event_id TEXT NOT NULL, updated REAL NOT NULL, PRIMARY KEY (team_id, mode, resume_key)
);
CREATE TABLE IF NOT EXISTS deliveries (
  seq INTEGER PRIMARY KEY AUTOINCREMENT, kind TEXT NOT NULL, target TEXT NOT NULL, team_id TEXT NOT NULL,
  mode TEXT NOT NULL, event_id TEXT, event_type TEXT, attempt INTEGER, status INTEGER, duration_ms REAL,
  error TEXT, created_at TEXT NOT NULL, created REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS deliveries_event ON deliveries (event_id, target, seq);
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
CREATE TABLE IF NOT EXISTS customer_groups (
  id TEXT PRIMARY KEY, team_id TEXT NOT NULL, mode TEXT NOT NULL, name TEXT NOT NULL, slug TEXT NOT NULL,
  description TEXT, external_id TEXT, custom_fields TEXT NOT NULL, created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL, UNIQUE (team_id, mode, slug)
);
CREATE TABLE IF NOT EXISTS customer_group_members (
  team_id TEXT NOT NULL, mode TEXT NOT NULL, group_id TEXT NOT NULL, customer_id TEXT NOT NULL,
  joined_at TEXT NOT NULL, PRIMARY KEY (group_id, customer_id)
);
CREATE TABLE IF NOT EXISTS categories (
  id TEXT PRIMARY KEY, team_id TEXT NOT NULL, mode TEXT NOT NULL, name TEXT NOT NULL, slug TEXT NOT NULL,
  description TEXT, icon TEXT, color TEXT, sort_order INTEGER NOT NULL, is_public INTEGER NOT NULL,
  created_at TEXT NOT NULL, updated_at TEXT NOT NULL, UNIQUE (team_id, mode, slug)
);
CREATE TABLE IF NOT EXISTS community_topics (
  id TEXT PRIMARY KEY, team_id TEXT NOT NULL, mode TEXT NOT NULL, name TEXT NOT NULL, slug TEXT NOT NULL,
  description TEXT, custom_field_config TEXT NOT NULL, created_at TEXT NOT NULL, updated_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS community_posts (
  id TEXT PRIMARY KEY, team_id TEXT NOT NULL, mode TEXT NOT NULL, topic_id TEXT NOT NULL, title TEXT NOT NULL,
  slug TEXT NOT NULL, body TEXT NOT NULL, status TEXT NOT NULL, visibility TEXT NOT NULL,
  is_pinned INTEGER NOT NULL, is_locked INTEGER NOT NULL, custom_fields TEXT NOT NULL, attachments TEXT NOT NULL,
  created_at TEXT NOT NULL, updated_at TEXT NOT NULL, UNIQUE (team_id, mode, slug)
);
CREATE TABLE IF NOT EXISTS community_comments (
  id TEXT PRIMARY KEY, team_id TEXT NOT NULL, mode TEXT NOT NULL, post_id TEXT NOT NULL, body TEXT NOT NULL,
  author_name TEXT, created_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS community_comments_post ON community_comments (post_id);
CREATE TABLE IF NOT EXISTS community_votes (
  id TEXT PRIMARY KEY, team_id TEXT NOT NULL, mode TEXT NOT NULL, post_id TEXT NOT NULL, voter TEXT NOT NULL,
  created_at TEXT NOT NULL, UNIQUE (post_id, voter)
);
CREATE TABLE IF NOT EXISTS members (
  id TEXT PRIMARY KEY, team_id TEXT NOT NULL, mode TEXT NOT NULL, user_id TEXT NOT NULL, name TEXT NOT NULL,
  email TEXT NOT NULL, avatar_url TEXT, role TEXT NOT NULL, level INTEGER NOT NULL, xp INTEGER NOT NULL,
  boring_mode INTEGER NOT NULL DEFAULT 0, created_at TEXT NOT NULL, updated_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS invites (
  id TEXT PRIMARY KEY, team_id TEXT NOT NULL, mode TEXT NOT NULL, email TEXT NOT NULL, role TEXT NOT NULL,
  status TEXT NOT NULL, created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS notifications (
  id TEXT PRIMARY KEY, team_id TEXT NOT NULL, mode TEXT NOT NULL, type TEXT NOT NULL, title TEXT NOT NULL,
  body TEXT NOT NULL, read INTEGER NOT NULL, created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS custom_fields (
  id TEXT PRIMARY KEY, team_id TEXT NOT NULL, mode TEXT NOT NULL, name TEXT NOT NULL, key TEXT NOT NULL,
  type TEXT NOT NULL, entity_type TEXT NOT NULL, required INTEGER NOT NULL, options TEXT NOT NULL,
  position INTEGER NOT NULL, created_at TEXT NOT NULL, updated_at TEXT NOT NULL,
  UNIQUE (team_id, mode, entity_type, key)
);
CREATE TABLE IF NOT EXISTS sla_rules (
  id TEXT PRIMARY KEY, team_id TEXT NOT NULL, mode TEXT NOT NULL, name TEXT NOT NULL, priority TEXT NOT NULL,
  response_target INTEGER NOT NULL, resolution_target INTEGER NOT NULL, business_hours_only INTEGER NOT NULL,
  enabled INTEGER NOT NULL, created_at TEXT NOT NULL, updated_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS tags (
  team_id TEXT NOT NULL, mode TEXT NOT NULL, name TEXT NOT NULL, created_at TEXT NOT NULL,
  PRIMARY KEY (team_id, mode, name)
);
CREATE TABLE IF NOT EXISTS saved_views (
  id TEXT PRIMARY KEY, team_id TEXT NOT NULL, mode TEXT NOT NULL, name TEXT NOT NULL, entity_type TEXT NOT NULL,
  filters TEXT NOT NULL, sort_field TEXT NOT NULL, sort_direction TEXT NOT NULL, visibility TEXT NOT NULL,
  created_at TEXT NOT NULL, updated_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS team_settings (
  team_id TEXT NOT NULL, mode TEXT NOT NULL, team_name TEXT NOT NULL, team_slug TEXT NOT NULL,
  boss_battles_enabled INTEGER NOT NULL, business_hours TEXT NOT NULL, widget TEXT NOT NULL,
  PRIMARY KEY (team_id, mode)
);
CREATE TABLE IF NOT EXISTS automations (
  id TEXT PRIMARY KEY, team_id TEXT NOT NULL, mode TEXT NOT NULL, name TEXT NOT NULL, trigger_event TEXT NOT NULL,
  conditions TEXT NOT NULL, actions TEXT NOT NULL, enabled INTEGER NOT NULL, execution_count INTEGER NOT NULL,
  created_at TEXT NOT NULL, updated_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS imports (
  id TEXT PRIMARY KEY, team_id TEXT NOT NULL, mode TEXT NOT NULL, resource TEXT NOT NULL, status TEXT NOT NULL,
  merge_strategy TEXT NOT NULL, total_records INTEGER NOT NULL, created_count INTEGER NOT NULL,
  updated_count INTEGER NOT NULL, skipped_count INTEGER NOT NULL, failed_count INTEGER NOT NULL,
  errors TEXT NOT NULL, created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS game_players (
  id TEXT PRIMARY KEY, team_id TEXT NOT NULL, mode TEXT NOT NULL, user_id TEXT NOT NULL, name TEXT NOT NULL,
  avatar_url TEXT, gold INTEGER NOT NULL, skills TEXT NOT NULL, avatar_frame TEXT NOT NULL, victory_message TEXT,
  streak_current INTEGER NOT NULL, streak_max INTEGER NOT NULL, streak_day TEXT, seq INTEGER NOT NULL,
  created_at TEXT NOT NULL, updated_at TEXT NOT NULL, UNIQUE (team_id, mode, user_id)
);
CREATE TABLE IF NOT EXISTS game_ledger (
  seq INTEGER PRIMARY KEY AUTOINCREMENT, team_id TEXT NOT NULL, mode TEXT NOT NULL, user_id TEXT NOT NULL,
  kind TEXT NOT NULL, ref TEXT, season_id TEXT NOT NULL, day TEXT NOT NULL, xp INTEGER NOT NULL,
  gold INTEGER NOT NULL, tickets INTEGER NOT NULL, hits INTEGER NOT NULL, damage INTEGER NOT NULL,
  defeats INTEGER NOT NULL, final_blows INTEGER NOT NULL, created_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS game_ledger_user ON game_ledger (team_id, mode, user_id, day);
CREATE TABLE IF NOT EXISTS game_bosses (
  id TEXT PRIMARY KEY, team_id TEXT NOT NULL, mode TEXT NOT NULL, difficulty TEXT NOT NULL, name TEXT NOT NULL,
  level INTEGER NOT NULL, max_health INTEGER NOT NULL, current_health INTEGER NOT NULL, status TEXT NOT NULL,
  defeat_id TEXT UNIQUE, final_blow_user_id TEXT, final_blow_name TEXT, final_blow_damage INTEGER,
  spawned_at TEXT NOT NULL, spawned REAL NOT NULL, defeated_at TEXT
);
CREATE TABLE IF NOT EXISTS game_boss_hits (
  seq INTEGER PRIMARY KEY AUTOINCREMENT, team_id TEXT NOT NULL, mode TEXT NOT NULL, boss_id TEXT NOT NULL,
  user_id TEXT NOT NULL, name TEXT NOT NULL, damage INTEGER NOT NULL, created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS game_achievements (
  team_id TEXT NOT NULL, mode TEXT NOT NULL, user_id TEXT NOT NULL, achievement_id TEXT NOT NULL,
  unlocked_at TEXT NOT NULL, seq INTEGER NOT NULL, PRIMARY KEY (team_id, mode, user_id, achievement_id)
);
CREATE TABLE IF NOT EXISTS game_quests (
  team_id TEXT NOT NULL, mode TEXT NOT NULL, user_id TEXT NOT NULL, day TEXT NOT NULL, quest_id TEXT NOT NULL,
  completed_at TEXT NOT NULL, PRIMARY KEY (team_id, mode, user_id, day, quest_id)
);
CREATE TABLE IF NOT EXISTS game_one_ups (
  id TEXT PRIMARY KEY, team_id TEXT NOT NULL, mode TEXT NOT NULL, sender_id TEXT NOT NULL, sender_name TEXT NOT NULL,
  recipient_id TEXT NOT NULL, recipient_name TEXT NOT NULL, message TEXT, gold_amount INTEGER NOT NULL,
  was_free INTEGER NOT NULL, day TEXT NOT NULL, created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS game_high_fives (
  id TEXT PRIMARY KEY, team_id TEXT NOT NULL, mode TEXT NOT NULL, sender_team_name TEXT NOT NULL,
  recipient_team_id TEXT NOT NULL, recipient_team_name TEXT, sender_user_id TEXT, sender_user_name TEXT,
  message TEXT, day TEXT NOT NULL, created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS game_puzzles (
  team_id TEXT NOT NULL, mode TEXT NOT NULL, user_id TEXT NOT NULL, puzzle_id TEXT NOT NULL, day TEXT NOT NULL,
  time_seconds INTEGER NOT NULL, mistakes INTEGER NOT NULL, is_won INTEGER NOT NULL, score INTEGER NOT NULL,
  xp INTEGER NOT NULL, created_at TEXT NOT NULL, PRIMARY KEY (team_id, mode, user_id, puzzle_id)
);
CREATE TABLE IF NOT EXISTS game_activity (
  seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE, team_id TEXT NOT NULL, mode TEXT NOT NULL,
  action TEXT NOT NULL, actor_id TEXT, actor_name TEXT, metadata TEXT NOT NULL, created_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS game_activity_scope ON game_activity (team_id, mode, seq);
"""

#: Tables whose rows per team and mode are counted in ``row_counts``, by triggers, so the exact
#: ``total`` of an unfiltered list is one lookup rather than a scan of the whole scope.
COUNTED_TABLES = ("tickets", "customers", "articles")
#: Bumped when the counting changes, so an older file's counts are recomputed once at startup.
_COUNTS_VERSION = "1"


def _counter_schema() -> str:
    """``row_counts`` and the triggers keeping it exact. Triggers run inside the writing statement's
    own transaction, so the counts commit or roll back with the rows, whatever path wrote them
    (services, snapshot restores, a script on the stopped file). Its column is ``team``, not
    ``team_id``: it is derived data, which snapshots of a team's tables leave out."""
    parts = [
        "CREATE TABLE IF NOT EXISTS row_counts (tbl TEXT NOT NULL, team TEXT NOT NULL, mode TEXT NOT NULL, "
        "n INTEGER NOT NULL, PRIMARY KEY (tbl, team, mode)) WITHOUT ROWID;"
    ]
    for t in COUNTED_TABLES:
        add = (
            f"INSERT INTO row_counts (tbl, team, mode, n) VALUES ('{t}', NEW.team_id, NEW.mode, 1) "
            "ON CONFLICT (tbl, team, mode) DO UPDATE SET n = n + 1;"
        )
        drop = f"UPDATE row_counts SET n = n - 1 WHERE tbl = '{t}' AND team = OLD.team_id AND mode = OLD.mode;"
        parts += [
            f"CREATE TRIGGER IF NOT EXISTS {t}_count_insert AFTER INSERT ON {t} BEGIN {add} END;",
            f"CREATE TRIGGER IF NOT EXISTS {t}_count_delete AFTER DELETE ON {t} BEGIN {drop} END;",
            f"CREATE TRIGGER IF NOT EXISTS {t}_count_move AFTER UPDATE OF team_id, mode ON {t} "
            f"WHEN NEW.team_id IS NOT OLD.team_id OR NEW.mode IS NOT OLD.mode BEGIN {drop} {add} END;",
        ]
    return "\n".join(parts)


def _recount(conn: sqlite3.Connection) -> None:
    """Recompute ``row_counts`` from the rows, once per file (and after :data:`_COUNTS_VERSION`
    changes): a file written before the triggers existed has rows they never counted."""
    row = conn.execute("SELECT value FROM meta WHERE key = 'row_counts'").fetchone()
    if row is not None and row[0] == _COUNTS_VERSION:
        return
    conn.execute("BEGIN IMMEDIATE")
    try:
        conn.execute("DELETE FROM row_counts")
        for t in COUNTED_TABLES:
            conn.execute(
                f"INSERT INTO row_counts (tbl, team, mode, n) SELECT '{t}', team_id, mode, COUNT(*) FROM {t} "
                "GROUP BY team_id, mode"
            )
        conn.execute(
            "INSERT INTO meta (key, value) VALUES ('row_counts', ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (_COUNTS_VERSION,),
        )
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise


_SQLITE_HEADER = b"SQLite format 3\x00"


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
            existed = self._create_or_check()
            self.conn = sqlite3.connect(str(self.path), isolation_level=None, check_same_thread=False)
        except (OSError, sqlite3.Error) as e:
            raise DatabaseError(f"cannot open {self.path}: {e}") from e
        self.conn.row_factory = sqlite3.Row
        try:
            if existed and not self._is_emulator_database():
                self.conn.close()
                raise DatabaseError(f"{self.path} is not an emulator database (it holds other tables); it was left as it was")
            self.conn.execute("PRAGMA busy_timeout = 1000")
            self.conn.execute("PRAGMA locking_mode = EXCLUSIVE")
            self.conn.execute("PRAGMA journal_mode = WAL")
            self.conn.execute("PRAGMA synchronous = NORMAL")
            self.conn.executescript(_SCHEMA)
            self.conn.executescript(_counter_schema())
            _recount(self.conn)
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

    def _create_or_check(self) -> bool:
        """Create the database file 0600 if it is missing (True if it existed). An existing file that is
        neither empty nor SQLite is refused before anything touches it, its mode included. Runs only
        before SQLite opens the file: closing any descriptor of a file drops this process's POSIX
        locks on it, SQLite's included."""
        try:
            with self.path.open("rb") as f:
                head = f.read(len(_SQLITE_HEADER))
        except FileNotFoundError:
            # O_CREAT with an explicit mode, rather than a process-wide umask, so no other thread's
            # files are affected; the umask can only narrow 0600 further.
            os.close(os.open(self.path, os.O_RDWR | os.O_CREAT, FILE_MODE))
            return False
        if head and head != _SQLITE_HEADER:
            raise DatabaseError(f"{self.path} is not an emulator database (not an SQLite file); it was left as it was")
        return bool(head)

    def _is_emulator_database(self) -> bool:
        """Whether an existing SQLite file is one of ours (it has our ``meta`` table) or holds no table."""
        names = {row[0] for row in self.conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        return not names or "meta" in names

    def _restrict_files(self) -> None:
        """Make the database file and its companions 0600 (called once the file is known to be ours)."""
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

    def row_count(self, table: str, scope: Scope) -> int:
        """How many rows of ``table`` (one of :data:`COUNTED_TABLES`) belong to ``scope``: exact,
        without scanning them."""
        return int(self.scalar("SELECT n FROM row_counts WHERE tbl = ? AND team = ? AND mode = ?", table, *scope) or 0)

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
