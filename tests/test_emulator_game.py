"""The game layer (``/game/…``): end to end against a real emulator, as tables of endpoint cases
driving generic checks against the OpenAPI document; then the rules and events on the services over
a tmp database with a fixed clock."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from cstar_cli.protocol import openapi
from cstar_emulator import Emulator
from cstar_emulator.db import Scope
from cstar_emulator.envelope import ApiError
from cstar_emulator.repositories.plain import TeamSettings
from cstar_emulator.seed_game import seed_game
from tests.support.events import drain

#: The service fixtures (``emu``: an emulator on a tmp database; ``scope``: its test mode).
pytest_plugins = ["tests.support.services"]

pytestmark = pytest.mark.e2e


def conforms(method: str, url: str, response: httpx.Response) -> dict[str, Any]:
    """The body, after checking it against the document's schema for that operation and status."""
    body: dict[str, Any] = response.json()
    found = openapi.match(method, "/api/v1/teams/" + url.split("/api/v1/teams/", 1)[1].split("?")[0])
    assert found is not None, url
    schema = openapi.response_schema(found.operation.operation_id, response.status_code)
    assert schema is not None, (url, response.status_code, body)
    assert openapi.validate(body, schema) == [], (url, body)
    assert body["meta"]["requestId"] == response.headers["x-cstar-request-id"]
    return body


# Every read: (path, query, the ``data.object`` it answers, or None for a bare list / no object).
READS: list[tuple[str, dict[str, Any], str | None]] = [
    ("/game/player", {}, "player_stats"),
    ("/game/player", {"userId": "usr_sam"}, "player_stats"),
    ("/game/player/usr_alex", {}, "player_stats"),
    ("/game/boss", {}, "boss_state"),
    ("/game/boss/active", {}, "boss_active"),
    ("/game/boss/defeats", {"pageSize": 5}, "list"),
    ("/game/leaderboard", {"period": "allTime", "limit": 2}, "leaderboard"),
    ("/game/leaderboard/me", {"userId": "usr_sam"}, "leaderboard_entry"),
    ("/game/achievements", {"category": "boss"}, "achievement_list"),
    ("/game/achievements/first_blood", {}, "achievement"),
    ("/game/achievements/recent", {"limit": 3}, "list"),
    ("/game/quests/today", {}, "quest_list"),
    ("/game/quests/history", {"limit": 5}, "quest_history"),
    ("/game/skills", {}, "skill_tree"),
    ("/game/seasons/current", {}, "season"),
    ("/game/seasons", {"limit": 2}, None),
    ("/game/one-ups", {"limit": 5}, "list"),
    ("/game/one-ups/remaining", {"userId": "usr_sam"}, "one_up_remaining"),
    ("/game/high-fives", {}, "list"),
    ("/game/high-fives/can-send/team_other", {}, None),
    ("/game/cosmetics", {"type": "frame"}, None),
    ("/game/cosmetics/preferences", {}, "cosmetic_preferences"),
    ("/game/puzzles/today", {"userId": "usr_sam"}, "daily_puzzle"),
    ("/game/puzzles/leaderboard", {}, "puzzle_leaderboard"),
    ("/game/puzzles/streak", {}, "puzzle_streak"),
    ("/game/activity", {"limit": 10}, "list"),
    ("/game/activity/member/usr_alex", {}, "list"),
    ("/game/config", {}, "game_config"),
]


@pytest.mark.parametrize(("path", "params", "obj"), READS, ids=[f"{p}{q}" for p, q, _ in READS])
def test_every_read_conforms_for_any_key(
    emulator_session: Any, path: str, params: dict[str, Any], obj: str | None
) -> None:
    for kind in ("sk_test", "pk_test", "sk_live"):
        with emulator_session.client(kind) as api:
            r = api.get(path, params=params)
            assert r.status_code == 200, (kind, r.text)
            body = conforms("GET", emulator_session.team_url(path), r)
            if obj is not None:
                assert body["data"]["object"] == obj


# Writes: (method, path, body, status) — each valid as sent.
WRITES: list[tuple[str, str, dict[str, Any], int]] = [
    ("POST", "/game/boss/spawn", {"difficulty": "easy"}, 201),
    ("POST", "/game/boss/damage", {"userId": "usr_sam", "priority": "urgent"}, 200),
    ("POST", "/game/skills/allocate", {"userId": "usr_alex", "skillId": "boss_slayer"}, 200),
    ("POST", "/game/skills/reset", {"userId": "usr_alex"}, 200),
    ("POST", "/game/one-ups", {"senderId": "usr_alex", "recipientId": "usr_sam", "message": "Great work!"}, 201),
    ("POST", "/game/high-fives", {"recipientTeamId": "team_xyz", "message": "Crushing it!"}, 201),
    ("PATCH", "/game/cosmetics/preferences", {"userId": "usr_alex", "avatarFrame": "silver_ring"}, 200),
]


def test_writes_conform_and_publishable_keys_may_only_read(emulator: Any) -> None:
    with emulator.client() as api, emulator.client("pk_test") as public:
        for method, path, body, status in WRITES:
            assert public.request(method, path, json=body).status_code == 403
            r = api.request(method, path, json=body)
            assert r.status_code == status, (path, r.text)
            conforms(method, emulator.team_url(path), r)
        puzzle = api.get("/game/puzzles/today").json()["data"]["puzzle"]["id"]
        done = {"userId": "usr_sam", "puzzleId": puzzle, "timeSeconds": 42, "mistakes": 1, "isWon": True}
        r = api.post("/game/puzzles/complete", json=done)
        assert conforms("POST", emulator.team_url("/game/puzzles/complete"), r)["data"]["score"] == 858
        assert api.post("/game/puzzles/complete", json=done).status_code == 409


# Bad input: (method, path, query or body, status, field or error code).
BAD: list[tuple[str, str, dict[str, Any], int, str]] = [
    ("GET", "/game/player/mem_nobody", {}, 404, "not_found"),
    ("GET", "/game/boss/defeats/def_nope", {}, 404, "not_found"),
    ("GET", "/game/achievements/no_such_thing", {}, 404, "not_found"),
    ("GET", "/game/seasons/1999-Q1/stats", {}, 404, "not_found"),
    ("GET", "/game/seasons/not-a-season/stats", {}, 404, "not_found"),
    ("GET", "/game/activity/member/usr_nobody", {}, 404, "not_found"),
    ("GET", "/game/player/usr_nobody", {}, 404, "not_found"),
    ("GET", "/game/leaderboard", {"period": "monthly"}, 400, "period"),
    ("GET", "/game/leaderboard", {"limit": 51}, 400, "limit"),
    ("GET", "/game/boss/defeats", {"pageSize": 101}, 400, "pageSize"),
    ("GET", "/game/cosmetics", {"type": "hat"}, 400, "type"),
    ("GET", "/game/puzzles/leaderboard", {"type": "scores"}, 400, "puzzleId"),
    ("GET", "/game/activity", {"before": "act_nope"}, 400, "before"),
    ("GET", "/game/achievements", {"unlockedOnly": "maybe"}, 400, "unlockedOnly"),
    ("POST", "/game/boss/spawn", {"difficulty": "nightmare"}, 400, "difficulty"),
    ("POST", "/game/boss/damage", {"priority": "high"}, 400, "userId"),
    ("POST", "/game/boss/damage", {"userId": "usr_sam", "priority": "critical"}, 400, "priority"),
    ("POST", "/game/skills/allocate", {"userId": "usr_alex", "skillId": "flying"}, 400, "skillId"),
    ("POST", "/game/one-ups", {"senderId": "usr_alex", "recipientId": "usr_sam", "message": "x" * 141}, 400, "message"),
    ("POST", "/game/one-ups", {"senderId": "usr_alex", "recipientId": "usr_sam", "goldAmount": 101}, 400, "goldAmount"),
    ("POST", "/game/one-ups", {"senderId": "usr_alex", "recipientId": "usr_alex"}, 400, "recipientId"),
    ("POST", "/game/high-fives", {"recipientTeamId": "team_xyz", "message": "x" * 81}, 400, "message"),
    (
        "PATCH",
        "/game/cosmetics/preferences",
        {"userId": "usr_alex", "victoryMessage": "x" * 201},
        400,
        "victoryMessage",
    ),
    ("PATCH", "/game/cosmetics/preferences", {"userId": "usr_alex", "avatarFrame": "midnight"}, 400, "avatarFrame"),
    (
        "POST",
        "/game/puzzles/complete",
        {"userId": "u", "puzzleId": "p", "timeSeconds": 1, "mistakes": 5, "isWon": True},
        400,
        "mistakes",
    ),
    (
        "POST",
        "/game/puzzles/complete",
        {"userId": "u", "puzzleId": "puz_1", "timeSeconds": 1, "mistakes": 0, "isWon": True},
        400,
        "puzzleId",
    ),
]


@pytest.mark.parametrize(
    ("method", "path", "data", "status", "what"), BAD, ids=[f"{m} {p} {w}" for m, p, _, _, w in BAD]
)
def test_bad_input_is_a_clear_error(
    emulator_session: Any, method: str, path: str, data: dict[str, Any], status: int, what: str
) -> None:
    with emulator_session.client() as api:
        kwargs: dict[str, Any] = {"params": data} if method == "GET" else {"json": data}
        r = api.request(method, path, **kwargs)
        assert r.status_code == status, r.text
        error = r.json()["error"]
        if status == 400:
            assert (error["code"], error["field"]) == ("INVALID_FIELD", what)
        else:
            assert error["code"] == what


def test_closing_tickets_earns_xp_and_fights_the_boss_end_to_end(emulator: Any) -> None:
    with emulator.client() as api, emulator.client("sk_live") as live:
        before = api.get("/game/player", params={"userId": "usr_jordan"}).json()["data"]
        boss = api.post("/game/boss/spawn", json={"difficulty": "easy"}).json()["data"]["boss"]
        assert api.post("/game/boss/spawn", json={}).json()["error"]["code"] == "boss_already_active"
        ticket = api.post("/tickets", json={"title": "Printer on fire", "priority": "high"}).json()["data"]
        closed = api.patch(f"/tickets/{ticket['id']}", json={"status": "resolved", "assignedTo": "usr_jordan"})
        assert set(closed.json()["data"]) == set(ticket)  # customer-facing objects carry no game data
        after = api.get("/game/player", params={"userId": "usr_jordan"}).json()["data"]
        assert after["xp"] > before["xp"] and after["stats"]["ticketsClosed"] == 1
        state = api.get("/game/boss").json()["data"]["boss"]
        assert state["currentHealth"] == boss["maxHealth"] - 52  # high: 20 × 2.618
        assert state["participants"][0]["userId"] == "usr_jordan"
        # Reopening and closing again earns nothing more.
        api.patch(f"/tickets/{ticket['id']}", json={"status": "open"})
        api.patch(f"/tickets/{ticket['id']}", json={"status": "closed"})
        assert api.get("/game/player", params={"userId": "usr_jordan"}).json()["data"]["xp"] == after["xp"]
        # The live partition has its own, untouched game.
        assert live.get("/game/boss").json()["data"]["active"] is False

        # With a defeat, unlocks, one-ups, high fives and activity on record, every read still conforms.
        for _ in range(20):
            if not api.get("/game/boss/active").json()["data"]["active"]:
                break
            api.post("/game/boss/damage", json={"userId": "usr_sam", "userName": "Sam", "priority": "urgent"})
        api.post("/game/one-ups", json={"senderId": "usr_sam", "recipientId": "usr_nobody_yet"})
        api.post("/game/high-fives", json={"recipientTeamId": "team_elsewhere", "senderUserId": "usr_sam"})
        assert api.get("/game/boss/defeats").json()["meta"]["pagination"]["total"] == 1
        for path, params, _ in READS:
            conforms("GET", emulator.team_url(path), api.get(path, params=params))
        defeat = api.get("/game/boss/defeats").json()["data"]["data"][0]["id"]
        conforms("GET", emulator.team_url(f"/game/boss/defeats/{defeat}"), api.get(f"/game/boss/defeats/{defeat}"))

        api.patch("/settings/feature-flags", json={"bossBattlesEnabled": False})
        dormant = api.get("/game/boss").json()["data"]
        assert (dormant["active"], "boss" in dormant, dormant["bossBattlesEnabled"]) == (False, False, False)
        r = api.post("/game/boss/damage", json={"userId": "usr_sam"})
        assert (r.status_code, r.json()["error"]["code"]) == (409, "boss_battles_disabled")


# -- services ------------------------------------------------------------------------------------

NOON = 1_775_476_800.0  # 2026-04-06T12:00:00Z, a Monday of season 2026-Q2


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(emu: Emulator) -> Clock:
    """The game's clock, fixed at :data:`NOON`, with the players seeded again in its season."""
    c = Clock(NOON)
    emu.game.clock = c
    with emu.db.transaction():
        emu.db.run("DELETE FROM game_players")
        emu.db.run("DELETE FROM game_ledger")
    seed_game(emu.db, emu.seed.team_id, now=NOON)
    return c


def close_ticket(emu: Emulator, scope: Scope, priority: str = "normal", agent: str | None = "usr_sam") -> None:
    ticket = emu.tickets.create(scope, "req_t", {"title": "Help", "priority": priority})
    emu.tickets.update(scope, ticket["id"], "req_t", {"status": "resolved", "assigned_to": agent})


def test_a_close_fires_xp_then_the_boss_events_then_quests_and_achievements(
    emu: Emulator, scope: Scope, clock: Clock
) -> None:
    with emu.db.transaction():
        emu.game.spawn(scope, "req_s", "easy")
    sub = emu.event_hub.subscribe(scope)
    close_ticket(emu, scope, "urgent")
    types = [t for t, _ in drain(sub)]
    game = [t for t in types if not t.startswith("ticket.")]
    assert game == [
        "player.xp_gained",  # 75 XP for an urgent ticket
        "boss.damaged",
        "player.quest_completed",  # close_1_ticket
        "player.xp_gained",
        "player.achievement_unlocked",  # first_blood
        "player.xp_gained",
        "player.achievement_unlocked",  # boss_brawler
        "player.xp_gained",
        "player.achievement_unlocked",  # quest_starter
        "player.xp_gained",
    ]
    assert types.index("ticket.closed") < types.index("player.xp_gained")
    boss = emu.game.boss_state(scope)["boss"]
    assert boss["currentHealth"] == 750 - 85 and boss["participants"][0]["hits"] == 1


def test_the_killing_blow_defeats_the_boss_and_rewards_every_participant(
    emu: Emulator, scope: Scope, clock: Clock
) -> None:
    with emu.db.transaction():
        emu.game.spawn(scope, "req_s", "easy")
    sub = emu.event_hub.subscribe(scope)
    with emu.db.transaction():
        emu.game.damage(scope, "r", "usr_alex", None, "urgent")
    for _ in range(8):
        with emu.db.transaction():
            result = emu.game.damage(scope, "r", "usr_sam", None, "urgent")
    assert result["isDefeated"] and result["isKillingBlow"] and result["currentHealth"] == 0
    events = drain(sub)
    defeated = [d for t, d in events if t == "boss.defeated"]
    assert len(defeated) == 1 and defeated[0]["defeat"]["finalBlow"]["userId"] == "usr_sam"
    boss_xp = [d["player"]["userId"] for t, d in events if t == "player.xp_gained" and d["source"] == "boss"]
    assert sorted(boss_xp) == ["usr_alex", "usr_sam"]
    page, total = emu.game.defeats(scope, 1, 20)
    assert total == 1 and emu.game.defeat(scope, page["data"][0]["id"])["rewards"] == {"xp": 100, "gold": 50}
    assert emu.game.boss_state(scope)["active"] is False
    with pytest.raises(ApiError) as err:
        emu.game.damage(scope, "r", "usr_sam", None, "low")
    assert err.value.code == "no_active_boss"


def test_boss_battles_off_keeps_xp_but_no_boss_events(emu: Emulator, scope: Scope, clock: Clock) -> None:
    with emu.db.transaction():
        emu.game.spawn(scope, "req_s", "hard")
        TeamSettings(emu.db).update(scope, boss_battles_enabled=False)
    sub = emu.event_hub.subscribe(scope)
    close_ticket(emu, scope)
    types = [t for t, _ in drain(sub)]
    assert "player.xp_gained" in types and not [t for t in types if t.startswith("boss.")]
    assert emu.game.boss_state(scope) == {
        "object": "boss_state",
        "active": False,
        "bossBattlesEnabled": False,
    }
    with pytest.raises(ApiError) as err:
        emu.game.spawn(scope, "r", "easy")
    assert (err.value.status, err.value.code) == (409, "boss_battles_disabled")


def test_levels_streaks_and_periods_follow_the_clock(emu: Emulator, scope: Scope, clock: Clock) -> None:
    sub = emu.event_hub.subscribe(scope)
    start = emu.game.player(scope, "usr_jordan")
    assert (start["level"], start["xp"] % 1000) == (12, 850)  # seeded from the member
    for day in range(3):
        clock.now = NOON + day * 86400
        close_ticket(emu, scope, "urgent", "usr_jordan")
    events = drain(sub)
    milestones = [d for t, d in events if t == "player.streak_milestone"]
    assert [m["milestone"] for m in milestones] == [3]
    ups = [d for t, d in events if t == "player.level_up"]
    assert ups and ups[0]["previousLevel"] == 12 and ups[0]["level"] == 13
    player = emu.game.player(scope, "usr_jordan")
    assert player["streaks"] == {"current": 3, "max": 3}
    # Today's board counts today only; the seeded XP is dated at the season's start.
    daily = emu.game.leaderboard(scope, "daily", 10)["entries"]
    assert daily[0]["userId"] == "usr_jordan" and daily[0]["ticketsClosed"] == 1
    assert emu.game.leaderboard(scope, "weekly", 10)["entries"][0]["ticketsClosed"] == 3
    # Two days without a close end the streak.
    clock.now += 2 * 86400
    assert emu.game.player(scope, "usr_jordan")["streaks"]["current"] == 0


def test_one_ups_use_free_sends_then_gold(emu: Emulator, scope: Scope, clock: Clock) -> None:
    sub = emu.event_hub.subscribe(scope)
    fields = {"senderId": "usr_alex", "recipientId": "usr_sam"}
    with emu.db.transaction():
        for _ in range(3):
            sent = emu.game.send_one_up(scope, "r", fields)
    assert (sent["wasFree"], sent["freeRemaining"], sent["recipientXpAwarded"]) == (True, 0, 10)
    with pytest.raises(ApiError) as err:
        emu.game.send_one_up(scope, "r", fields)
    assert err.value.code == "no_free_one_ups"
    gold = emu.game.player(scope, "usr_alex")["gold"]
    with emu.db.transaction():
        paid = emu.game.send_one_up(scope, "r", {**fields, "goldAmount": 20})
    assert (paid["wasFree"], paid["recipientGoldAwarded"]) == (False, 25)
    assert emu.game.player(scope, "usr_alex")["gold"] == gold - 20
    assert [t for t, _ in drain(sub)].count("social.one_up_sent") == 4
    assert emu.game.one_ups_remaining(scope, "usr_alex")["sentToday"] == 4


def test_high_fives_are_one_per_team_a_day(emu: Emulator, scope: Scope, clock: Clock) -> None:
    sub = emu.event_hub.subscribe(scope)
    with emu.db.transaction():
        hf = emu.game.send_high_five(scope, "r", {"recipientTeamId": "team_xyz", "recipientTeamName": "Bug Busters"})
    assert hf["senderTeam"]["name"] == "Acme Support (emulator)" and hf["recipientTeam"]["name"] == "Bug Busters"
    assert emu.game.can_high_five(scope, "team_xyz") == {"canSend": False, "highFivesRemaining": 0}
    with pytest.raises(ApiError) as err:
        emu.game.send_high_five(scope, "r", {"recipientTeamId": "team_xyz"})
    assert err.value.code == "high_five_limit"
    clock.now += 86400
    assert emu.game.can_high_five(scope, "team_xyz")["canSend"] is True
    assert [t for t, _ in drain(sub)] == ["social.high_five_sent"]


def test_skills_need_points_and_cosmetics_need_unlocking(emu: Emulator, scope: Scope, clock: Clock) -> None:
    # usr_alex is level 14: 2 points; usr_jordan level 12: 2 points.
    with emu.db.transaction():
        emu.game.allocate(scope, "usr_alex", "quick_learner")
        last = emu.game.allocate(scope, "usr_alex", "quick_learner")
    assert (last["newLevel"], last["availablePoints"]) == (2, 0)
    with pytest.raises(ApiError) as err:
        emu.game.allocate(scope, "usr_alex", "boss_slayer")
    assert err.value.code == "no_skill_points"
    assert emu.game.reset_skills(scope, "usr_alex")["availablePoints"] == 2
    with pytest.raises(ApiError) as err:
        emu.game.equip(scope, "usr_alex", {"avatarFrame": "gold_ring"})  # needs level 25
    assert err.value.code == "cosmetic_locked"
    prefs = emu.game.equip(scope, "usr_alex", {"avatarFrame": "silver_ring", "victoryMessage": "GG!"})
    assert (prefs["avatarFrame"], prefs["victoryMessage"]) == ("silver_ring", "GG!")


def test_activity_pages_with_its_cursor(emu: Emulator, scope: Scope, clock: Clock) -> None:
    for _ in range(3):
        with emu.db.transaction():
            emu.game.send_one_up(scope, "r", {"senderId": "usr_alex", "recipientId": "usr_jordan"})
    first = emu.game.activity(scope, 2, None)
    assert len(first["data"]) == 2 and first["cursor"] == first["data"][-1]["id"]
    rest = emu.game.activity(scope, 50, first["cursor"])
    assert first["hasMore"] and not rest["hasMore"] and rest["cursor"] == rest["data"][-1]["id"]
    assert first["data"][-1]["id"] not in {a["id"] for a in rest["data"]}
    assert "cursor" not in emu.game.activity(scope, 5, rest["cursor"])
    mine = emu.game.member_activity(scope, "usr_alex", 20)["data"]
    assert mine and {a["actor"]["id"] for a in mine} == {"usr_alex"}


def test_seasons_are_quarters_numbered_from_the_first(emu: Emulator, scope: Scope, clock: Clock) -> None:
    current = emu.game.current_season(scope)
    assert (current["id"], current["name"], current["daysRemaining"]) == ("2026-Q2", "Season 3 \u2014 2026", 86)
    assert [s["id"] for s in emu.game.seasons(scope, 20)] == ["2026-Q2", "2026-Q1", "2025-Q4"]
    assert emu.game.season_stats(scope, "2026-Q2", "usr_alex")["level"] == 14
    assert emu.game.season_stats(scope, "2026-Q1", "usr_alex")["level"] == 1
    with pytest.raises(ApiError):
        emu.game.season_stats(scope, "2026-Q3", None)  # not begun
