"""The relay against a scripted WebSocket server on loopback, for what the emulator does not do on
demand: a resume point the server no longer holds, a replayed duplicate, a renewed session with a
new secret, a handshake refused with HTTP 401, a WebSocket that cannot be opened at all."""

from __future__ import annotations

import asyncio
import json
import re
import socket
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from websockets.asyncio.server import ServerConnection, serve
from websockets.http11 import Request, Response

from cstar_cli.errors import CStarAuthenticationError, CStarConnectionError
from cstar_cli.relay import (
    DuplicateIgnored,
    EventReceived,
    FrameIgnored,
    Ready,
    Reconnected,
    Reconnecting,
    Relay,
    SessionRenewed,
)

pytestmark = pytest.mark.timeout(30)

KEY = "sk_test_" + "r" * 24
Script = Callable[[ServerConnection, int], Awaitable[None]]


def event(event_id: str) -> str:
    payload = json.dumps({"id": event_id, "type": "ticket.created", "created_at": "2020-01-01T00:00:00.000Z"})
    headers = {"X-Event-Type": "ticket.created", "X-Event-ID": event_id, "X-Webhook-ID": "cls_1"}
    return json.dumps(
        {"type": "event", "eventId": event_id, "eventType": "ticket.created", "payload": payload, "headers": headers}
    )


async def acks(ws: ServerConnection, n: int) -> list[dict[str, Any]]:
    return [json.loads(await ws.recv()) for _ in range(n)]


def run_relay(
    script: Script,
    stop_when: Callable[[list[Any]], bool],
    *,
    sessions: list[dict[str, Any]] | None = None,
    reject: int | None = None,
) -> tuple[list[Any], list[dict[str, Any]]]:
    """Serve ``script`` (called per connection with its number), run a relay against it until
    ``stop_when(elements)``; return the elements and what each connection's request carried."""
    requests: list[dict[str, Any]] = []
    elements: list[Any] = []

    def check(connection: ServerConnection, request: Request) -> Response | None:
        requests.append(dict(request.headers.raw_items()))
        if reject is not None:
            return connection.respond(reject, "no\n")
        return None

    async def handler(ws: ServerConnection) -> None:
        await script(ws, len(requests))

    async def main() -> None:
        async with serve(handler, "127.0.0.1", 0, process_request=check) as server:
            port = server.sockets[0].getsockname()[1]
            queue = list(sessions or [{"id": "cls_1", "secret": "whsec_one"}])

            def open_session() -> dict[str, Any]:
                session = queue.pop(0) if len(queue) > 1 else queue[0]
                return {**session, "websocketUrl": f"ws://127.0.0.1:{port}/ws"}

            relay = Relay(open_session, api_key=KEY)
            try:
                async for element in relay.run():
                    elements.append(element)
                    if stop_when(elements):
                        break
            finally:
                await relay.aclose()

    asyncio.run(asyncio.wait_for(main(), 20))
    assert_grammar(elements)
    return elements, requests


# The stream grammar of cstar_cli.relay._elements, over one letter per element.
_LETTERS = {
    "Ready": "R",
    "EventReceived": "e",
    "DeliveryAttempted": "a",
    "Delivered": "d",
    "DeliveryFailed": "f",
    "EventTooLarge": "t",
    "DuplicateIgnored": "u",
    "FrameIgnored": "i",
    "Reconnecting": "C",
    "SessionRenewed": "S",
    "Reconnected": "D",
}
_EVENT = "(?:e(?:a+[df])?|t|u|i)"
_GRAMMAR = re.compile(f"R{_EVENT}*(?:C[CS]*{_EVENT}*D?{_EVENT}*)*")


def assert_grammar(elements: list[Any]) -> None:
    """Fail unless ``elements`` follow the grammar (a stop may cut the last event short)."""
    word = "".join(_LETTERS[type(e).__name__] for e in elements)
    # An event cut short by the stop reads as one only reported.
    assert _GRAMMAR.fullmatch(re.sub("ea*$", "e", word)), word


@pytest.mark.e2e
def test_resume_gap_duplicate_and_order() -> None:
    async def script(ws: ServerConnection, n: int) -> None:
        if n == 1:
            await ws.send(json.dumps({"type": "welcome", "sessionId": "cls_1", "resumedAfter": None}))
            await ws.send("not json")
            await ws.send(json.dumps({"type": "something-new"}))
            await ws.send(event("evt_1"))
            await acks(ws, 1)
            await ws.send(event("evt_2"))
            await acks(ws, 1)
            await ws.close(1011)
        else:
            # Pretend evt_2 is unknown here (older than retention), then replay it anyway.
            await ws.send(json.dumps({"type": "welcome", "sessionId": "cls_1", "resumedAfter": None}))
            await ws.send(event("evt_2"))
            await ws.send(event("evt_3"))
            await acks(ws, 2)
            await ws.wait_closed()

    elements, requests = run_relay(script, lambda els: any(isinstance(e, Reconnected) for e in els))
    ignored = [e for e in elements if isinstance(e, FrameIgnored)]
    assert [(e.event_id, e.reason) for e in ignored] == [(None, "not JSON"), (None, "unknown type 'something-new'")]
    elements = [e for e in elements if not isinstance(e, FrameIgnored)]
    kinds = [type(e).__name__ for e in elements]
    assert kinds[:3] == ["Ready", "EventReceived", "EventReceived"]
    assert "Reconnecting" in kinds and kinds[-1] == "Reconnected"
    assert [e.event_id for e in elements if isinstance(e, EventReceived)] == ["evt_1", "evt_2", "evt_3"]
    assert [e.event_id for e in elements if isinstance(e, DuplicateIgnored)] == ["evt_2"]
    reconnected = elements[-1]
    assert reconnected.resumed_after == "evt_2" and reconnected.gap and reconnected.replayed == 2
    assert "Last-Event-ID" not in requests[0] and requests[1]["Last-Event-ID"] == "evt_2"
    assert all(r["Authorization"] == f"Bearer {KEY}" for r in requests)


@pytest.mark.e2e
def test_close_4404_renews_the_session_and_resumes() -> None:
    async def script(ws: ServerConnection, n: int) -> None:
        if n == 1:
            await ws.send(event("evt_1"))
            await acks(ws, 1)
            await ws.close(4404, "unknown or expired session")
        else:
            await ws.send(json.dumps({"type": "welcome", "sessionId": "cls_2", "resumedAfter": "evt_1"}))
            await ws.wait_closed()

    sessions = [{"id": "cls_1", "secret": "whsec_one"}, {"id": "cls_2", "secret": "whsec_two"}]
    elements, requests = run_relay(script, lambda els: any(isinstance(e, Reconnected) for e in els), sessions=sessions)
    ready = elements[0]
    assert isinstance(ready, Ready) and ready.session_id == "cls_1" and ready.secret == "whsec_one"
    (renewed,) = [e for e in elements if isinstance(e, SessionRenewed)]
    assert (renewed.session_id, renewed.secret, renewed.secret_changed) == ("cls_2", "whsec_two", True)
    assert [e.reason for e in elements if isinstance(e, Reconnecting)][0] == "the session expired"
    assert requests[1]["Last-Event-ID"] == "evt_1"
    assert not elements[-1].gap


@pytest.mark.e2e
def test_close_4401_raises_authentication_error() -> None:
    async def script(ws: ServerConnection, n: int) -> None:
        await ws.close(4401, "invalid or revoked API key")

    with pytest.raises(CStarAuthenticationError) as e:
        run_relay(script, lambda els: False)
    assert e.value.exit_code == 3 and e.value.code == "key_revoked"


@pytest.mark.e2e
def test_handshake_refused_with_401_raises_authentication_error() -> None:
    async def script(ws: ServerConnection, n: int) -> None:
        await ws.wait_closed()

    with pytest.raises(CStarAuthenticationError):
        run_relay(script, lambda els: False, reject=401)


def test_websocket_that_cannot_be_opened_is_a_connection_error() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]

    async def main() -> None:
        relay = Relay(
            lambda: {"id": "cls_1", "secret": "whsec_x", "websocketUrl": f"ws://127.0.0.1:{port}/ws"}, api_key=KEY
        )
        try:
            async for _ in relay.run():
                pass
        finally:
            await relay.aclose()

    with pytest.raises(CStarConnectionError) as e:
        asyncio.run(main())
    assert e.value.exit_code == 9 and "connection refused" in e.value.message
    assert KEY not in e.value.message


def test_plain_ws_to_a_remote_host_is_refused() -> None:
    async def main() -> None:
        relay = Relay(
            lambda: {"id": "cls_1", "secret": "whsec_x", "websocketUrl": "ws://api.example.com/ws"}, api_key=KEY
        )
        try:
            async for _ in relay.run():
                pass
        finally:
            await relay.aclose()

    with pytest.raises(CStarConnectionError) as e:
        asyncio.run(main())
    assert e.value.code == "insecure_websocket"


@pytest.mark.e2e
def test_first_connection_renews_a_gone_session_even_after_transient_failures() -> None:
    """Two failed handshakes, then 404 (the session is gone): a renewal does not use up a try."""
    statuses = [500, 500, 404]
    opened: list[str] = []

    def check(connection: ServerConnection, request: Request) -> Response | None:
        return connection.respond(statuses.pop(0), "no\n") if statuses else None

    async def handler(ws: ServerConnection) -> None:
        await ws.send(event("evt_1"))
        await ws.wait_closed()

    async def main() -> list[Any]:
        elements: list[Any] = []
        async with serve(handler, "127.0.0.1", 0, process_request=check) as server:
            port = server.sockets[0].getsockname()[1]

            def open_session() -> dict[str, Any]:
                opened.append(f"cls_{len(opened) + 1}")
                return {"id": opened[-1], "secret": "whsec_x", "websocketUrl": f"ws://127.0.0.1:{port}/ws"}

            relay = Relay(open_session, api_key=KEY)
            try:
                async for element in relay.run():
                    elements.append(element)
                    if isinstance(element, EventReceived):
                        break
            finally:
                await relay.aclose()
        return elements

    elements = asyncio.run(asyncio.wait_for(main(), 20))
    assert_grammar(elements)
    assert opened == ["cls_1", "cls_2"] and not statuses
    assert isinstance(elements[0], Ready) and elements[0].session_id == "cls_2"
    assert [e.event_id for e in elements if isinstance(e, EventReceived)] == ["evt_1"]
