"""The game layer (reference: "Game"; rules in docs/emulator.md, "Game rules"): players earn XP and
gold by closing tickets, bosses take damage from those closes, achievements and daily quests unlock
from what players did, and every change fires its ``boss.*``, ``player.*`` or ``social.*`` event in
the caller's transaction.

Players are the team's agents, named by a user id (``usr_…``) and a member id (``mem_…``); either
finds them. A user id the game has not seen reads as a new player (nothing earned); a write naming
one creates it. XP and levels count per season (calendar quarter), gold and skills carry over.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable, Mapping
from datetime import date, datetime
from typing import Any

from cstar_emulator import models_game as g
from cstar_emulator.db import Database, Scope, loads_obj
from cstar_emulator.envelope import ApiError
from cstar_emulator.ids import iso, new_id
from cstar_emulator.repositories.game import GameStore
from cstar_emulator.services.events import EventBus

__all__ = ["GameService"]

#: A player, boss… row, or an unsaved player shaped like one.
Row = sqlite3.Row | Mapping[str, Any]
Obj = dict[str, Any]

_NO_SKILLS = {s.id: 0 for s in g.SKILLS}


def _bonus(amount: float, skills: Mapping[str, int], skill_id: str) -> int:
    skill = next(s for s in g.SKILLS if s.id == skill_id)
    return round(amount * (1 + skill.bonus_per_level * skills.get(skill_id, 0)))


class GameService:
    """Everything the ``/game`` endpoints and the ticket-close hook do, in one partition per call.
    ``clock`` (unix seconds) decides "today" and the season; tests pass their own."""

    def __init__(self, db: Database, store: GameStore, bus: EventBus, clock: Callable[[], float] = time.time) -> None:
        self.db = db
        self.store = store
        self.bus = bus
        self.clock = clock

    # -- players -----------------------------------------------------------------------------------

    def _today(self) -> str:
        return g.day_of(self.clock())

    def _season(self) -> g.Season:
        return g.season_at(self.clock())

    def _known(self, scope: Scope, ident: str | None) -> Row | None:
        """The player ``ident`` (user or member id; default: the first, the team owner), or an
        unsaved player for a team member who has not played yet, or None."""
        if ident is None:
            row = self.store.first_player(scope)
            if row is not None:
                return row
            members = self.store.members(scope)
            return self._from_member(members[0]) if members else None
        row = self.store.player(scope, ident)
        if row is not None:
            return row
        member = self.store.member(scope, ident)
        return self._from_member(member) if member is not None else None

    def _from_member(self, member: Row) -> Obj:
        return {**self._new_player(member["user_id"], member["name"], member["id"]), "avatar_url": member["avatar_url"]}

    def _view(self, scope: Scope, user_id: str | None) -> Row:
        """The player ``user_id`` (default: the team owner), or an unsaved new player of that id."""
        row = self._known(scope, user_id)
        if row is not None:
            return row
        if user_id is None:
            raise ApiError(404, "not_found", "This team has no players yet.")
        return self._new_player(user_id, None)

    def _by_member(self, scope: Scope, member_id: str) -> Row:
        row = self._known(scope, member_id)
        if row is None:
            raise ApiError.not_found("player", member_id)
        return row

    @staticmethod
    def _new_player(user_id: str, name: str | None, member_id: str | None = None) -> Obj:
        return {
            "id": member_id,
            "user_id": user_id,
            "name": name or user_id,
            "avatar_url": None,
            "gold": 0,
            "skills": "{}",
            "avatar_frame": "default_frame",
            "victory_message": g.DEFAULT_VICTORY_MESSAGE,
            "streak_current": 0,
            "streak_max": 0,
            "streak_day": None,
        }

    def ensure(self, scope: Scope, ident: str, name: str | None = None) -> Row:
        """The player with user (or member) id ``ident``, created when new (from the team member of
        that id, if any); ``name`` renames it when given."""
        row = self.store.player(scope, ident)
        if row is None:
            now = iso(self.clock())
            member = self.store.member(scope, ident)
            values = self._from_member(member) if member is not None else self._new_player(ident, name)
            values["id"] = values["id"] or new_id("mem_")
            self.store.insert_player(scope, {**values, "created_at": now, "updated_at": now})
            row = self.store.player(scope, values["user_id"])
        if row is not None and name and name != row["name"]:
            self.store.update_player(scope, row["user_id"], {"name": name, "updated_at": iso(self.clock())})
            row = self.store.player(scope, row["user_id"])
        assert row is not None
        return row

    def _skills(self, row: Row) -> dict[str, int]:
        return {**_NO_SKILLS, **loads_obj(row["skills"])}

    def _metrics(self, scope: Scope, row: Row) -> dict[str, int]:
        """What achievements, cosmetics and stats count, all time except ``xp``/``level`` (season)."""
        uid = row["user_id"]
        every = self.store.totals(scope, uid).get(uid, {})
        season = self.store.totals(scope, uid, season_id=self._season().id).get(uid, {})
        sent, received = self.store.one_up_totals(scope, uid)
        won, perfect = self.store.puzzle_stats(scope, uid)
        xp = season.get("xp", 0)
        return {
            "xp": xp,
            "level": g.level_of(xp),
            "ticketsClosed": every.get("tickets", 0),
            "bossHits": every.get("hits", 0),
            "bossDamage": every.get("damage", 0),
            "finalBlows": every.get("final_blows", 0),
            "bossesDefeated": every.get("defeats", 0),
            "maxStreak": row["streak_max"],
            "oneUpsSent": sent,
            "oneUpsReceived": received,
            "questsCompleted": len(self.store.quests_done(scope, uid)),
            "puzzlesWon": won,
            "perfectPuzzles": perfect,
            "achievementsUnlocked": len(self.store.unlocked(scope, uid)),
        }

    def _streak(self, row: Row) -> int:
        """The ticket streak still alive today (a streak ends after a day without a close)."""
        today = self._today()
        return int(row["streak_current"]) if row["streak_day"] in (today, g.previous_day(today)) else 0

    def _player_obj(self, scope: Scope, row: Row) -> Obj:
        m = self._metrics(scope, row)
        skills = self._skills(row)
        level, xp = m["level"], m["xp"]
        in_level = xp % g.XP_PER_LEVEL
        prestige = level // g.PRESTIGE_THRESHOLD
        total_points = level // g.LEVELS_PER_SKILL_POINT
        return {
            "object": "player_stats",
            "memberId": row["id"],
            "userId": row["user_id"],
            "name": row["name"],
            "avatarUrl": row["avatar_url"],
            "season": self._season().summary(),
            "level": level,
            "xp": xp,
            "xpToNextLevel": g.XP_PER_LEVEL,
            "xpInCurrentLevel": in_level,
            "xpProgress": round(in_level / g.XP_PER_LEVEL, 3),
            "gold": row["gold"],
            "prestigeLevel": prestige,
            "prestigeBonus": round(prestige * g.PRESTIGE_BONUS, 4),
            "streaks": {"current": self._streak(row), "max": row["streak_max"]},
            "stats": {
                "ticketsClosed": m["ticketsClosed"],
                "bossesDefeated": m["bossesDefeated"],
                "finalBlows": m["finalBlows"],
                "achievementsUnlocked": m["achievementsUnlocked"],
                "questsCompleted": m["questsCompleted"],
            },
            "skills": {
                s.id: {"level": skills[s.id], "maxLevel": s.max_level, "effect": g.skill_effect(s, skills[s.id])}
                for s in g.SKILLS
            },
            "availableSkillPoints": max(total_points - sum(skills.values()), 0),
            "totalSkillPoints": total_points,
            "cosmetics": {"avatarFrame": row["avatar_frame"], "victoryMessage": row["victory_message"]},
        }

    def player(self, scope: Scope, user_id: str | None) -> Obj:
        """``player_stats`` of ``user_id`` (default: the team owner)."""
        return self._player_obj(scope, self._view(scope, user_id))

    def member_player(self, scope: Scope, member_id: str) -> Obj:
        """``player_stats`` of the player with that member (or user) id; 404 when unknown."""
        return self._player_obj(scope, self._by_member(scope, member_id))

    # -- gains and their events ----------------------------------------------------------------

    def _emit(self, scope: Scope, rid: str | None, event_type: str, data: Obj) -> None:
        self.bus.emit(scope, event_type, data, rid)

    def _activity(self, scope: Scope, action: str, actor: Row | None, metadata: Obj) -> None:
        self.store.add_activity(
            scope,
            {
                "id": new_id("act_"),
                "action": action,
                "actor_id": actor["user_id"] if actor is not None else None,
                "actor_name": actor["name"] if actor is not None else None,
                "metadata": metadata,
                "created_at": iso(self.clock()),
            },
        )

    def _team_actor(self, scope: Scope) -> Obj:
        """The team as the actor of what no player did (a spawn through the API)."""
        return {"user_id": scope.team_id, "name": self.store.team_name(scope.team_id) or scope.team_id}

    def _record(self, scope: Scope, user_id: str, kind: str, ref: str | None, **amounts: int) -> None:
        now = self.clock()
        self.store.add_ledger(
            scope,
            {
                "user_id": user_id,
                "kind": kind,
                "ref": ref,
                "season_id": g.season_at(now).id,
                "day": g.day_of(now),
                "created_at": iso(now),
                **amounts,
            },
        )

    def _grant(
        self,
        scope: Scope,
        rid: str | None,
        user_id: str,
        *,
        kind: str,
        ref: str | None,
        xp: int,
        gold: int,
        source: str,
        detail: Obj | None = None,
        **counts: int,
    ) -> None:
        """Record a gain of ``xp`` and ``gold`` (plus ledger ``counts``), then fire
        ``player.xp_gained`` and, when a level was crossed, ``player.level_up``."""
        row = self.store.player(scope, user_id)
        assert row is not None
        before = g.level_of(self._metrics(scope, row)["xp"])
        self._record(scope, user_id, kind, ref, xp=xp, gold=gold, **counts)
        if gold:
            self.store.update_player(scope, user_id, {"gold": row["gold"] + gold})
        row = self.store.player(scope, user_id)
        assert row is not None
        player = self._player_obj(scope, row)
        self.store.sync_member(scope, user_id, player["level"], player["xp"])
        if xp > 0:
            data = {"player": player, "xpGained": xp, "goldGained": gold, "source": source, **(detail or {})}
            self._emit(scope, rid, "player.xp_gained", data)
        if player["level"] > before:
            self._emit(
                scope, rid, "player.level_up", {"player": player, "previousLevel": before, "level": player["level"]}
            )
            self._activity(scope, "level_up", row, {"level": player["level"], "previousLevel": before})

    def _progress(self, scope: Scope, rid: str | None, user_id: str) -> None:
        """Complete the daily quests and unlock the achievements the player now qualifies for."""
        self._quests_progress(scope, rid, user_id)
        self._achievements_progress(scope, rid, user_id)

    def _quest_metrics(self, scope: Scope, user_id: str, day: str) -> dict[str, int]:
        today = self.store.totals(scope, user_id, since_day=day).get(user_id, {})
        sent, _ = self.store.one_up_totals(scope, user_id, day)
        return {"ticketsClosed": today.get("tickets", 0), "bossHits": today.get("hits", 0), "oneUpsSent": sent}

    def _quests_progress(self, scope: Scope, rid: str | None, user_id: str) -> None:
        day = self._today()
        done = {r["quest_id"] for r in self.store.quests_done(scope, user_id, day)}
        metrics = self._quest_metrics(scope, user_id, day)
        now = iso(self.clock())
        for quest in g.QUESTS:
            if quest.id in done or metrics[quest.metric] < quest.target:
                continue
            self.store.complete_quest(scope, user_id, day, quest.id, now)
            done.add(quest.id)
            row = self.store.player(scope, user_id)
            assert row is not None
            obj = self._quest_obj(quest, metrics, completed_at=now)
            self._emit(scope, rid, "player.quest_completed", {"player": self._player_obj(scope, row), "quest": obj})
            self._activity(scope, "quest_completed", row, {"questId": quest.id, "questName": quest.name})
            self._grant(
                scope,
                rid,
                user_id,
                kind="quest",
                ref=f"{day}:{quest.id}",
                xp=quest.xp_reward,
                gold=0,
                source="quest",
                detail={"questId": quest.id},
            )
            if len(done) == len(g.QUESTS):
                bonus = g.QUEST_COMPLETION_BONUS
                self._grant(
                    scope,
                    rid,
                    user_id,
                    kind="quest_bonus",
                    ref=day,
                    xp=bonus["xp"],
                    gold=bonus["gold"],
                    source="quest_bonus",
                )

    def _achievements_progress(self, scope: Scope, rid: str | None, user_id: str) -> None:
        row = self.store.player(scope, user_id)
        assert row is not None
        unlocked = self.store.unlocked(scope, user_id)
        metrics = self._metrics(scope, row)
        for ach in g.ACHIEVEMENTS:
            if ach.id in unlocked or metrics[ach.metric] < ach.target:
                continue
            now = iso(self.clock())
            self.store.unlock(scope, user_id, ach.id, now)
            unlocked[ach.id] = now
            row = self.store.player(scope, user_id)
            assert row is not None
            obj = self._achievement_obj(ach, metrics, now)
            self._emit(
                scope, rid, "player.achievement_unlocked", {"player": self._player_obj(scope, row), "achievement": obj}
            )
            self._activity(scope, "achievement_unlocked", row, {"achievementId": ach.id, "achievementName": ach.name})
            self._grant(
                scope,
                rid,
                user_id,
                kind="achievement",
                ref=ach.id,
                xp=ach.xp_reward,
                gold=ach.gold_reward,
                source="achievement",
                detail={"achievementId": ach.id},
            )

    # -- tickets -------------------------------------------------------------------------------------

    def ticket_closed(self, scope: Scope, ticket: Mapping[str, Any], request_id: str | None) -> None:
        """A ticket entered resolved/closed (call inside its transaction): its agent (``assignedTo``,
        else the team owner) earns the priority's XP and gold once per ticket, keeps a daily streak,
        and hits the active boss; quests and achievements follow."""
        if self.store.rewarded(scope, "ticket", ticket["id"]):
            return
        agent = ticket.get("assignedTo")
        if agent:
            row = self.ensure(scope, agent)
        else:
            owner = self.store.first_player(scope)
            if owner is None:
                return
            row = owner
        uid = row["user_id"]
        self._advance_streak(scope, request_id, row)
        skills = self._skills(row)
        reward = g.TICKET_REWARDS.get(ticket.get("priority") or "normal", g.TICKET_REWARDS["normal"])
        self._grant(
            scope,
            request_id,
            uid,
            kind="ticket",
            ref=ticket["id"],
            xp=_bonus(reward["xp"], skills, "quick_learner"),
            gold=_bonus(reward["gold"], skills, "treasure_hunter"),
            source="ticket",
            detail={"ticketId": ticket["id"]},
            tickets=1,
        )
        if self.store.active_boss(scope) is not None and self.store.boss_battles_enabled(scope):
            self._hit(scope, request_id, uid, ticket.get("priority") or "normal", ticket_id=ticket["id"])
        else:
            self._progress(scope, request_id, uid)

    def _advance_streak(self, scope: Scope, rid: str | None, row: Row) -> None:
        today = self._today()
        if row["streak_day"] == today:
            return
        current = int(row["streak_current"]) + 1 if row["streak_day"] == g.previous_day(today) else 1
        best = max(int(row["streak_max"]), current)
        self.store.update_player(
            scope, row["user_id"], {"streak_current": current, "streak_max": best, "streak_day": today}
        )
        if current in g.STREAK_MILESTONES:
            fresh = self.store.player(scope, row["user_id"])
            assert fresh is not None
            data = {
                "player": self._player_obj(scope, fresh),
                "milestone": current,
                "streak": {"current": current, "max": best},
            }
            self._emit(scope, rid, "player.streak_milestone", data)
            self._activity(scope, "streak_milestone", fresh, {"days": current})

    # -- bosses ------------------------------------------------------------------------------------

    def _boss_obj(self, row: Row) -> Obj:
        spec = g.BOSSES[row["difficulty"]]
        pct = round(row["current_health"] / row["max_health"], 3)
        end = self.clock() if row["defeated_at"] is None else _ts(row["defeated_at"])
        return {
            "id": row["id"],
            "name": row["name"],
            "level": row["level"],
            "difficulty": row["difficulty"],
            "status": row["status"],
            "maxHealth": row["max_health"],
            "currentHealth": row["current_health"],
            "healthPercent": pct,
            "phase": 1 if pct > 2 / 3 else 2 if pct > 1 / 3 else 3,
            "abilities": {"shield": None, "enrage": {"active": pct <= 0.5}, "heal": {"totalHealed": 0}},
            "rewards": {"xpMultiplier": spec.multiplier, "goldMultiplier": spec.multiplier},
            "participants": self._participants(row),
            "totalDamage": row["max_health"] - row["current_health"],
            "spawnedAt": row["spawned_at"],
            "defeatedAt": row["defeated_at"],
            "battleDuration": max(int(end - row["spawned"]), 0),
        }

    def _participants(self, boss: Row) -> list[Obj]:
        scope = Scope(boss["team_id"], boss["mode"])
        out = []
        for p in self.store.participants(boss["id"]):
            player = self.store.player(scope, p["user_id"])
            out.append(
                {
                    "memberId": player["id"] if player is not None else None,
                    "userId": p["user_id"],
                    "name": p["name"],
                    "damage": p["damage"],
                    "hits": p["hits"],
                    "lastHitAt": p["last_hit_at"],
                }
            )
        return out

    def _defeat_obj(self, row: Row) -> Obj:
        spec = g.BOSSES[row["difficulty"]]
        killer = self.store.player(Scope(row["team_id"], row["mode"]), row["final_blow_user_id"])
        return {
            "id": row["defeat_id"],
            "object": "boss_defeat",
            "bossId": row["id"],
            "bossName": row["name"],
            "bossLevel": row["level"],
            "difficulty": row["difficulty"],
            "totalDamage": row["max_health"],
            "finalBlow": {
                "memberId": killer["id"] if killer is not None else None,
                "userId": row["final_blow_user_id"],
                "name": row["final_blow_name"],
                "damage": row["final_blow_damage"],
            },
            "participants": self._participants(row),
            "rewards": {
                "xp": round(g.DEFEAT_REWARD["xp"] * spec.multiplier),
                "gold": round(g.DEFEAT_REWARD["gold"] * spec.multiplier),
            },
            "spawnedAt": row["spawned_at"],
            "defeatedAt": row["defeated_at"],
        }

    def boss_state(self, scope: Scope) -> Obj:
        """``boss_state``: the active ``boss``, or ``active: false`` and no ``boss`` when there is
        none or boss battles are off (dormant)."""
        enabled = self.store.boss_battles_enabled(scope)
        row = self.store.active_boss(scope) if enabled else None
        state: Obj = {"object": "boss_state", "active": row is not None, "bossBattlesEnabled": enabled}
        if row is not None:
            state["boss"] = self._boss_obj(row)
        return state

    def boss_active(self, scope: Scope) -> Obj:
        state = self.boss_state(scope)
        return {"object": "boss_active", "active": state["active"], "bossBattlesEnabled": state["bossBattlesEnabled"]}

    def _require_battles(self, scope: Scope) -> None:
        if not self.store.boss_battles_enabled(scope):
            raise ApiError(
                409,
                "boss_battles_disabled",
                "Boss battles are turned off for this team (bossBattlesEnabled: false); turn them on in the "
                "team's preferences.",
            )

    def spawn(self, scope: Scope, request_id: str | None, difficulty: str) -> Obj:
        """Spawn a boss of ``difficulty`` (``boss.spawned``). 409 ``boss_already_active`` when one is,
        409 ``boss_battles_disabled`` when the team turned boss battles off."""
        self._require_battles(scope)
        if self.store.active_boss(scope) is not None:
            raise ApiError(409, "boss_already_active", "A boss is already active; defeat it before spawning another.")
        spec = g.BOSSES[difficulty]
        now = self.clock()
        boss_id = new_id("boss_")
        self.store.insert_boss(
            scope,
            {
                "id": boss_id,
                "difficulty": difficulty,
                "name": spec.name,
                "level": spec.level,
                "max_health": spec.max_health,
                "current_health": spec.max_health,
                "status": "active",
                "spawned_at": iso(now),
                "spawned": now,
            },
        )
        row = self.store.boss(boss_id)
        assert row is not None
        boss = self._boss_obj(row)
        self._emit(scope, request_id, "boss.spawned", {"boss": boss})
        self._activity(
            scope, "boss_spawned", self._team_actor(scope), {"bossName": spec.name, "difficulty": difficulty}
        )
        return {"object": "boss_state", "active": True, "boss": boss, "bossBattlesEnabled": True}

    def damage(self, scope: Scope, request_id: str | None, user_id: str, user_name: str | None, priority: str) -> Obj:
        """Hit the active boss for ``user_id`` as a ticket of ``priority`` would (``boss.damaged``,
        and ``boss.defeated`` on the killing blow). 409 ``no_active_boss`` / ``boss_battles_disabled``."""
        self._require_battles(scope)
        if self.store.active_boss(scope) is None:
            raise ApiError(409, "no_active_boss", "No boss is active; spawn one first.")
        row = self.ensure(scope, user_id, user_name)
        return self._hit(scope, request_id, row["user_id"], priority)

    def _hit(self, scope: Scope, rid: str | None, user_id: str, priority: str, *, ticket_id: str | None = None) -> Obj:
        boss = self.store.active_boss(scope)
        player = self.store.player(scope, user_id)
        assert boss is not None and player is not None
        raw = _bonus(g.BASE_DAMAGE * g.PRIORITY_MULTIPLIERS[priority], self._skills(player), "boss_slayer")
        before = boss["current_health"]
        dealt = min(raw, before)
        after = before - dealt
        now = iso(self.clock())
        self.store.add_hit(scope, boss["id"], user_id, player["name"], dealt, now)
        self._record(scope, user_id, "boss_hit", boss["id"], hits=1, damage=dealt)
        defeated = after == 0
        changes: Obj = {"current_health": after}
        if defeated:
            changes |= {
                "status": "defeated",
                "defeat_id": new_id("def_"),
                "defeated_at": now,
                "final_blow_user_id": user_id,
                "final_blow_name": player["name"],
                "final_blow_damage": dealt,
            }
        self.store.update_boss(boss["id"], changes)
        fresh = self.store.boss(boss["id"])
        assert fresh is not None
        boss_obj = self._boss_obj(fresh)
        hit = {
            "memberId": player["id"],
            "userId": user_id,
            "name": player["name"],
            "damage": dealt,
            "priority": priority,
        }
        if ticket_id is not None:
            hit["ticketId"] = ticket_id
        self._emit(scope, rid, "boss.damaged", {"boss": boss_obj, "hit": hit})
        prev_pct = round(before / boss["max_health"], 3)
        pct = boss_obj["healthPercent"]
        if defeated:
            self._defeated(scope, rid, fresh, boss_obj)
        else:
            self._progress(scope, rid, user_id)
        return g.boss_damage(
            damage=dealt,
            currentHealth=after,
            healthPercent=pct,
            previousHealthPercent=prev_pct,
            isDefeated=defeated,
            isKillingBlow=defeated,
            shieldBlocked=False,
            shieldBroken=False,
            enrageTriggered=prev_pct > 0.5 >= pct and not defeated,
            activeAbilities=["enrage"] if pct <= 0.5 and not defeated else [],
        )

    def _defeated(self, scope: Scope, rid: str | None, row: Row, boss_obj: Obj) -> None:
        defeat = self._defeat_obj(row)
        self._emit(scope, rid, "boss.defeated", {"boss": boss_obj, "defeat": defeat})
        killer = self.store.player(scope, row["final_blow_user_id"])
        self._activity(scope, "boss_defeated", killer, {"bossName": row["name"], "defeatId": row["defeat_id"]})
        spec = g.BOSSES[row["difficulty"]]
        for p in boss_obj["participants"]:
            uid = p["userId"]
            player = self.store.player(scope, uid)
            assert player is not None
            skills = self._skills(player)
            self._grant(
                scope,
                rid,
                uid,
                kind="boss_defeat",
                ref=row["id"],
                xp=_bonus(g.DEFEAT_REWARD["xp"] * spec.multiplier, skills, "quick_learner"),
                gold=_bonus(g.DEFEAT_REWARD["gold"] * spec.multiplier, skills, "treasure_hunter"),
                source="boss",
                detail={"bossId": row["id"], "defeatId": row["defeat_id"]},
                defeats=1,
                final_blows=1 if uid == row["final_blow_user_id"] else 0,
            )
        for p in boss_obj["participants"]:
            self._progress(scope, rid, p["userId"])

    def defeats(self, scope: Scope, page: int, page_size: int) -> tuple[Obj, int]:
        """A page of boss defeats, latest first (``{"object": "list", "data"}``), and the total."""
        rows, total = self.store.defeats(scope, page, page_size)
        return {"object": "list", "data": [self._defeat_obj(r) for r in rows]}, total

    def defeat(self, scope: Scope, defeat_id: str) -> Obj:
        row = self.store.defeat(scope, defeat_id)
        if row is None:
            raise ApiError.not_found("boss defeat", defeat_id)
        return self._defeat_obj(row)

    # -- leaderboard -----------------------------------------------------------------------------

    def _period(self, period: str) -> tuple[str, str]:
        today = self._today()
        if period == "daily":
            return today, g.next_day(today)
        if period == "weekly":
            start = g.week_start(today)
            end = start
            for _ in range(7):
                end = g.next_day(end)
            return start, end
        # All time: since Season 1 began, up to the end of today.
        return g.Season(*g.FIRST_SEASON).starts.date().isoformat(), g.next_day(today)

    def _ranking(self, scope: Scope, period: str) -> tuple[list[Obj], str, str]:
        start, end = self._period(period)
        totals = self.store.totals(scope, since_day=start)
        entries = []
        for row in self.store.players(scope):
            t = totals.get(row["user_id"], {})
            entries.append(
                {
                    "memberId": row["id"],
                    "userId": row["user_id"],
                    "name": row["name"],
                    "score": t.get("xp", 0),
                    "ticketsClosed": t.get("tickets", 0),
                    "bossDamage": t.get("damage", 0),
                    "currentStreak": self._streak(row),
                }
            )
        # A stable order: score, then who joined first.
        entries.sort(key=lambda e: -int(e["score"]))
        ranked = [{"rank": i + 1, **e} for i, e in enumerate(entries)]
        return ranked, start, end

    def leaderboard(self, scope: Scope, period: str, limit: int) -> Obj:
        """The top ``limit`` players by XP earned in ``period`` (daily, weekly from Monday, allTime)."""
        ranked, start, end = self._ranking(scope, period)
        return {
            "object": "leaderboard",
            "period": period,
            "entries": ranked[:limit],
            "totalParticipants": len(ranked),
            "periodStartedAt": g.day_start(start),
            "periodEndsAt": g.day_start(end),
        }

    def my_rank(self, scope: Scope, user_id: str | None, period: str) -> Obj:
        """The player's ``leaderboard_entry`` (a player the game has not seen ranks last)."""
        row = self._view(scope, user_id)
        ranked, _, _ = self._ranking(scope, period)
        mine = next((e for e in ranked if e["userId"] == row["user_id"]), None)
        return {
            "object": "leaderboard_entry",
            "period": period,
            "memberId": row["id"],
            "userId": row["user_id"],
            "name": row["name"],
            # A player who has not played yet ranks after everyone who has.
            "rank": mine["rank"] if mine else len(ranked) + 1,
            "totalParticipants": len(ranked),
            "score": mine["score"] if mine else 0,
        }

    # -- achievements ----------------------------------------------------------------------------

    @staticmethod
    def _achievement_obj(ach: g.Achievement, metrics: Mapping[str, int], unlocked_at: str | None) -> Obj:
        concealed = ach.hidden and unlocked_at is None
        return {
            "id": ach.id,
            "object": "achievement",
            "name": "Hidden achievement" if concealed else ach.name,
            "description": "Keep playing to find out." if concealed else ach.description,
            "category": ach.category,
            "rarity": ach.rarity,
            "xpReward": ach.xp_reward,
            "goldReward": ach.gold_reward,
            "hidden": ach.hidden,
            "unlocked": unlocked_at is not None,
            "unlockedAt": unlocked_at,
            "progress": {"current": metrics[ach.metric], "target": ach.target},
        }

    def achievements(self, scope: Scope, user_id: str | None, category: str | None, unlocked_only: bool) -> Obj:
        """``achievement_list``: every achievement (filtered) with the player's progress, and a
        ``summary`` over all of them."""
        row = self._view(scope, user_id)
        metrics = self._metrics(scope, row)
        unlocked = self.store.unlocked(scope, row["user_id"])
        items = [self._achievement_obj(a, metrics, unlocked.get(a.id)) for a in g.ACHIEVEMENTS]
        by_category: dict[str, dict[str, int]] = {}
        by_rarity: dict[str, dict[str, int]] = {}
        for a, item in zip(g.ACHIEVEMENTS, items, strict=True):
            for group, key in ((by_category, a.category), (by_rarity, a.rarity)):
                slot = group.setdefault(key, {"total": 0, "unlocked": 0})
                slot["total"] += 1
                slot["unlocked"] += int(item["unlocked"])
        done = [a for a in g.ACHIEVEMENTS if a.id in unlocked]
        shown = [
            i for i in items if (category is None or i["category"] == category) and (i["unlocked"] or not unlocked_only)
        ]
        return {
            "object": "achievement_list",
            "data": shown,
            "summary": {
                "total": len(items),
                "unlocked": len(done),
                "totalXpEarned": sum(a.xp_reward for a in done),
                "totalGoldEarned": sum(a.gold_reward for a in done),
                "byCategory": by_category,
                "byRarity": by_rarity,
            },
        }

    def achievement(self, scope: Scope, achievement_id: str, user_id: str | None) -> Obj:
        ach = g.ACHIEVEMENTS_BY_ID.get(achievement_id)
        if ach is None:
            raise ApiError.not_found("achievement", achievement_id)
        row = self._view(scope, user_id)
        unlocked = self.store.unlocked(scope, row["user_id"])
        return self._achievement_obj(ach, self._metrics(scope, row), unlocked.get(ach.id))

    def recent_achievements(self, scope: Scope, limit: int) -> Obj:
        items = []
        for r in self.store.recent_unlocks(scope, limit):
            ach = g.ACHIEVEMENTS_BY_ID.get(r["achievement_id"])
            if ach is None:
                continue
            items.append(
                {
                    "id": ach.id,
                    "name": ach.name,
                    "rarity": ach.rarity,
                    "unlockedBy": {"memberId": r["member_id"], "userId": r["user_id"], "name": r["name"]},
                    "unlockedAt": r["unlocked_at"],
                }
            )
        return {"object": "list", "data": items}

    # -- quests --------------------------------------------------------------------------------------

    @staticmethod
    def _quest_obj(quest: g.Quest, metrics: Mapping[str, int], *, completed_at: str | None) -> Obj:
        return {
            "questId": quest.id,
            "name": quest.name,
            "description": quest.description,
            "difficulty": quest.difficulty,
            "progress": min(metrics.get(quest.metric, quest.target), quest.target),
            "target": quest.target,
            "completed": completed_at is not None,
            "completedAt": completed_at,
            "xpReward": quest.xp_reward,
        }

    def quests_today(self, scope: Scope, user_id: str | None) -> Obj:
        row = self._view(scope, user_id)
        day = self._today()
        done = {r["quest_id"]: r["completed_at"] for r in self.store.quests_done(scope, row["user_id"], day)}
        metrics = self._quest_metrics(scope, row["user_id"], day)
        quests = [self._quest_obj(q, metrics, completed_at=done.get(q.id)) for q in g.QUESTS]
        all_done = len(done) == len(g.QUESTS)
        return {
            "object": "quest_list",
            "date": day,
            "quests": quests,
            "completedToday": len(done),
            "totalQuests": len(g.QUESTS),
            "allComplete": all_done,
            "completionBonus": dict(g.QUEST_COMPLETION_BONUS) if all_done else None,
            "resetsAt": g.day_start(g.next_day(day)),
        }

    def quest_history(self, scope: Scope, user_id: str | None, limit: int) -> Obj:
        row = self._view(scope, user_id)
        days: dict[str, list[Obj]] = {}
        for r in self.store.quests_done(scope, row["user_id"]):
            quest = g.QUESTS_BY_ID.get(r["quest_id"])
            if quest is None:
                continue
            if r["day"] not in days and len(days) == limit:
                break
            days.setdefault(r["day"], []).append(
                self._quest_obj(quest, {quest.metric: quest.target}, completed_at=r["completed_at"])
            )
        history = [{"date": d, "quests": qs, "completedCount": len(qs)} for d, qs in days.items()]
        return {"object": "quest_history", "history": history}

    # -- skills --------------------------------------------------------------------------------------

    def skill_tree(self, scope: Scope, user_id: str | None) -> Obj:
        row = self._view(scope, user_id)
        player = self._player_obj(scope, row)
        skills = self._skills(row)
        return {
            "object": "skill_tree",
            "seasonId": self._season().id,
            "skills": [
                {
                    "id": s.id,
                    "name": s.name,
                    "description": s.description,
                    "maxLevel": s.max_level,
                    "bonusPerLevel": s.bonus_per_level,
                    "currentLevel": skills[s.id],
                    "isMaxed": skills[s.id] >= s.max_level,
                }
                for s in g.SKILLS
            ],
            "totalAllocated": sum(skills.values()),
            "availablePoints": player["availableSkillPoints"],
            "playerLevel": player["level"],
        }

    def allocate(self, scope: Scope, user_id: str, skill_id: str) -> Obj:
        """Spend one point on ``skill_id``. 409 ``no_skill_points`` without one, 409 ``skill_maxed``
        at the skill's max level."""
        row = self.ensure(scope, user_id)
        player = self._player_obj(scope, row)
        skills = self._skills(row)
        skill = next(s for s in g.SKILLS if s.id == skill_id)
        if skills[skill_id] >= skill.max_level:
            raise ApiError(409, "skill_maxed", f"{skill_id} is already at its max level ({skill.max_level}).")
        if player["availableSkillPoints"] < 1:
            raise ApiError(
                409,
                "no_skill_points",
                f"No skill points available (1 point every {g.LEVELS_PER_SKILL_POINT} levels; "
                f"level {player['level']}).",
            )
        skills[skill_id] += 1
        self.store.update_player(scope, row["user_id"], {"skills": skills, "updated_at": iso(self.clock())})
        return {
            "object": "skill_allocation",
            "skillId": skill_id,
            "newLevel": skills[skill_id],
            "availablePoints": player["availableSkillPoints"] - 1,
        }

    def reset_skills(self, scope: Scope, user_id: str) -> Obj:
        row = self.ensure(scope, user_id)
        self.store.update_player(scope, row["user_id"], {"skills": dict(_NO_SKILLS), "updated_at": iso(self.clock())})
        fresh = self.store.player(scope, row["user_id"])
        assert fresh is not None
        return {
            "object": "skill_reset",
            "skills": dict(_NO_SKILLS),
            "availablePoints": self._player_obj(scope, fresh)["availableSkillPoints"],
        }

    # -- seasons -------------------------------------------------------------------------------------

    def current_season(self, scope: Scope) -> Obj:
        now = self.clock()
        season = g.season_at(now)
        obj = season.as_object(now, season)
        obj["teamParticipants"] = self.store.season_participants(scope, season.id)
        return obj

    def seasons(self, scope: Scope, limit: int) -> list[Obj]:
        """The current season and past ones back to Season 1, latest first."""
        now = self.clock()
        current = season = g.season_at(now)
        out: list[Obj] = []
        while len(out) < limit and (season.year, season.quarter) >= g.FIRST_SEASON:
            obj = season.as_object(now, current)
            obj["teamParticipants"] = self.store.season_participants(scope, season.id)
            out.append(obj)
            season = season.previous()
        return out

    def season_stats(self, scope: Scope, season_id: str, user_id: str | None) -> Obj:
        season = g.season_by_id(season_id, self.clock())
        if season is None:
            raise ApiError.not_found("season", season_id)
        row = self._view(scope, user_id)
        t = self.store.totals(scope, row["user_id"], season_id=season.id).get(row["user_id"], {})
        level = g.level_of(t.get("xp", 0))
        badge = next((dict(b) for b in reversed(g.BADGES) if level >= int(b["level"])), None)  # type: ignore[call-overload]
        return {
            "object": "season_stats",
            "seasonId": season.id,
            "memberId": row["id"],
            "userId": row["user_id"],
            "level": level,
            "xp": t.get("xp", 0),
            "goldEarned": t.get("gold", 0),
            "ticketsClosed": t.get("tickets", 0),
            "bossDamage": t.get("damage", 0),
            "bossesDefeated": t.get("defeats", 0),
            "badge": badge,
        }

    # -- one-ups -----------------------------------------------------------------------------------

    def _free_limit(self, row: Row) -> int:
        return g.FREE_ONE_UPS_PER_DAY + self._skills(row)["social_butterfly"]

    def one_ups(self, scope: Scope, limit: int, user_id: str | None) -> Obj:
        return {"object": "list", "data": [g.one_up(r) for r in self.store.one_ups(scope, limit, user_id)]}

    def one_ups_remaining(self, scope: Scope, user_id: str | None) -> Obj:
        row = self._view(scope, user_id)
        sent, free = self.store.one_up_counts(scope, row["user_id"], self._today())
        limit = self._free_limit(row)
        return {
            "object": "one_up_remaining",
            "freeOneUpsRemaining": max(limit - free, 0),
            "maxFreeOneUps": limit,
            "sentToday": sent,
        }

    def send_one_up(self, scope: Scope, request_id: str | None, fields: Mapping[str, Any]) -> Obj:
        """Send a one-up (``social.one_up_sent``): without gold it uses one of the sender's free
        one-ups of the day (409 ``no_free_one_ups`` when none is left); ``goldAmount`` moves gold from
        the sender (409 ``insufficient_gold``). The recipient earns XP and gold."""
        if fields["recipientId"] == fields["senderId"]:
            raise ApiError.invalid("recipientId", "A one-up goes to a teammate, not to the sender.")
        sender = self.ensure(scope, fields["senderId"], fields.get("senderName"))
        recipient = self.ensure(scope, fields["recipientId"], fields.get("recipientName"))
        gold = int(fields.get("goldAmount") or 0)
        day = self._today()
        _, free_sent = self.store.one_up_counts(scope, sender["user_id"], day)
        limit = self._free_limit(sender)
        was_free = gold == 0
        if was_free and free_sent >= limit:
            raise ApiError(
                409, "no_free_one_ups", f"All {limit} free one-ups of today are sent; add goldAmount to send more."
            )
        if gold > sender["gold"]:
            raise ApiError(409, "insufficient_gold", f"The sender has {sender['gold']} gold; {gold} were asked.")
        if gold:
            self.store.update_player(scope, sender["user_id"], {"gold": sender["gold"] - gold})
        row = self.store.insert_one_up(
            scope,
            {
                "id": new_id("1up_"),
                "sender_id": sender["user_id"],
                "sender_name": sender["name"],
                "recipient_id": recipient["user_id"],
                "recipient_name": recipient["name"],
                "message": fields.get("message"),
                "gold_amount": gold,
                "was_free": was_free,
                "day": day,
                "created_at": iso(self.clock()),
            },
        )
        one_up = g.one_up(row)
        self._emit(scope, request_id, "social.one_up_sent", {"oneUp": one_up})
        self._activity(scope, "one_up_sent", sender, {"oneUpId": row["id"], "recipientName": recipient["name"]})
        xp, award = g.ONE_UP_RECIPIENT_XP, g.ONE_UP_RECIPIENT_GOLD + gold
        self._grant(
            scope,
            request_id,
            recipient["user_id"],
            kind="one_up",
            ref=row["id"],
            xp=xp,
            gold=award,
            source="one_up",
            detail={"oneUpId": row["id"]},
        )
        self._progress(scope, request_id, sender["user_id"])
        self._progress(scope, request_id, recipient["user_id"])
        return {
            **one_up,
            "freeRemaining": max(limit - free_sent - int(was_free), 0),
            "recipientXpAwarded": xp,
            "recipientGoldAwarded": award,
        }

    # -- high fives --------------------------------------------------------------------------------

    def high_fives(self, scope: Scope, limit: int) -> Obj:
        return {"object": "list", "data": [g.high_five(r) for r in self.store.high_fives(scope, limit)]}

    def can_high_five(self, scope: Scope, recipient_team_id: str) -> Obj:
        if recipient_team_id == scope.team_id:
            return {"canSend": False, "highFivesRemaining": 0}
        sent = self.store.high_fives_sent(scope, recipient_team_id, self._today())
        remaining = max(g.HIGH_FIVES_PER_TEAM_PER_DAY - sent, 0)
        return {"canSend": remaining > 0, "highFivesRemaining": remaining}

    def send_high_five(self, scope: Scope, request_id: str | None, fields: Mapping[str, Any]) -> Obj:
        """Send a high five to another team (``social.high_five_sent``): one per recipient team a day
        (409 ``high_five_limit``), never to the own team (400 ``recipientTeamId``)."""
        recipient = fields["recipientTeamId"]
        if recipient == scope.team_id:
            raise ApiError.invalid("recipientTeamId", "A high five goes to another team, not to your own.")
        if not self.can_high_five(scope, recipient)["canSend"]:
            raise ApiError(
                409, "high_five_limit", f"This team already sent {recipient!r} a high five today (1 per team a day)."
            )
        sender_team_name = fields.get("senderTeamName") or self.store.team_name(scope.team_id) or scope.team_id
        recipient_name = fields.get("recipientTeamName") or self.store.team_name(recipient) or recipient
        actor: Row | None = None
        if fields.get("senderUserId"):
            actor = self.ensure(scope, fields["senderUserId"], fields.get("senderUserName"))
        row = self.store.insert_high_five(
            scope,
            {
                "id": new_id("hf_"),
                "sender_team_name": sender_team_name,
                "recipient_team_id": recipient,
                "recipient_team_name": recipient_name,
                "sender_user_id": actor["user_id"] if actor is not None else None,
                "sender_user_name": actor["name"] if actor is not None else None,
                "message": fields.get("message"),
                "day": self._today(),
                "created_at": iso(self.clock()),
            },
        )
        obj = g.high_five(row)
        self._emit(scope, request_id, "social.high_five_sent", {"highFive": obj})
        self._activity(
            scope,
            "high_five_sent",
            actor or self._team_actor(scope),
            {"highFiveId": row["id"], "recipientTeamId": recipient},
        )
        return obj

    # -- cosmetics -----------------------------------------------------------------------------------

    def _unlocked_cosmetic(self, item: g.Cosmetic, metrics: Mapping[str, int]) -> bool:
        return item.metric is None or metrics[item.metric] >= item.target

    def cosmetics(self, scope: Scope, user_id: str | None, kind: str | None) -> list[Obj]:
        row = self._view(scope, user_id)
        metrics = self._metrics(scope, row)
        return [
            {
                "id": c.id,
                "type": c.type,
                "name": c.name,
                "unlocked": self._unlocked_cosmetic(c, metrics),
                "equipped": c.id == row["avatar_frame"],
                "unlockRequirement": c.requirement,
            }
            for c in g.COSMETICS
            if kind is None or c.type == kind
        ]

    @staticmethod
    def _preferences(row: Row) -> Obj:
        return {
            "object": "cosmetic_preferences",
            "userId": row["user_id"],
            "avatarFrame": row["avatar_frame"],
            "victoryMessage": row["victory_message"],
        }

    def cosmetic_preferences(self, scope: Scope, user_id: str | None) -> Obj:
        return self._preferences(self._view(scope, user_id))

    def equip(self, scope: Scope, user_id: str, changes: Mapping[str, Any]) -> Obj:
        """Equip ``avatarFrame`` (an unlocked frame: 400 when not a frame, 409 ``cosmetic_locked``)
        and/or set ``victoryMessage`` (null or blank: none, ``""``)."""
        row = self.ensure(scope, user_id)
        update: Obj = {}
        if "avatarFrame" in changes:
            item = g.COSMETICS_BY_ID.get(changes["avatarFrame"])
            if item is None or item.type != "frame":
                frames = ", ".join(c.id for c in g.COSMETICS if c.type == "frame")
                raise ApiError.invalid("avatarFrame", f"avatarFrame must be a frame: {frames}.")
            if not self._unlocked_cosmetic(item, self._metrics(scope, row)):
                raise ApiError(
                    409, "cosmetic_locked", f"{item.id} is locked (needs {item.requirement}).", field="avatarFrame"
                )
            update["avatar_frame"] = item.id
        if "victoryMessage" in changes:
            update["victory_message"] = changes["victoryMessage"] or ""
        if update:
            self.store.update_player(scope, row["user_id"], {**update, "updated_at": iso(self.clock())})
        fresh = self.store.player(scope, row["user_id"])
        assert fresh is not None
        return self._preferences(fresh)

    # -- puzzles -------------------------------------------------------------------------------------

    def _puzzle(self, day: str) -> Obj:
        ordinal = int(day.replace("-", ""))
        spec = g.PUZZLES[_day_number(day) % len(g.PUZZLES)]
        return {"id": f"puz_{ordinal}", "date": day, "type": spec["type"], "data": spec["data"]}

    @staticmethod
    def _completion(row: Row) -> Obj:
        return {
            "puzzleId": row["puzzle_id"],
            "score": row["score"],
            "xpEarned": row["xp"],
            "timeSeconds": row["time_seconds"],
            "mistakes": row["mistakes"],
            "isWon": bool(row["is_won"]),
            "completedAt": row["created_at"],
        }

    def puzzle_today(self, scope: Scope, user_id: str | None) -> Obj:
        puzzle = self._puzzle(self._today())
        completion = None
        if user_id is not None:
            row = self.store.puzzle_completion(scope, user_id, puzzle["id"])
            completion = self._completion(row) if row is not None else None
        return {"object": "daily_puzzle", "available": True, "puzzle": puzzle, "completion": completion}

    def _puzzle_streak(self, scope: Scope, user_id: str) -> Obj:
        days = self.store.puzzle_days(scope, user_id)
        longest = run = 0
        prev: str | None = None
        for d in days:
            run = run + 1 if prev is not None and g.next_day(prev) == d else 1
            longest = max(longest, run)
            prev = d
        today = self._today()
        current = run if prev in (today, g.previous_day(today)) else 0
        return {"current": current, "longest": longest, "totalCompleted": len(days)}

    def complete_puzzle(self, scope: Scope, request_id: str | None, fields: Mapping[str, Any]) -> Obj:
        """Record today's puzzle (400 ``puzzleId`` for any other; 409 ``puzzle_already_completed``).
        A win scores 1000 − 100 per mistake − 1 per second (at least 100) and earns 30 − 5 per
        mistake XP; a loss scores 0 and earns 5 XP."""
        day = self._today()
        puzzle = self._puzzle(day)
        if fields["puzzleId"] != puzzle["id"]:
            raise ApiError.invalid("puzzleId", f"puzzleId must be today's puzzle ({puzzle['id']}).")
        row = self.ensure(scope, fields["userId"])
        uid = row["user_id"]
        if self.store.puzzle_completion(scope, uid, puzzle["id"]) is not None:
            raise ApiError(409, "puzzle_already_completed", "This player already completed today's puzzle.")
        won, mistakes, seconds = bool(fields["isWon"]), int(fields["mistakes"]), int(fields["timeSeconds"])
        score = max(1000 - 100 * mistakes - seconds, 100) if won else 0
        xp = 30 - 5 * mistakes if won else 5
        self.store.insert_puzzle(
            scope,
            {
                "user_id": uid,
                "puzzle_id": puzzle["id"],
                "day": day,
                "time_seconds": seconds,
                "mistakes": mistakes,
                "is_won": won,
                "score": score,
                "xp": xp,
                "created_at": iso(self.clock()),
            },
        )
        self._activity(scope, "puzzle_completed", row, {"puzzleId": puzzle["id"], "score": score, "isWon": won})
        self._grant(
            scope,
            request_id,
            uid,
            kind="puzzle",
            ref=puzzle["id"],
            xp=xp,
            gold=0,
            source="puzzle",
            detail={"puzzleId": puzzle["id"]},
        )
        self._progress(scope, request_id, uid)
        return {
            "object": "puzzle_completion",
            "score": score,
            "xpEarned": xp,
            "streak": self._puzzle_streak(scope, uid),
        }

    def puzzle_leaderboard(self, scope: Scope, kind: str, puzzle_id: str | None, limit: int) -> Obj:
        if kind == "scores":
            if not puzzle_id:
                raise ApiError.invalid("puzzleId", "puzzleId is required when type=scores.")
            entries = []
            for i, r in enumerate(self.store.puzzle_scores(scope, puzzle_id, limit)):
                player = self.store.player(scope, r["user_id"])
                entries.append(
                    {
                        "rank": i + 1,
                        "userId": r["user_id"],
                        "memberId": player["id"] if player is not None else None,
                        "name": player["name"] if player is not None else r["user_id"],
                        "score": r["score"],
                        "timeSeconds": r["time_seconds"],
                        "mistakes": r["mistakes"],
                    }
                )
            return {"object": "puzzle_leaderboard", "type": kind, "puzzleId": puzzle_id, "entries": entries}
        streaks = []
        for player in self.store.players(scope):
            s = self._puzzle_streak(scope, player["user_id"])
            if s["totalCompleted"]:
                streaks.append((player, s))
        streaks.sort(key=lambda ps: (-ps[1]["current"], -ps[1]["longest"]))
        entries = [
            {
                "rank": i + 1,
                "userId": p["user_id"],
                "memberId": p["id"],
                "name": p["name"],
                "currentStreak": s["current"],
                "longestStreak": s["longest"],
            }
            for i, (p, s) in enumerate(streaks[:limit])
        ]
        return {"object": "puzzle_leaderboard", "type": kind, "entries": entries}

    def puzzle_streak(self, scope: Scope, user_id: str | None) -> Obj:
        row = self._view(scope, user_id)
        s = self._puzzle_streak(scope, row["user_id"])
        return {
            "object": "puzzle_streak",
            "userId": row["user_id"],
            "currentStreak": s["current"],
            "longestStreak": s["longest"],
            "totalCompleted": s["totalCompleted"],
        }

    # -- activity ----------------------------------------------------------------------------------

    def activity(self, scope: Scope, limit: int, before: str | None) -> Obj:
        """The team's feed, latest first; ``before`` (an ``act_…`` id, 400 when unknown) continues
        after that item. ``cursor`` is the last item's id (absent on an empty page), ``hasMore``
        whether older items follow."""
        before_seq = None
        if before:
            before_seq = self.store.activity_seq(scope, before)
            if before_seq is None:
                raise ApiError.invalid("before", f"No activity with id {before!r}.")
        rows = self.store.activity(scope, limit, before_seq=before_seq)
        items = [g.activity(r) for r in rows]
        page: Obj = {"object": "list", "data": items, "hasMore": False}
        if items:
            page["cursor"] = items[-1]["id"]
            page["hasMore"] = bool(self.store.activity(scope, 1, before_seq=rows[-1]["seq"]))
        return page

    def member_activity(self, scope: Scope, member_id: str, limit: int) -> Obj:
        row = self._by_member(scope, member_id)
        rows = self.store.activity(scope, limit, actors=(row["user_id"],))
        return {"object": "list", "data": [g.activity(r) for r in rows]}

    # -- config ------------------------------------------------------------------------------------

    @staticmethod
    def config() -> Obj:
        return g.GAME_CONFIG


def _ts(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def _day_number(day: str) -> int:
    return date.fromisoformat(day).toordinal()
