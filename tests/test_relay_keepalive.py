"""The listen WebSocket's keepalive against a real ``cstar listen`` subprocess with a short keepalive
(``CSTAR_LISTEN_KEEPALIVE``): a server writing a long backlog without pause is not mistaken for a dead
one (its data is proof of life, so no pong has to squeeze through the backlog), and a peer that goes
silent (no data, no pong) is still given up and reconnected to."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from types import SimpleNamespace

import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.routing import WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from cstar_cli.relay._connection import KEEPALIVE_INTERVAL, KEEPALIVE_TIMEOUT, keepalive_settings
from tests.support.fake_api import session_routes, start_uvicorn
from tests.test_listen import Listen

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]

KEY = "sk_test_" + "k33pal1ve" * 3
BACKLOG = 100_000


def small_event(n: int) -> str:
    return json.dumps({"type": "event", "eventId": f"e{n}", "eventType": "t.x", "payload": "{}"}, separators=(",", ":"))


@dataclass
class Api:
    """A cStar API on 127.0.0.1 (uvicorn, whose WebSocket is the ``websockets`` library, in a
    thread, with its own keepalive off): ``/api/v1/me``, CLI sessions, and a session WebSocket at
    ``/ws`` that writes ``frames`` (after ``welcome``) without pausing while acks are read
    concurrently. ``connections`` counts WebSocket connections; ``acked`` the acks read."""

    frames: int
    port: int = 0
    connections: int = 0
    acked: list[str] = field(default_factory=list)
    all_acked: threading.Event = field(default_factory=threading.Event)

    def app(self) -> Starlette:
        async def read_acks(ws: WebSocket) -> None:
            while True:
                ack = json.loads(await ws.receive_text())
                self.acked.append(ack["eventId"])
                if len(self.acked) >= self.frames:
                    self.all_acked.set()

        async def ws_endpoint(ws: WebSocket) -> None:
            self.connections += 1
            first = self.connections == 1
            await ws.accept()
            welcome = {"type": "welcome", "sessionId": "cls_ka", "resumedAfter": None, "lastEventId": None}
            reader = asyncio.ensure_future(read_acks(ws))
            try:
                await ws.send_text(json.dumps(welcome))
                if first:
                    for n in range(self.frames):  # no pause: the backlog is whatever TCP holds
                        await ws.send_text(small_event(n))
                await reader
            except (WebSocketDisconnect, RuntimeError):
                pass
            finally:
                reader.cancel()
                with contextlib.suppress(BaseException):
                    await reader

        def websocket_url() -> str:
            return f"ws://127.0.0.1:{self.port}/ws"

        return Starlette(
            routes=[*session_routes("cls_ka", "whsec_keepalive", websocket_url), WebSocketRoute("/ws", ws_endpoint)]
        )


class Receiver:
    """An HTTP/1.1 receiver on 127.0.0.1 (asyncio, in a thread) that answers every POST 200 and
    records its ``X-Event-ID`` in arrival order."""

    def __init__(self) -> None:
        self.ids: list[str] = []
        self.loop = asyncio.new_event_loop()
        ready = threading.Event()
        self.thread = threading.Thread(target=self._run, args=(ready,), daemon=True)
        self.thread.start()
        assert ready.wait(10)

    def _run(self, ready: threading.Event) -> None:
        asyncio.set_event_loop(self.loop)
        self.server = self.loop.run_until_complete(asyncio.start_server(self._serve, "127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.server.sockets[0].getsockname()[1]}/hook"
        ready.set()
        self.loop.run_forever()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(asyncio.IncompleteReadError, ConnectionError):
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length, event_id = 0, ""
                for line in head.split(b"\r\n")[1:]:
                    name, _, value = line.partition(b":")
                    if name.lower() == b"content-length":
                        length = int(value)
                    elif name.lower() == b"x-event-id":
                        event_id = value.strip().decode()
                await reader.readexactly(length)
                self.ids.append(event_id)
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
        writer.close()

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.server.close)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


def _start_api(api: Api, listen_on: socket.socket) -> tuple[uvicorn.Server, threading.Thread]:
    config = uvicorn.Config(
        api.app(), log_level="critical", lifespan="off", ws="websockets-sansio", ws_ping_interval=None, ws_ping_timeout=None
    )
    return start_uvicorn(config, listen_on)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    rx = Receiver()
    yield rx
    rx.close()


@contextlib.contextmanager
def running_api(api: Api) -> Iterator[None]:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    api.port = sock.getsockname()[1]
    server, thread = _start_api(api, sock)
    try:
        yield
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


def _fake(port: int) -> SimpleNamespace:
    return SimpleNamespace(keys={"sk_test": KEY}, base_url=f"http://127.0.0.1:{port}")


def test_a_long_backlog_is_not_a_dead_peer(receiver: Receiver, monkeypatch: pytest.MonkeyPatch) -> None:
    # A ping after 0.2 s of silence, given up after 0.4 s more: far less than the backlog takes to
    # drain, so a pong that had to wait behind it would end the connection many times over.
    monkeypatch.setenv("CSTAR_LISTEN_KEEPALIVE", "0.2,0.4")
    api = Api(frames=BACKLOG)
    with running_api(api):
        listen = Listen(_fake(api.port), "--forward-to", receiver.url, "--no-resume", "--format", "json")
        try:
            listen.ready()
            assert api.all_acked.wait(240), f"{len(api.acked)} of {BACKLOG} acked; stderr={listen.err[-5:]}"
        finally:
            listen.finish()
    assert api.connections == 1, listen.err[-5:]
    assert not any("Reconnecting" in line or "Connection lost" in line for line in listen.err)
    expected = [f"e{n}" for n in range(BACKLOG)]
    assert receiver.ids == expected
    assert api.acked == expected


class Freezer:
    """A TCP proxy on 127.0.0.1 in front of ``port`` (asyncio, in a thread). After :meth:`freeze`
    it stops moving bytes on the connections open at that moment (they stay open: a peer that is
    gone without a word), while new connections work."""

    def __init__(self, port: int) -> None:
        self.upstream = port
        self.frozen: list[asyncio.Event] = []
        self.live: list[asyncio.Event] = []
        self.loop = asyncio.new_event_loop()
        ready = threading.Event()
        self.thread = threading.Thread(target=self._run, args=(ready,), daemon=True)
        self.thread.start()
        assert ready.wait(10)

    def _run(self, ready: threading.Event) -> None:
        asyncio.set_event_loop(self.loop)
        self.server = self.loop.run_until_complete(asyncio.start_server(self._serve, "127.0.0.1", 0))
        self.port = self.server.sockets[0].getsockname()[1]
        ready.set()
        self.loop.run_forever()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.upstream)
        frozen = asyncio.Event()
        self.live.append(frozen)

        async def pump(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            with contextlib.suppress(ConnectionError):
                while data := await src.read(65536):
                    if frozen.is_set():
                        await asyncio.Event().wait()  # hold everything, for ever
                    dst.write(data)
                    await dst.drain()

        tasks = [asyncio.ensure_future(pump(reader, up_writer)), asyncio.ensure_future(pump(up_reader, writer))]
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        for task in tasks:
            task.cancel()
        writer.close()
        up_writer.close()

    def freeze(self) -> None:
        def do() -> None:
            for event in self.live:
                event.set()
            self.live.clear()

        self.loop.call_soon_threadsafe(do)

    def close(self) -> None:
        def stop() -> None:
            self.server.close()
            for task in asyncio.all_tasks(self.loop):
                task.cancel()
            self.loop.call_soon(self.loop.stop)

        self.loop.call_soon_threadsafe(stop)
        self.thread.join(10)
        self.loop.close()


def test_a_silent_peer_is_still_detected(receiver: Receiver, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CSTAR_LISTEN_KEEPALIVE", "0.2,0.4")
    api = Api(frames=3)
    with running_api(api):
        proxy = Freezer(api.port)
        # Sessions name the proxy's port, so the WebSocket goes through it too.
        api.port, real_port = proxy.port, api.port
        try:
            listen = Listen(_fake(proxy.port), "--forward-to", receiver.url, "--no-resume")
            try:
                listen.ready()
                assert api.all_acked.wait(30)
                proxy.freeze()  # the open WebSocket now carries nothing either way: no data, no pong
                listen.wait(listen.err, lambda line: "Connection lost" in line, timeout=30)
                # A new connection (through the proxy, not frozen) is opened and welcomed.
                deadline = time.monotonic() + 30
                while api.connections < 2:
                    assert time.monotonic() < deadline, listen.err[-5:]
                    time.sleep(0.05)
            finally:
                listen.finish()
        finally:
            api.port = real_port
            proxy.close()
    assert receiver.ids == ["e0", "e1", "e2"]


def test_keepalive_settings_from_the_environment() -> None:
    defaults = (KEEPALIVE_INTERVAL, KEEPALIVE_TIMEOUT)
    assert keepalive_settings({}) == defaults
    assert keepalive_settings({"CSTAR_LISTEN_KEEPALIVE": "0.5,2"}) == (0.5, 2.0)
    assert keepalive_settings({"CSTAR_LISTEN_KEEPALIVE": "3"}) == (3.0, KEEPALIVE_TIMEOUT)
    for bad in ("x", "1,2,3", "0", "-1", "1,", "nan", "inf"):
        assert keepalive_settings({"CSTAR_LISTEN_KEEPALIVE": bad}) == defaults, bad
