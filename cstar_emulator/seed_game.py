"""First-use game data, per team and partition: every team member becomes a player with the level
the member shows (as season XP, 1,000 a level, earned on the season's first day) and 25 gold a level. Written once per partition (when
it has no players yet, after the members are seeded), the same every time; no boss is active."""

from __future__ import annotations

import time

from cstar_emulator import models_game as g
from cstar_emulator.db import Database, Scope
from cstar_emulator.ids import iso
from cstar_emulator.repositories.game import GameStore

__all__ = ["seed_game"]

GOLD_PER_LEVEL = 25


def seed_game(db: Database, team_id: str, now: float | None = None) -> None:
    """Seed both partitions of ``team_id`` that have no players yet from their members."""
    store = GameStore(db)
    ts = time.time() if now is None else now
    # Dated at the season's start, so the seeded XP counts for the season but not for today's or
    # this week's leaderboard.
    season = g.season_at(ts)
    with db.transaction():
        for mode in ("test", "live"):
            scope = Scope(team_id, mode)
            if store.count_players(scope):
                continue
            for member in store.members(scope):
                level = max(int(member["level"]), 1)
                xp = (level - 1) * g.XP_PER_LEVEL + int(member["xp"]) % g.XP_PER_LEVEL
                store.insert_player(
                    scope,
                    {
                        "id": member["id"],
                        "user_id": member["user_id"],
                        "name": member["name"],
                        "avatar_url": member["avatar_url"],
                        "gold": GOLD_PER_LEVEL * level,
                        "skills": {},
                        "avatar_frame": "default_frame",
                        "victory_message": g.DEFAULT_VICTORY_MESSAGE,
                        "streak_current": 0,
                        "streak_max": 0,
                        "streak_day": None,
                        "created_at": iso(ts),
                        "updated_at": iso(ts),
                    },
                )
                store.add_ledger(
                    scope,
                    {
                        "user_id": member["user_id"],
                        "kind": "seed",
                        "ref": None,
                        "season_id": season.id,
                        "day": season.starts.date().isoformat(),
                        "created_at": iso(season.starts.timestamp()),
                        "xp": xp,
                    },
                )
                store.sync_member(scope, member["user_id"], g.level_of(xp), xp)
