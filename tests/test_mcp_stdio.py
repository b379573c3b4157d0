"""``cstar mcp-server`` as an agent runs it: a real subprocess speaking MCP over stdin/stdout.

Driven by the SDK's stdio client (the initialize handshake, as Claude Code, Cursor and Continue do)
and, for the protocol-level checks, by hand: stdout must carry only JSON-RPC lines, and the process
must exit 0 without a traceback when stdin closes or on SIGTERM/SIGINT. When stdin closes, quick
requests still in flight are answered first; one stuck on an API that never answers is not waited for. The full API key must never
reach stderr, even with ``CSTAR_DEBUG=1`` logging.
"""

from __future__ import annotations

import contextlib
import json
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from mcp import Client
from mcp.client.stdio import StdioServerParameters, stdio_client

from tests.support.cli import ROOT, close_pipes, cstar_env, cstar_subprocess
from tests.support.emulator import LocalEmulator

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(60)]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def server_env(emu: LocalEmulator | None, **extra: str) -> dict[str, str]:
    env = cstar_env(extra)
    if emu is not None:
        env.setdefault("CSTAR_API_KEY", emu.keys["sk_test"])
        env["CSTAR_BASE_URL"] = emu.base_url
    return env


def stdio_client_for(args: list[str], env: dict[str, str], errlog: Any) -> Any:
    params = StdioServerParameters(command=sys.executable, args=["-m", "cstar_cli", *args], env=env, cwd=str(ROOT))
    return stdio_client(params, errlog=errlog)


def result_text(result: Any) -> str:
    return "\n".join(c.text for c in result.content if hasattr(c, "text"))


@pytest.mark.anyio
async def test_stdio_session_end_to_end(emulator_session: LocalEmulator, tmp_path: Path) -> None:
    key = emulator_session.keys["sk_test"]
    stderr_path = tmp_path / "stderr.txt"
    with stderr_path.open("w") as errlog:
        transport = stdio_client_for(["mcp-server"], server_env(emulator_session, CSTAR_DEBUG="1"), errlog)
        async with Client(transport, mode="legacy", read_timeout_seconds=30) as client:
            assert client.server_info is not None and client.server_info.name == "cstar"
            tools = (await client.list_tools()).tools
            assert len(tools) == 13 and all(t.output_schema and t.annotations for t in tools)

            status = await client.call_tool("cstar_get_status", {})
            assert not status.is_error, result_text(status)
            assert status.structured_content["team"]["id"] == emulator_session.team_id
            assert status.structured_content["keySource"] == "env"

            tickets = await client.call_tool("cstar_list_tickets", {"pageSize": 1})
            assert not tickets.is_error and len(tickets.structured_content["tickets"]) == 1

            missing = await client.call_tool("cstar_get_ticket", {"ticketId": "tkt_doesnotexist"})
            assert missing.is_error and "Error (not_found)" in result_text(missing)
            assert "Request ID: req_" in result_text(missing)

            bad = await client.call_tool("cstar_list_tickets", {"pageSize": 500})
            assert bad.is_error and "pageSize" in result_text(bad)
            for result in (status, tickets, missing, bad):
                assert key not in result_text(result)
    stderr = stderr_path.read_text()
    assert key not in stderr
    assert "Traceback" not in stderr


@pytest.mark.anyio
async def test_read_only_and_api_key_flag(emulator_session: LocalEmulator, tmp_path: Path) -> None:
    key = emulator_session.keys["sk_test"]
    env = server_env(None, CSTAR_BASE_URL=emulator_session.base_url)
    with (tmp_path / "stderr.txt").open("w") as errlog:
        transport = stdio_client_for(["mcp-server", "--read-only", "--api-key", key], env, errlog)
        async with Client(transport, mode="legacy", read_timeout_seconds=30) as client:
            names = {t.name for t in (await client.list_tools()).tools}
            assert len(names) == 10 and not names & {"cstar_create_ticket", "cstar_trigger_webhook", "cstar_resend_event"}
            status = await client.call_tool("cstar_get_status", {})
            assert not status.is_error and status.structured_content["keySource"] == "flag"
    assert key not in (tmp_path / "stderr.txt").read_text()


@pytest.mark.anyio
async def test_tools_flag_and_no_key(tmp_path: Path) -> None:
    with (tmp_path / "stderr.txt").open("w") as errlog:
        transport = stdio_client_for(
            ["mcp-server", "--tools", "list_events,cstar_list_tickets"], server_env(None), errlog
        )
        async with Client(transport, mode="legacy", read_timeout_seconds=30) as client:
            names = [t.name for t in (await client.list_tools()).tools]
            assert names == ["cstar_list_tickets", "cstar_list_events"]
            events = await client.call_tool("cstar_list_events", {"category": "articles"})
            assert not events.is_error and len(events.structured_content["events"]) == 4
            tickets = await client.call_tool("cstar_list_tickets", {})
            assert tickets.is_error and "not_logged_in" in result_text(tickets)
            assert "`cstar login`" in result_text(tickets)


def test_unknown_tool_name_exits_2_before_serving() -> None:
    run = cstar_subprocess("mcp-server", "--tools", "cstar_list_tikets")
    assert run.code == 2
    assert run.stdout == ""
    assert "Did you mean cstar_list_tickets" in run.stderr


def test_bad_base_url_exits_2_before_serving() -> None:
    run = cstar_subprocess("mcp-server", "--base-url", "http://api.example.com")
    assert run.code == 2 and run.stdout == "" and "plain http" in run.stderr


def _initialize() -> bytes:
    request = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "initialize",
        "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}},
    }
    return (json.dumps(request) + "\n").encode()


@pytest.mark.parametrize("stop", ["stdin-closed", "SIGTERM", "SIGINT"])
def test_stdout_is_protocol_only_and_exit_is_clean(emulator_session: LocalEmulator, stop: str) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "cstar_cli", "mcp-server"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=server_env(emulator_session),
        cwd=ROOT,
    )
    assert proc.stdin is not None and proc.stdout is not None
    try:
        proc.stdin.write(_initialize())
        proc.stdin.write(b'{"jsonrpc":"2.0","method":"notifications/initialized"}\n')
        call = {"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {"name": "cstar_list_tickets"}}
        proc.stdin.write((json.dumps(call) + "\n").encode())
        proc.stdin.flush()
        replies = [json.loads(proc.stdout.readline()) for _ in range(2)]
        assert [r["id"] for r in replies] == [1, 2]
        assert replies[0]["result"]["serverInfo"]["name"] == "cstar"
        assert replies[1]["result"]["isError"] is False
        if stop == "stdin-closed":
            proc.stdin.close()
        else:
            proc.send_signal(getattr(signal, stop))
        code = proc.wait(timeout=15)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    rest = proc.stdout.read().decode()
    stderr = proc.stderr.read().decode() if proc.stderr else ""
    close_pipes(proc)
    assert code == 0, stderr
    assert all(json.loads(line)["jsonrpc"] == "2.0" for line in rest.splitlines() if line.strip())
    assert "Traceback" not in stderr
    assert emulator_session.keys["sk_test"] not in stderr


def _message(id_: int | None, method: str, params: dict[str, Any] | None = None) -> bytes:
    msg: dict[str, Any] = {"jsonrpc": "2.0", "method": method}
    if id_ is not None:
        msg["id"] = id_
    if params is not None:
        msg["params"] = params
    return (json.dumps(msg) + "\n").encode()


@dataclass(frozen=True)
class HungApi:
    """``url``: the server's base URL; ``asked`` is set once a whole request head was read."""

    url: str
    asked: threading.Event


@pytest.fixture
def hung_api() -> Iterator[HungApi]:
    """A local server that accepts connections, reads requests and never answers."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    held: list[socket.socket] = []
    api = HungApi(f"http://127.0.0.1:{listener.getsockname()[1]}", threading.Event())

    def accept() -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            held.append(conn)
            threading.Thread(target=read_head, args=(conn,), daemon=True).start()

    def read_head(conn: socket.socket) -> None:
        head = b""
        with contextlib.suppress(OSError):
            while b"\r\n\r\n" not in head and (chunk := conn.recv(65536)):
                head += chunk
        if b"\r\n\r\n" in head:
            api.asked.set()

    threading.Thread(target=accept, daemon=True).start()
    try:
        yield api
    finally:
        listener.close()
        for conn in held:
            conn.close()


def _start_server(env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "cstar_cli", "mcp-server"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        cwd=ROOT,
    )


def test_stdin_closed_with_a_call_stuck_on_the_api_exits_after_the_grace_period(hung_api: HungApi) -> None:
    env = server_env(None, CSTAR_API_KEY="sk_test_" + "abcdefgh" * 4, CSTAR_BASE_URL=hung_api.url)
    proc = _start_server(env)
    assert proc.stdin is not None and proc.stdout is not None
    try:
        proc.stdin.write(_initialize())
        proc.stdin.write(_message(None, "notifications/initialized"))
        proc.stdin.write(_message(2, "tools/call", {"name": "cstar_list_tickets", "arguments": {}}))
        proc.stdin.flush()
        assert json.loads(proc.stdout.readline())["id"] == 1
        assert hung_api.asked.wait(20), "the call never reached the API"
        proc.stdin.close()
        closed = time.monotonic()
        code = proc.wait(timeout=8)
        waited = time.monotonic() - closed
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    rest = proc.stdout.read().decode()
    stderr = proc.stderr.read().decode() if proc.stderr else ""
    close_pipes(proc)
    assert code == 0, stderr
    # The grace period was given (the call could not finish in it), then nothing more was written:
    # no late "Connection closed" error for the abandoned call.
    assert waited >= 1.5
    assert rest == ""
    assert "Traceback" not in stderr


def test_one_shot_input_gets_every_quick_answer_before_exit() -> None:
    proc = _start_server(server_env(None))
    requests = [
        _initialize(),
        _message(None, "notifications/initialized"),
        _message(2, "tools/call", {"name": "cstar_list_events", "arguments": {"category": "tickets"}}),
        _message(3, "tools/list"),
        _message(4, "tools/call", {"name": "cstar_list_tickets", "arguments": {}}),
    ]
    try:
        out, err = proc.communicate(b"".join(requests), timeout=8)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err.decode()
    replies = {r["id"]: r for r in map(json.loads, out.decode().splitlines())}
    assert sorted(replies) == [1, 2, 3, 4]
    assert replies[2]["result"]["isError"] is False
    assert len(replies[3]["result"]["tools"]) == 13
    # No key here: the API tool answers with the log-in error rather than being dropped.
    assert replies[4]["result"]["isError"] is True and "not_logged_in" in replies[4]["result"]["content"][0]["text"]
    assert b"Traceback" not in err
