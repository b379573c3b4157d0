"""What the relay yields: one typed element per thing that happened, in the order it happened.

The relay never prints; a frontend (``cstar listen``'s terminal and JSON-lines renderers, a test,
a benchmark) walks these elements and shows them its own way::

    stream    = Ready CatchingUp? event* (reconnect event* Reconnected? event*)*
    reconnect = Reconnecting (Reconnecting | SessionRenewed)*
    event     = EventReceived (DeliveryAttempted+ (Delivered | DeliveryFailed))?
              | EventTooLarge
              | DuplicateIgnored
              | FrameIgnored
    Stopped                       (returned by Relay.aclose(), not yielded)

Delivery steps come only when forwarding. After a reconnect, the events before :class:`Reconnected`
are the server's replay; it is missing when the connection drops again first. A stop may cut the
stream anywhere, even between an :class:`EventReceived` and its outcome (see :attr:`Stopped.in_flight`).

Times are unix seconds (``float``) unless the name says ``_ms`` (milliseconds).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "CatchingUp",
    "Delivered",
    "DeliveryAttempted",
    "DeliveryFailed",
    "DuplicateIgnored",
    "Element",
    "EventReceived",
    "EventTooLarge",
    "FrameIgnored",
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
    With several targets (or one for some events only), ``routes`` holds ``(patterns shown,
    receiver URL)`` per target and ``forward_to`` the first URL.
    """

    session_id: str
    secret: str
    events: tuple[str, ...]
    forward_to: str | None
    routes: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class CatchingUp:
    """The run resumes where this device and profile's previous run stopped: ``count`` stored
    events (matching the filter) come first, the oldest created at ``since`` (unix seconds, None
    when ``count`` is 0), after event ``after``. ``missing_before`` (unix seconds) is set when the
    server no longer keeps every event since then: events before it may be missing."""

    count: int
    since: float | None
    after: str | None
    missing_before: float | None = None


@dataclass(frozen=True, slots=True)
class EventReceived:
    """An event frame, seen for the first time in this run.

    ``payload`` is the exact JSON text the server sent (what gets forwarded, byte for byte);
    ``request_id`` the ``x-cstar-request-id`` of the API call that caused it; ``webhook_id`` the
    ``cls_…`` id the delivery is signed for; ``received_at`` when the frame arrived; ``resend`` True
    when the server sent it again on request (``POST /events/{id}/resend``), even if already handled.
    """

    event_id: str
    event_type: str
    payload: str
    request_id: str | None
    webhook_id: str
    received_at: float
    resend: bool = False


@dataclass(frozen=True, slots=True)
class DeliveryAttempted:
    """One HTTP attempt to the receiver. ``status`` is the HTTP status or None when no response came
    (``error`` then says why: ``connection refused``, ``timed out after 30 s``…). ``retry_in`` is the
    pause before the next attempt in seconds, or None when this attempt was the last one.
    ``max_attempts`` is 0 when the attempts are bounded by time (``ForwardOptions.retry_for``), not
    by count. ``headers`` are the request headers this attempt sent (what ``--record`` keeps); they
    take no part in comparisons."""

    event_id: str
    url: str
    attempt: int
    max_attempts: int
    status: int | None
    duration_ms: float
    error: str | None
    retry_in: float | None
    headers: Mapping[str, str] | None = field(default=None, compare=False, repr=False)


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
    forwarded; the relay goes on with the next one. ``event_type`` is "" when the server did not say;
    ``size`` is None when the notice gave no usable size (not an integer from 0 to 2**53 - 1)."""

    event_id: str
    event_type: str
    size: int | None
    limit: int

    @property
    def error(self) -> str:
        """The ack's ``error``: ``event_too_large: <size> bytes over the <limit>-byte limit`` (``unknown
        size over …`` when :attr:`size` is None)."""
        size = "unknown size" if self.size is None else f"{self.size} bytes"
        return f"event_too_large: {size} over the {self.limit}-byte limit"


@dataclass(frozen=True, slots=True)
class FrameIgnored:
    """The server sent a frame that does not match the grammar (docs/protocol.md, Listening step 3):
    ``reason`` says how (``not JSON``, ``unknown type 'zzz'``, ``headers is not an object of
    strings``…). With an ``event_id`` the frame was an event frame: it was acked as failed with
    :attr:`error` (so it is not replayed) and not forwarded. Without one nothing could be acked; such
    a frame is reported only the first time its ``reason`` comes up in a run. Either way the relay
    goes on with the next frame."""

    event_id: str | None
    reason: str

    @property
    def error(self) -> str:
        """The ack's ``error``: ``malformed_frame: <reason>``."""
        return f"malformed_frame: {self.reason}"


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
    the stop, so it was never acknowledged (None when nothing was in flight). ``malformed`` counts
    the frames ignored as not matching the grammar (:class:`FrameIgnored`), reported or not."""

    received: int = 0
    forwarded: int = 0
    failed: int = 0
    duplicates: int = 0
    reconnects: int = 0
    too_large: int = 0
    in_flight: str | None = None
    malformed: int = 0


Element = (
    Ready
    | CatchingUp
    | EventReceived
    | DeliveryAttempted
    | Delivered
    | DeliveryFailed
    | EventTooLarge
    | DuplicateIgnored
    | FrameIgnored
    | Reconnecting
    | SessionRenewed
    | Reconnected
)
