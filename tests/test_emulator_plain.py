"""The plain resources (customer groups, categories, community, members, settings, notifications,
custom fields, SLA rules, tags, saved views, billing): end to end against a real emulator, as tables
of endpoint cases driving generic checks against the OpenAPI document; then the rules and events on
the services over a tmp database."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from cstar_cli.protocol import openapi
from cstar_emulator import Emulator, Settings
from cstar_emulator.db import Scope
from cstar_emulator.envelope import ApiError
from cstar_emulator.repositories.plain import boss_battles_enabled
from tests.support.events import drain

#: The service fixtures (``emu``: an emulator on a tmp database; ``scope``: its test mode).
pytest_plugins = ["tests.support.services"]

pytestmark = pytest.mark.e2e


def conforms(method: str, path: str, response: httpx.Response) -> dict[str, Any]:
    """The body, after checking it against the document's schema for that operation and status."""
    body: dict[str, Any] = response.json()
    found = openapi.match(method, "/api/v1/teams/" + path.split("/api/v1/teams/", 1)[1])
    assert found is not None, path
    schema = openapi.response_schema(found.operation.operation_id, response.status_code)
    assert schema is not None, (path, response.status_code)
    assert openapi.validate(body, schema) == [], (path, body)
    assert "x-cstar-request-id" in response.headers
    return body


# Every list: (path, key kinds that may read it).
LISTS = [
    ("/customer-groups", "pk"),
    ("/categories", "pk"),
    ("/community/posts", "pk"),
    ("/community/topics", "pk"),
    ("/members", "pk"),
    ("/invites", "pk"),
    ("/notifications", "pk"),
    ("/custom-fields", "pk"),
    ("/sla/rules", "pk"),
    ("/tags", "pk"),
    ("/views", "pk"),
]
# Single objects: (path, key kinds).
SINGLES = [
    ("/settings", "sk"),
    ("/preferences", "sk"),
    ("/settings/statuses", "sk"),
    ("/settings/business-hours", "sk"),
    ("/settings/widget", "sk"),
    ("/notifications/unread-count", "pk"),
    ("/billing/subscription", "sk"),
]


@pytest.mark.parametrize(("path", "kinds"), LISTS)
def test_lists_are_enveloped_paginated_and_seeded(emulator_session: Any, path: str, kinds: str) -> None:
    with emulator_session.client() as api:
        r = api.get(path, params={"pageSize": 2})
    assert r.status_code == 200
    body = conforms("GET", emulator_session.team_url(path), r)
    pagination = body["meta"]["pagination"]
    assert pagination["pageSize"] == 2 and len(body["data"]) <= 2
    assert pagination["hasMore"] == (pagination["total"] > 2)
    with emulator_session.client("pk_test") as pk:
        assert pk.get(path).status_code == (200 if kinds == "pk" else 403)
    with emulator_session.client() as api:
        assert api.get(path, params={"pageSize": 101}).json()["error"]["field"] == "pageSize"


@pytest.mark.parametrize(("path", "kinds"), SINGLES)
def test_single_objects_conform_and_secret_only_ones_refuse_publishable_keys(
    emulator_session: Any, path: str, kinds: str
) -> None:
    with emulator_session.client() as api:
        r = api.get(path)
    assert r.status_code == 200
    conforms("GET", emulator_session.team_url(path), r)
    with emulator_session.client("pk_test") as pk:
        r = pk.get(path)
    assert r.status_code == (200 if kinds == "pk" else 403)
    if kinds == "sk":
        assert r.json()["error"]["code"] == "secret_key_required"


def _topic(api: httpx.Client) -> str:
    topic_id: str = api.get("/community/topics").json()["data"][0]["id"]
    return topic_id


# Creatable resources: (collection path, valid body, a required field, whether it has GET/PATCH/DELETE by id).
CREATES: list[tuple[str, dict[str, Any], str, bool]] = [
    ("/customer-groups", {"name": "Acme Corp", "customFields": {"tier": "gold"}}, "name", True),
    ("/categories", {"name": "Guides", "isPublic": True, "sortOrder": 4}, "name", False),
    ("/community/posts", {"title": "Dark mode please", "topicId": "<topic>"}, "title", False),
    ("/invites", {"email": "new.agent@team.example", "role": "agent"}, "email", False),
    (
        "/custom-fields",
        {"name": "Region", "key": "region", "type": "select", "entityType": "tickets", "options": ["US", "EU"]},
        "key",
        False,
    ),
    (
        "/sla/rules",
        {"name": "High", "priority": "high", "responseTarget": 30, "resolutionTarget": 240},
        "responseTarget",
        False,
    ),
    ("/tags", {"name": "vip-plain"}, "name", False),
    ("/views", {"name": "Urgent", "entityType": "tickets", "filters": {"priority": "urgent"}}, "entityType", False),
]


@pytest.mark.parametrize(("path", "body", "required", "addressable"), CREATES, ids=[c[0] for c in CREATES])
def test_creates_validate_conform_and_stay_in_their_partition(
    emulator: Any, path: str, body: dict[str, Any], required: str, addressable: bool
) -> None:
    with emulator.client() as api, emulator.client("sk_live") as live, emulator.client("pk_test") as pk:
        if body.get("topicId") == "<topic>":
            body = {**body, "topicId": _topic(api)}
        missing = api.post(path, json={k: v for k, v in body.items() if k != required})
        assert missing.status_code == 400
        assert missing.json()["error"] == missing.json()["error"] | {"code": "INVALID_FIELD", "field": required}
        wrong_type = api.post(path, json={**body, required: ["not", "a", "scalar"]})
        assert (wrong_type.status_code, wrong_type.json()["error"]["field"]) == (400, required)
        assert pk.post(path, json=body).status_code == 403

        r = api.post(path, json=body, headers={"Idempotency-Key": "plain-" + path})
        assert r.status_code == 201, r.text
        created = conforms("POST", emulator.team_url(path), r)["data"]
        replay = api.post(path, json=body, headers={"Idempotency-Key": "plain-" + path})
        assert replay.headers.get("Idempotent-Replayed") == "true" and replay.json()["data"] == created

        key = "id" if "id" in created else "name"
        listed = api.get(path, params={"pageSize": 100}).json()["data"]
        assert created[key] in [x[key] for x in listed]
        assert created[key] not in [x[key] for x in live.get(path, params={"pageSize": 100}).json()["data"]]
        if addressable:
            item = f"{path}/{created['id']}"
            assert live.get(item).status_code == 404
            assert api.get(item).json()["data"] == created
            patched = api.patch(item, json={"description": "changed"})
            assert conforms("PATCH", emulator.team_url(item), patched)["data"]["description"] == "changed"
            assert api.delete(item).json()["data"] == {"deleted": True, "id": created["id"]}
            assert api.get(item).status_code == 404


def test_groups_hold_customers_and_every_change_reaches_a_listener(emulator: Any) -> None:
    with emulator.client() as api:
        customers = [c["id"] for c in api.get("/customers").json()["data"]]
        group = api.post("/customer-groups", json={"name": "Acme Corp"}).json()["data"]
        assert group["slug"] == "acme-corp" and group["customerCount"] == 0
        members = f"/customer-groups/{group['id']}/members"
        added = api.post(members, json={"customerIds": customers[:2], "customerId": customers[0]})
        assert (added.status_code, added.json()["data"]) == (201, {"added": 2, "total": 2, "skipped": 0})
        again = api.post(members, json={"customerIds": customers}).json()["data"]
        assert again == {"added": len(customers) - 2, "total": len(customers), "skipped": 2}
        unknown = api.post(members, json={"customerId": "cus_nope"})
        assert (unknown.status_code, unknown.json()["error"]["field"]) == (400, "customerIds")
        page = api.get(members, params={"pageSize": 1}).json()
        assert page["data"][0]["object"] == "customer" and "joinedGroupAt" in page["data"][0]
        assert page["meta"]["pagination"]["total"] == len(customers)
        removed = api.delete(members, params={"customerId": customers[0]}).json()["data"]
        assert removed == {"removed": True, "customerId": customers[0], "groupId": group["id"]}
        assert api.delete(members, params={"customerId": customers[0]}).status_code == 404
        assert api.get(f"/customer-groups/{group['id']}").json()["data"]["customerCount"] == len(customers) - 1
        assert api.post("/customer-groups", json={"name": "Other", "slug": "acme-corp"}).status_code == 409
        assert (
            api.post("/customer-groups", json={"name": "Bad", "slug": "Not A Slug"}).json()["error"]["field"] == "slug"
        )


def test_switches_boring_mode_and_boss_battles(emulator: Any) -> None:
    with emulator.client() as api:
        agent = next(m for m in api.get("/members").json()["data"] if m["role"] != "owner")
        prefs = f"/members/{agent['id']}/preferences"
        assert api.get(prefs).json()["data"] == {"boringMode": False}
        r = api.patch(prefs, json={"boringMode": True})
        assert conforms("PATCH", emulator.team_url(prefs), r)["data"] == {"boringMode": True}
        assert api.get(f"/members/{agent['id']}").json()["data"] == agent  # boring mode hides nothing
        assert api.patch(prefs, json={"boringMode": "yes"}).json()["error"]["field"] == "boringMode"

        r = api.patch("/settings/feature-flags", json={"bossBattlesEnabled": False})
        assert r.json()["data"] == {"bossBattlesEnabled": False}
        assert api.get("/preferences").json()["data"] == {"bossBattlesEnabled": False}
        assert api.patch("/preferences", json={"bossBattlesEnabled": True}).json()["data"] == {
            "bossBattlesEnabled": True
        }
    with emulator.client("sk_live") as live:
        assert live.get("/preferences").json()["data"] == {"bossBattlesEnabled": True}


def test_owner_is_protected_and_roles_change(emulator: Any) -> None:
    with emulator.client() as api:
        members = api.get("/members").json()["data"]
        owner = next(m for m in members if m["role"] == "owner")
        other = next(m for m in members if m["role"] != "owner")
        assert api.patch(f"/members/{owner['id']}", json={"role": "agent"}).json()["error"]["code"] == "owner_protected"
        assert api.delete(f"/members/{owner['id']}").status_code == 403
        assert api.patch(f"/members/{other['id']}", json={"role": "owner"}).json()["error"]["field"] == "role"
        changed = api.patch(f"/members/{other['id']}", json={"role": "librarian"}).json()["data"]
        assert (changed["role"], changed["roleDisplayName"]) == ("librarian", "The Librarian")
        assert api.get("/members", params={"role": "librarian"}).json()["meta"]["pagination"]["total"] == 1
        assert api.delete(f"/members/{other['id']}").json()["data"] == {"deleted": True, "id": other["id"]}
        assert api.get("/billing/subscription").json()["data"]["memberCount"] == len(members) - 1


def test_saved_views_run_their_filters_and_order(emulator: Any) -> None:
    with emulator.client() as api:
        for title, priority in (("b-urgent", "urgent"), ("a-urgent", "urgent"), ("low one", "low")):
            api.post("/tickets", json={"title": title, "priority": priority, "tags": ["view-test"]})
        view = api.post(
            "/views",
            json={
                "name": "Urgent",
                "entityType": "tickets",
                "filters": {"priority": "urgent", "tags": ["view-test"]},
                "sortField": "title",
                "sortDirection": "asc",
            },
        ).json()["data"]
        r = api.get(f"/views/{view['id']}/tickets")
        assert [t["title"] for t in conforms("GET", emulator.team_url(f"/views/{view['id']}/tickets"), r)["data"]] == [
            "a-urgent",
            "b-urgent",
        ]
        bad = api.post("/views", json={"name": "x", "entityType": "tickets", "filters": {"colour": "red"}})
        assert bad.json()["error"]["field"] == "filters"
        other = api.post("/views", json={"name": "c", "entityType": "customers"}).json()["data"]
        assert api.get(f"/views/{other['id']}/tickets").status_code == 400
        assert api.get("/views/view_nope/tickets").status_code == 404


# -- services on a tmp database --------------------------------------------------------------------


def test_community_fires_every_post_event_with_its_post(emu: Emulator) -> None:
    scope = Scope(emu.seed.team_id, "test")
    c = emu.plain.community
    topic = emu.plain.community_topics.table.all_of(scope)[0]
    sub = emu.event_hub.subscribe(scope)
    post = c.create_post(scope, "req_1", {"title": "Dark mode", "topicId": topic["id"]})
    c.update_post(scope, post["id"], "req_2", {"status": "planned"})
    c.update_post(scope, post["id"], "req_3", {"status": "planned"})  # no change: nothing fired
    c.comment(scope, post["id"], "req_4", "Yes please", None)
    c.vote(scope, post["id"], "req_5", "usr_a")
    assert c.vote(scope, post["id"], "req_6", "usr_a")["voted"] is False
    c.update_post(scope, post["id"], "req_7", {"is_locked": True})
    with pytest.raises(ApiError) as err:
        c.comment(scope, post["id"], "req_8", "late", None)
    assert err.value.code == "post_locked"
    c.delete_post(scope, post["id"], "req_9")
    events = drain(sub)
    assert [t for t, _ in events] == [
        "community_post.created",
        "community_post.updated",
        "community_post.status_changed",
        "community_post.commented",
        "community_post.voted",
        "community_post.updated",
        "community_post.deleted",
    ]
    assert events[2][1]["previous_status"] == "open" and events[2][1]["community_post"]["status"] == "planned"
    assert events[3][1]["comment"]["body"] == "Yes please" and events[3][1]["community_post"]["comment_count"] == 1
    assert events[4][1]["community_post"]["vote_count"] == 1


def test_preference_events_and_the_boss_battles_reader(emu: Emulator) -> None:
    scope = Scope(emu.seed.team_id, "test")
    sub = emu.event_hub.subscribe(scope)
    member = emu.plain.members.table.all_of(scope)[-1]
    emu.plain.members.set_preferences(scope, member["id"], "req_1", True)
    emu.plain.members.set_preferences(scope, member["id"], "req_2", True)
    assert boss_battles_enabled(emu.db, scope) is True
    emu.plain.settings.set_preferences(scope, "req_3", False)
    assert boss_battles_enabled(emu.db, scope) is False
    assert boss_battles_enabled(emu.db, Scope(emu.seed.team_id, "live")) is True
    events = drain(sub)
    assert [t for t, _ in events] == ["agent.preferences_updated", "team.preferences_updated"]
    assert events[0][1] == {"agent": member, "preferences": {"boringMode": True}}
    assert events[1][1]["preferences"] == {"bossBattlesEnabled": False}
    assert emu.plain.members.boring_mode(scope, member["id"]) is True


def test_a_failed_write_leaves_no_row_and_no_event(emu: Emulator) -> None:
    scope = Scope(emu.seed.team_id, "test")
    sub = emu.event_hub.subscribe(scope)
    groups = emu.plain.customer_groups
    group = groups.create_group(scope, None, {"name": "G"})
    drain(sub)
    with pytest.raises(ApiError):
        groups.add(scope, group["id"], None, ["cus_nope"])
    assert groups.get(scope, group["id"])["customerCount"] == 0 and drain(sub) == []


def test_deleting_a_category_uncategorizes_its_articles(emu: Emulator) -> None:
    scope = Scope(emu.seed.team_id, "test")
    cat = emu.plain.categories.create_category(scope, None, {"name": "Guides"})
    article = emu.articles.create(scope, None, {"title": "t", "content": "c", "category": "Guides"})
    emu.plain.categories.delete_category(scope, cat["id"], None)
    assert emu.articles.get(scope, article["id"])["category"] is None


def test_seeding_is_once_per_partition(tmp_path: Path) -> None:
    first = Emulator(tmp_path / "e.db", Settings(rate_limit=0))
    scope = Scope(first.seed.team_id, "test")
    counts = len(first.plain.members.table.all_of(scope)), len(first.plain.categories.table.all_of(scope))
    first.db.close()
    again = Emulator(tmp_path / "e.db", Settings(rate_limit=0))
    try:
        assert (len(again.plain.members.table.all_of(scope)), len(again.plain.categories.table.all_of(scope))) == counts
        assert counts[0] == 3
    finally:
        again.db.close()
