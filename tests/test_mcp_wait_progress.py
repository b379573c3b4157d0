"""``cstar_wait_for_event`` in a client's hands: progress notifications while it waits (only when
the request carries a ``progressToken``), and a wait the client cancels.

In-process through the SDK's client (its ``progress_callback``), and by hand over stdio to a real
``cstar mcp-server`` subprocess, where the wire shows what is and is not sent. The MCP spec says a
cancelled request gets no response; the SDK's server (its default "interrupt" mode) cancels the
handler and writes nothing for that id. Every wait is a condition with a deadline.
"""

from __future__ import annotations

import json
import queue
import subprocess
import sys
import threading
from typing import Any

import pytest
from mcp import Client

from cstar_cli.mcp.server import CStarMCPServer
from tests.support.cli import ROOT, close_pipes, cstar_env, reap_at_teardown
from tests.support.emulator import LocalEmulator, trigger
from tests.support.mcp import *  # noqa: F403 - fixtures: anyio_backend, emu, server

pytestmark = [pytest.mark.anyio, pytest.mark.e2e, pytest.mark.timeout(60)]

# No test here triggers this type: a wait for it only ends at its timeout or by cancellation.
QUIET = "article.deleted"


# progress -----------------------------------------------------------------------------------------


async def test_a_wait_reports_progress_to_a_client_that_asks_for_it(server: CStarMCPServer) -> None:
    seen: list[tuple[float, float | None, str | None]] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        seen.append((progress, total, message))

    async with Client(server) as client:
        result = await client.call_tool(
            "cstar_wait_for_event", {"eventType": QUIET, "timeoutSeconds": 1.5}, progress_callback=on_progress
        )
    assert not result.is_error and result.structured_content is not None
    assert result.structured_content["event"] is None
    assert seen, "no progress notification during the wait"
    progress = [p for p, _, _ in seen]
    assert progress == sorted(set(progress)), "progress must increase with each notification"
    assert all(0 <= p <= 1.5 for p in progress)
    assert {total for _, total, _ in seen} == {1.5}
    assert all(m and m.startswith(f"Waiting for the next {QUIET} event: ") and m.endswith(" of 1.5 s") for _, _, m in seen)


async def test_a_wait_that_finds_its_event_still_answers_with_it(server: CStarMCPServer, emu: LocalEmulator) -> None:
    seen: list[float] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        seen.append(progress)
        if len(seen) == 1:
            trigger(emu, "customer.created")

    async with Client(server) as client:
        result = await client.call_tool(
            "cstar_wait_for_event", {"eventType": "customer.*", "timeoutSeconds": 30}, progress_callback=on_progress
        )
    assert not result.is_error and result.structured_content is not None
    assert result.structured_content["event"]["type"] == "customer.created"
    assert seen


async def test_the_injected_context_is_no_argument(server: CStarMCPServer) -> None:
    async with Client(server) as client:
        tools = {t.name: t for t in (await client.list_tools()).tools}
        result = await client.call_tool("cstar_wait_for_event", {"ctx": {}, "timeoutSeconds": 1})
    assert set(tools["cstar_wait_for_event"].input_schema["properties"]) == {"eventType", "since", "timeoutSeconds"}
    assert result.is_error
    assert "'ctx' is not an argument of cstar_wait_for_event" in result.content[0].text  # type: ignore[union-attr]


# over stdio: progress on the wire, and a cancelled wait ------------------------------------------------


class StdioServer:
    """A real ``cstar mcp-server`` subprocess spoken to in raw JSON-RPC lines; its stdout lines are
    read on a thread into a queue."""

    def __init__(self, emu: LocalEmulator) -> None:
        env = cstar_env({"CSTAR_API_KEY": emu.keys["sk_test"], "CSTAR_BASE_URL": emu.base_url})
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "cstar_cli", "mcp-server"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
            cwd=ROOT,
        )
        self.lines: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self.seen: list[dict[str, Any]] = []
        self._reader = threading.Thread(target=self._pump, daemon=True)
        self._reader.start()
        reap_at_teardown(self.proc, self._reader)

    def _pump(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(json.loads(line))
        self.lines.put(None)

    def send(self, message: dict[str, Any]) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write((json.dumps({"jsonrpc": "2.0", **message}) + "\n").encode())
        self.proc.stdin.flush()

    def until(self, test: Any, timeout: float = 20) -> dict[str, Any]:
        """Read messages (kept in :attr:`seen`) up to the first one passing ``test``."""
        while True:
            message = self.lines.get(timeout=timeout)
            assert message is not None, f"stdout closed; seen: {self.seen[-5:]}"
            self.seen.append(message)
            if test(message):
                return message

    def close(self) -> tuple[int, list[dict[str, Any]], str]:
        """Close stdin; (exit code, the messages written after, stderr)."""
        assert self.proc.stdin is not None and self.proc.stderr is not None
        self.proc.stdin.close()
        code = self.proc.wait(15)
        self._reader.join(10)
        rest: list[dict[str, Any]] = []
        while (message := self.lines.get(timeout=5)) is not None:
            rest.append(message)
        stderr = self.proc.stderr.read().decode()
        close_pipes(self.proc)
        return code, rest, stderr


def initialize(server: StdioServer) -> None:
    server.send(
        {
            "id": 1,
            "method": "initialize",
            "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}},
        }
    )
    server.until(lambda m: m.get("id") == 1)
    server.send({"method": "notifications/initialized"})


def progress_of(token: str) -> Any:
    return lambda m: m.get("method") == "notifications/progress" and m["params"]["progressToken"] == token


def test_a_cancelled_wait_ends_unanswered_and_the_server_goes_on(emu: LocalEmulator) -> None:
    server = StdioServer(emu)
    initialize(server)
    wait = {"name": "cstar_wait_for_event", "arguments": {"eventType": QUIET, "timeoutSeconds": 60}}
    server.send({"id": 2, "method": "tools/call", "params": {**wait, "_meta": {"progressToken": "wait-2"}}})
    first = server.until(progress_of("wait-2"))
    assert first["params"]["total"] == 60 and first["params"]["message"].startswith(f"Waiting for the next {QUIET} event")

    server.send({"method": "notifications/cancelled", "params": {"requestId": 2, "reason": "the user moved on"}})
    server.send({"id": 3, "method": "tools/call", "params": {"name": "cstar_list_events", "arguments": {}}})
    answer = server.until(lambda m: m.get("id") == 3)
    assert answer["result"]["isError"] is False
    # A live wait reports each poll (at most 1 s apart): during this 2 s wait, sent without a
    # progressToken (so it sends none itself), any progress at all would be the cancelled one's.
    short = {"name": "cstar_wait_for_event", "arguments": {"eventType": QUIET, "timeoutSeconds": 2}}
    server.send({"id": 4, "method": "tools/call", "params": short})
    after_cancel = len(server.seen)
    waited = server.until(lambda m: m.get("id") == 4)
    assert waited["result"]["structuredContent"]["event"] is None
    assert not [m for m in server.seen[after_cancel:] if m.get("method") == "notifications/progress"]

    code, rest, stderr = server.close()
    assert code == 0, stderr
    assert not [m for m in server.seen + rest if m.get("id") == 2], "the cancelled request was answered"
    assert not [m for m in rest if m.get("method") == "notifications/progress"]
    assert "Traceback" not in stderr and emu.keys["sk_test"] not in stderr
