"""``cstar mcp-server`` as a subprocess, fed what a broken or hostile client sends: every line with
an ID gets an answer (malformed JSON, invalid requests, batches, bad params), notifications get
none, a 100 MB line is discarded without holding it in memory, and an over-long tool argument is a
readable tool error. After each of these the server keeps serving.
"""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import threading
from typing import IO, Any

import pytest

from tests.support.cli import ROOT, close_pipes, cstar_env, reap_at_teardown
from tests.support.emulator import LocalEmulator

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(90)]

INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}},
}
ANSWER_WAIT = 20.0  # s; a generous deadline for one answer on a busy machine, not a timing check


class Server:
    """A running ``cstar mcp-server`` with its stdout read line by line on a thread."""

    def __init__(self, env: dict[str, str]) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "cstar_cli", "mcp-server"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
            cwd=ROOT,
        )
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.stdin: IO[bytes] = self.proc.stdin
        self.lines: queue.Queue[bytes] = queue.Queue()
        self._pump_thread = threading.Thread(target=self._pump, args=(self.proc.stdout,), daemon=True)
        self._pump_thread.start()
        reap_at_teardown(self.proc, self._pump_thread)
        self.send(json.dumps(INITIALIZE).encode())
        assert self.answer()["id"] == 1
        self.send(b'{"jsonrpc":"2.0","method":"notifications/initialized"}')

    def _pump(self, stdout: IO[bytes]) -> None:
        for line in stdout:
            self.lines.put(line)

    def send(self, line: bytes) -> None:
        self.stdin.write(line + b"\n")
        self.stdin.flush()

    def answer(self) -> Any:
        try:
            return json.loads(self.lines.get(timeout=ANSWER_WAIT))
        except queue.Empty:
            raise AssertionError("the server did not answer") from None

    def ping(self, id_: Any) -> None:
        """The next answer is the one to this ping: nothing else was pending."""
        self.send(json.dumps({"jsonrpc": "2.0", "id": id_, "method": "ping"}).encode())
        assert self.answer() == {"jsonrpc": "2.0", "id": id_, "result": {}}

    def close(self) -> tuple[int, str, Any]:
        """Close stdin; the exit code, stderr and the process's resource usage (peak RSS and all)."""
        self.stdin.close()
        _, status, usage = os.wait4(self.proc.pid, 0)
        self.proc.returncode = os.waitstatus_to_exitcode(status)
        stderr = self.proc.stderr.read().decode() if self.proc.stderr else ""
        self._release()
        return self.proc.returncode, stderr, usage

    def kill(self) -> None:
        if self.proc.returncode is None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self._release()

    def _release(self) -> None:
        self._pump_thread.join(10)
        close_pipes(self.proc)


def offline_env() -> dict[str, str]:
    return cstar_env({"CSTAR_API_KEY": "sk_test_" + "q" * 28, "CSTAR_BASE_URL": "http://127.0.0.1:9"})


MALFORMED: list[tuple[bytes, int, Any]] = [
    (b"this is not json", -32700, None),
    (b'{"jsonrpc":"2.0","id":2,"method":"tools/list"', -32700, None),
    (b'{"jsonrpc":"2.0","id":3,"method":"tools/list","params":{"q":"\\ud800"}}', -32700, None),
    (b'{"jsonrpc":"2.0","id":4,"method":"tools/\xff\xfe"}', -32700, None),
    (b'{"id":5,"method":"tools/list"}', -32600, 5),
    (b'{"jsonrpc":"1.0","id":"six","method":"tools/list"}', -32600, "six"),
    (b'{"jsonrpc":"2.0","id":7,"method":7}', -32600, 7),
    (b'{"jsonrpc":"2.0","id":8,"method":"tools/list","params":"all"}', -32600, 8),
    (b'{"jsonrpc":"2.0","id":false,"method":"tools/list"}', -32600, None),
    (b"12", -32600, None),
    (b"[]", -32600, None),
    (b'{"jsonrpc":"2.0","id":9,"method":"tools/call","params":["cstar_list_events"]}', -32602, 9),
    (b'{"jsonrpc":"2.0","id":10,"method":"tools/call","params":{"name":5}}', -32602, 10),
    (
        b'{"jsonrpc":"2.0","id":11,"method":"tools/call","params":{"name":"cstar_list_events","arguments":[]}}',
        -32602,
        11,
    ),
    (b'{"jsonrpc":"2.0","id":12,"method":"no/such/method"}', -32601, 12),
]


def test_every_malformed_line_with_an_id_is_answered_and_serving_goes_on() -> None:
    server = Server(offline_env())
    try:
        for n, (line, code, id_) in enumerate(MALFORMED):
            server.send(line)
            reply = server.answer()
            assert (reply.get("id"), reply.get("error", {}).get("code")) == (id_, code), line
            assert reply["jsonrpc"] == "2.0" and reply["error"]["message"]
            server.ping(f"after-{n}")
        server.send(b'[{"jsonrpc":"2.0","id":20,"method":"ping"},{"jsonrpc":"2.0","id":21,"method":"ping"}]')
        assert [(a["id"], a["error"]["code"]) for a in server.answer()] == [(20, -32600), (21, -32600)]
        # Notifications, valid or not, and blank lines: no answer (the next one is the ping's).
        for line in (
            b'{"jsonrpc":"2.0","method":"notifications/whatever"}',
            b'{"jsonrpc":"2.0","method":"notifications/cancelled","params":[1]}',
            b"",
            b"   ",
        ):
            server.send(line)
        server.ping("after-notifications")
        server.send(b'{"jsonrpc":"2.0","id":30,"method":"tools/list"}')
        assert len(server.answer()["result"]["tools"]) == 13
        code, stderr, _ = server.close()
    finally:
        server.kill()
    assert code == 0, stderr
    assert "Traceback" not in stderr


def test_a_100_mb_line_is_discarded_in_bounded_memory_and_the_next_request_answered() -> None:
    # Reads run on a pool of worker threads, and glibc gives each thread its own malloc arena: under
    # load, fragmentation alone added ~100 MiB. Two arenas keep the figure about our buffers; the
    # bound sits well below the 440 MiB the whole line took when held at once.
    server = Server({**offline_env(), "MALLOC_ARENA_MAX": "2"})
    size = 100 * 1024 * 1024
    head = b'{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"cstar_get_ticket","arguments":{"ticketId":"tkt_'

    def write_long_line() -> None:
        server.stdin.write(head)
        block = b"a" * (1 << 20)
        for _ in range(size // len(block)):
            server.stdin.write(block)
        server.stdin.write(b'"}}}\n{"jsonrpc":"2.0","id":3,"method":"tools/list"}\n')
        server.stdin.flush()

    writer = threading.Thread(target=write_long_line, daemon=True)
    try:
        writer.start()
        overflow = server.answer()
        # Answered as soon as the limit is passed; the ID in a cut line cannot be trusted.
        assert overflow["id"] is None and overflow["error"]["code"] == -32600
        assert overflow["error"]["data"] == {"maxLineBytes": 4 * 1024 * 1024}
        assert "longer than 4,194,304 bytes" in overflow["error"]["message"]
        nxt = server.answer()
        assert nxt["id"] == 3 and len(nxt["result"]["tools"]) == 13
        writer.join(ANSWER_WAIT)
        server.ping("still-serving")
        code, stderr, usage = server.close()
    finally:
        server.kill()
    assert code == 0, stderr
    # ru_maxrss is in KiB on Linux. The whole line held at once took ~440 MiB on an idle machine
    # (more under load); bounded reading keeps the server near its usual ~75 MiB, but on a busy
    # machine running the suite in parallel the allocator's fragmentation was once seen at 327 MiB.
    peak_mib = usage.ru_maxrss / 1024
    assert peak_mib < 400, f"peak RSS {peak_mib:.0f} MiB"


def test_over_long_and_loosely_typed_arguments_are_tool_errors_end_to_end(emulator_session: LocalEmulator) -> None:
    env = cstar_env({"CSTAR_API_KEY": emulator_session.keys["sk_test"], "CSTAR_BASE_URL": emulator_session.base_url})
    server = Server(env)

    def call(id_: int, name: str, arguments: dict[str, Any]) -> dict[str, Any]:
        msg = {"jsonrpc": "2.0", "id": id_, "method": "tools/call", "params": {"name": name, "arguments": arguments}}
        server.send(json.dumps(msg).encode())
        reply = server.answer()
        assert reply["id"] == id_
        return reply["result"]

    try:
        long_id = call(2, "cstar_get_ticket", {"ticketId": "tkt_" + "a" * 100_000})
        coerced = call(3, "cstar_list_tickets", {"pageSize": "5"})
        unknown = call(4, "cstar_list_tickets", {"stauts": "open"})
        fine = call(5, "cstar_list_tickets", {"pageSize": 1})
        code, stderr, _ = server.close()
    finally:
        server.kill()
    text = long_id["content"][0]["text"]
    assert long_id["isError"] is True
    assert text.startswith("Error (INVALID_FIELD): Invalid arguments for cstar_get_ticket: ticketId must be at most")
    assert "(got 100,004)" in text and "\nHint: " in text and "internal_error" not in text
    assert (
        coerced["isError"] is True
        and "pageSize: Input should be a valid integer (got '5')" in coerced["content"][0]["text"]
    )
    assert unknown["isError"] is True and "Did you mean status?" in unknown["content"][0]["text"]
    assert fine["isError"] is False and len(fine["structuredContent"]["tickets"]) == 1
    assert code == 0, stderr
    assert "Traceback" not in stderr and emulator_session.keys["sk_test"] not in stderr
