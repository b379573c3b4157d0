"""Whatever JSON a server sends, the relay's frame handling never raises: a frame that breaks the
grammar becomes a :class:`FrameIgnored` (acked as failed when it names an event), never an exception
that would end ``cstar listen``. Driven through the relay's own routing with a recording socket."""

from __future__ import annotations

import asyncio
import json
from typing import Any
from unittest import mock

from hypothesis import example, given, settings
from hypothesis import strategies as st

from cstar_cli.relay import DuplicateIgnored, EventReceived, EventTooLarge, FrameIgnored, Relay
from cstar_cli.relay import _relay as relay_module
from cstar_cli.relay._frames import MalformedFrame, check_welcome, decode, event_id_of, read_event, too_large_notice
from cstar_cli.relay._relay import _Replay

KEY = "sk_test_" + "f" * 24

_SCALARS = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20)
JSON = st.recursive(
    _SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)
_FIELD_NAMES = ["type", "eventId", "eventType", "payload", "headers", "size", "resumedAfter", "lastEventId"]
# Frames that look like the grammar's, with any value in any field: what a buggy server sends.
FRAMES = st.fixed_dictionaries(
    {"type": st.sampled_from(["event", "event_too_large", "welcome", "zzz"]) | JSON},
    optional={
        name: JSON
        | st.text(max_size=12)
        | st.dictionaries(st.sampled_from(["X-Event-Type", "X-Webhook-ID", "x-cstar-request-id"]), JSON)
        for name in _FIELD_NAMES[1:]
    },
)


class RecordingSocket:
    """Stands in for the WebSocket: keeps what the relay sends (its acks)."""

    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []

    async def send(self, text: str) -> None:
        self.sent.append(json.loads(text))


def route(frames: list[Any]) -> tuple[list[Any], list[dict[str, Any]]]:
    """Feed ``frames`` (JSON values, or raw text) through one relay; its elements and acks."""
    relay = Relay(lambda: {}, api_key=KEY)
    ws = RecordingSocket()
    replay = _Replay("cls_1", None, active=False)
    elements: list[Any] = []

    async def main() -> None:
        for frame in frames:
            raw = frame if isinstance(frame, str) else json.dumps(frame)
            decoded = decode(raw)
            parsed: dict[str, Any] | str = decoded if decoded is not None else "not JSON"
            async for element in relay._route(ws, parsed, replay):  # type: ignore[arg-type]
                elements.append(element)

    # One ack per write (no batching), so each is recorded as it is sent.
    with mock.patch.object(relay_module, "ACK_BATCH", 1):
        asyncio.run(main())
    return elements, ws.sent


@settings(max_examples=300, deadline=None)
@given(st.lists(FRAMES | JSON, max_size=6))
@example([{"type": "event", "eventId": "evt_1", "headers": "nope", "payload": "{}"}])
@example([{"type": "event", "eventId": "evt_1", "payload": "\ud800"}])
@example([{"type": "event", "eventId": "evt\r\n1", "payload": "{}"}])
@example([{"type": "event_too_large", "eventId": "evt_1", "size": -1}])
@example([{"type": "welcome", "resumedAfter": 7, "lastEventId": ["x"]}])
def test_arbitrary_frames_never_raise_out_of_the_relay(frames: list[Any]) -> None:
    elements, acks = route(frames)
    named = [
        f for f in frames if isinstance(f, dict) and f.get("type") in ("event", "event_too_large") and event_id_of(f)
    ]
    # Every frame naming an event is answered with exactly one ack, in order.
    assert [a["eventId"] for a in acks] == [f["eventId"] for f in named]
    for element in elements:
        assert isinstance(element, (EventReceived, EventTooLarge, FrameIgnored, DuplicateIgnored))
        if isinstance(element, EventTooLarge):
            assert element.size is None or element.size >= 0


@settings(max_examples=300, deadline=None)
@given(FRAMES)
def test_the_readers_raise_only_malformed_frame(frame: dict[str, Any]) -> None:
    event_id = event_id_of(frame) or "evt_1"
    for read in (lambda: read_event(frame, event_id, "cls_1"), lambda: check_welcome(frame)):
        try:
            read()
        except MalformedFrame as e:
            assert e.why and "\n" not in e.why
    notice = too_large_notice(frame, event_id, 100)
    assert notice.size is None or 0 <= notice.size <= 2**53 - 1


def test_a_replayed_malformed_event_is_a_duplicate_not_a_second_report() -> None:
    bad = {"type": "event", "eventId": "evt_1", "payload": "{}", "headers": "nope"}
    elements, acks = route([bad, bad])
    assert [type(e).__name__ for e in elements] == ["FrameIgnored", "DuplicateIgnored"]
    assert acks[0] == acks[1] and acks[0]["error"] == "malformed_frame: headers is not an object of strings"


def test_frames_without_an_event_id_are_reported_once_per_reason() -> None:
    elements, acks = route(["not json", "still not", {"type": "zzz"}, {"type": "zzz"}, {"type": "yyy"}])
    assert [e.reason for e in elements] == ["not JSON", "unknown type 'zzz'", "unknown type 'yyy'"]
    assert acks == []
