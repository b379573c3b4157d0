"""``/game/…`` (reference: "Game"): players, bosses, leaderboards, achievements, quests, skills,
seasons, one-ups, high fives, cosmetics, puzzles, activity and config.

Query parameters and bodies are checked against the operation in the OpenAPI document (types,
enums, required fields, minimum/maximum, maxLength) and get its defaults, so the limits are the
reference's; every failure is a 400 ``INVALID_FIELD`` naming the field.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from cstar_cli.protocol import openapi
from cstar_emulator import validate as v
from cstar_emulator.envelope import ApiError, ok, page_meta
from cstar_emulator.routes._http import TEAM, Endpoint, RouteSpec, api_routes, caller

__all__ = ["ROUTES"]

#: Characters of id fields (``userId``, ``puzzleId``, …) and name fields (``userName``, …) the
#: reference gives no limit for.
MAX_ID = 100
MAX_NAME = 200


def _string_limit(name: str, schema: dict[str, Any]) -> int:
    if "maxLength" in schema:
        return int(schema["maxLength"])
    if name.endswith("Id"):
        return MAX_ID
    if name.endswith("Name"):
        return MAX_NAME
    return v.DEFAULT_MAX_TEXT


def query(request: Request, operation_id: str) -> dict[str, Any]:
    """The operation's query parameters, parsed by their schema (integer bounds, booleans, enums)
    with its defaults; absent ones without a default are None."""
    out: dict[str, Any] = {}
    for param in openapi.query_parameters(operation_id):
        name, schema = param["name"], param.get("schema", {})
        raw = request.query_params.get(name)
        if raw in (None, ""):
            out[name] = schema.get("default")
        elif schema.get("type") == "integer":
            out[name] = v.integer(raw, name, minimum=schema.get("minimum", 0), maximum=schema.get("maximum", 10**6))
        elif schema.get("type") == "boolean":
            out[name] = v.flag(raw, name)
        elif "enum" in schema:
            out[name] = v.choice(raw, name, schema["enum"])
        else:
            out[name] = v.text(raw, name, max_len=_string_limit(name, schema)) or None
    return out


async def body(request: Request, operation_id: str) -> dict[str, Any]:
    """The JSON body checked against the operation's schema: required fields present and not blank,
    types, enums and bounds as the document states; strings stripped and bounded. Only the
    schema's properties are returned."""
    data = await v.body(request)
    schema = openapi.request_body_schema(operation_id) or {"type": "object", "properties": {}}
    for name in schema.get("required", []):
        v.require(data, name)
    props: dict[str, Any] = schema.get("properties", {})
    known = {k: val for k, val in data.items() if k in props and val is not None}
    for error in sorted(openapi.validator({**schema, "required": []}).iter_errors(known), key=lambda e: list(e.path)):
        field = str(error.path[0]) if error.path else next(iter(known), "body")
        rule = props.get(field, {})
        allowed = rule.get("enum")
        hint = f"one of: {', '.join(allowed)}" if allowed else _describe(rule)
        raise ApiError.invalid(field, f"{field} must be {hint} (got {data.get(field)!r}).")
    out: dict[str, Any] = {}
    for name, value in known.items():
        rule = props[name]
        if rule.get("type") == "string":
            out[name] = v.text(value, name, max_len=_string_limit(name, rule))
        elif rule.get("type") == "integer":
            out[name] = int(value)
        else:
            out[name] = value
    # A field sent as null is kept (as None) so PATCH can tell "clear" from "leave alone".
    out |= {k: None for k, val in data.items() if k in props and val is None}
    return out


def _describe(rule: dict[str, Any]) -> str:
    kind = rule.get("type", "a value")
    article = "an" if kind[0] in "aeiou" else "a"
    text = f"{article} {kind}"
    if "minimum" in rule and "maximum" in rule:
        text += f" between {rule['minimum']} and {rule['maximum']}"
    if "maxLength" in rule:
        text += f" of at most {rule['maxLength']} characters"
    return text


def _get(operation_id: str, handler: Any) -> Endpoint:
    """A GET endpoint: ``handler(caller, query, path_params)`` → data."""

    async def endpoint(request: Request) -> Response:
        c = caller(request)
        return ok(request, handler(c, query(request, operation_id), request.path_params))

    endpoint.__name__ = operation_id
    return endpoint


def _post(operation_id: str, handler: Any, status: int = 200) -> Endpoint:
    """A write endpoint: ``handler(caller, body)`` → data."""

    async def endpoint(request: Request) -> Response:
        c = caller(request)
        return ok(request, handler(c, await body(request, operation_id)), status=status)

    endpoint.__name__ = operation_id
    return endpoint


async def list_defeats(request: Request) -> Response:
    """``GET /game/boss/defeats?page&pageSize``: latest first, with ``meta.pagination``."""
    c = caller(request)
    page, size = v.page_params(request)
    data, total = c.emulator.game.defeats(c.scope, page, size)
    return ok(request, data, pagination=page_meta(page, size, total))


def _routes() -> list[RouteSpec]:
    def game(c: Any) -> Any:
        return c.emulator.game

    return [
        ("GET", "/player", _get("getPlayer", lambda c, q, p: game(c).player(c.scope, q["userId"]))),
        (
            "GET",
            "/player/{member_id}",
            _get("getMemberPlayer", lambda c, q, p: game(c).member_player(c.scope, p["member_id"])),
        ),
        ("GET", "/boss", _get("getBoss", lambda c, q, p: game(c).boss_state(c.scope))),
        ("GET", "/boss/active", _get("getBossActive", lambda c, q, p: game(c).boss_active(c.scope))),
        (
            "POST",
            "/boss/damage",
            _post(
                "damageBoss",
                lambda c, b: game(c).damage(
                    c.scope, c.request_id, b["userId"], b.get("userName"), b.get("priority") or "normal"
                ),
            ),
        ),
        (
            "POST",
            "/boss/spawn",
            _post(
                "spawnBoss",
                lambda c, b: game(c).spawn(c.scope, c.request_id, b.get("difficulty") or "medium"),
                status=201,
            ),
        ),
        ("GET", "/boss/defeats", list_defeats),
        (
            "GET",
            "/boss/defeats/{defeat_id}",
            _get("getBossDefeat", lambda c, q, p: game(c).defeat(c.scope, p["defeat_id"])),
        ),
        (
            "GET",
            "/leaderboard",
            _get("getLeaderboard", lambda c, q, p: game(c).leaderboard(c.scope, q["period"], q["limit"])),
        ),
        (
            "GET",
            "/leaderboard/me",
            _get("getMyLeaderboardRank", lambda c, q, p: game(c).my_rank(c.scope, q["userId"], q["period"])),
        ),
        (
            "GET",
            "/achievements",
            _get(
                "listAchievements",
                lambda c, q, p: game(c).achievements(c.scope, q["userId"], q["category"], bool(q["unlockedOnly"])),
            ),
        ),
        (
            "GET",
            "/achievements/recent",
            _get("listRecentAchievements", lambda c, q, p: game(c).recent_achievements(c.scope, q["limit"])),
        ),
        (
            "GET",
            "/achievements/{achievement_id}",
            _get("getAchievement", lambda c, q, p: game(c).achievement(c.scope, p["achievement_id"], q["userId"])),
        ),
        ("GET", "/quests/today", _get("getTodaysQuests", lambda c, q, p: game(c).quests_today(c.scope, q["userId"]))),
        (
            "GET",
            "/quests/history",
            _get("getQuestHistory", lambda c, q, p: game(c).quest_history(c.scope, q["userId"], q["limit"])),
        ),
        ("GET", "/skills", _get("getSkillTree", lambda c, q, p: game(c).skill_tree(c.scope, q["userId"]))),
        (
            "POST",
            "/skills/allocate",
            _post("allocateSkillPoint", lambda c, b: game(c).allocate(c.scope, b["userId"], b["skillId"])),
        ),
        ("POST", "/skills/reset", _post("resetSkills", lambda c, b: game(c).reset_skills(c.scope, b["userId"]))),
        ("GET", "/seasons/current", _get("getCurrentSeason", lambda c, q, p: game(c).current_season(c.scope))),
        ("GET", "/seasons", _get("listSeasons", lambda c, q, p: game(c).seasons(c.scope, q["limit"]))),
        (
            "GET",
            "/seasons/{season_id}/stats",
            _get("getSeasonStats", lambda c, q, p: game(c).season_stats(c.scope, p["season_id"], q["userId"])),
        ),
        ("GET", "/one-ups", _get("listOneUps", lambda c, q, p: game(c).one_ups(c.scope, q["limit"], q["userId"]))),
        ("POST", "/one-ups", _post("sendOneUp", lambda c, b: game(c).send_one_up(c.scope, c.request_id, b), 201)),
        (
            "GET",
            "/one-ups/remaining",
            _get("getRemainingOneUps", lambda c, q, p: game(c).one_ups_remaining(c.scope, q["userId"])),
        ),
        ("GET", "/high-fives", _get("listHighFives", lambda c, q, p: game(c).high_fives(c.scope, q["limit"]))),
        (
            "POST",
            "/high-fives",
            _post("sendHighFive", lambda c, b: game(c).send_high_five(c.scope, c.request_id, b), 201),
        ),
        (
            "GET",
            "/high-fives/can-send/{recipient_team_id}",
            _get("canSendHighFive", lambda c, q, p: game(c).can_high_five(c.scope, p["recipient_team_id"])),
        ),
        (
            "GET",
            "/cosmetics",
            _get("listCosmetics", lambda c, q, p: game(c).cosmetics(c.scope, q["userId"], q["type"])),
        ),
        (
            "GET",
            "/cosmetics/preferences",
            _get("getCosmeticPreferences", lambda c, q, p: game(c).cosmetic_preferences(c.scope, q["userId"])),
        ),
        (
            "PATCH",
            "/cosmetics/preferences",
            _post("updateCosmeticPreferences", lambda c, b: game(c).equip(c.scope, b["userId"], b)),
        ),
        ("GET", "/puzzles/today", _get("getTodaysPuzzle", lambda c, q, p: game(c).puzzle_today(c.scope, q["userId"]))),
        (
            "POST",
            "/puzzles/complete",
            _post("completePuzzle", lambda c, b: game(c).complete_puzzle(c.scope, c.request_id, b), 201),
        ),
        (
            "GET",
            "/puzzles/leaderboard",
            _get(
                "getPuzzleLeaderboard",
                lambda c, q, p: game(c).puzzle_leaderboard(c.scope, q["type"], q["puzzleId"], q["limit"]),
            ),
        ),
        (
            "GET",
            "/puzzles/streak",
            _get("getPuzzleStreak", lambda c, q, p: game(c).puzzle_streak(c.scope, q["userId"])),
        ),
        ("GET", "/activity", _get("listActivity", lambda c, q, p: game(c).activity(c.scope, q["limit"], q["before"]))),
        (
            "GET",
            "/activity/member/{member_id}",
            _get("listMemberActivity", lambda c, q, p: game(c).member_activity(c.scope, p["member_id"], q["limit"])),
        ),
        ("GET", "/config", _get("getGameConfig", lambda c, q, p: game(c).config())),
    ]


ROUTES = api_routes(TEAM + "/game", _routes())
