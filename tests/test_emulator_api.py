"""The emulator's REST API over loopback: conventions, auth, partitions, idempotency, resources."""

from __future__ import annotations

import uuid

import httpx
import pytest

from tests.support.emulator import LocalEmulator


def unique(prefix: str = "x") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


@pytest.fixture
def api(emulator_session: LocalEmulator):
    with emulator_session.client() as c:
        yield c


def error_of(resp: httpx.Response) -> dict:
    body = resp.json()
    assert body["success"] is False
    assert body["error"]["doc_url"].startswith("https://www.cstar.help/developers/errors")
    assert body["meta"]["requestId"] == resp.headers["x-cstar-request-id"]
    return body["error"]


def test_envelope_and_request_id(api: httpx.Client) -> None:
    resp = api.get("/tickets")
    assert resp.status_code == 200
    body = resp.json()
    assert body["success"] is True
    rid = resp.headers["x-cstar-request-id"]
    assert rid.startswith("req_") and body["meta"]["requestId"] == rid
    assert body["meta"]["timestamp"].endswith("Z")
    assert set(body["meta"]["pagination"]) == {"page", "pageSize", "total", "totalPages"}
    assert body["data"], "seeded tickets expected"
    # --rate-limit 0 (the helper's default) means unlimited: no limit headers to report.
    assert "x-ratelimit-limit" not in resp.headers
    assert api.get("/tickets").headers["x-cstar-request-id"] != rid


def test_me_for_every_key_kind(emulator_session: LocalEmulator) -> None:
    expected = {
        "sk_test": ("secret", "test"),
        "sk_live": ("secret", "live"),
        "pk_test": ("publishable", "test"),
        "pk_live": ("publishable", "live"),
    }
    for kind, (key_type, mode) in expected.items():
        resp = httpx.get(emulator_session.url("/api/v1/me"), headers=emulator_session.auth(kind), trust_env=False)
        data = resp.json()["data"]
        assert data["object"] == "api_key_context"
        assert (data["keyType"], data["mode"]) == (key_type, mode)
        assert data["keyId"].startswith("key_")
        team = data["team"]
        assert team["id"] == emulator_session.team_id
        assert team["name"] == "Acme Support (emulator)" and team["plan"] == "pro"
        assert {"slug", "memberCount"} <= set(team)
    for kind, key in emulator_session.keys.items():
        assert key.startswith(kind + "_") and len(key) == len(kind) + 1 + 32


def test_authentication_and_permission_errors(emulator_session: LocalEmulator) -> None:
    url = emulator_session.team_url("/tickets")
    missing = httpx.get(url, trust_env=False)
    assert missing.status_code == 401 and error_of(missing)["code"] == "invalid_api_key"
    unknown = httpx.get(url, headers={"Authorization": "Bearer sk_test_" + "A" * 32}, trust_env=False)
    assert unknown.status_code == 401 and error_of(unknown)["type"] == "authentication_error"

    pk = emulator_session.auth("pk_test")
    assert httpx.get(url, headers=pk, trust_env=False).status_code == 200
    write = httpx.post(url, headers=pk, json={"title": "nope"}, trust_env=False)
    assert write.status_code == 403 and error_of(write)["type"] == "permission_error"

    other_team = emulator_session.url(f"/api/v1/teams/{uuid.uuid4()}/tickets")
    wrong = httpx.get(other_team, headers=emulator_session.auth(), trust_env=False)
    assert wrong.status_code == 403 and error_of(wrong)["code"] == "team_access_denied"


def test_unknown_route_is_an_enveloped_404(api: httpx.Client) -> None:
    resp = api.get("/no-such-thing")
    assert resp.status_code == 404 and error_of(resp)["code"] == "not_found"


def test_test_and_live_data_never_mix(emulator_session: LocalEmulator) -> None:
    with emulator_session.client("sk_test") as test, emulator_session.client("sk_live") as live:
        ticket = test.post("/tickets", json={"title": unique("partition")}).json()["data"]
        assert test.get(f"/tickets/{ticket['id']}").status_code == 200
        assert live.get(f"/tickets/{ticket['id']}").status_code == 404
        live_ids = {t["id"] for t in live.get("/tickets", params={"pageSize": 100}).json()["data"]}
        test_ids = {t["id"] for t in test.get("/tickets", params={"pageSize": 100}).json()["data"]}
        assert ticket["id"] in test_ids and ticket["id"] not in live_ids
        assert live_ids and not live_ids & test_ids
        assert live.patch(f"/tickets/{ticket['id']}", json={"status": "open"}).status_code == 404


def test_idempotency_replays_and_rejects_a_different_body(api: httpx.Client) -> None:
    email = unique("idem") + "@example.com"
    headers = {"Idempotency-Key": unique("key")}
    first = api.post("/customers", json={"name": "Ida", "email": email}, headers=headers)
    assert first.status_code == 201 and "idempotent-replayed" not in first.headers
    again = api.post("/customers", json={"email": email, "name": "Ida"}, headers=headers)
    assert again.status_code == 201
    assert again.headers["idempotent-replayed"] == "true"
    assert again.headers["original-request"] == first.headers["x-cstar-request-id"]
    assert again.json() == first.json()
    found = api.get("/customers", params={"search": email}).json()
    assert found["meta"]["pagination"]["total"] == 1

    different = api.post("/customers", json={"name": "Other", "email": email}, headers=headers)
    assert different.status_code == 409 and error_of(different)["code"] == "idempotency_key_reused"


def test_pagination_and_page_size_limit(api: httpx.Client) -> None:
    for i in range(3):
        api.post("/tickets", json={"title": f"page test {i}"})
    whole = api.get("/tickets", params={"pageSize": 100}).json()
    total = whole["meta"]["pagination"]["total"]
    assert total == len(whole["data"]) >= 3
    page2 = api.get("/tickets", params={"page": 2, "pageSize": 1}).json()
    assert page2["meta"]["pagination"] == {"page": 2, "pageSize": 1, "total": total, "totalPages": total}
    assert page2["data"][0]["id"] == whole["data"][1]["id"]

    too_big = api.get("/tickets", params={"pageSize": 101})
    err = error_of(too_big)
    assert too_big.status_code == 400 and err["field"] == "pageSize" and err["type"] == "validation_error"
    assert error_of(api.get("/tickets", params={"page": 0}))["field"] == "page"


def test_ticket_crud_and_validation(api: httpx.Client) -> None:
    name = unique("Customer")
    created = api.post(
        "/tickets",
        json={"title": "Printer on fire", "priority": "urgent", "customerName": name, "tags": "hw, fire"},
    )
    assert created.status_code == 201
    ticket = created.json()["data"]
    assert ticket["id"].startswith("tkt_") and ticket["status"] == "new" and ticket["priority"] == "urgent"
    assert ticket["tags"] == ["hw", "fire"] and ticket["customerId"].startswith("cus_")
    assert api.get(f"/customers/{ticket['customerId']}").json()["data"]["name"] == name

    got = api.get(f"/tickets/{ticket['id']}").json()["data"]
    assert got["messages"] == [] and got["messageCount"] == 0

    patched = api.patch(
        f"/tickets/{ticket['id']}", json={"status": "resolved", "metadata": {"a": 1}, "tags": ["x"]}
    ).json()["data"]
    assert patched["status"] == "resolved" and patched["resolvedAt"] and patched["tags"] == ["x"]
    merged = api.patch(f"/tickets/{ticket['id']}", json={"metadata": {"b": 2, "a": None}}).json()["data"]
    assert merged["metadata"] == {"b": 2}

    assert [t["id"] for t in api.get("/tickets", params={"search": "Printer on fire"}).json()["data"]] == [ticket["id"]]
    resolved = api.get("/tickets", params={"status": "resolved", "pageSize": 100}).json()["data"]
    assert ticket["id"] in {t["id"] for t in resolved} and all(t["status"] == "resolved" for t in resolved)
    by_customer = api.get("/tickets", params={"customerId": ticket["customerId"]}).json()["data"]
    assert [t["id"] for t in by_customer] == [ticket["id"]]

    missing_title = api.post("/tickets", json={"priority": "high"})
    err = error_of(missing_title)
    assert missing_title.status_code == 400 and (err["code"], err["field"]) == ("INVALID_FIELD", "title")
    assert error_of(api.post("/tickets", json={"title": "t", "priority": "meh"}))["field"] == "priority"
    assert error_of(api.get("/tickets", params={"status": "bogus"}))["field"] == "status"
    assert error_of(api.post("/tickets", json={"title": "t", "customerId": "cus_nope"}))["field"] == "customerId"

    deleted = api.delete(f"/tickets/{ticket['id']}")
    assert deleted.json()["data"]["deleted"] is True
    assert api.get(f"/tickets/{ticket['id']}").status_code == 404


def test_messages(api: httpx.Client) -> None:
    ticket = api.post("/tickets", json={"title": unique("msgs")}).json()["data"]
    posted = api.post(f"/tickets/{ticket['id']}/messages", json={"content": "Hello", "sender": "customer"})
    assert posted.status_code == 201
    message = posted.json()["data"]
    assert message["id"].startswith("msg_") and message["ticketId"] == ticket["id"]
    assert message["sender"] == "customer" and message["isInternal"] is False
    api.post(f"/tickets/{ticket['id']}/messages", json={"content": "Note", "isInternal": True})
    listed = api.get(f"/tickets/{ticket['id']}/messages").json()["data"]
    assert [m["content"] for m in listed] == ["Hello", "Note"] and listed[1]["sender"] == "agent"
    assert api.get(f"/tickets/{ticket['id']}").json()["data"]["messageCount"] == 2
    assert error_of(api.post(f"/tickets/{ticket['id']}/messages", json={}))["field"] == "content"
    assert api.post("/tickets/tkt_missing/messages", json={"content": "x"}).status_code == 404


def test_customer_crud(api: httpx.Client) -> None:
    email = unique("cust") + "@example.com"
    created = api.post("/customers", json={"name": "Cleo", "email": email, "tags": ["a", "b"]})
    assert created.status_code == 201
    customer = created.json()["data"]
    assert customer["status"] == "active" and customer["tags"] == ["a", "b"] and customer["ticketCount"] == 0

    dup = api.post("/customers", json={"name": "Cleo again", "email": email.upper()})
    assert dup.status_code == 409 and error_of(dup)["field"] == "email"
    assert error_of(api.post("/customers", json={"name": "No mail"}))["field"] == "email"
    assert error_of(api.post("/customers", json={"email": unique() + "@example.com"}))["field"] == "name"

    updated = api.patch(f"/customers/{customer['id']}", json={"sentiment": "negative", "status": "inactive"})
    assert updated.json()["data"]["sentiment"] == "negative"
    found = api.get("/customers", params={"search": email, "sentiment": "negative", "status": "inactive"})
    assert [c["id"] for c in found.json()["data"]] == [customer["id"]]
    assert error_of(api.get("/customers", params={"sentiment": "meh"}))["field"] == "sentiment"

    ticket = api.post("/tickets", json={"title": "linked", "customerId": customer["id"]}).json()["data"]
    assert api.get(f"/customers/{customer['id']}").json()["data"]["ticketCount"] == 1
    assert api.delete(f"/customers/{customer['id']}").json()["data"]["deleted"] is True
    assert api.get(f"/customers/{customer['id']}").status_code == 404
    assert api.get(f"/tickets/{ticket['id']}").json()["data"]["customerId"] is None


def test_articles_list_filters_and_get(api: httpx.Client) -> None:
    published = api.get("/articles", params={"status": "published", "isPublic": "true"}).json()["data"]
    assert published and all(a["status"] == "published" and a["isPublic"] for a in published)
    account = api.get("/articles", params={"category": "Account"}).json()["data"]
    assert account and all(a["category"] == "Account" for a in account)
    searched = api.get("/articles", params={"search": "password"}).json()["data"]
    assert any("password" in a["title"].lower() for a in searched)
    drafts = api.get("/articles", params={"isPublic": "false"}).json()["data"]
    assert drafts and not any(a["isPublic"] for a in drafts)
    assert error_of(api.get("/articles", params={"isPublic": "maybe"}))["field"] == "isPublic"
    one = api.get(f"/articles/{published[0]['id']}").json()["data"]
    assert one["id"].startswith("art_") and one["content"]
    assert api.get("/articles/art_missing").status_code == 404

    created = api.post("/articles", json={"title": unique("Guide"), "content": "# Hi"}).json()["data"]
    assert created["status"] == "draft" and created["isPublic"] is False
    live = api.patch(f"/articles/{created['id']}", json={"status": "published", "isPublic": True}).json()["data"]
    assert live["status"] == "published"
    assert api.delete(f"/articles/{created['id']}").status_code == 200


def test_webhook_crud(api: httpx.Client) -> None:
    created = api.post(
        "/webhooks",
        json={"name": "Local", "url": "http://127.0.0.1:9/hook", "events": "ticket.created,customer.*"},
    )
    assert created.status_code == 201
    hook = created.json()["data"]
    assert hook["id"].startswith("whk_") and hook["secret"].startswith("whsec_")
    assert hook["events"] == ["ticket.created", "customer.*"] and hook["isActive"] is True

    got = api.get(f"/webhooks/{hook['id']}").json()["data"]
    assert "secret" not in got and got["url"] == "http://127.0.0.1:9/hook"
    assert all("secret" not in w for w in api.get("/webhooks").json()["data"])

    paused = api.patch(f"/webhooks/{hook['id']}", json={"isActive": False, "events": ["ticket.*"]}).json()["data"]
    assert paused["isActive"] is False and paused["events"] == ["ticket.*"]

    insecure = api.post("/webhooks", json={"name": "x", "url": "http://example.com/h", "events": ["*"]})
    assert insecure.status_code == 400 and error_of(insecure)["field"] == "url"
    bad_events = api.post("/webhooks", json={"name": "x", "url": "https://example.com/h", "events": ["nope.thing"]})
    assert error_of(bad_events)["field"] == "events"
    assert error_of(api.post("/webhooks", json={"url": "https://example.com/h", "events": "*"}))["field"] == "name"

    assert api.delete(f"/webhooks/{hook['id']}").json()["data"]["deleted"] is True
    assert api.get(f"/webhooks/{hook['id']}").status_code == 404


def test_trigger_test(api: httpx.Client) -> None:
    hook = api.post("/webhooks", json={"name": "t", "url": "http://127.0.0.1:9/h", "events": ["boss.*"]}).json()["data"]
    try:
        resp = api.post("/webhooks/trigger-test", json={"event": "boss.spawned"})
        assert resp.status_code == 200
        data = resp.json()["data"]
        assert data["event"] == "boss.spawned" and data["test"] is True and data["eventId"].startswith("evt_")
        assert {"target": hook["id"], "queued": True} in data["deliveries"]
        other = api.post("/webhooks/trigger-test", json={"event": "ticket.created"}).json()["data"]
        assert hook["id"] not in {d["target"] for d in other["deliveries"]}
    finally:
        api.delete(f"/webhooks/{hook['id']}")

    for bad in ("ticket.deleted", "no.such", ""):
        err_resp = api.post("/webhooks/trigger-test", json={"event": bad})
        assert err_resp.status_code == 400 and error_of(err_resp)["field"] == "event"


def test_api_keys_create_list_revoke(emulator_session: LocalEmulator, api: httpx.Client) -> None:
    created = api.post("/api-keys", json={"name": "CI key"})
    assert created.status_code == 201
    key = created.json()["data"]
    full = key["key"]
    assert full.startswith("sk_test_") and key["type"] == "secret" and key["mode"] == "test"
    assert key["redacted"] == f"sk_test_…{full[-4:]}"

    listed = api.get("/api-keys")
    assert full not in listed.text
    for seeded in emulator_session.keys.values():
        assert seeded not in listed.text
    mine = next(k for k in listed.json()["data"] if k["id"] == key["id"])
    assert mine["redacted"] == key["redacted"] and mine["revokedAt"] is None
    assert listed.json()["data"][0]["id"] == key["id"], "newest first"

    live_pk = api.post("/api-keys", json={"name": "widget", "type": "publishable", "mode": "live"}).json()["data"]
    assert live_pk["key"].startswith("pk_live_")
    assert error_of(api.post("/api-keys", json={"name": "x", "type": "admin"}))["field"] == "type"
    assert error_of(api.post("/api-keys", json={}))["field"] == "name"

    me = httpx.get(emulator_session.url("/api/v1/me"), headers={"Authorization": f"Bearer {full}"}, trust_env=False)
    assert me.status_code == 200 and me.json()["data"]["keyId"] == key["id"]

    revoked = api.delete(f"/api-keys/{key['id']}")
    assert revoked.json()["data"] == {"id": key["id"], "revoked": True}
    after = httpx.get(emulator_session.url("/api/v1/me"), headers={"Authorization": f"Bearer {full}"}, trust_env=False)
    assert after.status_code == 401 and error_of(after)["code"] == "key_revoked"
    assert api.delete("/api-keys/key_missing").status_code == 404

    with emulator_session.client("pk_test") as pk:
        assert pk.get("/api-keys").status_code == 403


def test_lone_surrogate_in_a_body_is_a_400_not_a_crash(emulator_session: LocalEmulator) -> None:
    with emulator_session.client() as api:
        r = api.post("/tickets", content=b'{"title": "SURR \\ud800 end"}', headers={"Content-Type": "application/json"})
    assert r.status_code == 400 and r.json()["error"]["code"] == "invalid_json"
    assert "Traceback" not in emulator_session.stderr_text()
