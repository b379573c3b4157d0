"""The MCP tools, driven in-process by the SDK's client against a real emulator over loopback.

The emulator is this module's own (tickets are created and a key is revoked, which a shared one
would feel). Every result is checked for the emulator's full API keys as it arrives.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator, Sequence
from typing import Any

import httpx
import pytest
from mcp import Client
from mcp_types import CallToolResult

from cstar_cli.mcp.access import ApiAccess
from cstar_cli.mcp.server import CStarMCPServer, build_server
from cstar_cli.mcp.toolset import TOOL_NAMES, WRITE_TOOLS, select_tools
from cstar_cli.settings import resolve
from tests.support.emulator import LocalEmulator, start_emulator_thread

pytestmark = [pytest.mark.anyio, pytest.mark.e2e, pytest.mark.timeout(60)]

KEYS: set[str] = set()


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="module")
def emu(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalEmulator]:
    e = start_emulator_thread(tmp_path_factory.mktemp("mcp-emu") / "emulator.db")
    KEYS.update(e.keys.values())
    try:
        yield e
    finally:
        e.stop()


_OPENED: list[ApiAccess] = []  # closed after each test, with their connections


@pytest.fixture(autouse=True)
def _close_api_access() -> Iterator[None]:
    yield
    while _OPENED:
        _OPENED.pop().close()


def make_server(key: str | None, base_url: str, names: Sequence[str] = TOOL_NAMES, **client: Any) -> CStarMCPServer:
    api = ApiAccess(lambda: resolve(api_key=key, base_url=base_url), **{"max_retries": 0, **client})
    _OPENED.append(api)
    return build_server(api, names)


async def call(server: CStarMCPServer, name: str, args: dict[str, Any] | None = None) -> CallToolResult:
    async with Client(server) as client:
        result = await client.call_tool(name, args or {})
    seen = text(result) + repr(result.structured_content)
    assert not [key for key in KEYS if key in seen], "a full API key reached a tool result"
    return result


def text(result: CallToolResult) -> str:
    return "\n".join(c.text for c in result.content if hasattr(c, "text"))


def api(emu: LocalEmulator, method: str, path: str, key: str | None = None, **kwargs: Any) -> Any:
    """A direct API call (setup the tools cannot do), returning ``data``."""
    resp = httpx.request(
        method,
        f"{emu.base_url}/api/v1/teams/{emu.team_id}/{path}",
        headers={"Authorization": f"Bearer {key or emu.keys['sk_test']}"},
        timeout=10,
        **kwargs,
    )
    resp.raise_for_status()
    return resp.json()["data"]


@pytest.fixture
def server(emu: LocalEmulator) -> CStarMCPServer:
    return make_server(emu.keys["sk_test"], emu.base_url)


async def test_lists_the_tools_with_schemas_and_annotations(server: CStarMCPServer) -> None:
    async with Client(server) as client:
        tools = {t.name: t for t in (await client.list_tools()).tools}
    assert list(tools) == list(TOOL_NAMES)
    for t in tools.values():
        assert t.title and t.description and len(t.description) > 60
        assert t.input_schema["type"] == "object"
        assert t.output_schema and t.output_schema["type"] == "object"
        assert t.annotations is not None and t.annotations.destructive_hint is False
        assert t.annotations.read_only_hint is (t.name not in WRITE_TOOLS)
    props = tools["cstar_list_tickets"].input_schema["properties"]
    assert props["status"]["enum"] == ["new", "open", "pending", "resolved", "closed"]
    assert props["priority"]["enum"] == ["low", "normal", "high", "urgent"]
    assert (props["pageSize"]["minimum"], props["pageSize"]["maximum"], props["page"]["minimum"]) == (1, 100, 1)
    assert props["customerId"]["pattern"].startswith("^cus_")
    assert "required" not in tools["cstar_list_tickets"].input_schema
    assert tools["cstar_get_ticket"].input_schema["required"] == ["ticketId"]
    assert tools["cstar_get_ticket"].input_schema["properties"]["ticketId"]["pattern"].startswith("^tkt_")
    assert tools["cstar_create_ticket"].input_schema["required"] == ["title"]
    assert len(tools["cstar_trigger_webhook"].input_schema["properties"]["event"]["enum"]) == 12
    assert tools["cstar_list_customers"].input_schema["properties"]["sentiment"]["enum"] == [
        "positive",
        "neutral",
        "negative",
    ]
    assert tools["cstar_list_articles"].input_schema["properties"]["isPublic"]["type"] == "boolean"
    assert tools["cstar_create_ticket"].annotations.idempotent_hint is False
    assert tools["cstar_get_ticket"].annotations.idempotent_hint is True
    assert tools["cstar_list_events"].annotations.open_world_hint is False
    assert "nextPage" in tools["cstar_list_tickets"].output_schema["properties"]


async def test_read_only_and_tools_selection(emu: LocalEmulator) -> None:
    ro = make_server(emu.keys["sk_test"], emu.base_url, select_tools(read_only=True))
    async with Client(ro) as client:
        names = [t.name for t in (await client.list_tools()).tools]
    assert "cstar_create_ticket" not in names and "cstar_trigger_webhook" not in names
    assert len(names) == len(TOOL_NAMES) - len(WRITE_TOOLS) == 10
    hidden = await call(ro, "cstar_create_ticket", {"title": "x"})
    assert hidden.is_error and "unknown_tool" in text(hidden) and "--read-only" in text(hidden)

    two = make_server(emu.keys["sk_test"], emu.base_url, select_tools(["list_tickets,get_ticket"]))
    async with Client(two) as client:
        assert [t.name for t in (await client.list_tools()).tools] == ["cstar_list_tickets", "cstar_get_ticket"]


async def test_list_tickets_pages_and_filters(server: CStarMCPServer) -> None:
    first = await call(server, "cstar_list_tickets", {"pageSize": 2})
    assert not first.is_error
    data = first.structured_content
    assert len(data["tickets"]) == 2 and data["nextPage"] == 2 and "page=2" in data["note"]
    assert data["requestId"].startswith("req_")
    assert all(t["id"].startswith("tkt_") and "messages" not in t for t in data["tickets"])
    second = (await call(server, "cstar_list_tickets", {"pageSize": 2, "page": 2})).structured_content
    assert {t["id"] for t in second["tickets"]}.isdisjoint({t["id"] for t in data["tickets"]})

    status = data["tickets"][0]["status"]
    only = (await call(server, "cstar_list_tickets", {"status": status})).structured_content
    assert only["tickets"] and {t["status"] for t in only["tickets"]} == {status}
    none = (await call(server, "cstar_list_tickets", {"search": "zz-no-such-ticket-zz"})).structured_content
    assert none["tickets"] == [] and none["nextPage"] is None


async def test_get_ticket_returns_the_thread(server: CStarMCPServer) -> None:
    listed = (await call(server, "cstar_list_tickets", {"pageSize": 100})).structured_content["tickets"]
    with_messages = next(t for t in listed if (t["messageCount"] or 0) > 0)
    result = await call(server, "cstar_get_ticket", {"ticketId": with_messages["id"]})
    assert not result.is_error
    ticket = result.structured_content["ticket"]
    assert ticket["id"] == with_messages["id"] and len(ticket["messages"]) == with_messages["messageCount"]
    assert all(m["id"].startswith("msg_") and isinstance(m["content"], str) for m in ticket["messages"])


async def test_create_ticket_and_idempotent_retry(server: CStarMCPServer) -> None:
    args = {"title": "Printer on fire", "priority": "urgent", "customerName": "Ada", "tags": ["hardware"]}
    first = await call(server, "cstar_create_ticket", {**args, "idempotencyKey": "mcp-test-1"})
    assert not first.is_error, text(first)
    made = first.structured_content
    assert made["ticket"]["id"].startswith("tkt_") and made["ticket"]["priority"] == "urgent"
    assert made["idempotentReplayed"] is False
    again = (await call(server, "cstar_create_ticket", {**args, "idempotencyKey": "mcp-test-1"})).structured_content
    assert again["ticket"]["id"] == made["ticket"]["id"] and again["idempotentReplayed"] is True


async def test_customers(server: CStarMCPServer) -> None:
    listed = (await call(server, "cstar_list_customers", {"pageSize": 1})).structured_content
    assert len(listed["customers"]) == 1 and listed["nextPage"] == 2
    cus = listed["customers"][0]
    got = await call(server, "cstar_get_customer", {"customerId": cus["id"]})
    assert not got.is_error and got.structured_content["customer"]["email"] == cus["email"]
    active = (await call(server, "cstar_list_customers", {"status": "active"})).structured_content["customers"]
    assert active and all(c["status"] == "active" for c in active)


async def test_articles_filters_and_excerpts(server: CStarMCPServer) -> None:
    published = (await call(server, "cstar_list_articles", {"status": "published"})).structured_content
    assert published["articles"] and all(a["status"] == "published" for a in published["articles"])
    internal = (await call(server, "cstar_list_articles", {"isPublic": False})).structured_content["articles"]
    assert all(a["isPublic"] is False for a in internal)
    assert all(len(a["excerpt"] or "") <= 300 for a in published["articles"])


async def test_trigger_webhook(server: CStarMCPServer) -> None:
    result = await call(server, "cstar_trigger_webhook", {"event": "ticket.created"})
    assert not result.is_error, text(result)
    data = result.structured_content
    assert data["event"] == "ticket.created" and data["eventId"].startswith("evt_") and data["test"] is True
    wrong = await call(server, "cstar_trigger_webhook", {"event": "ticket.create"})
    assert wrong.is_error and "event='ticket.created'" in text(wrong)


async def test_get_status(server: CStarMCPServer, emu: LocalEmulator) -> None:
    result = await call(server, "cstar_get_status")
    assert not result.is_error, text(result)
    data = result.structured_content
    assert data["team"]["id"] == emu.team_id and data["mode"] == "test" and data["keyType"] == "secret"
    assert data["key"] == "sk_test_…" + emu.keys["sk_test"][-4:]
    assert data["baseUrl"] == emu.base_url and data["api"]["reachable"] is True
    assert data["api"]["roundTripMs"] >= 0 and data["api"]["requestId"].startswith("req_")


async def test_list_events_offline_and_validated() -> None:
    offline = make_server(None, "http://127.0.0.1:9")
    everything = (await call(offline, "cstar_list_events")).structured_content
    assert len(everything["events"]) > 30 and "tickets" in everything["categories"]
    tickets = (await call(offline, "cstar_list_events", {"category": "tickets"})).structured_content["events"]
    assert {e["category"] for e in tickets} == {"tickets"} and any(e["triggerable"] for e in tickets)
    bad = await call(offline, "cstar_list_events", {"category": "ticket"})
    assert bad.is_error
    assert "'tickets', 'customers', 'articles'" in text(bad) and "category='tickets'" in text(bad)


async def test_unknown_ticket_is_not_found_with_request_id(server: CStarMCPServer) -> None:
    result = await call(server, "cstar_get_ticket", {"ticketId": "tkt_doesnotexist"})
    assert result.is_error and result.structured_content is None
    lines = text(result).splitlines()
    assert lines[0].startswith("Error (not_found):")
    assert any(line.startswith("Request ID: req_") for line in lines)
    assert any(line.startswith("Hint:") and "cstar_list_tickets" in line for line in lines)


@pytest.mark.parametrize(
    ("tool", "args", "expected"),
    [
        ("cstar_list_tickets", {"pageSize": 500}, "pageSize: Input should be less than or equal to 100 (got 500)"),
        ("cstar_list_tickets", {"page": 0}, "page: Input should be greater than or equal to 1"),
        ("cstar_list_tickets", {"status": "opened"}, "Did you mean status='open'?"),
        ("cstar_list_customers", {"sentiment": "angry"}, "'positive', 'neutral' or 'negative'"),
        ("cstar_get_ticket", {"ticketId": "cus_123"}, "ticketId must be an ID starting with tkt_"),
        ("cstar_get_ticket", {}, "ticketId is required"),
        ("cstar_create_ticket", {"title": ""}, "title must not be empty"),
        ("cstar_create_ticket", {"title": "x" * 501}, "title must be at most 500 characters (got 501)"),
        ("cstar_list_tickets", {"search": "x" * 100_000}, "search must be at most 500 characters (got 100,000)"),
        ("cstar_create_ticket", {"title": "x", "tags": ["a"] * 51}, "tags must have at most 50 items (got 51)"),
    ],
)
async def test_bad_arguments_are_readable_errors(
    server: CStarMCPServer, tool: str, args: dict[str, Any], expected: str
) -> None:
    result = await call(server, tool, args)
    assert result.is_error
    assert text(result).startswith("Error (INVALID_FIELD): Invalid arguments for " + tool)
    assert expected in text(result)


async def test_string_limits_match_the_api_and_arrays_use_max_items(server: CStarMCPServer) -> None:
    async with Client(server) as client:
        tools = {t.name: t for t in (await client.list_tools()).tools}
    create = tools["cstar_create_ticket"].input_schema["properties"]
    # The API's limits (cstar_emulator/resources.py): title 500, customerName 200, customerId 100.
    assert (create["title"]["maxLength"], create["customerName"]["maxLength"]) == (500, 200)
    assert create["customerId"]["maxLength"] == 100 and create["notes"]["maxLength"] == 10_000
    assert create["tags"]["type"] == "array" and create["tags"]["maxItems"] == 50
    assert "maxLength" not in create["tags"]
    for tool in tools.values():
        for prop in tool.input_schema["properties"].values():
            if prop.get("type") == "array":
                assert "maxLength" not in prop and "minLength" not in prop
            elif prop.get("type") != "string":
                assert not {"maxLength", "minLength", "pattern"} & set(prop)


@pytest.mark.parametrize(
    ("args", "code", "hint"),
    [
        ({"title": "   "}, "INVALID_FIELD", "Hint: Check the argument named in the message"),
        ({"title": "x", "customerId": "cus_nope"}, "INVALID_FIELD", "cstar_list_customers"),
    ],
)
async def test_api_errors_without_a_hint_get_one(
    server: CStarMCPServer, args: dict[str, Any], code: str, hint: str
) -> None:
    result = await call(server, "cstar_create_ticket", args)
    assert result.is_error and text(result).startswith(f"Error ({code}):"), text(result)
    assert "Request ID: req_" in text(result)
    assert hint in text(result)


async def test_reused_idempotency_key_says_to_use_a_new_one(server: CStarMCPServer) -> None:
    first = await call(server, "cstar_create_ticket", {"title": "First", "idempotencyKey": "mcp-reuse-1"})
    assert not first.is_error, text(first)
    other = await call(server, "cstar_create_ticket", {"title": "Another", "idempotencyKey": "mcp-reuse-1"})
    assert other.is_error and text(other).startswith("Error (idempotency_key_reused):")
    assert "Hint: Use a new idempotencyKey for a different ticket" in text(other)


async def test_not_found_on_create_points_to_the_customer_list() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        body = {"success": False, "error": {"type": "not_found_error", "code": "not_found", "message": "No customer."}}
        return httpx.Response(404, json=body, headers={"x-cstar-request-id": "req_404"})

    server = make_server(
        "sk_test_" + "N" * 32, "https://api.example.com", transport=httpx.MockTransport(handler), team_id="t1"
    )
    created = await call(server, "cstar_create_ticket", {"title": "x", "customerId": "cus_nope"})
    assert created.is_error and "Hint: cstar_list_customers finds customer IDs" in text(created)
    listed = await call(server, "cstar_list_tickets", {"customerId": "cus_nope"})
    assert listed.is_error and "Hint: List first with cstar_list_" in text(listed)


async def test_no_key_still_serves_and_says_to_log_in(emu: LocalEmulator) -> None:
    keyless = make_server(None, emu.base_url)
    result = await call(keyless, "cstar_list_tickets")
    assert result.is_error and "Error (not_logged_in)" in text(result) and "`cstar login`" in text(result)
    status = await call(keyless, "cstar_get_status")
    assert status.is_error and f"Base URL: {emu.base_url}" in text(status)
    assert not (await call(keyless, "cstar_list_events")).is_error


async def test_publishable_key_cannot_create(emu: LocalEmulator) -> None:
    read_only_key = make_server(emu.keys["pk_test"], emu.base_url)
    assert not (await call(read_only_key, "cstar_list_tickets")).is_error
    result = await call(read_only_key, "cstar_create_ticket", {"title": "nope"})
    assert result.is_error and "secret key" in text(result)
    assert "Request ID: req_" in text(result)


async def test_revoked_key(emu: LocalEmulator) -> None:
    made = api(emu, "POST", "api-keys", json={"name": "mcp revoked"})
    keys = api(emu, "GET", "api-keys")
    key_id = next(k["id"] for k in keys if k["redacted"] == made["redacted"])
    api(emu, "DELETE", f"api-keys/{key_id}")
    revoked = make_server(made["key"], emu.base_url)
    result = await call(revoked, "cstar_list_tickets")
    assert result.is_error and "Error (key_revoked)" in text(result) and "Request ID: req_" in text(result)
    assert made["key"] not in text(result)
    status = await call(revoked, "cstar_get_status")
    assert status.is_error and made["redacted"] in text(status) and made["key"] not in text(status)


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def test_server_down_is_a_readable_error(emu: LocalEmulator) -> None:
    down = make_server(emu.keys["sk_test"], f"http://127.0.0.1:{_closed_port()}", timeout=5.0)
    for tool, args in [
        ("cstar_list_tickets", {}),
        ("cstar_get_ticket", {"ticketId": "tkt_1"}),
        ("cstar_get_status", {}),
    ]:
        result = await call(down, tool, args)
        assert result.is_error
        assert text(result).startswith("Error (connection_failed): The cStar API at http://127.0.0.1:")
        assert "Hint:" in text(result)


async def test_invisible_characters_are_stripped(server: CStarMCPServer, emu: LocalEmulator) -> None:
    title = "Refund \u202eplease\u202c now\u200b \x1b[31murgent\x1b[0m\u2066!\u2069\ufeff"
    created = await call(server, "cstar_create_ticket", {"title": title, "customerName": "Eve\u200d\u200b"})
    ticket_id = created.structured_content["ticket"]["id"]
    api(emu, "POST", f"tickets/{ticket_id}/messages", json={"content": "Hi\u200b\x1b[2J\x07 there\U000e0041"})
    clean_title = "Refund please now urgent!"
    got = await call(server, "cstar_get_ticket", {"ticketId": ticket_id})
    listed = await call(server, "cstar_list_tickets", {"search": "Refund", "pageSize": 100})
    for result in (created, got, listed):
        for blob in (text(result), str(result.structured_content)):
            assert not any(ch in blob for ch in "\u202e\u202c\u200b\u200d\x1b\x07\u2066\u2069\ufeff\U000e0041")
    assert created.structured_content["ticket"]["title"] == clean_title
    assert got.structured_content["ticket"]["title"] == clean_title
    assert got.structured_content["ticket"]["messages"][-1]["content"] == "Hi there"
    assert clean_title in [t["title"] for t in listed.structured_content["tickets"]]


async def test_long_message_is_trimmed_and_said_so(server: CStarMCPServer, emu: LocalEmulator) -> None:
    created = await call(server, "cstar_create_ticket", {"title": "Long thread"})
    ticket_id = created.structured_content["ticket"]["id"]
    api(emu, "POST", f"tickets/{ticket_id}/messages", json={"content": "log line\n" * 1000})
    got = (await call(server, "cstar_get_ticket", {"ticketId": ticket_id})).structured_content
    message = got["ticket"]["messages"][-1]
    assert message["contentTrimmed"] and message["content"].endswith("…") and len(message["content"]) <= 2000
    assert "trimmed to 2000 characters" in got["note"]


async def test_unexpected_failure_is_a_result_that_hides_the_details() -> None:
    secret = "sk_test_" + "Q" * 32

    def broken_settings() -> Any:
        raise RuntimeError(f"config exploded near {secret}")

    server = build_server(ApiAccess(broken_settings))
    result = await call(server, "cstar_list_tickets")
    assert result.is_error
    assert text(result).startswith("Error (internal_error): cstar_list_tickets failed unexpectedly (RuntimeError).")
    assert secret not in text(result) and "exploded" not in text(result)


async def test_server_errors_keep_their_request_id() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        body = {
            "success": False,
            "error": {"type": "api_error", "code": "internal_error", "message": "Database is down."},
        }
        return httpx.Response(500, json=body, headers={"x-cstar-request-id": "req_500"})

    server = make_server(
        "sk_test_" + "R" * 32, "https://api.example.com", transport=httpx.MockTransport(handler), team_id="t1"
    )
    result = await call(server, "cstar_list_customers")
    assert result.is_error
    assert text(result).splitlines()[:2] == ["Error (internal_error): Database is down.", "Request ID: req_500"]
