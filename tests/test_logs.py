"""``cstar logs`` and ``cstar logs --tail`` against the emulator; the SSE parser and the resume logic
against ``httpx.MockTransport`` for the drops a live server does not produce on demand."""

from __future__ import annotations

import json
import os
import pty
import queue
import re
import select
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from cstar_cli.api import CStarClient, streams
from cstar_cli.commands.logs import short_path
from cstar_cli.errors import CStarAuthenticationError, CStarConnectionError
from tests.support.cli import close_pipes, cstar, cstar_env, reap_at_teardown
from tests.support.logs import LOG_ENTRY_FIELDS

CLOSED_PORT_URL = "http://127.0.0.1:9"  # discard port: nothing listens, so any request would fail with exit 9


def env_for(emu: Any, key: str = "sk_test") -> dict[str, str]:
    return {"CSTAR_BASE_URL": emu.base_url, "CSTAR_API_KEY": emu.keys[key]}


def logs_json(emu: Any, *args: str, key: str = "sk_test") -> list[dict[str, Any]]:
    r = cstar("logs", "--json", *args, env=env_for(emu, key))
    assert r.code == 0, r.stderr
    entries: list[dict[str, Any]] = json.loads(r.stdout)
    return entries


class TailProcess:
    """``cstar logs --tail ARGS`` (or ``cstar COMMAND… ARGS``) as a real subprocess, with its stdout and
    stderr read line by line."""

    def __init__(self, *args: str, env: dict[str, str], command: tuple[str, ...] = ("logs", "--tail")) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "cstar_cli", *command, *args],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=cstar_env(env),
        )
        self.stdout: queue.Queue[str] = queue.Queue()
        self.stderr_lines: list[str] = []
        self._stderr_cv = threading.Condition()
        self._out_pump = threading.Thread(target=self._pump_out, daemon=True)
        self._err_pump = threading.Thread(target=self._pump_err, daemon=True)
        self._out_pump.start()
        self._err_pump.start()
        reap_at_teardown(self.proc, self._out_pump, self._err_pump)

    def _pump_out(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.stdout.put(line)

    def _pump_err(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            with self._stderr_cv:
                self.stderr_lines.append(line)
                self._stderr_cv.notify_all()

    @property
    def stderr(self) -> str:
        with self._stderr_cv:
            return "".join(self.stderr_lines)

    def wait_stderr(self, text: str, timeout: float = 15) -> None:
        deadline = time.monotonic() + timeout
        with self._stderr_cv:
            while text not in "".join(self.stderr_lines):
                left = deadline - time.monotonic()
                if left <= 0 or self.proc.poll() is not None and not self._stderr_cv.wait(0.2):
                    raise AssertionError(f"{text!r} not on stderr: {''.join(self.stderr_lines)!r}")
                self._stderr_cv.wait(min(left, 0.2))

    def lines(self, n: int, timeout: float = 15) -> list[str]:
        deadline = time.monotonic() + timeout
        got: list[str] = []
        while len(got) < n:
            try:
                got.append(self.stdout.get(timeout=max(0.01, deadline - time.monotonic())))
            except queue.Empty:
                raise AssertionError(f"got {len(got)} of {n} lines: {got!r}; stderr: {self.stderr!r}") from None
        return got

    def no_more_lines(self, emu: Any, key: str = "sk_test") -> None:
        """Nothing else is on its way: a sentinel request made now (a 404, so status filters keep
        it) is the next line, as entries stream in order."""
        marker = f"key_sentinel{uuid.uuid4().hex[:12]}"
        httpx.delete(emu.team_url(f"/api-keys/{marker}"), headers=emu.auth(key), trust_env=False, timeout=10)
        (line,) = self.lines(1)
        assert marker in line, line

    def rest(self, timeout: float = 10) -> list[str]:
        """Once the process has exited: the lines it wrote that were not read yet."""
        self.proc.wait(timeout)
        self._out_pump.join(timeout)
        return list(self.stdout.queue)

    def interrupt(self, timeout: float = 10) -> int:
        self.proc.send_signal(signal.SIGINT)
        return self.proc.wait(timeout=timeout)

    def wait(self, timeout: float = 15) -> int:
        return self.proc.wait(timeout=timeout)

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(timeout=10)
        self._out_pump.join(10)
        self._err_pump.join(10)
        close_pipes(self.proc)


@pytest.fixture
def tails() -> Iterator[list[TailProcess]]:
    started: list[TailProcess] = []
    yield started
    for t in started:
        t.close()


# filters, checked before any request -----------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "hint"),
    [
        (["--method", "FETCH"], "GET, POST, PUT, PATCH, DELETE"),
        (["--status", "4x"], "4xx"),
        (["--status", "700"], "100 to 599"),
        (["--status", "abc"], "1xx, 2xx"),
        (["--limit", "0"], "1 to 100"),
        (["--limit", "101"], "1 to 100"),
        (["--path", "tickets"], "starting with '/'"),
        (["--before", "nope"], "req_"),
        (["--tail", "--limit", "5"], "--tail"),
    ],
)
def test_bad_filters_are_refused_before_any_request(args: list[str], hint: str) -> None:
    # Nothing listens on the base URL: a request would end in exit 9, not 2.
    r = cstar("logs", *args, env={"CSTAR_BASE_URL": CLOSED_PORT_URL, "CSTAR_API_KEY": "sk_test_" + "a" * 32})
    assert r.code == 2, r.output
    assert hint in r.stderr and "Hint:" in r.stderr
    assert r.stdout == "" and "Traceback" not in r.output


def test_bad_filter_as_json_error() -> None:
    r = cstar("logs", "--status", "4x", "--json", env={"CSTAR_API_KEY": "sk_test_" + "a" * 32})
    assert r.code == 2 and r.stdout == ""
    err = json.loads(r.stderr)["error"]
    assert err["type"] == "usage_error" and err["code"] == "invalid_status" and "4xx" in err["hint"]


# list ------------------------------------------------------------------------------------------


def _not_me(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    # Every command with a key from the environment asks GET /me for its team first.
    return [e for e in entries if not e["path"].endswith("/me")]


def test_logs_lists_requests_newest_first_with_filters(emulator: Any) -> None:
    env = env_for(emulator)
    assert cstar("keys", "list", env=env).code == 0
    assert cstar("keys", "revoke", "key_doesnotexist", "--yes", env=env).code == 5
    assert cstar("trigger", "ticket.created", env=env).code == 0

    entries = logs_json(emulator)
    assert [(e["method"], e["status"]) for e in _not_me(entries)] == [("POST", 200), ("DELETE", 404), ("GET", 200)]
    for e in entries:
        assert set(e) == LOG_ENTRY_FIELDS
        assert e["id"].startswith("req_") and isinstance(e["durationMs"], (int, float))
    times = [e["createdAt"] for e in entries]
    assert times == sorted(times, reverse=True)
    post, delete, get = _not_me(entries)
    assert delete["errorCode"] and post["errorCode"] is None
    assert post["userAgent"].startswith("cstar-cli/") and post["path"].endswith("/webhooks/trigger-test")

    assert [e["id"] for e in logs_json(emulator, "--method", "delete")] == [delete["id"]]
    assert [e["id"] for e in logs_json(emulator, "--status", "4xx")] == [delete["id"]]
    assert [e["id"] for e in logs_json(emulator, "--status", "404")] == [delete["id"]]
    assert logs_json(emulator, "--status", "5xx") == []
    assert [e["id"] for e in logs_json(emulator, "--path", "/api-keys")] == [delete["id"], get["id"]]

    newest = logs_json(emulator, "--limit", "1", "--method", "POST")
    older = logs_json(emulator, "--limit", "5", "--before", post["id"])
    assert newest == [post]
    assert [e["id"] for e in _not_me(older)] == [delete["id"], get["id"]]


def test_logs_are_mode_partitioned(emulator: Any) -> None:
    assert cstar("keys", "list", env=env_for(emulator, "sk_live")).code == 0
    live = logs_json(emulator, key="sk_live")
    test = logs_json(emulator, key="sk_test")
    assert not {e["id"] for e in live} & {e["id"] for e in test}
    assert any("/api-keys" in e["path"] for e in live)
    assert not any("/api-keys" in e["path"] for e in test)


def test_piped_logs_are_tab_separated(emulator: Any) -> None:
    env = env_for(emulator)
    cstar("keys", "revoke", "key_doesnotexist", "--yes", env=env)
    r = cstar("logs", "--method", "DELETE", env=env)
    assert r.code == 0
    (line,) = r.stdout.splitlines()
    cols = line.split("\t")
    assert len(cols) == 7 and "\x1b[" not in r.output
    assert cols[1:3] == ["404", "DELETE"] and cols[4].endswith(" ms") and cols[5].startswith("req_")


def test_empty_logs_say_so_on_stderr(emulator: Any) -> None:
    r = cstar("logs", "--status", "5xx", env=env_for(emulator))
    assert r.code == 0 and r.stdout == "" and "No matching API requests in test mode" in r.stderr


def test_more_entries_hint(emulator_session: Any) -> None:
    env = env_for(emulator_session)
    for _ in range(3):
        cstar("keys", "list", env=env)
    r = cstar("logs", "--limit", "2", env=env)
    assert r.code == 0 and len(r.stdout.splitlines()) == 2
    assert "More entries: cstar logs --limit 2 --before req_" in r.stderr


def test_more_entries_hint_keeps_every_filter(emulator: Any) -> None:
    env = env_for(emulator)
    for _ in range(3):
        cstar("keys", "list", env=env)
    cstar("keys", "revoke", "key_doesnotexist", "--yes", env=env)
    r = cstar("logs", "--method", "get", "--status", "2XX", "--path", "/api-keys", "-n", "1", env=env)
    assert r.code == 0 and len(r.stdout.splitlines()) == 1
    (hint,) = [line for line in r.stderr.splitlines() if line.startswith("More entries: ")]
    command = hint.removeprefix("More entries: ")
    assert re.fullmatch(r"cstar logs --method GET --status 2xx --path /api-keys --limit 1 --before req_\w+", command)
    # Running the hint continues the same listing: the next GET /api-keys, not the DELETE or a GET /me.
    first = r.stdout.split("\t")[5]
    nxt = cstar(*command.split()[1:], env=env)
    assert nxt.code == 0 and len(nxt.stdout.splitlines()) == 1
    cols = nxt.stdout.split("\t")
    assert cols[1:4] == ["200", "GET", "/api-keys"] and cols[5] != first
    assert "More entries: cstar logs --method GET --status 2xx --path /api-keys --limit 1 --before" in nxt.stderr


def test_more_entries_hint_quotes_for_the_shell() -> None:
    from cstar_cli.commands.logs import next_page_command

    assert next_page_command("req_1", None, None, None, None) == "cstar logs --before req_1"
    assert (
        next_page_command("req_1", None, "404", "/a b", 5)
        == "cstar logs --status 404 --path '/a b' --limit 5 --before req_1"
    )


def test_unknown_before_has_a_hint(emulator_session: Any) -> None:
    r = cstar("logs", "--before", "req_doesnotexist", env=env_for(emulator_session))
    assert r.code == 2 and r.stdout == ""
    lines = r.stderr.strip().splitlines()
    assert lines[0].startswith("Error: ") and "req_doesnotexist" in lines[0]
    assert len(lines) == 2 and lines[1].startswith("Hint: ") and "`cstar logs`" in lines[1]
    r = cstar("logs", "--before", "req_doesnotexist", "--json", env=env_for(emulator_session))
    assert r.code == 2 and "`cstar logs`" in json.loads(r.stderr)["error"]["hint"]


# tail, end to end ------------------------------------------------------------------------------


def test_tail_streams_new_requests_and_ctrl_c_exits_130(emulator: Any, tails: list[TailProcess]) -> None:
    env = env_for(emulator)
    cstar("keys", "list", env=env)
    tail = TailProcess("--json", env=env)
    tails.append(tail)
    tail.wait_stderr("Tailing API requests (test mode)")
    cstar("keys", "revoke", "key_doesnotexist", "--yes", env=env)
    cstar("trigger", "ticket.created", env=env)
    streamed = [json.loads(line) for line in tail.lines(4)]  # GET /me, DELETE, GET /me, POST
    assert [(e["method"], e["status"]) for e in _not_me(streamed)] == [("DELETE", 404), ("POST", 200)]
    tail.no_more_lines(emulator)
    listed = [e for e in logs_json(emulator, "--limit", "20") if "key_sentinel" not in e["path"]]
    # The very requests, oldest first; neither the one before the tail started (GET /api-keys) nor
    # the tail's own set-up (GET /logs) is among them.
    assert [e["id"] for e in _not_me(streamed)] == [e["id"] for e in reversed(_not_me(listed)[:2])]
    assert {e["id"] for e in streamed} <= {e["id"] for e in listed}
    before = [(e["method"], short_path(e["path"])) for e in reversed(_not_me(listed)[2:])]
    assert before == [("GET", "/api-keys"), ("GET", "/logs")]
    code = tail.interrupt()
    assert code == 130
    assert "Interrupted" in tail.stderr
    assert "Traceback" not in tail.stderr and "KeyboardInterrupt" not in tail.stderr


@pytest.mark.parametrize("seen_before_drop", [True, False], ids=["after-entries", "before-any-entry"])
def test_tail_survives_a_server_restart_without_gap_or_duplicate(
    emulator_process: Any, tails: list[TailProcess], seen_before_drop: bool
) -> None:
    emulator = emulator_process  # restarted on the same port and database
    env = env_for(emulator)
    tail = TailProcess("--json", env=env)
    tails.append(tail)
    tail.wait_stderr("Tailing")
    first: list[dict[str, Any]] = []
    if seen_before_drop:
        cstar("keys", "revoke", "key_first", "--yes", env=env)
        first = [json.loads(line) for line in tail.lines(2)]
    emulator.restart()  # same port and database: the stream drops, reconnecting fails until it is back
    tail.wait_stderr("Log stream interrupted")
    # Made while the tail is still waiting to reconnect: they must be replayed, not lost.
    cstar("keys", "revoke", "key_second", "--yes", env=env)
    cstar("trigger", "ticket.created", env=env)
    rest = [json.loads(line) for line in tail.lines(4, timeout=30)]
    tail.wait_stderr("Reconnected; resuming after req_")
    tail.no_more_lines(emulator)
    streamed = first + rest
    assert len({e["id"] for e in streamed}) == len(streamed)
    assert [(e["method"], short_path(e["path"])) for e in _not_me(streamed)] == [
        *([("DELETE", "/api-keys/key_first")] if seen_before_drop else []),
        ("DELETE", "/api-keys/key_second"),
        ("POST", "/webhooks/trigger-test"),
    ]
    assert tail.interrupt() == 130


def test_tail_applies_filters_and_prints_tsv_when_piped(emulator: Any, tails: list[TailProcess]) -> None:
    env = env_for(emulator)
    tail = TailProcess("--status", "4xx", env=env)
    tails.append(tail)
    tail.wait_stderr("Tailing")
    cstar("keys", "list", env=env)
    cstar("keys", "revoke", "key_doesnotexist", "--yes", env=env)
    (line,) = tail.lines(1)
    cols = line.rstrip("\n").split("\t")
    assert cols[1:3] == ["404", "DELETE"] and "\x1b[" not in line
    tail.no_more_lines(emulator)
    assert tail.interrupt() == 130


def test_tail_on_a_terminal_colours_by_status_class(emulator: Any) -> None:
    env = env_for(emulator)
    master, slave = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "cstar_cli", "logs", "--tail"],
        stdin=subprocess.DEVNULL,
        stdout=slave,
        stderr=slave,
        env=cstar_env({**env, "TERM": "xterm-256color"}),
    )
    os.close(slave)
    buf = b""

    def read_until(marker: bytes, timeout: float = 15) -> None:
        nonlocal buf
        deadline = time.monotonic() + timeout
        while marker not in buf:
            assert time.monotonic() < deadline, buf
            ready, _, _ = select.select([master], [], [], 0.2)
            if ready:
                buf += os.read(master, 4096)

    try:
        read_until(b"Tailing")
        cstar("keys", "revoke", "key_doesnotexist", "--yes", env=env)
        read_until(b"not_found")
        line = next(line for line in buf.decode().splitlines() if "DELETE" in line)
        assert line.startswith("\x1b[33m")  # 4xx in yellow
        assert re.search(r"\d\d:\d\d:\d\d  404  DELETE  /api-keys/key_doesnotexist +\d", line)
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=10) == 130
    finally:
        os.close(master)
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)


def test_tail_with_revoked_key_exits_3(emulator_session: Any) -> None:
    r = cstar("keys", "create", "--name", "short-lived", "--json", env=env_for(emulator_session))
    created = json.loads(r.stdout)
    assert cstar("keys", "revoke", created["id"], "--yes", env=env_for(emulator_session)).code == 0
    r = cstar(
        "logs", "--tail", "--json", env={"CSTAR_BASE_URL": emulator_session.base_url, "CSTAR_API_KEY": created["key"]}
    )
    assert r.code == 3 and r.stdout == ""
    assert json.loads(r.stderr.splitlines()[-1])["error"]["code"] == "key_revoked"


def test_revoking_the_key_during_a_tail_ends_it_with_exit_3(emulator_session: Any, tails: list[TailProcess]) -> None:
    created = json.loads(cstar("keys", "create", "--name", "tailer", "--json", env=env_for(emulator_session)).stdout)
    tail = TailProcess(env={"CSTAR_BASE_URL": emulator_session.base_url, "CSTAR_API_KEY": created["key"]})
    tails.append(tail)
    tail.wait_stderr("Tailing")
    assert cstar("keys", "revoke", created["id"], "--yes", env=env_for(emulator_session)).code == 0
    assert tail.wait() == 3
    assert "revoked" in tail.stderr and "Traceback" not in tail.stderr


# the stream logic, at the network edge ---------------------------------------------------------


def _event(i: int, status: int = 200) -> bytes:
    entry = {"id": f"req_{i}", "method": "GET", "path": "/api/v1/me", "status": status}
    return f"id: req_{i}\nevent: request\ndata: {json.dumps(entry)}\n\n".encode()


class _Chunks(httpx.SyncByteStream):
    def __init__(self, *chunks: bytes | Exception) -> None:
        self.chunks = chunks

    def __iter__(self) -> Iterator[bytes]:
        for c in self.chunks:
            if isinstance(c, Exception):
                raise c
            yield c


def _sse(*chunks: bytes | Exception) -> httpx.Response:
    return httpx.Response(200, headers={"content-type": "text/event-stream"}, stream=_Chunks(*chunks))


def _client(handler: Any, sleep: Any = lambda s: None) -> CStarClient:
    return CStarClient(
        "sk_test_" + "a" * 32, "http://127.0.0.1:9", team_id="team", transport=httpx.MockTransport(handler), sleep=sleep
    )


def _run(handler: Any, stop_at: str | None = None, limit: int = 50) -> list[Any]:
    got: list[Any] = []
    for el in _client(handler).stream_logs():
        got.append(el)
        if isinstance(el, streams.LogStreamEntry) and el.id == stop_at or len(got) >= limit:
            break
    return got


def test_resume_after_a_drop_has_no_gap_and_no_duplicate() -> None:
    seen_headers: list[str | None] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen_headers.append(request.headers.get("last-event-id"))
        assert request.url.path == "/api/v1/teams/team/logs/stream"
        if len(seen_headers) == 1:
            # Two whole events, then one cut off before its blank line: it must be asked for again.
            return _sse(
                b": connected\n\n",
                _event(1),
                _event(2)[:20],
                _event(2)[20:],
                b"id: req_3\nevent: req",
                httpx.RemoteProtocolError("peer closed"),
            )
        # A server that replays the last event it sent must not produce a duplicate either.
        return _sse(_event(2), _event(3), b": ping\n\n", _event(4))

    got = _run(handler, stop_at="req_4")
    ids = [el.id for el in got if isinstance(el, streams.LogStreamEntry)]
    assert ids == ["req_1", "req_2", "req_3", "req_4"]
    assert seen_headers == [None, "req_2"]
    kinds = [type(el).__name__ for el in got]
    assert kinds[:4] == ["LogStreamOpened", "LogStreamEntry", "LogStreamEntry", "LogStreamReconnecting"]
    assert got[4] == streams.LogStreamOpened("req_2")


def test_server_errors_and_rate_limits_are_retried_auth_errors_are_not() -> None:
    calls = 0

    def handler(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        if calls == 1:
            return httpx.Response(
                503, json={"success": False, "error": {"type": "server_error", "code": "down", "message": "down"}}
            )
        if calls == 2:
            return httpx.Response(
                429,
                headers={"retry-after": "1"},
                json={
                    "success": False,
                    "error": {"type": "rate_limit_error", "code": "rate_limit_exceeded", "message": "slow down"},
                },
            )
        if calls == 3:
            return _sse(_event(1))
        return httpx.Response(
            401,
            headers={"x-cstar-request-id": "req_x"},
            json={
                "success": False,
                "error": {"type": "authentication_error", "code": "key_revoked", "message": "revoked"},
            },
        )

    got: list[Any] = []
    with pytest.raises(CStarAuthenticationError) as info:
        for el in _client(handler).stream_logs():
            got.append(el)
    assert info.value.code == "key_revoked" and info.value.exit_code == 3 and info.value.request_id == "req_x"
    reasons = [el.reason for el in got if isinstance(el, streams.LogStreamReconnecting)]
    assert reasons == ["server error 503", "rate limited", "the server closed the stream"]
    assert [el.id for el in got if isinstance(el, streams.LogStreamEntry)] == ["req_1"]


def test_never_connecting_gives_up_with_a_connection_error() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused")

    slept: list[float] = []
    with pytest.raises(CStarConnectionError):
        for _ in _client(handler, sleep=slept.append).stream_logs(connect_attempts=3):
            pass
    assert len(slept) == 2


def test_backoff_grows_and_is_capped() -> None:
    delays = [streams.backoff_delay(n) for n in range(1, 12)]
    assert all(0 < d <= streams.MAX_BACKOFF for d in delays)
    assert delays[-1] >= streams.MAX_BACKOFF * 0.75 > delays[0]


def test_sse_parser_follows_the_spec() -> None:
    p = streams.SSEParser()
    lines = [": comment", "retry: 2500", "id: req_1", "event: request", 'data: {"a":', "data:1}", ""]
    out = [p.feed(line) for line in lines]
    assert out[:-1] == [None] * 6
    assert out[-1] == streams.SSEEvent("request", '{"a":\n1}', "req_1")
    assert p.retry == 2.5 and p.last_id == "req_1"
    # No data: nothing dispatched, but the id still counts; an unnamed event is a "message".
    assert p.feed("id: req_2") is None and p.feed("") is None and p.last_id == "req_2"
    assert p.feed("data: x") is None
    assert p.feed("") == streams.SSEEvent("message", "x", "req_2")
    # An event cut off before its blank line does not move the resume point.
    p.feed("id: req_3")
    p.feed("data: partial")
    p.reset()
    assert p.last_id == "req_2"
