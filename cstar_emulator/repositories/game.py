"""The game layer's tables (``game_*``): players, the XP ledger, bosses and their hits, unlocked
achievements, completed quests, one-ups, high fives, puzzle completions and the activity feed.
Every row belongs to one team and mode; the statements here never cross a :class:`Scope`."""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping
from typing import Any

from cstar_emulator.db import Database, Scope, dumps, to_column
from cstar_emulator.repositories import plain

__all__ = ["GameStore", "LedgerEntry"]

LedgerEntry = Mapping[str, Any]

_LEDGER_COLUMNS = ("xp", "gold", "tickets", "hits", "damage", "defeats", "final_blows")


class GameStore:
    """SQL for the ``game_*`` tables."""

    def __init__(self, db: Database) -> None:
        self.db = db

    # -- players ---------------------------------------------------------------------------------

    def player(self, scope: Scope, ident: str) -> sqlite3.Row | None:
        """The player whose user id or member id is ``ident``."""
        return self.db.one(
            "SELECT * FROM game_players WHERE team_id = ? AND mode = ? AND (user_id = ? OR id = ?)",
            *scope,
            ident,
            ident,
        )

    def first_player(self, scope: Scope) -> sqlite3.Row | None:
        """The partition's first player (the team owner when seeded)."""
        return self.db.one("SELECT * FROM game_players WHERE team_id = ? AND mode = ? ORDER BY seq LIMIT 1", *scope)

    def players(self, scope: Scope) -> list[sqlite3.Row]:
        """Every player of the partition, in the order they joined."""
        return self.db.all("SELECT * FROM game_players WHERE team_id = ? AND mode = ? ORDER BY seq", *scope)

    def insert_player(self, scope: Scope, values: Mapping[str, Any]) -> None:
        """Insert a player row (``id``, ``user_id``, ``name``, … as columns)."""
        seq = int(self.db.scalar("SELECT COALESCE(MAX(seq), 0) + 1 FROM game_players"))
        self.db.insert("game_players", {"team_id": scope.team_id, "mode": scope.mode, "seq": seq, **values})

    def update_player(self, scope: Scope, user_id: str, changes: Mapping[str, Any]) -> None:
        """Set ``changes`` (column → value; dicts as JSON) on one player."""
        sets = ", ".join(f"{c} = ?" for c in changes)
        self.db.run(
            f"UPDATE game_players SET {sets} WHERE team_id = ? AND mode = ? AND user_id = ?",
            *map(to_column, changes.values()),
            *scope,
            user_id,
        )

    def count_players(self, scope: Scope) -> int:
        return int(self.db.scalar("SELECT COUNT(*) FROM game_players WHERE team_id = ? AND mode = ?", *scope))

    # -- ledger ------------------------------------------------------------------------------------

    def add_ledger(self, scope: Scope, entry: LedgerEntry) -> None:
        """Record one gain: ``user_id``, ``kind``, ``ref``, ``season_id``, ``day``, ``created_at`` and
        any of :data:`_LEDGER_COLUMNS` (0 when left out)."""
        values = {c: 0 for c in _LEDGER_COLUMNS} | dict(entry)
        self.db.insert("game_ledger", {"team_id": scope.team_id, "mode": scope.mode, **values})

    def totals(
        self, scope: Scope, user_id: str | None = None, *, season_id: str | None = None, since_day: str | None = None
    ) -> dict[str, dict[str, int]]:
        """Sums of every ledger column per user id (only ``user_id`` when given), over ``season_id``
        and days from ``since_day`` when given."""
        where = ["team_id = ?", "mode = ?"]
        params: list[Any] = [*scope]
        for column, value in (("user_id", user_id), ("season_id", season_id)):
            if value is not None:
                where.append(f"{column} = ?")
                params.append(value)
        if since_day is not None:
            where.append("day >= ?")
            params.append(since_day)
        sums = ", ".join(f"SUM({c}) AS {c}" for c in _LEDGER_COLUMNS)
        rows = self.db.all(
            f"SELECT user_id, {sums} FROM game_ledger WHERE {' AND '.join(where)} GROUP BY user_id", *params
        )
        return {r["user_id"]: {c: int(r[c] or 0) for c in _LEDGER_COLUMNS} for r in rows}

    def rewarded(self, scope: Scope, kind: str, ref: str) -> bool:
        """Whether a ledger entry of ``kind`` for ``ref`` (e.g. a ticket id) exists."""
        row = self.db.one(
            "SELECT 1 FROM game_ledger WHERE team_id = ? AND mode = ? AND kind = ? AND ref = ? LIMIT 1",
            *scope,
            kind,
            ref,
        )
        return row is not None

    def season_ids(self, scope: Scope, user_id: str) -> list[str]:
        rows = self.db.all(
            "SELECT DISTINCT season_id FROM game_ledger WHERE team_id = ? AND mode = ? AND user_id = ?", *scope, user_id
        )
        return [r["season_id"] for r in rows]

    def season_participants(self, scope: Scope, season_id: str) -> int:
        return int(
            self.db.scalar(
                "SELECT COUNT(DISTINCT user_id) FROM game_ledger WHERE team_id = ? AND mode = ? AND season_id = ?",
                *scope,
                season_id,
            )
        )

    # -- bosses ------------------------------------------------------------------------------------

    def active_boss(self, scope: Scope) -> sqlite3.Row | None:
        return self.db.one(
            "SELECT * FROM game_bosses WHERE team_id = ? AND mode = ? AND status = 'active' LIMIT 1", *scope
        )

    def boss(self, boss_id: str) -> sqlite3.Row | None:
        return self.db.one("SELECT * FROM game_bosses WHERE id = ?", boss_id)

    def insert_boss(self, scope: Scope, values: Mapping[str, Any]) -> None:
        self.db.insert("game_bosses", {"team_id": scope.team_id, "mode": scope.mode, **values})

    def update_boss(self, boss_id: str, changes: Mapping[str, Any]) -> None:
        sets = ", ".join(f"{c} = ?" for c in changes)
        self.db.run(f"UPDATE game_bosses SET {sets} WHERE id = ?", *map(to_column, changes.values()), boss_id)

    def add_hit(self, scope: Scope, boss_id: str, user_id: str, name: str, damage: int, created_at: str) -> None:
        self.db.insert(
            "game_boss_hits",
            {
                "team_id": scope.team_id,
                "mode": scope.mode,
                "boss_id": boss_id,
                "user_id": user_id,
                "name": name,
                "damage": damage,
                "created_at": created_at,
            },
        )

    def participants(self, boss_id: str) -> list[sqlite3.Row]:
        """Per user: ``user_id``, latest ``name``, ``damage``, ``hits``, ``last_hit_at``; most damage first."""
        return self.db.all(
            "SELECT user_id, (SELECT h2.name FROM game_boss_hits h2 WHERE h2.boss_id = h.boss_id AND"
            " h2.user_id = h.user_id ORDER BY h2.seq DESC LIMIT 1) AS name, SUM(damage) AS damage,"
            " COUNT(*) AS hits, MAX(created_at) AS last_hit_at, MIN(seq) AS first"
            " FROM game_boss_hits h WHERE boss_id = ? GROUP BY user_id ORDER BY damage DESC, first",
            boss_id,
        )

    def defeat(self, scope: Scope, defeat_id: str) -> sqlite3.Row | None:
        return self.db.one(
            "SELECT * FROM game_bosses WHERE team_id = ? AND mode = ? AND defeat_id = ?", *scope, defeat_id
        )

    def defeats(self, scope: Scope, page: int, page_size: int) -> tuple[list[sqlite3.Row], int]:
        """A page of defeated bosses, latest first, and how many there are."""
        where = "WHERE team_id = ? AND mode = ? AND status = 'defeated'"
        total = int(self.db.scalar(f"SELECT COUNT(*) FROM game_bosses {where}", *scope))
        rows = self.db.all(
            f"SELECT * FROM game_bosses {where} ORDER BY defeated_at DESC, rowid DESC LIMIT ? OFFSET ?",
            *scope,
            page_size,
            (page - 1) * page_size,
        )
        return rows, total

    # -- achievements and quests -------------------------------------------------------------------

    def unlocked(self, scope: Scope, user_id: str) -> dict[str, str]:
        """Achievement id → ``unlocked_at`` of the user."""
        rows = self.db.all(
            "SELECT achievement_id, unlocked_at FROM game_achievements WHERE team_id = ? AND mode = ? AND user_id = ?",
            *scope,
            user_id,
        )
        return {r["achievement_id"]: r["unlocked_at"] for r in rows}

    def unlock(self, scope: Scope, user_id: str, achievement_id: str, when: str) -> None:
        seq = int(self.db.scalar("SELECT COALESCE(MAX(seq), 0) + 1 FROM game_achievements"))
        self.db.insert(
            "game_achievements",
            {
                "team_id": scope.team_id,
                "mode": scope.mode,
                "user_id": user_id,
                "achievement_id": achievement_id,
                "unlocked_at": when,
                "seq": seq,
            },
        )

    def recent_unlocks(self, scope: Scope, limit: int) -> list[sqlite3.Row]:
        """The latest unlocks with the player's ``name`` and ``member_id``."""
        return self.db.all(
            "SELECT a.*, p.name, p.id AS member_id FROM game_achievements a JOIN game_players p"
            " ON p.team_id = a.team_id AND p.mode = a.mode AND p.user_id = a.user_id"
            " WHERE a.team_id = ? AND a.mode = ? ORDER BY a.seq DESC LIMIT ?",
            *scope,
            limit,
        )

    def quests_done(self, scope: Scope, user_id: str, day: str | None = None) -> list[sqlite3.Row]:
        """Completed quests (``day``, ``quest_id``, ``completed_at``), of one day or all, latest day first."""
        sql = "SELECT * FROM game_quests WHERE team_id = ? AND mode = ? AND user_id = ?"
        params: list[Any] = [*scope, user_id]
        if day is not None:
            sql += " AND day = ?"
            params.append(day)
        return self.db.all(sql + " ORDER BY day DESC, completed_at", *params)

    def complete_quest(self, scope: Scope, user_id: str, day: str, quest_id: str, when: str) -> None:
        self.db.insert(
            "game_quests",
            {
                "team_id": scope.team_id,
                "mode": scope.mode,
                "user_id": user_id,
                "day": day,
                "quest_id": quest_id,
                "completed_at": when,
            },
        )

    # -- one-ups and high fives ------------------------------------------------------------------

    def insert_one_up(self, scope: Scope, values: Mapping[str, Any]) -> sqlite3.Row:
        self.db.insert("game_one_ups", {"team_id": scope.team_id, "mode": scope.mode, **values})
        row = self.db.one("SELECT * FROM game_one_ups WHERE id = ?", values["id"])
        assert row is not None
        return row

    def one_ups(self, scope: Scope, limit: int, user_id: str | None = None) -> list[sqlite3.Row]:
        sql = "SELECT * FROM game_one_ups WHERE team_id = ? AND mode = ?"
        params: list[Any] = [*scope]
        if user_id is not None:
            sql += " AND (sender_id = ? OR recipient_id = ?)"
            params += [user_id, user_id]
        return self.db.all(sql + " ORDER BY rowid DESC LIMIT ?", *params, limit)

    def one_up_counts(self, scope: Scope, user_id: str, day: str) -> tuple[int, int]:
        """``(sent, sent free)`` by the user on ``day``."""
        row = self.db.one(
            "SELECT COUNT(*) AS sent, COALESCE(SUM(was_free), 0) AS free FROM game_one_ups"
            " WHERE team_id = ? AND mode = ? AND sender_id = ? AND day = ?",
            *scope,
            user_id,
            day,
        )
        assert row is not None
        return int(row["sent"]), int(row["free"])

    def one_up_totals(self, scope: Scope, user_id: str, day: str | None = None) -> tuple[int, int]:
        """``(sent, received)`` one-ups of the user (on ``day`` when given)."""
        extra = " AND day = ?" if day is not None else ""
        params: list[Any] = [day] if day is not None else []
        sent = self.db.scalar(
            f"SELECT COUNT(*) FROM game_one_ups WHERE team_id = ? AND mode = ? AND sender_id = ?{extra}",
            *scope,
            user_id,
            *params,
        )
        received = self.db.scalar(
            f"SELECT COUNT(*) FROM game_one_ups WHERE team_id = ? AND mode = ? AND recipient_id = ?{extra}",
            *scope,
            user_id,
            *params,
        )
        return int(sent), int(received)

    def insert_high_five(self, scope: Scope, values: Mapping[str, Any]) -> sqlite3.Row:
        self.db.insert("game_high_fives", {"team_id": scope.team_id, "mode": scope.mode, **values})
        row = self.db.one("SELECT * FROM game_high_fives WHERE id = ?", values["id"])
        assert row is not None
        return row

    def high_fives(self, scope: Scope, limit: int) -> list[sqlite3.Row]:
        """High fives the team sent or received (in its mode), latest first."""
        return self.db.all(
            "SELECT * FROM game_high_fives WHERE mode = ? AND (team_id = ? OR recipient_team_id = ?)"
            " ORDER BY rowid DESC LIMIT ?",
            scope.mode,
            scope.team_id,
            scope.team_id,
            limit,
        )

    def high_fives_sent(self, scope: Scope, recipient_team_id: str, day: str) -> int:
        return int(
            self.db.scalar(
                "SELECT COUNT(*) FROM game_high_fives WHERE team_id = ? AND mode = ? AND recipient_team_id = ?"
                " AND day = ?",
                *scope,
                recipient_team_id,
                day,
            )
        )

    # -- puzzles -------------------------------------------------------------------------------------

    def puzzle_completion(self, scope: Scope, user_id: str, puzzle_id: str) -> sqlite3.Row | None:
        return self.db.one(
            "SELECT * FROM game_puzzles WHERE team_id = ? AND mode = ? AND user_id = ? AND puzzle_id = ?",
            *scope,
            user_id,
            puzzle_id,
        )

    def insert_puzzle(self, scope: Scope, values: Mapping[str, Any]) -> None:
        self.db.insert("game_puzzles", {"team_id": scope.team_id, "mode": scope.mode, **values})

    def puzzle_days(self, scope: Scope, user_id: str) -> list[str]:
        """The days the user completed a puzzle, oldest first."""
        rows = self.db.all(
            "SELECT DISTINCT day FROM game_puzzles WHERE team_id = ? AND mode = ? AND user_id = ? ORDER BY day",
            *scope,
            user_id,
        )
        return [r["day"] for r in rows]

    def puzzle_stats(self, scope: Scope, user_id: str) -> tuple[int, int]:
        """``(won, won without a mistake)``."""
        row = self.db.one(
            "SELECT COALESCE(SUM(is_won), 0) AS won, COALESCE(SUM(is_won AND mistakes = 0), 0) AS perfect"
            " FROM game_puzzles WHERE team_id = ? AND mode = ? AND user_id = ?",
            *scope,
            user_id,
        )
        assert row is not None
        return int(row["won"]), int(row["perfect"])

    def puzzle_scores(self, scope: Scope, puzzle_id: str, limit: int) -> list[sqlite3.Row]:
        return self.db.all(
            "SELECT * FROM game_puzzles WHERE team_id = ? AND mode = ? AND puzzle_id = ?"
            " ORDER BY score DESC, time_seconds, created_at LIMIT ?",
            *scope,
            puzzle_id,
            limit,
        )

    # -- activity ----------------------------------------------------------------------------------

    def add_activity(self, scope: Scope, values: Mapping[str, Any]) -> None:
        row = {**values, "metadata": dumps(values.get("metadata") or {})}
        self.db.insert("game_activity", {"team_id": scope.team_id, "mode": scope.mode, **row})

    def activity_seq(self, scope: Scope, activity_id: str) -> int | None:
        seq = self.db.scalar(
            "SELECT seq FROM game_activity WHERE team_id = ? AND mode = ? AND id = ?", *scope, activity_id
        )
        return None if seq is None else int(seq)

    def activity(
        self, scope: Scope, limit: int, *, before_seq: int | None = None, actors: tuple[str, ...] = ()
    ) -> list[sqlite3.Row]:
        """Activity items, latest first: older than ``before_seq`` when given, by one of ``actors``
        when given."""
        sql = "SELECT * FROM game_activity WHERE team_id = ? AND mode = ?"
        params: list[Any] = [*scope]
        if before_seq is not None:
            sql += " AND seq < ?"
            params.append(before_seq)
        if actors:
            sql += f" AND actor_id IN ({', '.join('?' * len(actors))})"
            params += actors
        return self.db.all(sql + " ORDER BY seq DESC LIMIT ?", *params, limit)

    # -- team flags ------------------------------------------------------------------------------

    def team_name(self, team_id: str) -> str | None:
        name = self.db.scalar("SELECT name FROM teams WHERE id = ?", team_id)
        return None if name is None else str(name)

    def boss_battles_enabled(self, scope: Scope) -> bool:
        """The team's ``bossBattlesEnabled`` switch (the team settings'; default on)."""
        return plain.boss_battles_enabled(self.db, scope)

    # -- members (the team's agents; the game's players are they) ----------------------------------

    def member(self, scope: Scope, ident: str) -> sqlite3.Row | None:
        """The team member whose member id or user id is ``ident``."""
        return self.db.one(
            "SELECT * FROM members WHERE team_id = ? AND mode = ? AND (id = ? OR user_id = ?)", *scope, ident, ident
        )

    def members(self, scope: Scope) -> list[sqlite3.Row]:
        return self.db.all("SELECT * FROM members WHERE team_id = ? AND mode = ? ORDER BY rowid", *scope)

    def sync_member(self, scope: Scope, user_id: str, level: int, xp: int) -> None:
        """Keep the member's ``level`` and ``xp`` (shown by ``/members``) what the game says."""
        self.db.run(
            "UPDATE members SET level = ?, xp = ? WHERE team_id = ? AND mode = ? AND user_id = ?",
            level,
            xp,
            *scope,
            user_id,
        )
