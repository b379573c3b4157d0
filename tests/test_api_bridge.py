"""Synchronous API code run on an event loop (:mod:`cstar_cli.api.bridge`), end to end.

- The bridge itself: a body's result and exception come back from ``run``; a cancellation (a task's,
  a cancel scope's, a deadline's) is raised inside the body where it waits and then leaves ``run``;
  the body sees the awaiting task's context variables; ``wait`` outside ``run`` is an error;
  ``blocking`` goes to a worker thread inside and stays in the caller's thread outside; many bodies
  wait at once.
- :class:`~cstar_cli.api._transport.Transport` inside ``run`` against a real HTTP server on loopback
  (:class:`StubApi`) that holds its answer until told: the loop goes on running other coroutines
  meanwhile (one of them tells the server to answer, so a blocked loop shows as a wrong answer, not
  a pass), a read timeout is the usual connection error, a cancelled request closes its connection,
  the pause between attempts waits on the loop, and the same transport still works synchronously.
  Without the loop-aware backend (:func:`cstar_cli.api._network.install` finds no pool), the whole
  exchange goes to a worker thread instead. Against the emulator, bridged client calls run together.
- ``cstar mcp-server`` as a subprocess on that stub: a ``ping`` sent after a tool call that waits on
  the API is answered first; stdin closed while the call waits still gets its answer.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import json
import queue
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import anyio.to_thread
import httpcore
import httpx
import pytest

from cstar_cli.api import bridge
from cstar_cli.api._network import install
from cstar_cli.api._transport import Transport
from cstar_cli.api.client import CStarClient
from cstar_cli.errors import CStarConnectionError
from cstar_cli.mcp.access import ApiAccess
from cstar_cli.settings import Settings, resolve
from tests.support.cli import ROOT, cstar_env, reap_at_teardown
from tests.support.emulator import LocalEmulator

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(90)]

KEY = "sk_test_" + "b7" * 16
TEAM = "0b0b0b0b-1111-4222-8333-444444444444"
TICKETS_PATH = f"/api/v1/teams/{TEAM}/tickets"
TICKET = {
    "id": "tkt_bridge1",
    "title": "Answered once released",
    "status": "open",
    "priority": "high",
    "tags": ["held"],
    "messageCount": 2,
    "createdAt": "2026-01-01T00:00:00.000Z",
    "updatedAt": "2026-01-01T00:00:00.000Z",
}
#: How long :class:`StubApi` holds an answer at most before giving it anyway (marked not released).
HOLD_LIMIT = 20.0


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


# the bridge -------------------------------------------------------------------------------------


async def test_run_returns_what_the_body_returns_and_raises_what_it_raises() -> None:
    def adds(a: int, *, b: int) -> int:
        first = bridge.wait(asyncio.sleep(0, result=a))
        second = bridge.wait(anyio.to_thread.run_sync(lambda: b))
        return first + second

    assert await bridge.run(adds, 2, b=3) == 5
    assert await bridge.run(lambda: "no wait at all") == "no wait at all"
    assert await bridge.run(dict) == {}

    def fails() -> None:
        bridge.wait(asyncio.sleep(0))
        raise LookupError("raised by the body")

    with pytest.raises(LookupError, match="raised by the body"):
        await bridge.run(fails)

    async def broken() -> None:
        raise KeyError("raised by the awaitable")

    def catches() -> str:
        try:
            bridge.wait(broken())
        except KeyError as e:
            return f"caught {e.args[0]}"
        return "not caught"

    # An awaitable's exception is raised inside the body, where it waited.
    assert await bridge.run(catches) == "caught raised by the awaitable"


@pytest.mark.parametrize("how", ["task.cancel", "cancel scope", "deadline"])
async def test_a_cancellation_is_raised_in_the_body_where_it_waits_and_leaves_run(how: str) -> None:
    waiting = asyncio.Event()
    seen: list[type[BaseException]] = []
    after: list[str] = []

    def body() -> None:
        waiting.set()
        try:
            bridge.wait(asyncio.Event().wait())  # never set: only a cancellation ends this wait
        except BaseException as e:
            seen.append(type(e))
            raise
        after.append("resumed")

    if how == "task.cancel":
        task = asyncio.get_running_loop().create_task(bridge.run(body))
        await waiting.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert task.cancelled()
    elif how == "cancel scope":
        with anyio.CancelScope() as scope:
            async with anyio.create_task_group() as tg:
                tg.start_soon(bridge.run, body)
                await waiting.wait()
                scope.cancel()
        assert scope.cancelled_caught
    else:
        with anyio.move_on_after(0.05) as scope:
            await bridge.run(body)
        assert scope.cancelled_caught
    assert seen == [asyncio.CancelledError]
    assert after == []


REQUEST: contextvars.ContextVar[str] = contextvars.ContextVar("REQUEST")
SET_IN_BODY: contextvars.ContextVar[str] = contextvars.ContextVar("SET_IN_BODY", default="unset")


async def test_the_body_sees_the_awaiting_task_context_variables() -> None:
    async def one(name: str) -> tuple[str, str, str]:
        REQUEST.set(name)

        def body() -> tuple[str, str]:
            before = REQUEST.get()
            bridge.wait(asyncio.sleep(0))
            SET_IN_BODY.set(f"set by {name}")
            bridge.wait(asyncio.sleep(0))
            return before, REQUEST.get()

        before, after = await bridge.run(body)
        return before, after, SET_IN_BODY.get()

    # Each task has its own context; bodies waiting in turn never see another task's values.
    results = await asyncio.gather(*(one(f"call-{i}") for i in range(20)))
    assert results == [(f"call-{i}", f"call-{i}", f"set by call-{i}") for i in range(20)]
    assert SET_IN_BODY.get() == "unset"


def _wait_outside_run() -> None:
    """``bridge.wait`` where no body runs: RuntimeError (and the awaitable is closed unawaited)."""
    pending = asyncio.sleep(0)
    try:
        with pytest.raises(RuntimeError, match=r"outside bridge\.run"):
            bridge.wait(pending)
    finally:
        pending.close()


async def test_wait_outside_run_raises_runtime_error() -> None:
    outside = _wait_outside_run
    assert not bridge.active()
    outside()  # on the loop, but not in a body
    await anyio.to_thread.run_sync(outside)  # in a worker thread
    # In a worker thread started by a body, too: that thread is not the body.
    await bridge.run(lambda: bridge.blocking(outside))
    assert await bridge.run(lambda: bridge.blocking(bridge.active)) is False


def test_wait_without_a_loop_raises_runtime_error() -> None:
    _wait_outside_run()


async def test_blocking_runs_in_a_worker_thread_inside_run_and_in_the_caller_thread_outside() -> None:
    loop_thread = threading.get_ident()
    assert bridge.blocking(threading.get_ident) == loop_thread

    def body() -> tuple[bool, int, int]:
        return bridge.active(), bridge.blocking(threading.get_ident), threading.get_ident()

    active, worker, body_thread = await bridge.run(body)
    assert active is True
    assert body_thread == loop_thread  # the body itself runs on the loop's thread
    assert worker != loop_thread
    assert await anyio.to_thread.run_sync(bridge.blocking, threading.get_ident) != loop_thread


async def test_blocking_leaves_the_loop_free() -> None:
    entered, told = threading.Event(), threading.Event()

    def waits_to_be_told() -> bool:
        entered.set()
        return told.wait(HOLD_LIMIT)  # True only if the loop ran the teller meanwhile

    async def teller() -> None:
        with anyio.fail_after(HOLD_LIMIT):
            while not entered.is_set():
                await anyio.sleep(0.005)
        told.set()

    async with anyio.create_task_group() as tg:
        tg.start_soon(teller)
        assert await bridge.run(bridge.blocking, waits_to_be_told) is True


async def test_many_bodies_wait_at_the_same_time() -> None:
    n = 200
    arrived = 0
    everyone = asyncio.Event()

    def body(i: int) -> int:
        nonlocal arrived
        arrived += 1
        if arrived == n:
            everyone.set()
        # Bodies run one after another would never all get here: the first would time out.
        bridge.wait(asyncio.wait_for(everyone.wait(), HOLD_LIMIT))
        bridge.wait(asyncio.sleep(0))
        return i * i

    assert await asyncio.gather(*(bridge.run(body, i) for i in range(n))) == [i * i for i in range(n)]


async def test_two_first_bridged_calls_share_one_settings_read_and_one_client() -> None:
    reads: list[int] = []

    def load() -> Settings:
        reads.append(threading.get_ident())
        return resolve(api_key=KEY, base_url="http://127.0.0.1:9")

    api = ApiAccess(load, team_id=TEAM, max_retries=0)
    try:
        first, second = await asyncio.gather(bridge.run(api.client), bridge.run(api.client))
        assert len(reads) == 1
        assert first is second is api.client()
    finally:
        api.close()


# a real HTTP server that holds its answer -------------------------------------------------------


def _envelope(data: Any, request_id: str, **meta: Any) -> dict[str, Any]:
    return {
        "success": True,
        "data": data,
        "meta": {"requestId": request_id, "timestamp": "2026-01-01T00:00:00.000Z", **meta},
    }


class StubApi:
    """An HTTP/1.1 server on 127.0.0.1 (one thread per connection, keep-alive) speaking the cStar
    envelope. By path (the query is ignored):

    - ``/api/v1/me``: the key's context, for team :data:`TEAM`.
    - :data:`TICKETS_PATH`: one page with :data:`TICKET`.
    - ``/api/v1/held``: ``{"released": …}``.
    - ``/api/v1/never``: no answer; :attr:`closed` is set once the client closes that connection.
    - ``/api/v1/flaky``: a 503 error the first time, then as any other path.
    - any other path: ``{"path": path}``.

    A path in :attr:`hold` is answered only once :attr:`release` is set (after :data:`HOLD_LIMIT` s
    anyway, with ``"released": false`` where the answer has that field).
    """

    def __init__(self) -> None:
        self.hold: set[str] = {"/api/v1/held", TICKETS_PATH}
        self.release = threading.Event()
        self.closed = threading.Event()
        self._cond = threading.Condition()
        self._asked: list[str] = []
        self._holding = 0
        self._flaky_failed = False
        self._conns: list[socket.socket] = []
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self._listener.getsockname()[1]}"
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    # what the test waits for

    def asked(self) -> list[str]:
        """The paths asked so far, in order."""
        with self._cond:
            return list(self._asked)

    def wait_held(self, count: int, timeout: float = HOLD_LIMIT) -> bool:
        """Whether ``count`` requests were being held at once within ``timeout`` s."""
        with self._cond:
            return self._cond.wait_for(lambda: self._holding >= count, timeout)

    def wait_asked(self, path: str, timeout: float = HOLD_LIMIT) -> bool:
        """Whether ``path`` was asked within ``timeout`` s."""
        with self._cond:
            return self._cond.wait_for(lambda: path in self._asked, timeout)

    def stop(self) -> None:
        self.release.set()
        with contextlib.suppress(OSError):
            self._listener.shutdown(socket.SHUT_RDWR)  # wakes accept()
        self._listener.close()
        self._thread.join(10)
        with self._cond:
            conns = list(self._conns)
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)  # wakes a recv()
            conn.close()

    # serving

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return
            with self._cond:
                self._conns.append(conn)
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        buf = b""
        with contextlib.suppress(OSError):
            while True:
                while b"\r\n\r\n" not in buf:
                    chunk = conn.recv(65536)
                    if not chunk:
                        return
                    buf += chunk
                head, buf = buf.split(b"\r\n\r\n", 1)
                lines = head.decode("latin-1").split("\r\n")
                target = lines[0].split(" ")[1]
                headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
                length = int(headers.get("content-length") or 0)
                while len(buf) < length:
                    chunk = conn.recv(65536)
                    if not chunk:
                        return
                    buf += chunk
                buf = buf[length:]
                path = target.split("?", 1)[0]
                with self._cond:
                    self._asked.append(path)
                    request_id = f"req_stub{len(self._asked)}"
                    self._cond.notify_all()
                if path == "/api/v1/never":
                    while conn.recv(65536):
                        pass
                    self.closed.set()
                    return
                conn.sendall(self._answer(path, request_id))

    def _hold(self) -> bool:
        with self._cond:
            self._holding += 1
            self._cond.notify_all()
        try:
            return self.release.wait(HOLD_LIMIT)
        finally:
            with self._cond:
                self._holding -= 1

    def _answer(self, path: str, request_id: str) -> bytes:
        released = self._hold() if path in self.hold else None
        status = "200 OK"
        body: dict[str, Any]
        if path == "/api/v1/me":
            team = {"id": TEAM, "name": "Bridge", "slug": "bridge", "plan": "pro", "memberCount": 1}
            context = {"object": "api_key_context", "keyId": "key_b", "keyType": "secret", "mode": "test", "team": team}
            body = _envelope(context, request_id)
        elif path == TICKETS_PATH:
            body = _envelope([TICKET], request_id, pagination={"page": 1, "pageSize": 20, "total": 1, "totalPages": 1})
        elif path == "/api/v1/held":
            body = _envelope({"released": released}, request_id)
        elif path == "/api/v1/flaky" and not self._flaky_failed:
            self._flaky_failed = True
            status = "503 Service Unavailable"
            error = {"type": "api_error", "code": "service_unavailable", "message": "Try again."}
            body = {"success": False, "error": error}
        else:
            body = _envelope({"path": path}, request_id)
        payload = json.dumps(body).encode()
        head = (
            f"HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {len(payload)}\r\n"
            f"x-cstar-request-id: {request_id}\r\n\r\n"
        )
        return head.encode() + payload


@pytest.fixture
def stub() -> Iterator[StubApi]:
    api = StubApi()
    try:
        yield api
    finally:
        api.stop()


async def _release_once_held(stub: StubApi, count: int) -> None:
    """On the loop: tell ``stub`` to answer once ``count`` requests wait on it at once."""
    assert await anyio.to_thread.run_sync(stub.wait_held, count), f"{count} requests never waited at once"
    stub.release.set()


@pytest.mark.e2e
@pytest.mark.parametrize("count", [1, 8])
async def test_bridged_requests_waiting_on_the_server_leave_the_loop_free(stub: StubApi, count: int) -> None:
    transport = Transport(KEY, stub.url, timeout=HOLD_LIMIT + 10, max_retries=0)
    try:
        assert transport._loop_aware  # the loop-aware backend was installed on this httpx
        async with anyio.create_task_group() as tg:
            # Runs only while the loop is free: with the loop blocked in a read, the server gives up
            # holding (HOLD_LIMIT) and answers "released": false.
            tg.start_soon(_release_once_held, stub, count)
            results = await asyncio.gather(*(bridge.run(transport.request, "GET", "/held") for _ in range(count)))
    finally:
        transport.close()
    assert [r.data for r in results] == [{"released": True}] * count
    assert len({r.meta.request_id for r in results}) == count


@pytest.mark.e2e
async def test_a_read_timeout_inside_the_bridge_is_the_connection_error(stub: StubApi) -> None:
    transport = Transport(KEY, stub.url, timeout=0.5, max_retries=0)
    try:
        with pytest.raises(CStarConnectionError) as bridged:
            await bridge.run(transport.request, "GET", "/never")
        assert await anyio.to_thread.run_sync(stub.closed.wait, HOLD_LIMIT), "the timed-out connection stayed open"
        with pytest.raises(CStarConnectionError) as direct:
            await anyio.to_thread.run_sync(lambda: transport.request("GET", "/never"))
    finally:
        transport.close()
    assert bridged.value.code == "timeout" and bridged.value.exit_code == 9
    assert str(bridged.value) == f"The cStar API at {stub.url} timed out after 0.5 s waiting for an answer."
    assert str(direct.value) == str(bridged.value)  # the same error as outside the bridge
    assert stub.asked() == ["/api/v1/never", "/api/v1/never"]  # max_retries=0: no second try


async def _cancel_a_request_never_answered(transport: Transport, stub: StubApi) -> None:
    task = asyncio.get_running_loop().create_task(bridge.run(transport.request, "GET", "/never"))
    assert await anyio.to_thread.run_sync(stub.wait_asked, "/api/v1/never"), "the request never reached the server"
    task.cancel()
    done, _ = await asyncio.wait({task}, timeout=HOLD_LIMIT)
    assert done == {task}, "the cancelled request did not return"
    assert task.cancelled()
    assert await anyio.to_thread.run_sync(stub.closed.wait, HOLD_LIMIT), "the server never saw the connection closed"


@pytest.mark.e2e
def test_a_cancelled_bridged_request_returns_and_closes_its_connection(stub: StubApi) -> None:
    transport = Transport(KEY, stub.url, timeout=60, max_retries=0)
    try:
        # Synchronously, before and after: the connection kept alive from the first call is the
        # one the bridged request uses, and the next call makes a new one.
        assert transport.request("GET", "/before").data == {"path": "/api/v1/before"}
        anyio.run(_cancel_a_request_never_answered, transport, stub, backend="asyncio")
        assert transport.request("GET", "/after").data == {"path": "/api/v1/after"}
        assert anyio.run(bridge.run, lambda: transport.request("GET", "/again").data) == {"path": "/api/v1/again"}
    finally:
        transport.close()
    assert stub.asked() == ["/api/v1/before", "/api/v1/never", "/api/v1/after", "/api/v1/again"]


@pytest.mark.e2e
async def test_the_pause_between_attempts_waits_on_the_loop(stub: StubApi) -> None:
    transport = Transport(KEY, stub.url, timeout=HOLD_LIMIT, max_retries=1)
    state = {"failed": False, "ran_in_pause": False, "second_attempt_saw": False}

    def on_response(resp: httpx.Response) -> None:
        state["failed"] = state["failed"] or resp.status_code == 503

    def on_request(request: httpx.Request) -> None:
        if state["failed"]:
            state["second_attempt_saw"] = state["ran_in_pause"]

    async def runs_after_the_failure() -> None:
        # One step per turn of the loop: it runs between the 503 and the second attempt only if the
        # pause lets the loop turn (a blocking sleep would run the second attempt first).
        with anyio.fail_after(HOLD_LIMIT):
            while not state["failed"]:
                await asyncio.sleep(0)
        state["ran_in_pause"] = True

    transport._http.event_hooks["request"].append(on_request)
    try:
        async with anyio.create_task_group() as tg:
            tg.start_soon(runs_after_the_failure)
            result = await bridge.run(transport.request, "GET", "/flaky", on_response=on_response)
    finally:
        transport.close()
    assert result.data == {"path": "/api/v1/flaky"} and result.meta.attempts == 2
    assert state["second_attempt_saw"] is True


class _Forwarding(httpx.BaseTransport):
    """httpx's own transport (real sockets) behind a wrapper: no pool where ``install`` looks."""

    def __init__(self) -> None:
        self.inner = httpx.HTTPTransport()
        self.threads: list[int] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.threads.append(threading.get_ident())
        return self.inner.handle_request(request)

    def close(self) -> None:
        self.inner.close()


def _backend(client: httpx.Client) -> object:
    return getattr(getattr(client._transport, "_pool"), "_network_backend")  # noqa: B009 - private to httpx


def test_install_changes_nothing_for_a_client_without_an_httpcore_pool() -> None:
    mock = httpx.MockTransport(lambda request: httpx.Response(204))
    forwarding = _Forwarding()
    alone = httpx.Client(transport=mock)
    wrapped = httpx.Client(transport=forwarding)
    # A pool of its own, but a mounted transport without one: the pool is left as it is too.
    mixed = httpx.Client(mounts={"http://other.example": httpx.MockTransport(lambda request: httpx.Response(204))})
    plain = httpx.Client()
    try:
        assert install(alone) is False and alone._transport is mock
        assert install(wrapped) is False and wrapped._transport is forwarding
        before = _backend(mixed)
        assert type(before) is httpcore.SyncBackend
        assert install(mixed) is False and _backend(mixed) is before
        original = _backend(plain)
        assert install(plain) is True
        assert _backend(plain) is not original and isinstance(_backend(plain), httpcore.SyncBackend)
    finally:
        for client in (alone, wrapped, mixed, plain):
            client.close()


@pytest.mark.e2e
async def test_without_the_loop_aware_backend_a_bridged_request_runs_in_a_worker_thread(stub: StubApi) -> None:
    forwarding = _Forwarding()
    transport = Transport(KEY, stub.url, timeout=HOLD_LIMIT + 10, max_retries=0, transport=forwarding)
    loop_thread = threading.get_ident()
    try:
        assert not transport._loop_aware
        assert transport.request("GET", "/outside").data == {"path": "/api/v1/outside"}
        assert forwarding.threads == [loop_thread]  # outside the bridge: in the caller's thread
        async with anyio.create_task_group() as tg:
            tg.start_soon(_release_once_held, stub, 4)
            results = await asyncio.gather(*(bridge.run(transport.request, "GET", "/held") for _ in range(4)))
    finally:
        transport.close()
    assert [r.data for r in results] == [{"released": True}] * 4
    assert len(forwarding.threads) == 5 and loop_thread not in forwarding.threads[1:]


@pytest.mark.e2e
async def test_bridged_client_calls_against_the_emulator_run_together(emulator_session: LocalEmulator) -> None:
    with CStarClient(emulator_session.keys["sk_test"], emulator_session.base_url, max_retries=0) as client:
        me = await bridge.run(client.resolve_team)
        assert me is not None and client.team_id == emulator_session.team_id
        pages = await asyncio.gather(*(bridge.run(client.list_tickets, page_size=1) for _ in range(12)))
        customers = await bridge.run(client.list_customers)
    assert all(isinstance(p.data, list) and len(p.data) <= 1 for p in pages)
    assert len({p.meta.request_id for p in pages}) == 12
    assert all(str(p.meta.request_id).startswith("req_") for p in pages)
    assert isinstance(customers.data, list)


# cstar mcp-server on the stub -------------------------------------------------------------------


class McpServer:
    """``cstar mcp-server`` as a subprocess on ``api_url`` with :data:`KEY`, initialised, driven by
    raw JSON-RPC lines; a thread reads its stdout. Ended at the test's teardown."""

    def __init__(self, api_url: str, tmp_path: Path) -> None:
        self.stderr_path = tmp_path / "mcp-stderr.txt"
        env = cstar_env({"CSTAR_API_KEY": KEY, "CSTAR_BASE_URL": api_url})
        with self.stderr_path.open("wb") as stderr:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "cstar_cli", "mcp-server"],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=stderr,
                env=env,
                cwd=ROOT,
            )
        self._lines: queue.Queue[bytes | None] = queue.Queue()
        reader = threading.Thread(target=self._read_stdout, daemon=True)
        reader.start()
        reap_at_teardown(self.proc, reader)
        init = {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}
        self.send({"id": 1, "method": "initialize", "params": init})
        assert self.read()["id"] == 1
        self.send({"method": "notifications/initialized"})

    def _read_stdout(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self._lines.put(line)
        self._lines.put(None)

    def send(self, message: dict[str, Any]) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write((json.dumps({"jsonrpc": "2.0", **message}) + "\n").encode())
        self.proc.stdin.flush()

    def read(self, timeout: float = HOLD_LIMIT + 10) -> dict[str, Any]:
        try:
            line = self._lines.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f"no answer from the server within {timeout} s") from None
        assert line is not None, "the server closed stdout"
        return dict(json.loads(line))

    def close_stdin(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()

    def finish(self) -> tuple[int, list[bytes], str]:
        """Wait for the exit; the exit code, stdout's remaining lines and stderr."""
        code = self.proc.wait(timeout=30)
        rest: list[bytes] = []
        while (line := self._lines.get(timeout=10)) is not None:
            rest.append(line)
        return code, rest, self.stderr_path.read_text()


LIST_TICKETS = {"name": "cstar_list_tickets", "arguments": {}}


def _assert_tickets_answer(answer: dict[str, Any], request_id: int) -> None:
    assert answer["id"] == request_id, answer
    result = answer["result"]
    assert result["isError"] is False, result
    tickets = result["structuredContent"]["tickets"]
    assert [(t["id"], t["title"], t["priority"], t["tags"]) for t in tickets] == [
        ("tkt_bridge1", "Answered once released", "high", ["held"])
    ]
    assert result["structuredContent"]["requestId"].startswith("req_stub")


@pytest.mark.e2e
def test_a_ping_is_answered_while_a_tool_call_waits_on_the_api(stub: StubApi, tmp_path: Path) -> None:
    server = McpServer(stub.url, tmp_path)
    server.send({"id": 2, "method": "tools/call", "params": LIST_TICKETS})
    assert stub.wait_held(1), "the call never reached the API"
    server.send({"id": 3, "method": "ping"})
    # With the loop blocked in the tool's read, the ping would come after the tickets (answered
    # anyway once the server stops holding them).
    assert server.read() == {"jsonrpc": "2.0", "id": 3, "result": {}}
    stub.release.set()
    _assert_tickets_answer(server.read(), 2)
    server.close_stdin()
    code, rest, stderr = server.finish()
    assert code == 0, stderr
    assert rest == [] and "Traceback" not in stderr
    assert stub.asked() == ["/api/v1/me", TICKETS_PATH]


@pytest.mark.e2e
def test_stdin_closed_while_a_call_waits_on_the_api_still_gets_its_answer(stub: StubApi, tmp_path: Path) -> None:
    server = McpServer(stub.url, tmp_path)
    server.send({"id": 2, "method": "tools/call", "params": LIST_TICKETS})
    assert stub.wait_held(1), "the call never reached the API"
    server.close_stdin()
    stub.release.set()  # well within the grace period the server gives calls in flight
    _assert_tickets_answer(server.read(), 2)
    code, rest, stderr = server.finish()
    assert code == 0, stderr
    assert rest == [] and "Traceback" not in stderr


@pytest.mark.e2e
def test_a_call_arriving_while_the_first_learns_the_team_does_not_hang_the_server(
    stub: StubApi, tmp_path: Path
) -> None:
    stub.hold.add("/api/v1/me")
    server = McpServer(stub.url, tmp_path)
    server.send({"id": 2, "method": "tools/call", "params": LIST_TICKETS})
    assert stub.wait_held(1), "the first call never reached the API"
    server.send({"id": 3, "method": "tools/call", "params": LIST_TICKETS})
    server.send({"id": 4, "method": "ping"})
    assert server.read(timeout=10) == {"jsonrpc": "2.0", "id": 4, "result": {}}
    stub.release.set()
    answers = {a["id"]: a for a in (server.read(), server.read())}
    assert sorted(answers) == [2, 3]
    for request_id, answer in answers.items():
        _assert_tickets_answer(answer, request_id)
