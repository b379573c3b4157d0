"""The open listen WebSockets (server contract: "Listening — CLI sessions"): each one's streaming
loop, and the registry that trigger-test, key revocation, session deletion and the close controls
reach them through.

A listener streams the partition's events after a sequence number, stored ones first and then live
ones, without a gap or a repeat in between (:func:`cstar_emulator.hub.replay_then_live`). An event
whose frame would exceed the client's ``X-Max-Frame-Bytes`` goes out as a small ``event_too_large``
notice instead. Acks the client sends back are handed to ``on_ack``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from starlette.websockets import WebSocket

from cstar_cli.protocol import events as catalog
from cstar_cli.protocol import frames
from cstar_emulator.db import Scope, dumps
from cstar_emulator.hub import Subscription, replay_then_live
from cstar_emulator.repositories.events import Event

__all__ = ["Ack", "Listener", "Listeners", "max_frame"]

log = logging.getLogger("cstar.emulator")

#: Sent events a listener remembers the sequence number of until they are acked.
UNACKED_WINDOW = 50_000


@dataclass(frozen=True)
class Ack:
    """An ``ack`` frame as received: each field None when missing or of the wrong type."""

    event_id: str | None
    status: int | None
    attempts: int | None
    duration_ms: float | None
    error: str | None
    #: The acked event's sequence number, when this socket sent it (set by the listener, not the client).
    seq: int | None = None

    @classmethod
    def parse(cls, frame: dict[str, Any], sent: dict[str, int] | None = None) -> Ack:
        """The ack in a decoded ``{"type": "ack", …}`` frame; ``sent`` (event id → seq of events the
        socket sent and not yet acked) gives, and forgets, the acked event's ``seq``."""
        event_id, status, attempts = frame.get("eventId"), frame.get("status"), frame.get("attempts")
        duration, error = frame.get("durationMs"), frame.get("error")
        event_id = event_id if isinstance(event_id, str) else None
        return cls(
            event_id,
            status if isinstance(status, int) else None,
            attempts if isinstance(attempts, int) else None,
            duration if isinstance(duration, (int, float)) else None,
            str(error) if error is not None else None,
            sent.pop(event_id, None) if sent is not None and event_id is not None else None,
        )


def max_frame(value: str | None) -> int | None:
    """``X-Max-Frame-Bytes`` as a positive int; None when absent or malformed (no limit)."""
    if value is None or not value.strip().isdigit():
        return None
    limit = int(value.strip())
    return limit if limit > 0 else None


class Listener:
    """One open listen WebSocket: its ``session_id``, the ``key_id`` and ``scope`` of the key it
    authenticated with, its event filter and the largest frame its client accepts (``max_frame``
    bytes, None: no limit announced)."""

    def __init__(
        self,
        websocket: WebSocket,
        session_id: str,
        key_id: str,
        scope: Scope,
        patterns: list[str],
        max_frame: int | None = None,
    ) -> None:
        self.websocket = websocket
        self.session_id = session_id
        self.key_id = key_id
        self.scope = scope
        self.patterns = patterns
        self.max_frame = max_frame
        self.close_code: int | None = None
        self._close_requested = asyncio.Event()
        self._matches: dict[str, bool] = {}
        self._sent = 0
        # Resends (POST /events/{id}/resend) go out between stream events, never inside one's frame.
        self._resends: asyncio.Queue[Event] = asyncio.Queue()
        self._send_lock = asyncio.Lock()
        # Event id → seq of events sent and not yet acked, so an ack can advance the device's resume
        # cursor without reading the event log (bounded: a client that never acks cannot grow it).
        self._unacked: OrderedDict[str, int] = OrderedDict()

    def wants(self, event_type: str) -> bool:
        """Whether this listener's filter matches ``event_type`` (cached per type)."""
        hit = self._matches.get(event_type)
        if hit is None:
            hit = self._matches[event_type] = catalog.matches(event_type, self.patterns)
        return hit

    def request_close(self, code: int) -> None:
        """Ask the connection to close with ``code`` (``CLOSE_ABRUPT``: drop it without a close frame)."""
        if self.close_code is None:
            self.close_code = code
        self._close_requested.set()

    def frame(self, event: Event, *, resend: bool = False) -> str:
        """The contract's ``event`` frame for ``event``, as text; a ``resend`` one carries
        ``"resend": true`` (server contract, "Event history and resend")."""
        return dumps(
            {
                "type": frames.FRAME_EVENT,
                **({"resend": True} if resend else {}),
                "eventId": event.id,
                "eventType": event.type,
                "payload": event.payload,
                "headers": {
                    "X-Event-Type": event.type,
                    "X-Event-ID": event.id,
                    "X-Webhook-ID": self.session_id,
                    "x-cstar-request-id": event.request_id,
                },
            }
        )

    def too_large(self, event: Event, size: int) -> str:
        """The ``event_too_large`` notice sent instead of an event frame of ``size`` bytes."""
        return dumps({"type": frames.FRAME_EVENT_TOO_LARGE, "eventId": event.id, "eventType": event.type, "size": size})

    async def run(
        self,
        sub: Subscription[Event],
        after: int | None,
        backlog: Callable[[int], Sequence[Event]],
        on_ack: Callable[[Ack], None],
    ) -> None:
        """Stream the events after sequence ``after`` (None: live ones only; ``backlog(seq)`` reads
        stored ones) until the client leaves, the hub ends ``sub`` or a close is requested; then
        close as asked."""
        tasks = {
            asyncio.create_task(self._send(sub, after, backlog)),
            asyncio.create_task(self._receive(on_ack)),
            asyncio.create_task(self._send_resends()),
            asyncio.create_task(self._close_requested.wait()),
        }
        try:
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        for task in done:
            if not task.cancelled() and task.exception() is not None:
                # Usually the client vanished mid-send; worth a trace when debugging, nothing more.
                log.debug("Listener %s ended: %r", self.session_id, task.exception())
        if self.close_code is not None and self.close_code != frames.CLOSE_ABRUPT:
            with contextlib.suppress(Exception):
                await self.websocket.close(self.close_code)

    async def _send(
        self, sub: Subscription[Event], after: int | None, backlog: Callable[[int], Sequence[Event]]
    ) -> None:
        async for event in replay_then_live(sub, after, backlog):
            if event is not None:
                await self._deliver(event)
        self.request_close(frames.CLOSE_GOING_AWAY)

    async def _deliver(self, event: Event) -> None:
        if not self.wants(event.type):
            return
        text = self._text(event)
        unacked = self._unacked
        unacked[event.id] = event.seq
        if len(unacked) > UNACKED_WINDOW:
            unacked.popitem(last=False)
        async with self._send_lock:
            await self.websocket.send_text(text)
        self._sent += 1
        if self._sent % 64 == 0:
            # Neither a ready queue nor a writable socket suspends, so a long burst would otherwise
            # hold the event loop (acks, API calls) until it is fully sent.
            await asyncio.sleep(0)

    def _text(self, event: Event, *, resend: bool = False) -> str:
        """The frame for ``event``, or the ``event_too_large`` notice when it exceeds ``max_frame``."""
        text = self.frame(event, resend=resend)
        limit = self.max_frame
        # A character is at most 4 bytes in UTF-8: only frames that might be over the limit get encoded.
        if limit is not None and len(text) * 4 > limit:
            size = len(text.encode("utf-8", "surrogatepass"))
            if size > limit:
                text = self.too_large(event, size)
        return text

    def resend(self, event: Event) -> None:
        """Queue ``event`` to be sent again on this socket, whatever its filter, as a ``resend`` frame."""
        self._resends.put_nowait(event)

    async def _send_resends(self) -> None:
        # A resend is not part of the stream: it does not enter _unacked, so its ack never moves the
        # device's resume cursor back to an old event.
        while True:
            event = await self._resends.get()
            text = self._text(event, resend=True)
            async with self._send_lock:
                await self.websocket.send_text(text)

    async def _receive(self, on_ack: Callable[[Ack], None]) -> None:
        while True:
            message = await self.websocket.receive()
            if message["type"] == "websocket.disconnect":
                return
            raw = message.get("text") or (message.get("bytes") or b"").decode("utf-8", "replace")
            try:
                frame = json.loads(raw)
            except ValueError:
                continue
            if isinstance(frame, dict) and frame.get("type") == frames.FRAME_ACK:
                on_ack(Ack.parse(frame, self._unacked))


class Listeners:
    """The open listen WebSockets, for trigger-test's target list and the close controls."""

    def __init__(self) -> None:
        self._open: set[Listener] = set()

    def add(self, listener: Listener) -> None:
        """Register an open listener."""
        self._open.add(listener)

    def remove(self, listener: Listener) -> None:
        """Forget a listener (it closed)."""
        self._open.discard(listener)

    def matching(self, scope: Scope, event_type: str | None) -> list[str]:
        """Session ids (each once, sorted) of connected listeners of ``scope`` whose filter matches
        ``event_type`` (None: any listener)."""
        ids = {
            listener.session_id
            for listener in self._open
            if listener.scope == scope and (event_type is None or listener.wants(event_type))
        }
        return sorted(ids)

    def resend(self, session_id: str, event: Event) -> int:
        """Queue ``event`` as a resend on every open socket of ``session_id``. Returns how many."""
        chosen = [item for item in self._open if item.session_id == session_id]
        for listener in chosen:
            listener.resend(event)
        return len(chosen)

    def close(self, code: int, *, key_id: str | None = None, session_id: str | None = None) -> int:
        """Close every listener (or those authenticated with ``key_id``, or those of ``session_id``)
        with ``code``. Returns how many."""
        chosen = [
            item
            for item in self._open
            if (key_id is None or item.key_id == key_id) and (session_id is None or item.session_id == session_id)
        ]
        for listener in chosen:
            listener.request_close(code)
        return len(chosen)
