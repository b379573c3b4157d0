"""The computed endpoints end to end (analytics, search, bulk, export, import, audit log, AI actions,
automations) on a real emulator: a table of endpoint cases through generic checks (envelope and
the reference's response schema, key types, partitions), then what each one computes from real
rows."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from cstar_cli.protocol import openapi
from tests.support.emulator import LocalEmulator


@dataclass(frozen=True)
class Case:
    """One call: ``operation`` (operationId) on ``path`` with ``body``/``params``; ``setup`` names
    a fixture-made id to put in the path (``{rule}``, ``{ticket}``)."""

    operation: str
    method: str
    path: str
    body: dict[str, Any] | None = None
    params: dict[str, str] = field(default_factory=dict)


CASES = [
    Case("getAnalyticsOverview", "GET", "/analytics/overview", params={"period": "month"}),
    Case("listAgentStats", "GET", "/analytics/agents"),
    Case("search", "GET", "/search", params={"q": "a"}),
    Case("listAuditLog", "GET", "/audit-log"),
    Case("listImports", "GET", "/import"),
    Case("listAutomations", "GET", "/automations"),
    Case(
        "runBulkOperation",
        "POST",
        "/bulk",
        {"action": "update", "resource": "tickets", "ids": ["{ticket}"], "data": {"priority": "high"}},
    ),
    Case("createExport", "POST", "/export", {"resources": [{"type": "tickets"}, {"type": "customers"}]}),
    Case("createImport", "POST", "/import", {"resource": "articles", "records": [{"title": "Imported"}]}),
    Case("runAiAction", "POST", "/ai", {"action": "summarize", "ticketId": "{ticket}"}),
    Case("createAutomation", "POST", "/automations", {"name": "Urgent", "triggerEvent": "ticket.created"}),
    Case("testAutomation", "POST", "/automations/{rule}/test", {"resourceType": "ticket", "resourceId": "{ticket}"}),
]


@pytest.fixture
def api(emulator_session: LocalEmulator) -> Iterator[httpx.Client]:
    with emulator_session.client() as client:
        yield client


def _new_ticket(api: httpx.Client, **fields: Any) -> dict[str, Any]:
    r = api.post("/tickets", json={"title": "Computed test ticket", **fields})
    assert r.status_code == 201, r.text
    return r.json()["data"]  # type: ignore[no-any-return]


def _fill(value: Any, ids: dict[str, str]) -> Any:
    if isinstance(value, str):
        for name, ident in ids.items():
            value = value.replace("{" + name + "}", ident)
        return value
    if isinstance(value, list):
        return [_fill(v, ids) for v in value]
    if isinstance(value, dict):
        return {k: _fill(v, ids) for k, v in value.items()}
    return value


def _call(emu: LocalEmulator, case: Case, kind: str, ids: dict[str, str]) -> httpx.Response:
    with emu.client(kind) as client:
        return client.request(
            case.method, _fill(case.path, ids), json=_fill(case.body, ids), params=case.params or None
        )


def _ids(api: httpx.Client) -> dict[str, str]:
    ticket = _new_ticket(api, priority="urgent")
    rule = api.post("/automations", json={"name": "r", "triggerEvent": "ticket.created"}).json()["data"]
    return {"ticket": ticket["id"], "rule": rule["id"]}


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.operation)
def test_each_endpoint_answers_the_reference_shape(
    emulator_session: LocalEmulator, api: httpx.Client, case: Case
) -> None:
    ids = _ids(api)
    r = _call(emulator_session, case, "sk_test", ids)
    expected = int(next(k for k in openapi.operation(case.operation)["responses"] if k.startswith("2")))
    assert r.status_code == expected, r.text
    body = r.json()
    assert body["success"] is True and body["meta"]["requestId"] == r.headers["x-cstar-request-id"]
    schema = openapi.response_schema(case.operation)
    assert schema is not None
    assert openapi.validate(body, schema) == []
    if isinstance(body["data"], list) and case.operation not in ("search", "listAgentStats"):
        assert body["meta"]["pagination"]["page"] == 1


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.operation)
def test_publishable_keys_get_what_the_document_allows(
    emulator_session: LocalEmulator, api: httpx.Client, case: Case
) -> None:
    ids = _ids(api)
    r = _call(emulator_session, case, "pk_test", ids)
    allowed = "publishable" in openapi.operation(case.operation)["x-cstar-key-types"] and case.method == "GET"
    if allowed:
        assert r.status_code == 200, r.text
    else:
        assert r.status_code == 403, r.text
        assert r.json()["error"]["type"] == "permission_error"


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/bulk", {"resource": "tickets", "ids": ["x"]}, "action"),
        ("/bulk", {"action": "explode", "resource": "tickets", "ids": ["x"]}, "action"),
        ("/bulk", {"action": "update", "resource": "tickets", "ids": []}, "ids"),
        ("/bulk", {"action": "update", "resource": "tickets", "ids": ["x"] * 101}, "ids"),
        ("/bulk", {"action": "update", "resource": "tickets", "ids": ["x"]}, "data"),
        ("/bulk", {"action": "update", "resource": "tickets", "ids": ["x"], "data": {"status": "gone"}}, "data.status"),
        ("/bulk", {"action": "update", "resource": "tickets", "ids": ["x"], "data": {"colour": "red"}}, "data.colour"),
        ("/export", {}, "resources"),
        ("/export", {"resources": [{"type": "invoices"}]}, "resources[0].type"),
        ("/export", {"resources": [{"type": "tickets"}, {"type": "articles"}], "format": "csv"}, "resources"),
        ("/export", {"resources": [{"type": "tickets", "filters": {"mood": "x"}}]}, "resources[0].filters.mood"),
        ("/import", {"resource": "customers"}, "records"),
        ("/import", {"resource": "customers", "records": [{}] * 501}, "records"),
        ("/import", {"resource": "customers", "records": [], "mergeStrategy": "maybe"}, "mergeStrategy"),
        ("/ai", {"action": "summarize"}, "ticketId"),
        ("/ai", {"action": "improve"}, "text"),
        ("/ai", {"action": "dance"}, "action"),
        ("/automations", {"name": "x"}, "triggerEvent"),
        ("/automations", {"name": "x", "triggerEvent": "ticket.exploded"}, "triggerEvent"),
        (
            "/automations",
            {
                "name": "x",
                "triggerEvent": "ticket.created",
                "conditions": {"all": [{"field": "priority", "operator": "near", "value": 1}]},
            },
            "conditions.all[0].operator",
        ),
        (
            "/automations",
            {"name": "x", "triggerEvent": "ticket.created", "actions": [{"type": "assign"}]},
            "actions[0].agentId",
        ),
    ],
)
def test_bad_bodies_are_400_invalid_field_naming_it(
    api: httpx.Client, path: str, body: dict[str, Any], field: str
) -> None:
    r = api.post(path, json=body)
    assert r.status_code == 400, r.text
    error = r.json()["error"]
    assert (error["code"], error["field"]) == ("INVALID_FIELD", field)


@pytest.mark.parametrize(
    ("path", "params", "field"),
    [
        ("/analytics/overview", {"period": "decade"}, "period"),
        ("/search", {"q": "a", "types": "tickets,planets"}, "types"),
        ("/search", {"q": "a", "limit": "0"}, "limit"),
        ("/audit-log", {"startDate": "yesterday"}, "startDate"),
        ("/audit-log", {"pageSize": "101"}, "pageSize"),
    ],
)
def test_bad_queries_are_400_invalid_field(api: httpx.Client, path: str, params: dict[str, str], field: str) -> None:
    r = api.get(path, params=params)
    assert r.status_code == 400, r.text
    assert r.json()["error"]["field"] == field


def test_unknown_ids_are_404(api: httpx.Client) -> None:
    rule = api.post("/automations", json={"name": "r", "triggerEvent": "ticket.created"}).json()["data"]
    assert api.post("/ai", json={"action": "summarize", "ticketId": "tkt_nope"}).status_code == 404
    assert (
        api.post("/automations/rule_nope/test", json={"resourceType": "ticket", "resourceId": "x"}).status_code == 404
    )
    r = api.post(f"/automations/{rule['id']}/test", json={"resourceType": "ticket", "resourceId": "tkt_nope"})
    assert r.status_code == 404
    assert api.get("/automations/rule_nope").status_code == 404


# -- what they compute ---------------------------------------------------------------------------


def test_analytics_count_the_partitions_real_rows(emulator: LocalEmulator) -> None:
    with emulator.client() as api:
        before = api.get("/analytics/overview", params={"period": "year"}).json()["data"]
        tickets_total = api.get("/tickets").json()["meta"]["pagination"]["total"]
        customers_total = api.get("/customers").json()["meta"]["pagination"]["total"]
        assert before["customers"]["total"] == customers_total
        ticket = _new_ticket(api, priority="urgent", customerName="Pat", customerEmail="pat@example.com")
        api.patch(f"/tickets/{ticket['id']}", json={"assignedTo": "usr_pat"})
        api.post(f"/tickets/{ticket['id']}/messages", json={"content": "On it", "sender": "agent"})
        api.patch(f"/tickets/{ticket['id']}", json={"status": "resolved"})
        after = api.get("/analytics/overview", params={"period": "day"}).json()["data"]
        assert after["tickets"]["total"] >= 1 and after["tickets"]["byPriority"]["urgent"] >= 1
        assert after["tickets"]["resolved"] >= 1 and after["customers"]["new"] >= 1
        assert after["responseTimes"]["averageFirstResponseMinutes"] is not None
        assert (
            api.get("/analytics/overview", params={"period": "year"}).json()["data"]["customers"]["total"]
            == customers_total + 1
        )
        assert tickets_total >= 1
        agents = api.get("/analytics/agents").json()["data"]
        pat = next(a for a in agents if a["userId"] == "usr_pat")
        assert (pat["ticketsAssigned"], pat["ticketsResolved"]) == (1, 1)
    with emulator.client("sk_live") as live:
        assert live.get("/analytics/agents").json()["data"] == []


def test_search_finds_text_in_each_kind_with_a_snippet(emulator_session: LocalEmulator, api: httpx.Client) -> None:
    ticket = _new_ticket(api, title="Zebrafish order")
    api.post(
        f"/tickets/{ticket['id']}/messages",
        json={"content": "The zebrafish tank arrived cracked", "sender": "customer"},
    )
    api.post("/customers", json={"name": "Zebrafish Fan", "email": "zeb@example.com"})
    api.post("/articles", json={"title": "Caring for fish", "content": "Feed your zebrafish twice a day."})
    results = api.get("/search", params={"q": "ZEBRAFISH"}).json()["data"]
    assert {r["type"] for r in results} >= {"ticket", "customer", "article"}
    assert results[-1]["type"] == "article" and "zebrafish" in results[-1]["snippet"].lower()
    only = api.get("/search", params={"q": "zebrafish", "types": "articles", "limit": "1"}).json()["data"]
    assert [r["type"] for r in only] == ["article"]
    with emulator_session.client("sk_live") as live:
        assert live.get("/search", params={"q": "zebrafish"}).json()["data"] == []
    with emulator_session.client("pk_test") as pk:
        assert pk.get("/search", params={"q": "zebrafish"}).status_code == 200


def test_bulk_applies_real_changes_and_reports_failures(emulator: LocalEmulator) -> None:
    with emulator.client() as api:
        a, b = _new_ticket(api), _new_ticket(api)
        r = api.post(
            "/bulk",
            json={
                "action": "update",
                "resource": "tickets",
                "ids": [a["id"], "tkt_nope", b["id"]],
                "data": {"status": "closed"},
            },
        )
        result = r.json()["data"]
        assert (result["total"], result["succeeded"], result["failed"]) == (3, 2, 1)
        assert result["errors"][0]["id"] == "tkt_nope" and result["errors"][0]["code"] == "not_found"
        assert api.get(f"/tickets/{a['id']}").json()["data"]["status"] == "closed"
        actions = [e["action"] for e in api.get("/audit-log", params={"resourceType": "ticket"}).json()["data"]]
        assert actions[:4] == ["ticket.closed", "ticket.updated", "ticket.closed", "ticket.updated"]
        r = api.post("/bulk", json={"action": "delete", "resource": "tickets", "ids": [a["id"], b["id"]]})
        assert r.json()["data"]["succeeded"] == 2
        assert api.get(f"/tickets/{a['id']}").status_code == 404


def test_export_gives_real_rows_as_json_or_csv(api: httpx.Client) -> None:
    ticket = _new_ticket(api, priority="low", tags=["export-me"])
    data = api.post("/export", json={"resources": [{"type": "tickets", "filters": {"priority": "low"}}]}).json()["data"]
    assert data["format"] == "json" and all(t["priority"] == "low" for t in data["resources"]["tickets"])
    assert ticket in data["resources"]["tickets"] and data["totalRows"] == len(data["resources"]["tickets"])
    data = api.post(
        "/export", json={"resources": [{"type": "tickets", "filters": {"search": ticket["title"]}}], "format": "csv"}
    ).json()["data"]
    rows = list(csv.DictReader(io.StringIO(data["resources"]["tickets"])))
    assert len(rows) == data["totalRows"] >= 1 and ticket["id"] in {r["id"] for r in rows}


def test_import_creates_merges_and_skips_with_history(emulator: LocalEmulator) -> None:
    with emulator.client() as api:
        records = [
            {"name": "Imp One", "email": "imp1@example.com", "tags": ["a"]},
            {"name": "Imp Two", "email": "imp2@example.com"},
            {"name": "No email"},
        ]
        result = api.post("/import", json={"resource": "customers", "records": records}).json()["data"]
        assert (result["created"], result["failed"]) == (2, 1)
        assert result["errors"] == [
            {"index": 2, "field": "records[2].email", "message": "records[2]: email is required."}
        ]
        again = [{"name": "Imp One Renamed", "email": "IMP1@example.com", "tags": ["b"]}]
        skipped = api.post("/import", json={"resource": "customers", "records": again}).json()["data"]
        assert (skipped["skipped"], skipped["updated"]) == (1, 0)
        merged = api.post("/import", json={"resource": "customers", "records": again, "mergeStrategy": "merge"}).json()[
            "data"
        ]
        assert merged["updated"] == 1
        found = api.get("/customers", params={"search": "imp1@"}).json()["data"][0]
        assert found["name"] == "Imp One Renamed" and found["tags"] == ["a", "b"]
        history = api.get("/import").json()
        assert [h["created"] for h in history["data"]] == [0, 0, 2] and history["meta"]["pagination"]["total"] == 3
        audit = api.get("/audit-log", params={"resourceType": "customer"}).json()["data"]
        assert [e["action"] for e in audit[:3]] == ["customer.updated", "customer.created", "customer.created"]


def test_the_audit_log_names_the_key_and_filters(emulator: LocalEmulator) -> None:
    with emulator.client() as api:
        ticket = _new_ticket(api)
        entries = api.get("/audit-log", params={"action": "ticket.created"}).json()["data"]
        newest = entries[0]
        assert (newest["resourceType"], newest["resourceId"]) == ("ticket", ticket["id"])
        assert newest["actorId"].startswith("key_") and newest["actorName"]
        mine = api.get("/audit-log", params={"actorId": newest["actorId"]}).json()
        assert mine["meta"]["pagination"]["total"] >= 1
        assert all(e["actorId"] == newest["actorId"] for e in mine["data"])
        keys = api.get("/audit-log", params={"resourceType": "api_key"}).json()["data"]
        assert {e["action"] for e in keys} == {"api_key.created"}
        future = api.get("/audit-log", params={"startDate": "2999-01-01"}).json()
        assert future["data"] == [] and future["meta"]["pagination"]["total"] == 0


def test_ai_actions_are_deterministic_and_auto_tag_tags(emulator_session: LocalEmulator, api: httpx.Client) -> None:
    ticket = _new_ticket(api, title="Charged twice", customerName="Jane Roe", customerEmail="jane.roe@example.com")
    api.post(
        f"/tickets/{ticket['id']}/messages", json={"content": "My invoice shows a double payment", "sender": "customer"}
    )
    tagged = api.post("/ai", json={"action": "auto-tag", "ticketId": ticket["id"]}).json()["data"]
    assert tagged["action"] == "auto-tag" and tagged["result"]["added"] == ["billing"]
    assert api.get(f"/tickets/{ticket['id']}").json()["data"]["tags"] == ["billing"]
    assert (
        api.post("/ai", json={"action": "auto-tag", "ticketId": ticket["id"]}).json()["data"]["result"]["added"] == []
    )
    reply = api.post("/ai", json={"action": "suggest-reply", "ticketId": ticket["id"]}).json()["data"]["result"]
    assert reply["suggestion"].startswith("Hi Jane,") and "billing" in reply["suggestion"]
    summary = api.post("/ai", json={"action": "summarize", "ticketId": ticket["id"]}).json()["data"]["result"]
    assert summary["summary"].startswith('Jane Roe opened "Charged twice"') and summary["messageCount"] == 1
    improved = api.post("/ai", json={"action": "improve", "text": "here is my respons to the cusomer"}).json()["data"]
    assert improved["result"]["improved"] == "Here is my response to the customer."


def test_an_automation_dry_run_reports_without_changing_anything(api: httpx.Client) -> None:
    ticket = _new_ticket(api, priority="urgent", tags=["vip"])
    body = {
        "name": "Auto-assign urgent",
        "triggerEvent": "ticket.created",
        "conditions": {
            "all": [
                {"field": "priority", "operator": "equals", "value": "urgent"},
                {"field": "tags", "operator": "contains", "value": "VIP"},
            ]
        },
        "actions": [{"type": "assign", "agentId": "usr_abc"}, {"type": "set_status", "status": "bogus"}],
    }
    rule = api.post("/automations", json=body).json()["data"]
    assert rule["id"].startswith("rule_") and (rule["enabled"], rule["executionCount"]) == (True, 0)
    run = api.post(
        f"/automations/{rule['id']}/test", json={"resourceType": "ticket", "resourceId": ticket["id"]}
    ).json()["data"]
    assert run["wouldMatch"] is True and [c["passed"] for c in run["conditionResults"]["all"]] == [True, True]
    assert [(a["action"], a["success"]) for a in run["actionsWouldExecute"]] == [
        ("assign", True),
        ("set_status", False),
    ]
    assert api.get(f"/tickets/{ticket['id']}").json()["data"] == {**ticket, "messages": []}
    api.patch(
        f"/automations/{rule['id']}",
        json={"enabled": False, "conditions": {"any": [{"field": "priority", "operator": "in", "value": ["low"]}]}},
    )
    run = api.post(
        f"/automations/{rule['id']}/test", json={"resourceType": "tickets", "resourceId": ticket["id"]}
    ).json()["data"]
    assert (run["wouldMatch"], run["enabled"], run["actionsWouldExecute"]) == (False, False, [])
    assert api.delete(f"/automations/{rule['id']}").json()["data"] == {"id": rule["id"], "deleted": True}
