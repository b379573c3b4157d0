"""What the relay yields: one typed element per thing that happened, in the order it happened.

The relay never prints; a frontend (``cstar listen``'s terminal and JSON-lines renderers, a test,
a benchmark) walks these elements and shows them its own way::

    stream    = Ready event* (reconnect event* Reconnected? event*)*
    reconnect = Reconnecting (Reconnecting | SessionRenewed)*
    event     = EventReceived (DeliveryAttempted+ (Delivered | DeliveryFailed))?
              | EventTooLarge
              | DuplicateIgnored
    Stopped                       (returned by Relay.aclose(), not yielded)

Delivery steps come only when forwarding. After a reconnect, the events before :class:`Reconnected`
are the server's replay; it is missing when the connection drops again first. A stop may cut the
stream anywhere, even between an :class:`EventReceived` and its outcome (see :attr:`Stopped.in_flight`).

Times are unix seconds (``float``) unless the name says ``_ms`` (milliseconds).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = [
    "Delivered",
    "DeliveryAttempted",
    "DeliveryFailed",
    "DuplicateIgnored",
    "Element",
    "EventReceived",
    "EventTooLarge",
    "Outcome",
    "Ready",
    "Reconnected",
    "Reconnecting",
    "SessionRenewed",
    "Stopped",
]


@dataclass(frozen=True, slots=True)
class Ready:
    """The session exists and its WebSocket is open.

    ``secret`` is the session's ``whsec_…`` signing secret (stable per team, mode and device name);
    ``events`` the session's filter; ``forward_to`` the receiver URL, or None when only printing.
    """

    session_id: str
    secret: str
    events: tuple[str, ...]
    forward_to: str | None


@dataclass(frozen=True, slots=True)
class EventReceived:
    """An event frame, seen for the first time in this run.

    ``payload`` is the exact JSON text the server sent (what gets forwarded, byte for byte);
    ``request_id`` the ``x-cstar-request-id`` of the API call that caused it; ``webhook_id`` the
    ``cls_…`` id the delivery is signed for; ``received_at`` when the frame arrived.
    """

    event_id: str
    event_type: str
    payload: str
    request_id: str | None
    webhook_id: str
    received_at: float


@dataclass(frozen=True, slots=True)
class DeliveryAttempted:
    """One HTTP attempt to the receiver. ``status`` is the HTTP status or None when no response came
    (``error`` then says why: ``connection refused``, ``timed out after 30 s``…). ``retry_in`` is the
    pause before the next attempt in seconds, or None when this attempt was the last one."""

    event_id: str
    url: str
    attempt: int
    max_attempts: int
    status: int | None
    duration_ms: float
    error: str | None
    retry_in: float | None


@dataclass(frozen=True, slots=True)
class Outcome:
    """The final result of forwarding one event: the last attempt's ``status`` and ``duration_ms``,
    the number of ``attempts`` made, and ``error`` (None on success). Acked to the server as is."""

    event: EventReceived
    url: str
    status: int | None
    duration_ms: float
    attempts: int
    error: str | None

    @property
    def ok(self) -> bool:
        return self.error is None

    def to_dict(self) -> dict[str, Any]:
        """``{"url", "status", "durationMs", "attempts", "error"}``: the ``delivery`` object of a JSON line."""
        return {
            "url": self.url,
            "status": self.status,
            "durationMs": round(self.duration_ms, 1),
            "attempts": self.attempts,
            "error": self.error,
        }


@dataclass(frozen=True, slots=True)
class Delivered(Outcome):
    """The receiver answered 2xx."""


@dataclass(frozen=True, slots=True)
class DeliveryFailed(Outcome):
    """Every attempt failed (non-2xx, refused, timed out); the event is acked as failed and the relay
    goes on with the next one."""


@dataclass(frozen=True, slots=True)
class EventTooLarge:
    """The server did not send event ``event_id`` because its frame (``size`` bytes) exceeds the
    relay's frame limit (``limit`` bytes, announced as ``X-Max-Frame-Bytes``); it sent an
    ``event_too_large`` notice instead. The event was acked as failed with :attr:`error` and is not
    forwarded; the relay goes on with the next one. ``event_type`` is "" when the server did not say."""

    event_id: str
    event_type: str
    size: int
    limit: int

    @property
    def error(self) -> str:
        """The ack's ``error``: ``event_too_large: <size> bytes over the <limit>-byte limit``."""
        return f"event_too_large: {self.size} bytes over the {self.limit}-byte limit"


@dataclass(frozen=True, slots=True)
class DuplicateIgnored:
    """The server re-sent an event this run already handled (its ack was lost to a disconnect): it
    was acked again with the first outcome and not forwarded a second time."""

    event_id: str


@dataclass(frozen=True, slots=True)
class Reconnecting:
    """The connection was lost (``reason``); attempt number ``attempt`` to reconnect starts in
    ``delay`` seconds."""

    reason: str
    attempt: int
    delay: float


@dataclass(frozen=True, slots=True)
class SessionRenewed:
    """The server no longer knew the session (close 4404): a new one was created. ``secret_changed``
    is True when its signing secret differs from the one shown at :class:`Ready`."""

    session_id: str
    secret: str
    secret_changed: bool


@dataclass(frozen=True, slots=True)
class Reconnected:
    """Listening again after :class:`Reconnecting`. ``resumed_after`` is the last acked event id sent
    as ``Last-Event-ID``; ``replayed`` the events the server re-sent from before the reconnection
    (counted until the first live event or a quiet moment). ``gap`` is True when the server no
    longer held ``resumed_after``: events sent while disconnected may be missing."""

    session_id: str
    resumed_after: str | None
    replayed: int
    gap: bool = False


@dataclass(frozen=True, slots=True)
class Stopped:
    """The run's totals: events ``received`` (first sight), ``forwarded`` (2xx), ``failed`` (gave up),
    ``duplicates`` ignored, ``reconnects`` made and events ``too_large`` to receive (see
    :class:`EventTooLarge`). ``in_flight`` is the id of the event whose delivery was cut short by
    the stop, so it was never acknowledged (None when nothing was in flight)."""

    received: int = 0
    forwarded: int = 0
    failed: int = 0
    duplicates: int = 0
    reconnects: int = 0
    too_large: int = 0
    in_flight: str | None = None


Element = (
    Ready
    | EventReceived
    | DeliveryAttempted
    | Delivered
    | DeliveryFailed
    | EventTooLarge
    | DuplicateIgnored
    | Reconnecting
    | SessionRenewed
    | Reconnected
)
