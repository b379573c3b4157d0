"""The event-loop tools (``cstar_recent_events``, ``cstar_wait_for_event``, ``cstar_resend_event``,
``cstar_verify_signature``, and ``cstar_trigger_webhook``'s edits), in-process through the SDK's client
against a real emulator on loopback; and the ``after=`` cursor of ``GET /events`` they wait on.

The emulator is this module's own: the tests trigger events and count them.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from mcp import Client
from mcp_types import CallToolResult

from cstar_cli.mcp.access import ApiAccess
from cstar_cli.mcp.server import CStarMCPServer, build_server
from cstar_cli.mcp.toolset import TOOL_NAMES, WRITE_TOOLS, select_tools
from cstar_cli.protocol.webhook import compute_signature
from cstar_cli.settings import resolve
from tests.support.emulator import LocalEmulator, trigger
from tests.support.mcp import *  # noqa: F403 - fixtures: anyio_backend, emu, server

pytestmark = [pytest.mark.anyio, pytest.mark.e2e, pytest.mark.timeout(60)]

SECRET = "whsec_" + "s3cr3tV4lue" * 3


async def call(server: CStarMCPServer, name: str, args: dict[str, Any] | None = None) -> CallToolResult:
    async with Client(server) as client:
        result = await client.call_tool(name, args or {})
    seen = text(result) + repr(result.structured_content)
    assert not [k for k in (SECRET,) if k in seen], "a secret reached a tool result"
    return result


def text(result: CallToolResult) -> str:
    return "\n".join(c.text for c in result.content if hasattr(c, "text"))


def events_api(emu: LocalEmulator, **params: Any) -> httpx.Response:
    return httpx.get(
        f"{emu.base_url}/api/v1/teams/{emu.team_id}/events",
        params=params,
        headers={"Authorization": f"Bearer {emu.keys['sk_test']}"},
        timeout=10,
    )


# the contract: GET /events?after= ----------------------------------------------------------------


def test_after_lists_newer_events_oldest_first(emu: LocalEmulator) -> None:
    first = trigger(emu)
    later = [trigger(emu, "customer.created"), trigger(emu), trigger(emu)]
    page = events_api(emu, after=first).json()
    assert [e["id"] for e in page["data"]] == later
    typed = events_api(emu, after=first, type="ticket.*", limit=1).json()
    assert [e["id"] for e in typed["data"]] == [later[1]]
    assert typed["meta"]["pagination"] == {"limit": 1, "hasMore": True, "nextCursor": later[1]}
    assert events_api(emu, after=later[-1]).json()["data"] == []


def test_after_refuses_an_unknown_cursor_and_before_with_it(emu: LocalEmulator) -> None:
    unknown = events_api(emu, after="evt_doesnotexist")
    assert unknown.status_code == 400 and unknown.json()["error"]["field"] == "after"
    known = trigger(emu)
    both = events_api(emu, after=known, before=known)
    assert both.status_code == 400 and both.json()["error"]["field"] == "after"


# publishing -------------------------------------------------------------------------------------


async def test_new_tools_are_published_with_honest_annotations(server: CStarMCPServer) -> None:
    async with Client(server) as client:
        tools = {t.name: t for t in (await client.list_tools()).tools}
    assert list(tools) == list(TOOL_NAMES) and len(tools) == 13
    for t in tools.values():
        assert t.input_schema["additionalProperties"] is False
        for prop in t.input_schema.get("properties", {}).values():
            if prop.get("type") == "string":
                assert "maxLength" in prop or "enum" in prop, t.name
            if prop.get("type") == "array":
                assert prop["items"]["maxLength"] and prop["maxItems"], t.name
    resend, verify = tools["cstar_resend_event"].annotations, tools["cstar_verify_signature"].annotations
    assert resend is not None and verify is not None
    assert (resend.read_only_hint, resend.idempotent_hint, resend.open_world_hint) == (False, False, True)
    assert (verify.read_only_hint, verify.idempotent_hint, verify.open_world_hint) == (True, True, False)
    wait = tools["cstar_wait_for_event"].input_schema["properties"]["timeoutSeconds"]
    assert wait["maximum"] == 60 and wait["exclusiveMinimum"] == 0
    assert set(tools["cstar_trigger_webhook"].input_schema["properties"]) == {"event", "override", "add", "remove", "payload"}


async def test_read_only_hides_resend(emu: LocalEmulator) -> None:
    names = select_tools(read_only=True)
    assert "cstar_resend_event" in WRITE_TOOLS and "cstar_resend_event" not in names
    assert {"cstar_recent_events", "cstar_wait_for_event", "cstar_verify_signature"} <= set(names)
    api = ApiAccess(lambda: resolve(api_key=emu.keys["sk_test"], base_url=emu.base_url))
    hidden = await call(build_server(api, names), "cstar_resend_event", {"eventId": "evt_x"})
    assert hidden.is_error and "unknown_tool" in text(hidden) and "--read-only" in text(hidden)


@pytest.mark.parametrize(
    ("tool", "args", "expected"),
    [
        ("cstar_wait_for_event", {"timeoutSeconds": 61}, "timeoutSeconds"),
        ("cstar_wait_for_event", {"timeoutSeconds": "5"}, "timeoutSeconds"),
        ("cstar_wait_for_event", {"since": "tkt_123"}, "since: String should match pattern"),
        ("cstar_wait_for_event", {"eventTyp": "ticket.*"}, "Did you mean eventType?"),
        ("cstar_recent_events", {"limit": 101}, "limit"),
        ("cstar_recent_events", {"type": "x" * 201}, "type must be at most 200 characters"),
        ("cstar_resend_event", {}, "eventId is required"),
        ("cstar_resend_event", {"eventId": "evt_1", "webhookId": "cls_1"}, "webhookId must be an ID starting with whk_"),
        ("cstar_verify_signature", {"payload": "{}", "signature": "t=1,v1=00"}, "secret is required"),
        ("cstar_trigger_webhook", {"event": "ticket.created", "override": "ticket.priority=high"}, "override"),
        ("cstar_trigger_webhook", {"event": "ticket.created", "payload": []}, "payload"),
    ],
)
async def test_arguments_are_checked_strictly(server: CStarMCPServer, tool: str, args: dict[str, Any], expected: str) -> None:
    result = await call(server, tool, args)
    assert result.is_error and "Error (INVALID_FIELD)" in text(result), text(result)
    assert expected in text(result) and "Hint: " in text(result)


# behaviour --------------------------------------------------------------------------------------


async def test_a_short_wait_that_sees_nothing_is_a_normal_result(server: CStarMCPServer, emu: LocalEmulator) -> None:
    since = trigger(emu)
    result = await call(server, "cstar_wait_for_event", {"eventType": "article.published", "since": since, "timeoutSeconds": 0.5})
    assert not result.is_error, text(result)
    data = result.structured_content
    assert data["event"] is None and data["cursor"] == since and "Nothing arrived" in data["note"]


async def test_wait_returns_the_first_match_after_the_cursor(server: CStarMCPServer, emu: LocalEmulator) -> None:
    trigger(emu, "customer.created")  # an older customer event, so the filtered page below has more
    since = trigger(emu)
    skipped, wanted, _ = trigger(emu, "customer.created"), trigger(emu), trigger(emu)
    result = await call(server, "cstar_wait_for_event", {"eventType": "ticket.*", "since": since, "timeoutSeconds": 10})
    data = result.structured_content
    assert not result.is_error and data["event"]["id"] == wanted and data["cursor"] == wanted, text(result)
    assert data["event"]["resourceId"].startswith("tkt_") and "status" in data["event"]["fields"]
    assert "payload" not in data["event"]
    recent = (await call(server, "cstar_recent_events", {"limit": 4})).structured_content
    assert recent["cursor"] == recent["events"][0]["id"] and skipped in [e["id"] for e in recent["events"]]
    older = (await call(server, "cstar_recent_events", {"limit": 1, "type": "customer.*"})).structured_content
    assert older["events"][0]["id"] == skipped and older["nextCursor"] == skipped
    assert older["cursor"] == recent["cursor"]  # the newest of all, not of the filtered page


async def test_unknown_cursor_is_an_error_with_a_hint(server: CStarMCPServer) -> None:
    result = await call(server, "cstar_wait_for_event", {"since": "evt_doesnotexist", "timeoutSeconds": 5})
    assert result.is_error and "Field: since" in text(result) and "cstar_recent_events" in text(result)


async def test_trigger_edits_shape_the_sample_and_bad_paths_are_named(server: CStarMCPServer, emu: LocalEmulator) -> None:
    sent = await call(
        server,
        "cstar_trigger_webhook",
        {"event": "ticket.created", "override": ["ticket.priority=urgent"], "add": ["ticket.tags=@vip"]},
    )
    assert not sent.is_error, text(sent)
    event_id = sent.structured_content["eventId"]
    stored = httpx.get(
        f"{emu.base_url}/api/v1/teams/{emu.team_id}/events/{event_id}",
        headers={"Authorization": f"Bearer {emu.keys['sk_test']}"},
        timeout=10,
    ).json()["data"]
    assert '"priority":"urgent"' in stored["payload"] and '"@vip"' in stored["payload"]

    bad = await call(server, "cstar_trigger_webhook", {"event": "ticket.created", "override": ["ticket.nope=1"]})
    assert bad.is_error and "Error (INVALID_FIELD)" in text(bad) and "Field: override" in text(bad), text(bad)
    assert "ticket.nope" in text(bad) and "--override" not in text(bad) and "Hint: " in text(bad)
    no_value = await call(server, "cstar_trigger_webhook", {"event": "ticket.created", "add": ["x", "ticket"]})
    assert no_value.is_error and "Field: add[0]" in text(no_value)

    whole = await call(server, "cstar_trigger_webhook", {"event": "ticket.created", "payload": {"ticket": {"id": "tkt_mine"}}, "override": ["ticket.id=tkt_edited"]})
    assert not whole.is_error, text(whole)


async def test_verify_signature_uses_the_doctor_and_never_shows_the_secret(server: CStarMCPServer) -> None:
    body = b'{"id":"evt_1","type":"ticket.created","data":{}}'
    import time

    ts = int(time.time())
    header = f"t={ts},v1={compute_signature(body, SECRET, ts)}"
    ok = await call(server, "cstar_verify_signature", {"payload": body.decode(), "signature": header, "secret": SECRET})
    assert not ok.is_error and ok.structured_content["valid"] is True and ok.structured_content["reason"] == "valid"
    assert "whsec_…" in ok.structured_content["detail"]
    spaced = '{"id": "evt_1", "type": "ticket.created", "data": {}}'
    bad = await call(server, "cstar_verify_signature", {"payload": spaced, "signature": header, "secret": SECRET})
    assert bad.structured_content["valid"] is False and bad.structured_content["reason"] == "body_reserialised"
    wrong = await call(server, "cstar_verify_signature", {"payload": body.decode(), "signature": header, "secret": SECRET + "x"})
    assert wrong.structured_content["reason"] == "signature_mismatch" and SECRET not in text(wrong)
    malformed = await call(server, "cstar_verify_signature", {"payload": "{}", "signature": "v1=abc", "secret": SECRET})
    assert malformed.structured_content["reason"] == "malformed_header"
    long_secret = await call(server, "cstar_verify_signature", {"payload": "{}", "signature": header, "secret": SECRET * 20})
    assert long_secret.is_error and "secret must be at most 200 characters" in text(long_secret)


async def test_resend_without_a_listener_says_what_to_do(server: CStarMCPServer, emu: LocalEmulator) -> None:
    event_id = trigger(emu)
    result = await call(server, "cstar_resend_event", {"eventId": event_id})
    assert result.is_error and "no_listener" in text(result) and "cstar listen" in text(result)
    missing = await call(server, "cstar_resend_event", {"eventId": "evt_doesnotexist"})
    assert missing.is_error and "event_not_found" in text(missing) and "cstar_recent_events" in text(missing)
