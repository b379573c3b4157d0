"""The relay's frame limit against a scripted WebSocket server: the ``X-Max-Frame-Bytes`` handshake
header, ``event_too_large`` notices, a server that ignores the limit (1009 after every resume), close
4403, and which event a stop leaves unacknowledged."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from websockets.asyncio.server import ServerConnection, serve
from websockets.http11 import Request

from cstar_cli.errors import CStarPermissionError, CStarServerError
from cstar_cli.relay import (
    DEFAULT_MAX_FRAME_BYTES,
    DuplicateIgnored,
    EventReceived,
    EventTooLarge,
    ForwardOptions,
    Reconnecting,
    Relay,
)
from cstar_cli.relay import _relay as relay_module
from tests.test_listen_relay import KEY, acks, assert_grammar, event

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(30)]

Script = Callable[[ServerConnection, int], Awaitable[None]]
LIMIT = 2000


def notice(event_id: str, size: int) -> str:
    return json.dumps({"type": "event_too_large", "eventId": event_id, "eventType": "ticket.created", "size": size})


def big_event(event_id: str) -> str:
    """An event frame over :data:`LIMIT`, built like any other."""
    frame = json.loads(event(event_id))
    frame["payload"] = json.dumps({"id": event_id, "type": "ticket.created", "blob": "x" * (LIMIT * 2)})
    return json.dumps(frame)


async def serve_relay(
    script: Script,
    stop_when: Callable[[list[Any]], bool],
    *,
    relay_kwargs: dict[str, Any] | None = None,
    closed: list[str] | None = None,
    into: list[Any] | None = None,
) -> tuple[list[Any], list[dict[str, str]], Relay]:
    """Serve ``script`` (called per connection with its number) and run a relay against it until
    ``stop_when(elements)``; returns the elements (also collected ``into``), each connection's
    request headers and the closed relay. ``closed`` collects the session ids it deleted."""
    requests: list[dict[str, str]] = []
    elements: list[Any] = [] if into is None else into

    def check(connection: ServerConnection, request: Request) -> None:
        requests.append(dict(request.headers.raw_items()))

    async def handler(ws: ServerConnection) -> None:
        await script(ws, len(requests))

    kwargs: dict[str, Any] = {"max_frame_bytes": LIMIT} if relay_kwargs is None else dict(relay_kwargs)
    if closed is not None:
        kwargs["close_session"] = closed.append
    async with serve(handler, "127.0.0.1", 0, process_request=check) as server:
        port = server.sockets[0].getsockname()[1]
        relay = Relay(
            lambda: {"id": "cls_1", "secret": "whsec_one", "websocketUrl": f"ws://127.0.0.1:{port}/ws"},
            api_key=KEY,
            **kwargs,
        )
        try:
            async for element in relay.run():
                elements.append(element)
                if stop_when(elements):
                    break
        finally:
            await relay.aclose()
    assert_grammar(elements)
    return elements, requests, relay


def run(coro: Awaitable[Any]) -> Any:
    return asyncio.run(asyncio.wait_for(coro, 20))


def test_the_frame_limit_is_announced_and_defaults_to_16_mib() -> None:
    assert DEFAULT_MAX_FRAME_BYTES == 16 * 1024 * 1024

    async def script(ws: ServerConnection, n: int) -> None:
        await ws.send(event("evt_1"))
        await acks(ws, 1)
        await ws.wait_closed()

    for kwargs, expected in (({}, str(DEFAULT_MAX_FRAME_BYTES)), ({"max_frame_bytes": LIMIT}, str(LIMIT))):
        elements, requests, _ = run(
            serve_relay(script, lambda els: any(isinstance(e, EventReceived) for e in els), relay_kwargs=kwargs)
        )
        assert requests[0]["X-Max-Frame-Bytes"] == expected
    with pytest.raises(ValueError):
        Relay(dict, api_key=KEY, max_frame_bytes=0)


def test_event_too_large_notice_is_reported_acked_as_failed_and_the_next_event_flows() -> None:
    seen: list[dict[str, Any]] = []

    async def script(ws: ServerConnection, n: int) -> None:
        if n == 1:
            await ws.send(notice("evt_big", 17_000_000))
            await ws.send(event("evt_2"))
            seen.extend(await acks(ws, 2))
            await ws.close(1011)
        else:
            # The ack for the notice was lost: the server says it again, and gets the same ack.
            await ws.send(notice("evt_big", 17_000_000))
            seen.extend(await acks(ws, 1))
            await ws.send(event("evt_3"))
            seen.extend(await acks(ws, 1))
            await ws.wait_closed()

    elements, requests, relay = run(
        serve_relay(script, lambda els: any(isinstance(e, EventReceived) and e.event_id == "evt_3" for e in els))
    )
    (too_large,) = [e for e in elements if isinstance(e, EventTooLarge)]
    assert (too_large.event_id, too_large.event_type, too_large.size, too_large.limit) == (
        "evt_big",
        "ticket.created",
        17_000_000,
        LIMIT,
    )
    expected_error = f"event_too_large: 17000000 bytes over the {LIMIT}-byte limit"
    assert too_large.error == expected_error
    assert seen[0] == {
        "type": "ack",
        "eventId": "evt_big",
        "status": None,
        "durationMs": 0,
        "attempts": 0,
        "error": expected_error,
    }
    assert seen[1]["eventId"] == "evt_2" and seen[1]["error"] is None
    assert seen[2] == seen[0]
    assert [e.event_id for e in elements if isinstance(e, DuplicateIgnored)] == ["evt_big"]
    assert requests[1]["Last-Event-ID"] == "evt_2"
    totals = relay.totals()
    assert (totals.too_large, totals.received, totals.duplicates) == (1, 2, 1)


def test_a_server_that_ignores_the_limit_ends_the_run_instead_of_looping(monkeypatch: pytest.MonkeyPatch) -> None:
    connections: list[int] = []
    steps: list[int] = []

    def quick_backoff(step: int) -> float:
        steps.append(step)
        return 0.01

    monkeypatch.setattr(relay_module, "_backoff", quick_backoff)

    async def script(ws: ServerConnection, n: int) -> None:
        connections.append(n)
        if n == 1:
            await ws.send(event("evt_1"))
            await acks(ws, 1)
        # Every connection, the same over-limit frame next: the client closes with 1009.
        await ws.send(big_event("evt_2"))
        await ws.wait_closed()

    elements: list[Any] = []
    with pytest.raises(CStarServerError) as e:
        run(serve_relay(script, lambda els: False, into=elements))
    assert e.value.exit_code == 8 and e.value.code == "event_too_large"
    assert "right after evt_1" in e.value.message and f"{LIMIT}-byte" in e.value.message
    assert "\n" not in e.value.message and e.value.hint
    # Three failed connections on the same frame (the first made progress, the next two none), then stop.
    assert connections == [1, 2, 3]
    reconnecting = [el for el in elements if isinstance(el, Reconnecting)]
    assert len(reconnecting) == 2 and all("1009" in r.reason for r in reconnecting)
    # The backoff starts over after the first connection (it acked evt_1), not after the second.
    assert steps == [1, 2]
    assert [e.event_id for e in elements if isinstance(e, EventReceived)] == ["evt_1"]


def test_backoff_starts_over_only_after_progress(monkeypatch: pytest.MonkeyPatch) -> None:
    steps: list[int] = []

    def quick_backoff(step: int) -> float:
        steps.append(step)
        return 0.01

    monkeypatch.setattr(relay_module, "_backoff", quick_backoff)

    async def script(ws: ServerConnection, n: int) -> None:
        if n in (2, 4):
            await ws.send(event(f"evt_{n}"))
            await acks(ws, 1)
        await ws.close(1011)

    run(serve_relay(script, lambda els: sum(isinstance(e, Reconnecting) for e in els) == 5))
    # Connections 2 and 4 acked an event (the step starts over after them); 1, 3 and 5 made none.
    assert steps == [1, 1, 2, 1, 2]


def test_nothing_acked_yet_still_stops_naming_the_start() -> None:
    async def script(ws: ServerConnection, n: int) -> None:
        await ws.send(json.dumps({"type": "welcome", "sessionId": "cls_1", "resumedAfter": None, "lastEventId": None}))
        await ws.send(big_event("evt_1"))
        await ws.wait_closed()

    with pytest.raises(CStarServerError) as e:
        run(serve_relay(script, lambda els: False))
    assert "at the start of the session" in e.value.message


def test_close_4403_is_a_permission_error() -> None:
    async def script(ws: ServerConnection, n: int) -> None:
        await ws.close(4403, "a secret key is required")

    with pytest.raises(CStarPermissionError) as e:
        run(serve_relay(script, lambda els: False))
    assert e.value.exit_code == 4 and KEY not in e.value.message


def test_a_stop_during_a_delivery_names_the_unacknowledged_event_and_closes_the_session() -> None:
    async def script(ws: ServerConnection, n: int) -> None:
        await ws.send(event("evt_1"))
        await ws.wait_closed()

    async def main() -> tuple[Any, list[str]]:
        # A receiver that accepts the connection and never answers.
        stall = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
        port = stall.sockets[0].getsockname()[1]
        closed: list[str] = []
        forward = ForwardOptions(f"http://127.0.0.1:{port}/", timeout=30)
        try:
            _, _, relay = await serve_relay(
                script,
                lambda els: isinstance(els[-1], EventReceived),
                relay_kwargs={"forward": forward},
                closed=closed,
            )
        finally:
            stall.close()
        return relay.totals(), closed

    totals, closed = run(main())
    assert totals.in_flight == "evt_1" and totals.forwarded == 0
    assert closed == ["cls_1"]


def test_a_failing_close_session_does_not_hide_the_totals() -> None:
    """Deleting the session is best effort: an old server without the endpoint, or a network error,
    leaves the run's outcome as it was."""

    async def script(ws: ServerConnection, n: int) -> None:
        await ws.send(event("evt_1"))
        await acks(ws, 1)
        await ws.wait_closed()

    def failing(session_id: str) -> None:
        raise CStarServerError("HTTP 405")

    async def main() -> Any:
        _, _, relay = await serve_relay(
            script, lambda els: isinstance(els[-1], EventReceived), relay_kwargs={"close_session": failing}
        )
        return await relay.aclose()

    assert run(main()).received == 1
