"""The conformance case table: everything the generic checks need that the schemas do not say.

- ``NOT_SERVED``: operations the emulator does not serve yet. Their checks (and the checks of
  operations that need them first) are expected to fail (``xfail``, not strict). Remove an entry
  when its endpoint lands; the summary line names entries that are served already.
- ``PARAM_SOURCES``: where a path parameter's value comes from (an object created first, or one
  found in a list); ``OP_PARAM_SOURCES`` overrides that for one operation.
- ``FIELD_SOURCES`` / ``BODY_OVERRIDES`` / ``QUERY``: body fields and query parameters that must
  name real objects or hold a value the schema cannot guess.
- ``PRECONDITIONS``: state an operation needs (an active boss to damage, a customer in a group).
- ``RUN_LAST``: operations whose checks use up seeded objects, run after all the others.
- ``EVENT_CAUSES``: for each webhook event type with an API cause, the request that fires it;
  ``NO_API_CAUSE`` lists the others with the reason.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tests.conformance.harness import Api, Prepared

__all__ = [
    "BODY_OVERRIDES",
    "EVENT_CAUSES",
    "FIELD_SOURCES",
    "NOT_A_LOOKUP",
    "NOT_SERVED",
    "OTHER_TEAM_ID",
    "NO_API_CAUSE",
    "OP_PARAM_SOURCES",
    "PARAM_SOURCES",
    "PARTITION_EXEMPT",
    "PRECONDITIONS",
    "QUERY",
    "RUN_LAST",
    "Call",
    "Cause",
    "Created",
    "Fixed",
    "Found",
    "Generated",
    "Precondition",
    "Source",
]


@dataclass(frozen=True)
class Created:
    """The ``field`` of the object ``operation`` creates (built from its schema, cached per run
    unless the check needs a fresh one, as deletes do)."""

    operation: str
    field: str = "id"


@dataclass(frozen=True)
class Found:
    """The ``field`` of item ``index`` of the list ``operation`` returns (``within``: the key of
    the list inside ``data`` when ``data`` is an object). ``where`` filters the items first."""

    operation: str
    field: str = "id"
    within: str | None = None
    index: int = 0
    where: Callable[[Mapping[str, Any]], bool] | None = None


@dataclass(frozen=True)
class Fixed:
    """A value given as is."""

    value: Any


@dataclass(frozen=True)
class Generated:
    """A new value from ``factory()`` each time (for calls the server allows once per value)."""

    factory: Callable[[], Any]


Source = Created | Found | Fixed | Generated

#: Another team, for the Game's team-to-team calls.
OTHER_TEAM_ID = str(uuid.UUID(int=0x0C57A12E_0000_4000_8000_000000000001))

#: Operations the emulator does not serve yet, one a line by tag: remove an entry when its endpoint
#: lands (the summary names served ones still listed).
NOT_SERVED: frozenset[str] = frozenset(
    [
        # "operationId",  (every endpoint of the document is served today)
    ]
)

# -- where values come from ---------------------------------------------------------------------

_member_user = Found("listMembers", "userId")

PARAM_SOURCES: dict[str, Source] = {
    "ticketId": Created("createTicket"),
    "customerId": Created("createCustomer"),
    "groupId": Created("createCustomerGroup"),
    "articleId": Created("createArticle"),
    "webhookId": Created("createWebhook"),
    "categoryId": Created("createCategory"),
    "postId": Created("createCommunityPost"),
    "ruleId": Created("createAutomation"),
    "viewId": Created("createView"),
    "keyId": Created("createApiKey"),
    "sessionId": Created("createCliSession"),
    "memberId": Found("listMembers"),
    "achievementId": Found("listAchievements", within="data"),
    "defeatId": Found("listBossDefeats", within="data"),
    "seasonId": Found("listSeasons"),
    "recipientTeamId": Fixed(OTHER_TEAM_ID),
}

#: Path parameters that are not lookups of this team's objects, so an unknown value is no 404.
NOT_A_LOOKUP: frozenset[str] = frozenset({"recipientTeamId"})


def _not_owner(member: Mapping[str, Any]) -> bool:
    return bool(member.get("role") != "owner")


OP_PARAM_SOURCES: dict[tuple[str, str], Source] = {
    # Changing or removing a member must not touch the owner every other check relies on.
    ("updateMember", "memberId"): Found("listMembers", where=_not_owner, index=-1),
    ("deleteMember", "memberId"): Found("listMembers", where=_not_owner, index=-1),
}

#: Body fields (any operation) that must name an existing object.
FIELD_SOURCES: dict[str, Source] = {
    "customerId": Created("createCustomer"),
    "ticketId": Created("createTicket"),
    "userId": _member_user,
    "senderId": _member_user,
    "senderUserId": _member_user,
    "recipientId": Found("listMembers", "userId", index=-1),
    "topicId": Found("listCommunityTopics"),
    "puzzleId": Found("getTodaysPuzzle", within="puzzle"),
}

#: Per-operation body fields: values or sources (applied over the schema-built body).
BODY_OVERRIDES: dict[str, dict[str, Any]] = {
    "createWebhook": {"url": "https://example.com/conformance", "events": ["ticket.created"]},
    "createCliSession": {"events": ["*"], "deviceName": "conformance"},
    "createAutomation": {"triggerEvent": "ticket.created", "actions": [{"type": "add_tag", "value": "conformance"}]},
    "addCustomerGroupMembers": {"customerId": Created("createCustomer")},
    "testAutomation": {"resourceType": "ticket", "resourceId": Created("createTicket")},
    "runAiAction": {"action": "summarize", "ticketId": Created("createTicket")},
    "runBulkOperation": {
        "action": "update",
        "resource": "tickets",
        "ids": [Created("createTicket")],
        "data": {"priority": "high"},
    },
    "createImport": {
        "resource": "customers",
        "mergeStrategy": "skip",
        "records": [{"name": "Imported Customer", "email": "imported-conformance@example.com"}],
    },
    "createExport": {"resources": [{"type": "tickets"}], "format": "json"},
    "createSlaRule": {"priority": "high", "responseTarget": 60, "resolutionTarget": 480},
    # One high five per recipient team a day: each call greets a new team.
    "sendHighFive": {"recipientTeamId": Generated(lambda: str(uuid.uuid4())), "message": "Great work"},
    "sendOneUp": {"message": "Thanks!", "goldAmount": 1},
    "updateMember": {"role": "agent"},
    "completePuzzle": {"timeSeconds": 60, "mistakes": 0, "isWon": True},
    "createCustomField": {"type": "text", "entityType": "tickets"},
    "updateTeamPreferences": {"bossBattlesEnabled": True},
    "updateFeatureFlags": {"bossBattlesEnabled": True},
    "updateMemberPreferences": {"boringMode": False},
}

#: Per-operation query parameters: values or sources.
QUERY: dict[str, dict[str, Any]] = {
    "removeCustomerGroupMember": {"customerId": Created("createCustomer")},
    "search": {"q": "conformance"},
    "getTriggerTestSample": {"event": "ticket.created"},
}

#: Created objects that the other mode may see, with the reason.
PARTITION_EXEMPT: dict[str, str] = {
    "createApiKey": "API keys are team settings, listed for both modes (docs/protocol.md)",
    "createInvite": "members and invites belong to the team, not to a mode's data",
}

# -- state an operation needs ---------------------------------------------------------------------


@dataclass(frozen=True)
class Precondition:
    """``run(api, prepared)`` sets up what the prepared request needs (and may adjust its body);
    ``early``: run before the request is prepared, with ``prepared`` None (the state its path
    parameters are found in). ``needs``: the operations it calls (so their absence marks the check
    as expected to fail)."""

    run: Callable[[Api, Prepared | None], None]
    needs: tuple[str, ...]
    early: bool = False


def _boss_active(api: Api) -> bool:
    data = api.ok("getBossActive")["data"]
    return bool(data.get("active"))


def _no_active_boss(api: Api, prepared: Prepared | None = None) -> None:
    """Defeat the current boss, if any, by damaging it (the reference's only way to end one)."""
    for _ in range(2000):
        if not _boss_active(api):
            return
        api.ok("damageBoss", body={"priority": "urgent"})
    raise AssertionError("the boss was still active after 2000 hits")


def _active_boss(api: Api, prepared: Prepared | None = None) -> None:
    if not _boss_active(api):
        api.ok("spawnBoss", body={"difficulty": "easy"})


def _a_defeat(api: Api, prepared: Prepared | None = None) -> None:
    data = api.ok("listBossDefeats")["data"]
    if not data.get("data"):
        _active_boss(api)
        _no_active_boss(api)


def _puzzle_not_done(api: Api, prepared: Prepared | None) -> None:
    """Give the puzzle to a member who has not completed today's yet (one completion a day each)."""
    assert prepared is not None
    members = api.ok("listMembers", query={"pageSize": 100})["data"]
    for member in members:
        today = api.ok("getTodaysPuzzle", query={"userId": member["userId"]})["data"]
        if today.get("completion") is None:
            prepared.body.update(userId=member["userId"], puzzleId=today["puzzle"]["id"])
            return
    raise AssertionError("every member has completed today's puzzle already")


def _customer_in_group(api: Api, prepared: Prepared | None) -> None:
    assert prepared is not None
    api.ok(
        "addCustomerGroupMembers",
        params={"groupId": prepared.params["groupId"]},
        body={"customerId": prepared.query["customerId"]},
    )


_BOSS = ("getBossActive", "damageBoss", "spawnBoss")
PRECONDITIONS: dict[str, Precondition] = {
    "spawnBoss": Precondition(_no_active_boss, _BOSS),
    "damageBoss": Precondition(_active_boss, _BOSS),
    "getBossDefeat": Precondition(_a_defeat, (*_BOSS, "listBossDefeats"), early=True),
    "completePuzzle": Precondition(_puzzle_not_done, ("listMembers", "getTodaysPuzzle")),
    "removeCustomerGroupMember": Precondition(_customer_in_group, ("addCustomerGroupMembers",)),
}

#: Operations whose checks use up seeded objects the API cannot make again, with the reason:
#: their success and idempotency checks run after all the others.
RUN_LAST: dict[str, str] = {
    "deleteMember": "members join through the app; the API cannot add the ones a delete removes",
}

# -- events -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Call:
    """One request of a cause: ``operation`` with ``body``/``params`` over the built ones; a param
    or body value ``"$name"`` is the id the cause's earlier call saved as ``name``. ``save`` keeps
    this call's ``data.id`` under that name. ``until``: repeat the call until it holds of ``data``."""

    operation: str
    body: Mapping[str, Any] | None = None
    params: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    save: str | None = None
    until: Callable[[Any], bool] | None = None


@dataclass(frozen=True)
class Cause:
    """``before(api)`` and the ``setup`` calls first, then ``fires``: the call whose request id the
    event must carry. ``needs``: operations ``before`` calls."""

    fires: Call
    setup: tuple[Call, ...] = ()
    before: Callable[[Api], None] | None = None
    needs: tuple[str, ...] = ()


def _defeated(data: Any) -> bool:
    return bool(data.get("isDefeated"))


_ticket = Call("createTicket", save="ticket")
_customer = Call("createCustomer", save="customer")
_group = Call("createCustomerGroup", save="group")
_article = Call("createArticle", body={"status": "draft"}, save="article")
_post = Call("createCommunityPost", save="post")


def _agent(role: str) -> str:
    """A user id the game has not seen (a write naming it creates the player): each game event
    gets its own agent, so its first close is also that agent's first ticket and first quest."""
    return f"usr_conformance_{role}_{uuid.uuid4().hex[:8]}"


def _closing(agent: str) -> dict[str, str]:
    """An update closing a ticket as ``agent`` at urgent priority: the close earns the agent the
    urgent reward (docs/emulator.md, "Game rules"), then quests and achievements are checked. The
    priority is named because the built update body sets one of its own."""
    return {"status": "closed", "priority": "urgent", "assignedTo": agent}


def _close_as(agent: str) -> Call:
    return Call("updateTicket", _closing(agent), {"ticketId": "$ticket"})


_LEVEL_AGENT = _agent("level")


def _one_close_from_level_up(api: Api) -> None:
    """Close urgent tickets as :data:`_LEVEL_AGENT` until one more close crosses a level."""
    # What an urgent close earns (a new agent has no XP skill), as the game's config states it.
    urgent_xp = api.ok("getGameConfig")["data"]["rewards"]["ticketRewards"]["urgent"]["xp"]
    for _ in range(200):
        player = api.ok("getPlayer", query={"userId": _LEVEL_AGENT})["data"]
        if player["xpInCurrentLevel"] + urgent_xp >= player["xpToNextLevel"]:
            return
        ticket = api.ok("createTicket")["data"]["id"]
        api.ok("updateTicket", params={"ticketId": ticket}, body=_closing(_LEVEL_AGENT))
    raise AssertionError(f"{_LEVEL_AGENT} never came within one close of a level")


EVENT_CAUSES: dict[str, Cause] = {
    "ticket.created": Cause(Call("createTicket")),
    "ticket.updated": Cause(Call("updateTicket", {"priority": "urgent"}, {"ticketId": "$ticket"}), (_ticket,)),
    "ticket.closed": Cause(Call("updateTicket", {"status": "closed"}, {"ticketId": "$ticket"}), (_ticket,)),
    "ticket.message_added": Cause(Call("createTicketMessage", params={"ticketId": "$ticket"}), (_ticket,)),
    "ticket.deleted": Cause(Call("deleteTicket", params={"ticketId": "$ticket"}), (_ticket,)),
    "ticket.assigned": Cause(
        Call("updateTicket", {"assignedTo": _agent("assignee")}, {"ticketId": "$ticket"}), (_ticket,)
    ),
    "player.xp_gained": Cause(_close_as(_agent("xp")), (_ticket,)),
    "player.quest_completed": Cause(_close_as(_agent("quest")), (_ticket,)),
    "player.achievement_unlocked": Cause(_close_as(_agent("achiever")), (_ticket,)),
    "player.level_up": Cause(
        _close_as(_LEVEL_AGENT),
        (_ticket,),
        before=_one_close_from_level_up,
        needs=("createTicket", "updateTicket", "getPlayer", "getGameConfig"),
    ),
    "customer.created": Cause(Call("createCustomer")),
    "customer.updated": Cause(
        Call("updateCustomer", {"notes": "Prefers email"}, {"customerId": "$customer"}), (_customer,)
    ),
    "customer.deleted": Cause(Call("deleteCustomer", params={"customerId": "$customer"}), (_customer,)),
    "customer_group.created": Cause(Call("createCustomerGroup")),
    "customer_group.updated": Cause(
        Call("updateCustomerGroup", {"description": "Updated"}, {"groupId": "$group"}), (_group,)
    ),
    "customer_group.deleted": Cause(Call("deleteCustomerGroup", params={"groupId": "$group"}), (_group,)),
    "article.created": Cause(Call("createArticle")),
    "article.published": Cause(Call("updateArticle", {"status": "published"}, {"articleId": "$article"}), (_article,)),
    "article.updated": Cause(Call("updateArticle", {"content": "New text"}, {"articleId": "$article"}), (_article,)),
    "article.deleted": Cause(Call("deleteArticle", params={"articleId": "$article"}), (_article,)),
    "team.preferences_updated": Cause(
        Call("updateTeamPreferences", {"bossBattlesEnabled": True}),
        (Call("updateTeamPreferences", {"bossBattlesEnabled": False}),),
    ),
    "agent.preferences_updated": Cause(
        Call("updateMemberPreferences", {"boringMode": False}),
        (Call("updateMemberPreferences", {"boringMode": True}),),
    ),
    "boss.spawned": Cause(Call("spawnBoss", {"difficulty": "easy"}), before=_no_active_boss, needs=_BOSS),
    "boss.damaged": Cause(Call("damageBoss", {"priority": "low"}), before=_active_boss, needs=_BOSS),
    "boss.defeated": Cause(
        Call("damageBoss", {"priority": "urgent"}, until=_defeated),
        (Call("spawnBoss", {"difficulty": "easy"}),),
        before=_no_active_boss,
        needs=_BOSS,
    ),
    "social.one_up_sent": Cause(Call("sendOneUp")),
    "social.high_five_sent": Cause(Call("sendHighFive")),
    "community_post.created": Cause(Call("createCommunityPost")),
    "community_post.updated": Cause(Call("updateCommunityPost", {"is_pinned": True}, {"postId": "$post"}), (_post,)),
    "community_post.status_changed": Cause(
        Call("updateCommunityPost", {"status": "planned"}, {"postId": "$post"}), (_post,)
    ),
    # The emulator's own operations (tests/conformance/extensions.py): the reference fires these
    # events but documents no endpoint for them.
    "community_post.commented": Cause(
        Call("createCommunityComment", {"body": "Same here"}, {"postId": "$post"}), (_post,)
    ),
    "community_post.voted": Cause(Call("voteCommunityPost", {"voter": _agent("voter")}, {"postId": "$post"}), (_post,)),
    "community_post.deleted": Cause(Call("deleteCommunityPost", params={"postId": "$post"}), (_post,)),
}

#: Event types no request of one conformance run can fire, with the reason.
NO_API_CAUSE: dict[str, str] = {
    "player.streak_milestone": "fires from a close on the 3rd (5th, 10th, 25th) UTC day in a row; a run spans one day",
    "survey.submitted": "CSAT surveys are submitted by customers through the widget, not the API",
}
