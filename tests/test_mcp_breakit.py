"""What a stranger tried against ``cstar mcp-server``, and what it must do instead.

- Secrets: an API key or a ``whsec_`` signing secret placed anywhere in any argument value (inside
  objects, nested lists, glued to other text, after a newline) never comes back whole, nor more of it
  than its redacted tail, in a result, an error, a JSON-RPC error or a log line (hypothesis, in-process;
  and the findings as raw JSON-RPC over stdio). The signature doctor never quotes a secret.
- Notifications with params of any shape never stop the server (hypothesis over the framing; the
  finding over stdio, with a wait in flight that still gets its answer).
- ``cstar_wait_for_event`` never answers a cursor it did not establish.
- API field names come back as the tool's argument names (table-driven, at the network edge).
- Durations read well.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from typing import Any

import anyio
import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from mcp import Client
from mcp.shared.message import SessionMessage
from mcp_types import CallToolResult

from cstar_cli.mcp.access import ApiAccess, Secrets
from cstar_cli.mcp.framing import decode_line
from cstar_cli.mcp.server import CStarMCPServer, _InFlight, build_server
from cstar_cli.mcp.tools import SPECS, seconds_text
from cstar_cli.protocol.diagnose import diagnose
from cstar_cli.protocol.keys import scrub_secrets
from cstar_cli.settings import resolve
from tests.support.cli import ROOT, close_pipes, cstar, cstar_env
from tests.support.emulator import LocalEmulator, trigger

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(120)]

BASE62 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
SERVER_KEY = "sk_test_" + "Zq7" * 10


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def offline() -> CStarMCPServer:
    """Every tool, pointed at a closed port: API calls fail at once, argument checks run as usual."""
    return build_server(ApiAccess(lambda: resolve(api_key=SERVER_KEY, base_url="http://127.0.0.1:9"), max_retries=0))


def everything(result: CallToolResult) -> str:
    """All a client reads of a result: the text content and the structured content."""
    texts = [c.text for c in result.content if hasattr(c, "text")]
    return "\n".join(texts) + json.dumps(result.structured_content, ensure_ascii=False)


def leaks(secret: str, text: str) -> list[str]:
    """The pieces of ``secret`` in ``text`` beyond its prefix and redacted tail: the whole secret, or
    any 8 characters of its body in a row (the tail shown is 4)."""
    prefix = re.match(r"(?:sk|pk)_(?:test|live)_|whsec_", secret)
    body = secret[prefix.end() if prefix else 0 :].strip()
    found = [secret] if secret.strip() in text else []
    return found + [body[i : i + 8] for i in range(len(body) - 7) if body[i : i + 8] in text]


# --- 1, 2: secrets -----------------------------------------------------------------------------------

prefixes = st.sampled_from(["sk_test_", "sk_live_", "pk_test_", "pk_live_", "whsec_"])
bodies = st.text(st.sampled_from(BASE62), min_size=24, max_size=48).filter(lambda b: len(set(b)) >= 8)
secrets_st = st.builds(lambda p, b: p + b, prefixes, bodies)
# Where the secret sits in a string: alone, glued to text, after an escape-worthy character.
framings = st.sampled_from(["{}", "x{}", "{}y", "\n{}", "{}\n", "a b {} c", '"{}"', "\\{}"])


def placed(secret: str, framing: str, path: list[tuple[str, Any]]) -> Any:
    value: Any = framing.format(secret)
    for kind, key in reversed(path):
        value = {key: value} if kind == "dict" else [value]
    return value


paths = st.lists(st.tuples(st.sampled_from(["dict", "list"]), st.sampled_from(["k", "a", "sk_test_", "x"])), max_size=3)
tool_names = st.sampled_from([s.name for s in SPECS])


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    tool=tool_names, arg_pick=st.integers(0, 20), secret=secrets_st, framing=framings, path=paths, as_name=st.booleans()
)
async def test_a_secret_anywhere_in_any_argument_never_comes_back(
    offline: CStarMCPServer,
    tool: str,
    arg_pick: int,
    secret: str,
    framing: str,
    path: list[tuple[str, Any]],
    as_name: bool,
) -> None:
    async with Client(offline) as client:
        schema = next(t.input_schema for t in (await client.list_tools()).tools if t.name == tool)
        props = list(schema.get("properties") or {}) or ["anything"]
        arg = props[arg_pick % len(props)]
        value = placed(secret, framing, path)
        arguments = {framing.format(secret): 1} if as_name else {arg: value}
        result = await client.call_tool(tool, arguments)
    assert not leaks(secret, everything(result)), everything(result)


@pytest.mark.parametrize(
    ("tool", "arguments"),
    [
        ("cstar_list_tickets", {"status": {"k": "{K}"}}),
        ("cstar_list_tickets", {"pageSize": {"k": "{K}"}}),
        ("cstar_list_tickets", {"search": [["{K}"]]}),
        ("cstar_get_ticket", {"ticketId": {"a": {"b": "{K}"}}}),
        ("cstar_trigger_webhook", {"event": "ticket.created", "override": [{"x": "{K}"}]}),
        ("cstar_list_tickets", {"status": "{S}"}),
        ("cstar_list_tickets", {"search": {"k": "{S}"}}),
        ("cstar_verify_signature", {"payload": "{}", "signature": "{S}", "secret": "{S}"}),
        ("cstar_verify_signature", {"payload": "{}", "signature": "t={S}", "secret": "{S}"}),
        ("cstar_verify_signature", {"payload": "{}", "signature": "X-Signature: {S}", "secret": "{S}"}),
        ("cstar_verify_signature", {"payload": "{}", "signature": "{S}\n", "secret": "{S}\n"}),
    ],
)
async def test_the_reported_leaks_are_redacted(offline: CStarMCPServer, tool: str, arguments: dict[str, Any]) -> None:
    secret = "whsec_c35fb311b03f482aac36297ce2dc1ff601aa99b7324b"
    text = json.dumps(arguments).replace("{K}", SERVER_KEY).replace("{S}", secret)
    async with Client(offline) as client:
        result = await client.call_tool(tool, json.loads(text))
    shown = everything(result)
    assert not leaks(SERVER_KEY, shown) and not leaks(secret, shown), shown
    assert "…" in shown
    assert "324b\\n" not in shown and "324b\n" not in shown


@pytest.mark.parametrize(
    ("header", "detail"),
    [
        ("{S}", "'whsec_…324b' is not key=value"),
        ("t={S}", "t=whsec_…324b is not a unix timestamp"),
        ("X-Signature: {S}", "'whsec_…324b' is not key=value"),
        ("{S}\n", "'whsec_…324b' is not key=value"),
        ("t=1,{S}=1", "(found whsec_…324b=)"),
    ],
)
def test_the_doctor_never_quotes_a_secret(header: str, detail: str) -> None:
    secret = "whsec_c35fb311b03f482aac36297ce2dc1ff601aa99b7324b"
    for given_secret in (secret, secret + "\n", "whsec_another0123456789abcdef0123"):
        verdict = diagnose(b"{}", header.replace("{S}", secret), given_secret)
        assert verdict.reason == "malformed_header"
        assert detail in verdict.detail, verdict.detail
        assert not leaks(secret, verdict.detail) and "\n" not in verdict.detail
    # A secret of no known shape is masked because it is the one given.
    plain = "0123456789abcdefghijKLMNOP"
    verdict = diagnose(b"{}", plain, plain + "\n")
    assert not leaks(plain, verdict.detail) and "…MNOP" in verdict.detail


def test_webhooks_verify_cli_does_not_echo_a_pasted_secret() -> None:
    secret = "whsec_c35fb311b03f482aac36297ce2dc1ff601aa99b7324b"
    run = cstar("webhooks", "verify", "-s", secret, "-H", secret, input="{}")
    assert run.code != 0
    assert not leaks(secret, run.stdout + run.stderr), run.stdout + run.stderr
    assert "whsec_…324b" in run.stdout + run.stderr


def test_scrubber_shapes() -> None:
    key = "sk_live_" + "Ab1" * 9
    assert scrub_secrets(f'{{"k": "{key}"}}') == f'{{"k": "sk_live_…{key[-4:]}"}}'
    assert scrub_secrets(f"\\n{key}") == f"\\nsk_live_…{key[-4:]}"
    assert scrub_secrets("sk_test_abc123") == "sk_test_…"  # a piece: no tail
    assert scrub_secrets("sk_test_…a1b2 and whsec_…") == "sk_test_…a1b2 and whsec_…"
    assert scrub_secrets("no secrets: sk_ pk_test_ whsec_") == "no secrets: sk_ pk_test_ whsec_"
    secrets = Secrets()
    secrets.add("whsec_known-with-dash_0123456789\n")
    assert secrets.scrub("x whsec_known-with-dash_0123456789 y") == "x whsec_…6789 y"


def _initialize() -> bytes:
    request = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "initialize",
        "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}},
    }
    return (json.dumps(request) + "\n").encode()


def _line(message: dict[str, Any]) -> bytes:
    return (json.dumps({"jsonrpc": "2.0", **message}) + "\n").encode()


class Server:
    """``cstar mcp-server`` as a subprocess, driven by raw JSON-RPC lines."""

    def __init__(self, emu: LocalEmulator, **env: str) -> None:
        environ = cstar_env({"CSTAR_API_KEY": emu.keys["sk_test"], "CSTAR_BASE_URL": emu.base_url, **env})
        self.lines: list[str] = []
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "cstar_cli", "mcp-server"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=environ,
            cwd=ROOT,
        )
        self.send_bytes(_initialize())
        assert self.read()["id"] == 1
        self.send({"method": "notifications/initialized"})

    def send_bytes(self, data: bytes) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(data)
        self.proc.stdin.flush()

    def send(self, message: dict[str, Any]) -> None:
        self.send_bytes(_line(message))

    def read(self) -> dict[str, Any]:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        assert line, "the server closed stdout"
        self.lines.append(line.decode())
        return dict(json.loads(line))

    def finish(self) -> tuple[int, str, str]:
        """Close stdin; the exit code, the rest of stdout and all of stderr."""
        assert self.proc.stdin is not None and self.proc.stdout is not None and self.proc.stderr is not None
        self.proc.stdin.close()
        try:
            code = self.proc.wait(timeout=30)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()
        rest, err = self.proc.stdout.read().decode(), self.proc.stderr.read().decode()
        close_pipes(self.proc)
        return code, rest, err


@pytest.fixture
def mcp_process(emulator_session: LocalEmulator) -> Iterator[Server]:
    server = Server(emulator_session, CSTAR_DEBUG="1")
    try:
        yield server
    finally:
        if server.proc.poll() is None:
            server.proc.kill()
            server.proc.wait()
            close_pipes(server.proc)


@pytest.mark.e2e
def test_raw_json_rpc_findings_leak_nothing(mcp_process: Server, emulator_session: LocalEmulator) -> None:
    key = emulator_session.keys["sk_test"]
    secret = "whsec_c35fb311b03f482aac36297ce2dc1ff601aa99b7324b"
    calls: list[dict[str, Any]] = [
        {"name": "cstar_list_tickets", "arguments": {"status": {"k": key}}},
        {"name": "cstar_list_tickets", "arguments": {"search": [[key]], "pageSize": {"k": key}}},
        {"name": "cstar_get_ticket", "arguments": {"ticketId": {"a": {"b": key}}}},
        {"name": "cstar_trigger_webhook", "arguments": {"event": "ticket.created", "override": [{"x": key}]}},
        {"name": "cstar_list_tickets", "arguments": {"status": secret}},
        {
            "name": "cstar_verify_signature",
            "arguments": {"payload": "{}", "signature": f"t={secret}", "secret": secret},
        },
        {"name": key, "arguments": {}},  # an unknown tool named by the key
        {"name": "cstar_list_tickets", "arguments": key},  # the SDK's own -32602
    ]
    for i, params in enumerate(calls, start=10):
        mcp_process.send({"id": i, "method": "tools/call", "params": params})
        assert mcp_process.read()["id"] == i
    mcp_process.send({"id": key, "method": "nope/" + key})  # a JSON-RPC error for a key-shaped method
    assert mcp_process.read()["id"] == key  # the client's own id comes back whole, or it could not match it
    code, rest, stderr = mcp_process.finish()
    out = ("".join(mcp_process.lines) + rest).replace(f'"id":"{key}"', '"id":"<the request id>"')
    assert code == 0, stderr
    for text in (out, stderr):
        assert not leaks(key, text) and not leaks(secret, text), text


# --- 3: notifications ----------------------------------------------------------------------------

json_values = st.recursive(
    st.one_of(
        st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=8)
    ),
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=8), inner, max_size=3)),
    max_leaves=8,
)
methods = st.sampled_from(
    [
        "notifications/cancelled",
        "notifications/progress",
        "notifications/initialized",
        "notifications/roots/list_changed",
        "notifications/message",
        "notifications/whatever",
    ]
)
params_st = st.one_of(
    json_values,
    st.dictionaries(
        st.sampled_from(["requestId", "reason", "progressToken", "progress", "total", "_meta"]), json_values
    ),
)


@settings(max_examples=300, deadline=None)
@given(method=methods, params=params_st, has_params=st.booleans())
def test_a_notification_with_any_params_is_never_answered_and_never_breaks_the_loop(
    method: str, params: Any, has_params: bool
) -> None:
    message: dict[str, Any] = {"jsonrpc": "2.0", "method": method}
    if has_params:
        message["params"] = params
    decoded = decode_line(json.dumps(message).encode())
    if not isinstance(params, dict) and has_params:
        assert decoded.reply is None and decoded.message is None  # dropped: params must be an object
        return
    assert decoded.reply is None
    if decoded.message is not None:
        in_flight = _InFlight()
        in_flight.incoming(SessionMessage(decoded.message))  # must not raise
        if method == "notifications/cancelled":
            request_id = (decoded.message.params or {}).get("requestId")
            assert request_id is None or isinstance(request_id, (str, int))


@pytest.mark.e2e
def test_a_malformed_cancel_is_dropped_and_the_wait_in_flight_is_answered(
    mcp_process: Server, emulator_session: LocalEmulator
) -> None:
    recent = {"name": "cstar_recent_events", "arguments": {"limit": 1}}
    mcp_process.send({"id": 2, "method": "tools/call", "params": recent})
    since = json.loads(mcp_process.read()["result"]["content"][0]["text"])["cursor"]
    wait = {
        "name": "cstar_wait_for_event",
        "arguments": {"eventType": "ticket.*", "since": since, "timeoutSeconds": 30},
    }
    mcp_process.send({"id": 3, "method": "tools/call", "params": wait})
    for bad in ({"requestId": {"a": 1}}, {"requestId": [1]}, {"requestId": 1.5}, {"_meta": 5}):
        mcp_process.send({"method": "notifications/cancelled", "params": bad})
    mcp_process.send({"method": "notifications/progress", "params": {"progressToken": {}, "progress": "x"}})
    mcp_process.send({"method": "notifications/initialized", "params": {"_meta": []}})
    mcp_process.send({"id": 4, "method": "tools/list"})
    assert mcp_process.read()["id"] == 4  # still serving
    trigger(emulator_session, "ticket.created")
    answer = mcp_process.read()
    assert answer["id"] == 3 and answer["result"]["isError"] is False
    assert answer["result"]["structuredContent"]["event"]["type"] == "ticket.created"
    code, _, stderr = mcp_process.finish()
    assert code == 0, stderr
    assert "TaskGroup" not in stderr and "Traceback" not in stderr
    assert stderr.count("dropped notification 'notifications/cancelled': invalid params") == 4


# --- 4: the cursor of a wait --------------------------------------------------------------------


@pytest.fixture
def hung_events() -> Iterator[threading.Event]:
    """Released at teardown: until then every API request hangs (at the network edge)."""
    release = threading.Event()
    yield release
    release.set()


async def test_a_wait_that_cannot_find_the_newest_event_in_time_is_an_error_not_a_cursor(
    hung_events: threading.Event,
) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        hung_events.wait(60)
        return httpx.Response(503)

    api = ApiAccess(
        lambda: resolve(api_key=SERVER_KEY, base_url="http://127.0.0.1:9"),
        max_retries=0,
        transport=httpx.MockTransport(handler),
    )
    async with Client(build_server(api)) as client:
        result = await client.call_tool("cstar_wait_for_event", {"timeoutSeconds": 0.3})
    text = everything(result)
    assert result.is_error, text
    assert text.startswith("Error (timeout): No cursor to wait from")
    assert "since= the cursor from cstar_recent_events" in text and "longer timeoutSeconds" in text
    assert '"cursor"' not in text


async def test_a_wait_without_since_never_answers_start_when_events_exist(emulator_session: LocalEmulator) -> None:
    trigger(emulator_session, "ticket.created")
    api = ApiAccess(lambda: resolve(api_key=emulator_session.keys["sk_test"], base_url=emulator_session.base_url))
    async with Client(build_server(api)) as client:
        for timeout in (1e-9, 0.001, 0.05):
            result = await client.call_tool("cstar_wait_for_event", {"timeoutSeconds": timeout})
            if result.is_error:
                assert everything(result).startswith("Error (timeout)")
            else:
                assert result.structured_content is not None
                assert result.structured_content["cursor"].startswith("evt_")
    api.close()


# --- 5: API fields named as arguments -----------------------------------------------------------

FIELD_CASES = [
    ("cstar_wait_for_event", {"eventType": "ticket.*", "since": "evt_abc", "timeoutSeconds": 5}, "type", "eventType"),
    ("cstar_wait_for_event", {"since": "evt_abc", "timeoutSeconds": 5}, "after", "since"),
    ("cstar_recent_events", {}, "type", "type"),
    ("cstar_recent_events", {"before": "evt_abc"}, "before", "before"),
    ("cstar_trigger_webhook", {"event": "ticket.created", "payload": {"ticket": {}}}, "data", "payload"),
    ("cstar_trigger_webhook", {"event": "ticket.created"}, "event", "event"),
    ("cstar_list_tickets", {}, "customerId", "customerId"),
    ("cstar_list_tickets", {}, "pageSize", "pageSize"),
    ("cstar_list_customers", {}, "sentiment", "sentiment"),
    ("cstar_list_articles", {}, "isPublic", "isPublic"),
    ("cstar_create_ticket", {"title": "t"}, "customerName", "customerName"),
    ("cstar_create_ticket", {"title": "t"}, "tags", "tags"),
    ("cstar_get_ticket", {"ticketId": "tkt_1"}, "ticketId", "ticketId"),
    ("cstar_get_customer", {"customerId": "cus_1"}, "customerId", "customerId"),
    ("cstar_resend_event", {"eventId": "evt_1"}, "webhookId", "webhookId"),
]


@pytest.mark.parametrize(("tool", "arguments", "api_field", "argument"), FIELD_CASES)
async def test_an_api_field_error_names_the_tool_argument(
    tool: str, arguments: dict[str, Any], api_field: str, argument: str
) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        error = {"type": "invalid_request_error", "code": "INVALID_FIELD", "message": "Bad value.", "field": api_field}
        return httpx.Response(400, json={"success": False, "error": error, "meta": {"requestId": "req_1"}})

    api = ApiAccess(
        lambda: resolve(api_key=SERVER_KEY, base_url="http://127.0.0.1:9"),
        max_retries=0,
        transport=httpx.MockTransport(handler),
    )
    async with Client(build_server(api)) as client:
        schema = next(t.input_schema for t in (await client.list_tools()).tools if t.name == tool)
        result = await client.call_tool(tool, arguments)
    assert result.is_error
    assert f"\nField: {argument}\n" in everything(result)
    assert argument in schema["properties"]


def test_every_field_map_names_real_arguments() -> None:
    server = build_server(ApiAccess(lambda: resolve(api_key=SERVER_KEY, base_url="http://127.0.0.1:9")))

    async def check() -> None:
        schemas = {t.name: t.input_schema for t in await server.list_tools()}
        for spec in SPECS:
            for api_field, argument in spec.fields:
                assert argument in schemas[spec.name]["properties"], (spec.name, api_field)
                assert spec.argument_for(api_field) == argument

    anyio.run(check)


# --- 6: durations ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(30, "30 s"), (1.5, "1.5 s"), (59.999, "60 s"), (0.25, "250 ms"), (0.001, "1 ms"), (1e-9, "under 1 ms")],
)
def test_durations_read_well(seconds: float, text: str) -> None:
    assert seconds_text(seconds) == text
