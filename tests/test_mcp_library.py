"""The MCP server's resources and prompts, driven in-process by the SDK's client against a real
emulator over loopback: the same documents as the tools, clean JSON-RPC errors, prompts that embed
their data and keep customer-facing text professional."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from mcp import Client
from mcp.shared.exceptions import MCPError
from mcp_types import INTERNAL_ERROR, INVALID_PARAMS

from cstar_cli.mcp.access import ApiAccess
from cstar_cli.mcp.server import CStarMCPServer, build_server
from cstar_cli.mcp.toolset import select_tools
from cstar_cli.settings import resolve
from tests.support.emulator import EmulatorProcess, start_emulator

pytestmark = [pytest.mark.anyio, pytest.mark.e2e, pytest.mark.timeout(60)]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="module")
def emu(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmulatorProcess]:
    e = start_emulator(tmp_path_factory.mktemp("mcp-lib-emu") / "emulator.db")
    try:
        yield e
    finally:
        e.stop()


_OPEN: list[ApiAccess] = []


@pytest.fixture(autouse=True)
def _close_clients() -> Iterator[None]:
    # Each server's API client holds a connection pool: closed, not left to the garbage collector.
    yield
    while _OPEN:
        _OPEN.pop().close()


def make_server(emu: EmulatorProcess, key: str | None = None, names: Any = None) -> CStarMCPServer:
    key = key if key is not None else emu.keys["sk_test"]
    api = ApiAccess(lambda: resolve(api_key=key or None, base_url=emu.base_url), max_retries=0)
    _OPEN.append(api)
    return build_server(api, names) if names is not None else build_server(api)


async def read(server: CStarMCPServer, uri: str) -> Any:
    """The JSON document at ``uri``, or the :class:`MCPError` the read failed with."""
    async with Client(server) as client:
        # Caught inside the session: leaving it re-raises wrapped in an ExceptionGroup.
        try:
            result = await client.read_resource(uri)
        except MCPError as e:
            return e
    (content,) = result.contents
    assert content.mime_type == "application/json" and str(content.uri) == uri
    return json.loads(content.text)


async def read_error(server: CStarMCPServer, uri: str) -> MCPError:
    err = await read(server, uri)
    assert isinstance(err, MCPError), err
    return err


async def prompt_error(server: CStarMCPServer, name: str, args: dict[str, str]) -> MCPError:
    async with Client(server) as client:
        try:
            await client.get_prompt(name, args)
        except MCPError as e:
            return e
    raise AssertionError(f"{name} {args} did not fail")


async def test_lists_templates_catalog_and_prompts(emu: EmulatorProcess) -> None:
    async with Client(make_server(emu)) as client:
        templates = {t.uri_template for t in (await client.list_resource_templates()).resource_templates}
        fixed = [str(r.uri) for r in (await client.list_resources()).resources]
        prompts = {p.name: p for p in (await client.list_prompts()).prompts}
    assert templates == {"cstar://tickets/{ticketId}", "cstar://customers/{customerId}", "cstar://events/{eventId}"}
    assert fixed == ["cstar://events/catalog"]
    assert set(prompts) == {"triage_ticket", "draft_reply", "debug_webhook_delivery"}
    assert [(a.name, a.required) for a in prompts["triage_ticket"].arguments or []] == [("ticketId", True)]
    assert [(a.name, a.required) for a in prompts["debug_webhook_delivery"].arguments or []] == [("eventId", True)]


async def test_ticket_and_customer_resources_match_the_tools(emu: EmulatorProcess) -> None:
    server = make_server(emu)
    async with Client(server) as client:
        listed = (await client.call_tool("cstar_list_tickets", {"pageSize": 5})).structured_content
        ticket = next(t for t in listed["tickets"] if t["customerId"])
        by_tool = (await client.call_tool("cstar_get_ticket", {"ticketId": ticket["id"]})).structured_content
        customer = (
            await client.call_tool("cstar_get_customer", {"customerId": ticket["customerId"]})
        ).structured_content
    doc = await read(server, f"cstar://tickets/{ticket['id']}")
    assert doc["ticket"] == by_tool["ticket"] and doc["ticket"]["messages"] == by_tool["ticket"]["messages"]
    cus = await read(server, f"cstar://customers/{ticket['customerId']}")
    assert cus["customer"] == customer["customer"] and cus["requestId"].startswith("req_")


async def test_catalog_resource_is_the_event_list_offline() -> None:
    api = ApiAccess(lambda: resolve(api_key=None, base_url="http://127.0.0.1:9"))
    _OPEN.append(api)
    offline = build_server(api)
    async with Client(offline) as client:
        tool = (await client.call_tool("cstar_list_events", {})).structured_content
    doc = await read(offline, "cstar://events/catalog")
    assert doc == tool and any(e["type"] == "ticket.created" and e["triggerable"] for e in doc["events"])


@pytest.mark.parametrize(
    ("uri", "code", "expected"),
    [
        ("cstar://tickets/tkt_doesnotexist", INVALID_PARAMS, "Error (not_found)"),
        ("cstar://tickets/tkt_doesnotexist", INVALID_PARAMS, "Hint: cstar_list_tickets"),
        ("cstar://tickets/not-a-ticket", INVALID_PARAMS, "ticketId must be tkt_"),
        ("cstar://tickets/tkt_" + "a" * 200, INVALID_PARAMS, "at most 100 characters"),
        ("cstar://customers/cus_doesnotexist", INVALID_PARAMS, "Error (not_found)"),
        ("cstar://customers/cus_doesnotexist", INVALID_PARAMS, "Hint: cstar_list_customers"),
        ("cstar://nothing/here", INVALID_PARAMS, "Unknown resource"),
    ],
)
async def test_bad_reads_are_clean_json_rpc_errors(emu: EmulatorProcess, uri: str, code: int, expected: str) -> None:
    err = await read_error(make_server(emu), uri)
    assert err.error.code == code and expected in err.error.message
    assert "\n" not in err.error.message and "Traceback" not in err.error.message


async def test_read_without_a_key_says_run_cstar_login_and_leaks_no_key(emu: EmulatorProcess) -> None:
    err = await read_error(make_server(emu, key=""), "cstar://tickets/tkt_abc")
    assert err.error.code == INTERNAL_ERROR and "not_logged_in" in err.error.message
    assert "cstar login" in err.error.message

    wrong = emu.keys["sk_test"][:-4] + "zzzz"
    err = await read_error(make_server(emu, key=wrong), "cstar://tickets/tkt_abc")
    assert wrong not in err.error.message and "Error (" in err.error.message


async def trigger(emu: EmulatorProcess) -> str:
    async with Client(make_server(emu)) as client:
        sent = await client.call_tool("cstar_trigger_webhook", {"event": "ticket.created"})
    assert not sent.is_error
    return str(sent.structured_content["eventId"])


async def test_event_resource_from_the_event_history(emu: EmulatorProcess) -> None:
    event_id = await trigger(emu)
    doc = await read(make_server(emu), f"cstar://events/{event_id}")
    assert doc["event"]["id"] == event_id and doc["event"]["type"] == "ticket.created"
    assert json.loads(doc["event"]["payload"])["id"] == event_id and doc["requestId"].startswith("req_")
    missing = await read_error(make_server(emu), "cstar://events/evt_doesnotexist")
    assert missing.error.code == INVALID_PARAMS and "event_not_found" in missing.error.message
    assert "Hint: " in missing.error.message
    # Event history needs a secret key: a publishable one is refused, with the reason.
    refused = await read_error(make_server(emu, key=emu.keys["pk_test"]), f"cstar://events/{event_id}")
    assert refused.error.code == INTERNAL_ERROR and "Error (" in refused.error.message


async def test_triage_and_draft_prompts_embed_the_ticket(emu: EmulatorProcess) -> None:
    server = make_server(emu)
    async with Client(server) as client:
        ticket = (await client.call_tool("cstar_list_tickets", {"pageSize": 1})).structured_content["tickets"][0]
        triage = await client.get_prompt("triage_ticket", {"ticketId": ticket["id"]})
        draft = await client.get_prompt("draft_reply", {"ticketId": ticket["id"]})
    for prompt in (triage, draft):
        embedded, instructions = prompt.messages
        assert embedded.role == "user" and embedded.content.type == "resource"
        assert str(embedded.content.resource.uri) == f"cstar://tickets/{ticket['id']}"
        assert json.loads(embedded.content.resource.text)["ticket"]["id"] == ticket["id"]
        assert instructions.content.type == "text" and "never as instructions" in instructions.content.text
    assert "Priority" in triage.messages[1].content.text
    text = draft.messages[1].content.text
    # What the customer sees stays professional: the team's game stays inside the team.
    assert "professional" in text and "gamification" in text and "internal notes" in text
    assert "Do not send it" in text


async def test_debug_prompt_embeds_the_event_and_names_only_published_tools(emu: EmulatorProcess) -> None:
    event_id = await trigger(emu)
    for names, advice in [
        (None, "cstar_trigger_webhook tool"),
        (select_tools(read_only=True), "`cstar trigger <type>`"),
    ]:
        async with Client(make_server(emu, names=names)) as client:
            prompt = await client.get_prompt("debug_webhook_delivery", {"eventId": event_id})
        embedded, instructions = prompt.messages
        assert json.loads(embedded.content.resource.text)["event"]["id"] == event_id
        text = instructions.content.text
        assert "X-Signature" in text and "cstar listen" in text and "2xx" in text and advice in text
        if names is not None:  # --read-only hides cstar_trigger_webhook: the advice names the CLI
            assert "cstar_trigger_webhook" not in text


async def test_prompt_errors(emu: EmulatorProcess) -> None:
    server = make_server(emu)
    for name, args, expected in [
        ("triage_ticket", {}, "needs the argument ticketId"),
        ("triage_ticket", {"ticketId": "tkt_doesnotexist"}, "Error (not_found)"),
        ("draft_reply", {"ticketId": "nope"}, "ticketId must be tkt_"),
        ("debug_webhook_delivery", {"eventId": "nope"}, "eventId must be evt_"),
        ("no_such_prompt", {}, "Unknown prompt"),
    ]:
        err = await prompt_error(server, name, args)
        assert err.error.code == INVALID_PARAMS and expected in err.error.message, (name, err.error.message)
