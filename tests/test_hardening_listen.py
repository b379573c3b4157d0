"""``cstar listen`` (a real subprocess) against a scripted cStar API whose HTTP and WebSocket share one
origin, for what a misbehaving server or proxy can send: a ``websocketUrl`` on another origin (the key
must not follow it), an oversized frame after a replayed event (the run must stop, not loop), frames
that break the grammar (reported and acked, never the end of the session), control characters in
server text (shown escaped) and an ``event_too_large`` notice with a nonsense size."""

from __future__ import annotations

import contextlib
import json
import signal
import socket
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.routing import WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from tests.support.cli import close_pipes
from tests.support.fake_api import session_routes, start_uvicorn
from tests.test_listen import Listen

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(90)]

KEY = "sk_test_" + "h4rd3n1ng" * 3
Script = Callable[[WebSocket, "FakeApi"], Awaitable[None]]


def event(n: int, **fields: Any) -> str:
    event_id = f"evt_{n:024d}"
    frame: dict[str, Any] = {
        "type": "event",
        "eventId": event_id,
        "eventType": "ticket.created",
        "payload": json.dumps({"id": event_id, "type": "ticket.created", "data": {}}),
        "headers": {"X-Event-Type": "ticket.created", "X-Event-ID": event_id, "X-Webhook-ID": "cls_fake"},
    }
    frame.update(fields)
    return json.dumps(frame)


def welcome(resumed_after: str | None = None) -> str:
    return json.dumps({"type": "welcome", "sessionId": "cls_fake", "resumedAfter": resumed_after, "lastEventId": None})


@dataclass
class FakeApi:
    """A cStar API on 127.0.0.1 (uvicorn in a thread): ``/api/v1/me``, CLI sessions, and a session
    WebSocket at ``/ws`` run by ``script``. ``websocket_url`` replaces the session's own URL."""

    script: Script
    websocket_url: str | None = None
    connections: list[dict[str, str]] = field(default_factory=list)
    acks: list[dict[str, Any]] = field(default_factory=list)
    keys: dict[str, str] = field(default_factory=lambda: {"sk_test": KEY})
    port: int = 0

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def recv_ack(self, ws: WebSocket) -> dict[str, Any]:
        ack: dict[str, Any] = json.loads(await ws.receive_text())
        self.acks.append(ack)
        return ack

    def app(self) -> Starlette:
        async def ws_endpoint(ws: WebSocket) -> None:
            self.connections.append(dict(ws.headers))
            await ws.accept()
            try:
                await self.script(ws, self)
                await ws.receive_text()  # until the client goes
            except (WebSocketDisconnect, RuntimeError):
                pass

        def websocket_url() -> str:
            return self.websocket_url or f"ws://127.0.0.1:{self.port}/ws"

        return Starlette(
            routes=[*session_routes("cls_fake", "whsec_fake", websocket_url), WebSocketRoute("/ws", ws_endpoint)]
        )


@pytest.fixture
def serve() -> Iterator[Callable[..., FakeApi]]:
    servers: list[tuple[uvicorn.Server, threading.Thread]] = []

    def start(script: Script, **kwargs: Any) -> FakeApi:
        fake = FakeApi(script, **kwargs)
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        fake.port = sock.getsockname()[1]
        config = uvicorn.Config(fake.app(), log_level="critical", lifespan="off", ws_max_size=2**20)
        servers.append(start_uvicorn(config, sock))
        return fake

    yield start
    for server, thread in servers:
        server.should_exit = True
        thread.join(10)


def listen(fake: FakeApi, *args: str) -> Listen:
    return Listen(fake, "--no-color", *args, key=KEY)


def finish(run: Listen, sig: int | None = signal.SIGINT) -> int:
    try:
        return run.finish(sig)
    finally:
        close_pipes(run.proc)


# --- 1. the key only goes to the API's own origin ---------------------------------------------------


class Logger:
    """A TCP server on 127.0.0.1 that records whatever each connection sends first."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.received: list[bytes] = []
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn:
                conn.settimeout(2)
                with contextlib.suppress(OSError):
                    self.received.append(conn.recv(65536))

    def close(self) -> None:
        self.sock.close()
        self.thread.join(5)


@pytest.mark.parametrize("where", ["other-port", "other-host", "wss-for-http"])
def test_a_websocket_url_off_the_apis_origin_is_refused_before_the_key_is_sent(
    serve: Callable[..., FakeApi], where: str
) -> None:
    async def script(ws: WebSocket, fake: FakeApi) -> None:
        await ws.send_text(welcome())

    logger = Logger()
    try:
        url = {
            "other-port": f"ws://127.0.0.1:{logger.port}/ws",
            "other-host": f"ws://localhost:{logger.port}/ws",
            "wss-for-http": f"wss://127.0.0.1:{logger.port}/ws",
        }[where]
        fake = serve(script, websocket_url=url)
        run = listen(fake)
        code = finish(run, sig=None)
    finally:
        logger.close()
    assert code == 9
    text = "\n".join(run.err)
    host = "localhost" if where == "other-host" else "127.0.0.1"
    assert f"{host}:{logger.port}" in text and "not on the API's origin" in text and "Hint:" in text
    assert logger.received == [] and fake.connections == []


def test_the_apis_own_origin_is_accepted(serve: Callable[..., FakeApi]) -> None:
    async def script(ws: WebSocket, fake: FakeApi) -> None:
        await ws.send_text(welcome())
        await ws.send_text(event(1))
        await fake.recv_ack(ws)

    fake = serve(script)
    run = listen(fake)
    run.wait(run.out, lambda line: "evt_000000000000000000000001" in line)
    assert finish(run) == 130
    assert fake.connections[0]["authorization"] == f"Bearer {KEY}"


# --- 3. an oversized frame after a replayed event ends the run ----------------------------------------


def test_an_oversized_frame_after_a_replayed_event_stops_the_run(serve: Callable[..., FakeApi]) -> None:
    big = event(2, payload="x" * (17 * 1024 * 1024))

    async def script(ws: WebSocket, fake: FakeApi) -> None:
        # A server that ignores Last-Event-ID and X-Max-Frame-Bytes: the same small, already acked
        # event, then a frame over the client's limit, on every connection.
        await ws.send_text(welcome(None))
        await ws.send_text(event(1))
        await fake.recv_ack(ws)
        await ws.send_text(big)

    fake = serve(script)
    run = listen(fake)
    deadline = time.monotonic() + 60
    while run.proc.poll() is None:
        assert time.monotonic() < deadline, f"listen kept going: {run.err[-5:]}"
        time.sleep(0.05)
    assert finish(run, sig=None) == 8
    assert any("keeps sending an event larger than" in line for line in run.err)
    assert len(fake.connections) == 3, "one first connection and two resumes at the same point"
    assert [a["eventId"] for a in fake.acks] == ["evt_000000000000000000000001"] * 3


# --- 4, 5, 6. frames that break the grammar, server text, notices ---------------------------------------


GARBAGE = [
    "not json",
    "[1, 2, 3]",
    '{"type": "event"}',
    '{"type": "event", "eventId": 123, "payload": 5}',
    json.dumps({"type": "zzz"}),
    json.dumps({"type": "zzz"}),  # the same problem again: reported once
    event(14, headers="nope"),
    event(15, payload=None),
    event(16, payload="\ud800"),
    event(17, eventType="\x1b[31mRED\x1b]0;title\x07"),
    event(18, headers={"X-Webhook-ID": "cls\r\nX-Injected: yes"}),
    json.dumps({"type": "event_too_large", "eventId": "evt_neg", "eventType": "ticket.created", "size": -5}),
    json.dumps({"type": "event_too_large", "eventId": "evt_huge", "eventType": "ticket.created", "size": 10**30}),
    json.dumps({"type": "welcome", "resumedAfter": 7}),
    event(19, eventType="ticket.\u202ecreated"),
    event(99),
]
#: The frames above that name an event id: each is acked exactly once.
ACKED = [
    "evt_000000000000000000000014",
    "evt_000000000000000000000015",
    "evt_000000000000000000000016",
    "evt_000000000000000000000017",
    "evt_000000000000000000000018",
    "evt_neg",
    "evt_huge",
    "evt_000000000000000000000019",
    "evt_000000000000000000000099",
]


def garbage_script(ws: WebSocket, fake: FakeApi) -> Awaitable[None]:
    async def run() -> None:
        await ws.send_text(welcome())
        for frame in GARBAGE:
            await ws.send_text(frame)
        for _ in ACKED:
            await fake.recv_ack(ws)

    return run()


def test_frames_that_break_the_grammar_are_reported_acked_and_the_session_goes_on(
    serve: Callable[..., FakeApi],
) -> None:
    fake = serve(garbage_script)
    run = listen(fake)
    run.wait(run.out, lambda line: "evt_000000000000000000000099" in line)
    deadline = time.monotonic() + 20
    while len(fake.acks) < len(ACKED):
        assert time.monotonic() < deadline, fake.acks
        time.sleep(0.02)
    assert finish(run) == 130
    err = "\n".join(run.err)
    out = "\n".join(run.out)
    assert "Unexpected" not in err
    # Every event frame is acked once, in order; the malformed ones as failed, naming why.
    assert [a["eventId"] for a in fake.acks] == ACKED
    by_id = {a["eventId"]: a for a in fake.acks}
    assert by_id["evt_000000000000000000000014"]["error"] == "malformed_frame: headers is not an object of strings"
    assert by_id["evt_000000000000000000000016"]["error"] == "malformed_frame: payload is not valid Unicode text"
    assert by_id["evt_000000000000000000000099"]["error"] is None
    assert by_id["evt_neg"]["error"] == "event_too_large: unknown size over the 16777216-byte limit"
    assert by_id["evt_huge"]["error"] == "event_too_large: unknown size over the 16777216-byte limit"
    # Reported once each, naming the event when there is one.
    assert "Ignored event [evt_000000000000000000000014] from the server: headers is not an object of strings" in err
    assert err.count("unknown type 'zzz'") == 1
    assert "not JSON" in err and "not a JSON object" in err and "event frame without an eventId string" in err
    assert "welcome resumedAfter is not a string" in err
    assert err.count("of unknown size") == 2 and "-5" not in err and str(10**30) not in err
    # Server text never reaches the terminal raw.
    assert "\x1b" not in out + err and "\r" not in out + err and "\u202e" not in out + err
    assert "--> ticket.\\u202ecreated [evt_000000000000000000000019]" in out
    assert "12 malformed frames ignored" in err


def test_json_lines_keep_server_text_as_json_strings(serve: Callable[..., FakeApi]) -> None:
    fake = serve(garbage_script)
    run = listen(fake, "--format", "json")
    run.wait(run.out, lambda line: "evt_000000000000000000000099" in line)
    assert finish(run) == 130
    lines = run.json_lines()
    events = {line["eventId"]: line for line in lines if line["type"] == "event"}
    assert events["evt_000000000000000000000019"]["eventType"] == "ticket.\u202ecreated"
    notices = [line for line in lines if line["type"] == "event_too_large"]
    assert [(n["eventId"], n["size"]) for n in notices] == [("evt_neg", None), ("evt_huge", None)]
    assert "\x1b" not in "\n".join(run.err)
