"""The game layer's rules and catalogs (reference: "Game"), as constants, plus the row → object
mappings of its tables. Everything here is deterministic: the same actions on the same day give the
same numbers. docs/emulator.md ("Game rules") describes the same rules in prose.
"""

from __future__ import annotations

import math
import sqlite3
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from typing import Any

from cstar_emulator.db import loads_obj

__all__ = [
    "ACHIEVEMENTS",
    "BADGES",
    "BOSSES",
    "COSMETICS",
    "GAME_CONFIG",
    "PRIORITY_MULTIPLIERS",
    "PUZZLES",
    "QUESTS",
    "SKILLS",
    "Achievement",
    "Boss",
    "Cosmetic",
    "Quest",
    "Season",
    "Skill",
    "activity",
    "boss_damage",
    "day_of",
    "high_five",
    "level_of",
    "one_up",
    "season_at",
    "season_by_id",
]

XP_PER_LEVEL = 1000
DEFAULT_VICTORY_MESSAGE = "GG!"
PRESTIGE_THRESHOLD = 25
PRESTIGE_BONUS = 0.01
#: Points a player earns for every this many levels.
LEVELS_PER_SKILL_POINT = 5
FREE_ONE_UPS_PER_DAY = 3
MAX_GOLD_GIFT = 100
ONE_UP_RECIPIENT_XP = 10
ONE_UP_RECIPIENT_GOLD = 5
HIGH_FIVES_PER_TEAM_PER_DAY = 1
#: Damage of a hit before the priority multiplier and the boss_slayer bonus.
BASE_DAMAGE = 20
#: What every participant of a defeated boss earns, before the boss's multipliers.
DEFEAT_REWARD = {"xp": 100, "gold": 50}
#: What finishing every daily quest of a day earns on top.
QUEST_COMPLETION_BONUS = {"xp": 100, "gold": 50}
#: Streak lengths (days in a row with a closed ticket) that fire ``player.streak_milestone``.
STREAK_MILESTONES = (3, 5, 10, 25)
PHI = 1.618
PRIORITY_MULTIPLIERS = {"urgent": 4.236, "high": 2.618, "normal": 1.618, "low": 1.0}
TICKET_REWARDS = {
    "low": {"xp": 10, "gold": 5},
    "normal": {"xp": 25, "gold": 10},
    "high": {"xp": 50, "gold": 20},
    "urgent": {"xp": 75, "gold": 30},
}


@dataclass(frozen=True)
class Boss:
    """A boss a spawn of ``difficulty`` brings: its name, level, health and reward multipliers."""

    difficulty: str
    name: str
    level: int
    max_health: int
    multiplier: float


BOSSES = {
    "easy": Boss("easy", "Inbox Imp", 12, 750, 1.0),
    "medium": Boss("medium", "Queue Crusher", 25, 1500, 1.5),
    "hard": Boss("hard", "The Backlog Beast", 47, 3500, 2.5),
}
DIFFICULTIES = tuple(BOSSES)


@dataclass(frozen=True)
class Skill:
    id: str
    name: str
    description: str
    bonus_per_level: float
    effect: str
    max_level: int = 5


SKILLS = (
    Skill("quick_learner", "Quick Learner", "+5% XP per level", 0.05, "+{pct}% XP"),
    Skill("treasure_hunter", "Treasure Hunter", "+5% Gold per level", 0.05, "+{pct}% Gold"),
    Skill("boss_slayer", "Boss Slayer", "+5% boss damage per level", 0.05, "+{pct}% Damage"),
    Skill("social_butterfly", "Social Butterfly", "+1 free one-up a day per level", 1.0, "+{n} free 1-Ups"),
)
SKILL_IDS = tuple(s.id for s in SKILLS)


def skill_effect(skill: Skill, level: int) -> str:
    """``"+15% XP"`` for quick_learner at level 3."""
    return skill.effect.format(pct=round(skill.bonus_per_level * level * 100), n=int(skill.bonus_per_level * level))


@dataclass(frozen=True)
class Achievement:
    """An achievement, unlocked when the player's ``metric`` reaches ``target``."""

    id: str
    name: str
    description: str
    category: str
    rarity: str
    xp_reward: int
    metric: str
    target: int
    hidden: bool = False

    @property
    def gold_reward(self) -> int:
        return self.xp_reward // 2


ACHIEVEMENTS = (
    Achievement("first_blood", "First Blood", "Close your first ticket", "volume", "common", 25, "ticketsClosed", 1),
    Achievement("ticket_tackler", "Ticket Tackler", "Close 10 tickets", "volume", "uncommon", 50, "ticketsClosed", 10),
    Achievement("centurion", "Centurion", "Close 100 tickets", "volume", "rare", 250, "ticketsClosed", 100),
    Achievement("boss_brawler", "Boss Brawler", "Hit a boss", "boss", "common", 25, "bossHits", 1),
    Achievement("giant_slayer", "Giant Slayer", "Land the final blow on a boss", "boss", "rare", 200, "finalBlows", 1),
    Achievement("boss_veteran", "Boss Veteran", "Help defeat 5 bosses", "boss", "epic", 500, "bossesDefeated", 5),
    Achievement("on_a_roll", "On a Roll", "Close tickets 3 days in a row", "streak", "uncommon", 75, "maxStreak", 3),
    Achievement("unstoppable", "Unstoppable", "Close tickets 10 days in a row", "streak", "epic", 300, "maxStreak", 10),
    Achievement("team_player", "Team Player", "Send your first one-up", "social", "common", 25, "oneUpsSent", 1),
    Achievement(
        "crowd_favourite", "Crowd Favourite", "Receive 10 one-ups", "social", "rare", 150, "oneUpsReceived", 10
    ),
    Achievement(
        "quest_starter", "Quest Starter", "Complete a daily quest", "quest", "common", 25, "questsCompleted", 1
    ),
    Achievement("puzzle_solver", "Puzzle Solver", "Solve a daily puzzle", "puzzle", "common", 25, "puzzlesWon", 1),
    Achievement(
        "perfectionist",
        "Perfectionist",
        "Solve a daily puzzle without a mistake",
        "puzzle",
        "uncommon",
        50,
        "perfectPuzzles",
        1,
        hidden=True,
    ),
)
ACHIEVEMENTS_BY_ID = {a.id: a for a in ACHIEVEMENTS}
RARITIES = ("common", "uncommon", "rare", "epic", "legendary")


@dataclass(frozen=True)
class Quest:
    """A daily quest: done when today's ``metric`` reaches ``target``."""

    id: str
    name: str
    description: str
    difficulty: str
    metric: str
    target: int
    xp_reward: int


#: Every day's quests (they reset at midnight UTC).
QUESTS = (
    Quest("close_1_ticket", "Opening Move", "Close a ticket today", "easy", "ticketsClosed", 1, 20),
    Quest("close_5_tickets", "Ticket Tackler", "Close 5 tickets today", "easy", "ticketsClosed", 5, 50),
    Quest("hit_boss_3_times", "Boss Brawler", "Hit the boss 3 times today", "medium", "bossHits", 3, 75),
    Quest("send_one_up", "Good Vibes", "Send a one-up today", "easy", "oneUpsSent", 1, 25),
)
QUESTS_BY_ID = {q.id: q for q in QUESTS}


@dataclass(frozen=True)
class Cosmetic:
    """A cosmetic item, unlocked when the player's ``metric`` reaches ``target`` (``None``: always)."""

    id: str
    type: str
    name: str
    metric: str | None = None
    target: int = 0

    @property
    def requirement(self) -> str | None:
        if self.metric is None:
            return None
        return f"{self.metric} ≥ {self.target}"


COSMETICS = (
    Cosmetic("default_frame", "frame", "Plain Frame"),
    Cosmetic("bronze_ring", "frame", "Bronze Ring", "level", 5),
    Cosmetic("silver_ring", "frame", "Silver Ring", "level", 10),
    Cosmetic("gold_ring", "frame", "Gold Ring", "level", 25),
    Cosmetic("fire_frame", "frame", "Fire Frame", "finalBlows", 1),
    Cosmetic("default_theme", "theme", "Classic"),
    Cosmetic("midnight", "theme", "Midnight", "level", 3),
    Cosmetic("sunrise", "theme", "Sunrise", "questsCompleted", 5),
    Cosmetic("season_participant", "season_badge", "Season Participant", "level", 10),
    Cosmetic("season_bronze", "season_badge", "Season Bronze", "level", 25),
)
COSMETICS_BY_ID = {c.id: c for c in COSMETICS}
COSMETIC_TYPES = ("frame", "theme", "season_badge")

BADGES = (
    {"level": 10, "name": "Participant", "color": "#8B4513"},
    {"level": 25, "name": "Bronze", "color": "#CD7F32"},
    {"level": 50, "name": "Silver", "color": "#C0C0C0"},
    {"level": 75, "name": "Gold", "color": "#FFD700"},
    {"level": 100, "name": "Diamond", "color": "#B9F2FF"},
)

#: Daily puzzles, one a day in turn.
PUZZLES: tuple[dict[str, Any], ...] = (
    {
        "type": "categories",
        "data": {
            "words": ["refund", "invoice", "charge", "receipt", "login", "password", "token", "session"],
            "groupSize": 4,
        },
    },
    {"type": "sequence", "data": {"sequence": ["new", "open", "pending"], "choices": ["resolved", "draft", "vip"]}},
    {"type": "anagram", "data": {"letters": "TKCIET", "length": 6}},
)


GAME_CONFIG: dict[str, Any] = {
    "object": "game_config",
    "rewards": {
        "ticketRewards": TICKET_REWARDS,
        "bossDefeat": {**DEFEAT_REWARD, "multipliedByBossRewards": True},
        "questCompletionBonus": QUEST_COMPLETION_BONUS,
        "oneUpRecipient": {"xp": ONE_UP_RECIPIENT_XP, "gold": ONE_UP_RECIPIENT_GOLD},
    },
    "leveling": {
        "xpPerLevel": XP_PER_LEVEL,
        "prestigeThreshold": PRESTIGE_THRESHOLD,
        "prestigeBonus": PRESTIGE_BONUS,
        "levelsPerSkillPoint": LEVELS_PER_SKILL_POINT,
    },
    "social": {
        "freeOneUpsPerDay": FREE_ONE_UPS_PER_DAY,
        "maxGoldGift": MAX_GOLD_GIFT,
        "highFivesPerTeamPerDay": HIGH_FIVES_PER_TEAM_PER_DAY,
    },
    "scoring": {"phi": PHI, "priorityMultipliers": PRIORITY_MULTIPLIERS, "baseDamage": BASE_DAMAGE},
    "bosses": {
        b.difficulty: {
            "name": b.name,
            "level": b.level,
            "maxHealth": b.max_health,
            "xpMultiplier": b.multiplier,
            "goldMultiplier": b.multiplier,
        }
        for b in BOSSES.values()
    },
    "skills": {s.id: {"maxLevel": s.max_level, "bonusPerLevel": s.bonus_per_level} for s in SKILLS},
    "streakMilestones": list(STREAK_MILESTONES),
}


def level_of(xp: int) -> int:
    """The level ``xp`` season XP reach: 1 + one per :data:`XP_PER_LEVEL`."""
    return 1 + max(xp, 0) // XP_PER_LEVEL


# -- time ------------------------------------------------------------------------------------------


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds").replace("+00:00", "Z")


def day_of(ts: float) -> str:
    """The UTC date of unix time ``ts`` as ``YYYY-MM-DD``."""
    return datetime.fromtimestamp(ts, timezone.utc).date().isoformat()


def day_start(day: str) -> str:
    """Midnight UTC of ``day`` as ISO 8601."""
    return _iso(datetime.combine(date.fromisoformat(day), datetime.min.time(), timezone.utc))


def next_day(day: str) -> str:
    return (date.fromisoformat(day) + timedelta(days=1)).isoformat()


def previous_day(day: str) -> str:
    return (date.fromisoformat(day) - timedelta(days=1)).isoformat()


def week_start(day: str) -> str:
    """The Monday of ``day``'s ISO week."""
    d = date.fromisoformat(day)
    return (d - timedelta(days=d.weekday())).isoformat()


#: The first season (Season 1) is the fourth quarter of 2025; seasons are calendar quarters.
FIRST_SEASON = (2025, 4)


@dataclass(frozen=True)
class Season:
    """A season: calendar quarter ``quarter`` of ``year``."""

    year: int
    quarter: int

    @property
    def id(self) -> str:
        return f"{self.year}-Q{self.quarter}"

    @property
    def number(self) -> int:
        return (self.year - FIRST_SEASON[0]) * 4 + self.quarter - FIRST_SEASON[1] + 1

    @property
    def starts(self) -> datetime:
        return datetime(self.year, 3 * self.quarter - 2, 1, tzinfo=timezone.utc)

    @property
    def ends(self) -> datetime:
        nxt = self.next()
        return nxt.starts - timedelta(seconds=1)

    def next(self) -> Season:
        return Season(self.year + 1, 1) if self.quarter == 4 else Season(self.year, self.quarter + 1)

    def previous(self) -> Season:
        return Season(self.year - 1, 4) if self.quarter == 1 else Season(self.year, self.quarter - 1)

    def summary(self) -> dict[str, str]:
        """``{"id", "name", "endsAt"}`` as a player's ``season`` shows it."""
        return {"id": self.id, "name": f"Season {self.number} \u2014 {self.year}", "endsAt": _iso(self.ends)}

    def as_object(self, now: float, current: Season) -> dict[str, Any]:
        """The reference's season object (without ``teamParticipants``)."""
        active = self == current
        remaining = math.ceil((self.ends.timestamp() + 1 - now) / 86400) if active else 0
        return {
            "object": "season",
            "id": self.id,
            "name": self.summary()["name"],
            "isActive": active,
            "startsAt": _iso(self.starts),
            "endsAt": _iso(self.ends),
            "daysRemaining": max(remaining, 0),
            "badges": [dict(b) for b in BADGES],
        }


def season_at(ts: float) -> Season:
    """The season unix time ``ts`` falls in."""
    moment = datetime.fromtimestamp(ts, timezone.utc)
    return Season(moment.year, (moment.month - 1) // 3 + 1)


def season_by_id(season_id: str, now: float) -> Season | None:
    """The season named ``season_id`` (``2026-Q1``) if it has begun and is not before Season 1."""
    year, sep, quarter = season_id.partition("-Q")
    if not (sep and year.isdigit() and len(year) == 4 and quarter in ("1", "2", "3", "4")):
        return None
    season = Season(int(year), int(quarter))
    if (season.year, season.quarter) < FIRST_SEASON or season.starts.timestamp() > now:
        return None
    return season


# -- rows → objects ----------------------------------------------------------------------------------


def person(user_id: str | None, name: str | None) -> dict[str, Any]:
    return {"id": user_id, "name": name}


def one_up(row: sqlite3.Row) -> dict[str, Any]:
    """A one-up: ``{"id", "object", "sender", "recipient", "message", "goldAmount", "wasFree",
    "createdAt"}``."""
    return {
        "id": row["id"],
        "object": "one_up",
        "sender": person(row["sender_id"], row["sender_name"]),
        "recipient": person(row["recipient_id"], row["recipient_name"]),
        "message": row["message"] or "",
        "goldAmount": row["gold_amount"],
        "wasFree": bool(row["was_free"]),
        "createdAt": row["created_at"],
    }


def high_five(row: sqlite3.Row) -> dict[str, Any]:
    """A high five between teams: ``{"id", "object", "senderTeam", "recipientTeam", "message",
    "createdAt"}``, and ``sender`` (``{"id", "name"}``) when a user was named."""
    obj: dict[str, Any] = {
        "id": row["id"],
        "object": "high_five",
        "senderTeam": person(row["team_id"], row["sender_team_name"]),
        "recipientTeam": person(row["recipient_team_id"], row["recipient_team_name"]),
        "message": row["message"] or "",
        "createdAt": row["created_at"],
    }
    if row["sender_user_id"]:
        obj["sender"] = person(row["sender_user_id"], row["sender_user_name"])
    return obj


ACTIVITY_ICONS = {
    "boss_spawned": "dragon",
    "boss_defeated": "skull",
    "level_up": "star",
    "achievement_unlocked": "trophy",
    "quest_completed": "scroll",
    "streak_milestone": "flame",
    "one_up_sent": "thumbs-up",
    "high_five_sent": "hand",
    "puzzle_completed": "puzzle",
}


def activity(row: sqlite3.Row) -> dict[str, Any]:
    """An activity-feed item: ``{"id", "action", "actor": {"id", "name"} or None (the team, e.g. a
    spawn through the API), "icon", "metadata", "createdAt"}``."""
    return {
        "id": row["id"],
        "action": row["action"],
        "actor": person(row["actor_id"], row["actor_name"]) if row["actor_id"] else None,
        "icon": ACTIVITY_ICONS.get(row["action"], "sparkles"),
        "metadata": loads_obj(row["metadata"]),
        "createdAt": row["created_at"],
    }


def boss_damage(**fields: Any) -> dict[str, Any]:
    """The reference's ``boss_damage`` answer from its fields."""
    return {"object": "boss_damage", **fields}
