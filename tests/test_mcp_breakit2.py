"""Three findings from outside testing of ``cstar mcp-server``:

1. The last scrub of stdout leaves the JSON-RPC ``id`` as the client sent it (a key-shaped ID came
   back redacted, so the answer could never be matched), while still scrubbing everything else.
2. ``cstar_wait_for_event`` polls on through an API that stops answering (the emulator killed and
   restarted mid-wait) instead of failing at once; permanent errors still end it at once.
3. A notification never gets an answer, whatever its params (they are dropped with a warning); an
   ``initialize`` with bad params says what is wrong.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import anyio
import anyio.to_thread
import pytest
from mcp import Client
from mcp.shared.message import SessionMessage
from mcp_types import CallToolResult, ErrorData, JSONRPCError, JSONRPCNotification, JSONRPCResponse

from cstar_cli.mcp.access import ApiAccess
from cstar_cli.mcp.framing import decode_line
from cstar_cli.mcp.server import CStarMCPServer, build_server
from cstar_cli.mcp.stdio import scrubbed_line
from cstar_cli.settings import resolve
from tests.support.emulator import EmulatorProcess, LocalEmulator, trigger
from tests.test_mcp_stdio_framing import Server, offline_env

pytestmark = [pytest.mark.timeout(90)]

KEY = "sk_test_" + "A1b2" * 7 + "QvGL"
WHSEC = "whsec_" + "Zq9x" * 8
IDS: list[Any] = [KEY, WHSEC, f"req-{KEY}-1", 7, 0, -3, 12345678901234567890, 'a"b\\c\n\t\u2028é\U0001f600', ""]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


# --- 1: the id survives the scrub ------------------------------------------------------------------


@pytest.mark.parametrize("request_id", IDS)
def test_the_id_of_every_kind_of_answer_is_left_as_it_was(request_id: Any) -> None:
    answers = [
        SessionMessage(JSONRPCResponse(jsonrpc="2.0", id=request_id, result={"echo": KEY, "secret": WHSEC})),
        SessionMessage(JSONRPCError(jsonrpc="2.0", id=request_id, error=ErrorData(code=-1, message=KEY, data=WHSEC))),
        json.dumps({"jsonrpc": "2.0", "id": request_id, "error": {"code": -32600, "message": f"bad {KEY}"}}),
        json.dumps([{"jsonrpc": "2.0", "id": request_id, "error": {"code": -32600, "message": KEY}}, {"id": None}]),
    ]
    for answer in answers:
        line = scrubbed_line(answer)
        parsed = json.loads(line)
        first = parsed[0] if isinstance(parsed, list) else parsed
        assert first["id"] == request_id and type(first["id"]) is type(request_id)
        rest = json.dumps({k: v for k, v in first.items() if k != "id"}, ensure_ascii=False)
        assert KEY not in rest and WHSEC not in rest, line
        assert "sk_test_…QvGL" in rest


def test_a_null_id_stays_null_and_a_notification_is_scrubbed_whole() -> None:
    error = SessionMessage(JSONRPCError(jsonrpc="2.0", id=None, error=ErrorData(code=-32700, message=KEY)))
    assert json.loads(scrubbed_line(error)) == {
        "jsonrpc": "2.0",
        "id": None,
        "error": {"code": -32700, "message": "sk_test_…QvGL"},
    }
    note = SessionMessage(JSONRPCNotification(jsonrpc="2.0", method="notifications/message", params={"data": KEY}))
    assert KEY not in scrubbed_line(note)
    assert json.loads(scrubbed_line('{"jsonrpc":"2.0","id":null,"error":{"code":1,"message":"m"}}'))["id"] is None


@pytest.fixture
def offline_server() -> Iterator[Server]:
    server = Server(offline_env())
    yield server
    server.kill()


def test_key_shaped_ids_come_back_whole_over_stdio(offline_server: Server) -> None:
    for request_id in IDS:
        offline_server.ping(request_id)  # asserts the answer is exactly {"id": request_id, "result": {}}
    # The SDK's error, a framing error and a tool result: the id whole, the text scrubbed.
    offline_server.send(json.dumps({"jsonrpc": "2.0", "id": KEY, "method": f"no/{KEY}"}).encode())
    answer = offline_server.answer()
    assert answer["id"] == KEY and KEY not in json.dumps(answer["error"])
    offline_server.send(json.dumps({"jsonrpc": "2.0", "id": WHSEC, "method": "ping", "params": "x"}).encode())
    answer = offline_server.answer()
    assert answer["id"] == WHSEC and answer["error"]["code"] == -32600
    call = {"name": "cstar_verify_signature", "arguments": {"payload": KEY, "signature": "t=1,v1=00", "secret": WHSEC}}
    offline_server.send(json.dumps({"jsonrpc": "2.0", "id": KEY, "method": "tools/call", "params": call}).encode())
    answer = offline_server.answer()
    assert answer["id"] == KEY
    assert KEY not in json.dumps(answer["result"]) and WHSEC not in json.dumps(answer["result"])


# --- 3: notifications are never answered; initialize says what is wrong ---------------------------


@pytest.mark.parametrize("params", ['"x"', "5", "[1,2]", "null", "true"])
def test_a_notification_with_params_that_are_not_an_object_is_dropped(params: str) -> None:
    for method in ("notifications/initialized", "notifications/whatever"):
        decoded = decode_line(f'{{"jsonrpc":"2.0","method":"{method}","params":{params}}}'.encode())
        assert decoded.reply is None and decoded.message is None


def test_a_request_with_such_params_is_still_answered() -> None:
    assert json.loads(decode_line(b'{"jsonrpc":"2.0","id":3,"method":"ping","params":5}').reply or "")["id"] == 3


def test_bad_notifications_get_no_answer_over_stdio_and_serving_goes_on(offline_server: Server) -> None:
    for params in ('"x"', "5", "[1,2]", "null"):
        offline_server.send(f'{{"jsonrpc":"2.0","method":"notifications/initialized","params":{params}}}'.encode())
    offline_server.ping("after")  # the next line out is this ping's answer: nothing came for the four
    code, stderr, _ = offline_server.close()
    assert code == 0
    assert stderr.count("dropped notification 'notifications/initialized': params must be an object") == 4


@pytest.mark.parametrize(
    ("params", "message", "fields"),
    [
        ({}, "missing protocolVersion, capabilities, clientInfo", ["protocolVersion", "capabilities", "clientInfo"]),
        (
            {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": 5}},
            "missing clientInfo.version; clientInfo.name: Input should be a valid string",
            ["clientInfo.name", "clientInfo.version"],
        ),
    ],
)
def test_an_initialize_with_bad_params_says_what_is_wrong(
    offline_server: Server, params: dict[str, Any], message: str, fields: list[str]
) -> None:
    offline_server.send(
        json.dumps({"jsonrpc": "2.0", "id": "again", "method": "initialize", "params": params}).encode()
    )
    answer = offline_server.answer()
    assert answer["id"] == "again"
    assert answer["error"]["code"] == -32602
    assert answer["error"]["message"] == f"Invalid params for initialize: {message}"
    assert [e["field"] for e in answer["error"]["data"]["errors"]] == fields
    offline_server.ping(1)


# --- 2: a wait polls on through an outage ----------------------------------------------------------


def _server(base_url: str, key: str) -> CStarMCPServer:
    return build_server(ApiAccess(lambda: resolve(api_key=key, base_url=base_url), max_retries=0))


def _text(result: CallToolResult) -> str:
    return " ".join(getattr(c, "text", "") for c in result.content)


@pytest.mark.anyio
@pytest.mark.e2e
async def test_a_wait_without_since_survives_the_api_going_away_and_sees_the_gap_s_event(
    emulator_process: EmulatorProcess,
) -> None:
    emu = emulator_process
    trigger(emu, "customer.created")  # a stored event: the wait's cursor is a real one
    server = _server(emu.base_url, emu.keys["sk_test"])
    phase = {"killed": False, "restarted": False}
    triggered: list[str] = []

    def restart_and_trigger() -> None:
        emu.restart()
        triggered.append(trigger(emu, "ticket.created"))

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        if not phase["killed"]:
            phase["killed"] = True  # the cursor is established: the wait polls
            await anyio.to_thread.run_sync(emu.kill)
        elif message and "not answering" in message and not phase["restarted"]:
            phase["restarted"] = True
            await anyio.to_thread.run_sync(restart_and_trigger)

    async with Client(server) as client:
        result = await client.call_tool(
            "cstar_wait_for_event", {"eventType": "ticket.*", "timeoutSeconds": 60}, progress_callback=on_progress
        )
    assert phase == {"killed": True, "restarted": True}
    assert not result.is_error, _text(result)
    assert result.structured_content is not None
    assert result.structured_content["event"]["id"] == triggered[0]


@pytest.mark.anyio
async def test_a_wait_with_since_on_a_dead_api_ends_with_its_cursor_and_says_so() -> None:
    server = _server("http://127.0.0.1:9", KEY)
    async with Client(server) as client:
        result = await client.call_tool("cstar_wait_for_event", {"since": "evt_abc", "timeoutSeconds": 1})
    assert not result.is_error, _text(result)
    assert result.structured_content is not None
    assert result.structured_content["event"] is None and result.structured_content["cursor"] == "evt_abc"
    note = result.structured_content["note"]
    assert "The cStar API was unreachable for part of the wait (about " in note, note
    assert "could not be reached" in note and "Call again with since=cursor" in note


@pytest.mark.anyio
async def test_a_wait_that_never_reached_the_api_has_no_cursor_to_give() -> None:
    async with Client(_server("http://127.0.0.1:9", KEY)) as client:
        result = await client.call_tool("cstar_wait_for_event", {"timeoutSeconds": 1})
    text = _text(result)
    assert result.is_error
    assert text.startswith("Error (timeout): No cursor to wait from: the cStar API did not answer"), text
    assert '"cursor"' not in text


@pytest.mark.anyio
@pytest.mark.e2e
@pytest.mark.timeout(30)  # a wait that polled on through a 401 would take its whole 60 s
async def test_a_permanent_error_still_ends_a_wait_at_once(emulator_session: LocalEmulator) -> None:
    async with Client(_server(emulator_session.base_url, "sk_test_" + "x" * 32)) as client:
        unauthorized = await client.call_tool("cstar_wait_for_event", {"timeoutSeconds": 60})
    async with Client(_server(emulator_session.base_url, emulator_session.keys["sk_test"])) as client:
        unknown = await client.call_tool("cstar_wait_for_event", {"since": "evt_doesnotexist", "timeoutSeconds": 60})
    for result in (unauthorized, unknown):
        assert result.is_error and not _text(result).startswith("Error (timeout)"), _text(result)
