"""The relay's side of the listen frames (:mod:`cstar_cli.protocol.frames`): server frames read into
fields and elements, ack frames written.

Nothing a server sends can make these readers raise anything but :class:`MalformedFrame`: a frame
that is not a JSON object reads as None, and an event frame that breaks the grammar (wrong types,
a missing payload, text that cannot travel in an HTTP header) as :class:`MalformedFrame`, which the
relay reports and acks as failed instead of ending the run. Extra fields are ignored, so a newer
server's additions do not break an older CLI.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from cstar_cli.protocol.frames import FRAME_ACK
from cstar_cli.relay._elements import EventReceived, EventTooLarge

__all__ = [
    "MAX_SIZE",
    "MalformedFrame",
    "ack_frame",
    "check_welcome",
    "created_at",
    "decode",
    "event_id_of",
    "event_received",
    "payload_text",
    "read_event",
    "sendable",
    "too_large_notice",
]

_CREATED_AT = re.compile(r'"created_at"\s*:\s*"([^"]+)"')
#: How far into a payload ``created_at`` is looked for (characters): it sits near the top.
_CREATED_AT_SPAN = 4096

_loads = json.loads
_quote = json.encoder.encode_basestring_ascii
# What an HTTP field value may not hold (RFC 9110): the event id, type, webhook id and request id
# become delivery headers, so text with these could never be forwarded (or would split a header).
_UNSENDABLE = re.compile(r"[\x00-\x1f\x7f]")
#: The delivery headers an event frame's ``headers`` may set (checked as :func:`_header_text`).
_HEADER_FIELDS = ("X-Event-Type", "X-Webhook-ID", "x-cstar-request-id", "X-Cstar-Request-Id")
#: The largest ``size`` an ``event_too_large`` notice may give: the largest integer every JSON reader
#: holds exactly (RFC 7493, I-JSON); anything above is no real size.
MAX_SIZE = 2**53 - 1


class MalformedFrame(Exception):
    """A server frame that does not match the grammar (docs/protocol.md, Listening step 3): ``why``
    says how, as a phrase (``headers is not an object of strings``)."""

    def __init__(self, why: str) -> None:
        super().__init__(why)
        self.why = why


def decode(raw: str | bytes) -> dict[str, Any] | None:
    """A received message as a JSON object, or None when it is not one (skipped by the relay)."""
    try:
        frame = _loads(raw)
    except ValueError:
        return None
    return frame if isinstance(frame, dict) else None


def event_id_of(frame: Mapping[str, Any]) -> str | None:
    """The frame's non-empty ``eventId``, or None (the frame is skipped)."""
    value = frame.get("eventId")
    return value if isinstance(value, str) and value else None


def payload_text(frame: Mapping[str, Any]) -> str:
    """An event frame's ``payload`` as the exact text to forward: the string as sent, or (from a
    server that sends it as an object or array) its compact JSON. Raises :class:`MalformedFrame`
    when it is missing or anything else."""
    payload = frame.get("payload")
    if isinstance(payload, str):
        return payload
    if not isinstance(payload, (dict, list)):
        raise MalformedFrame("payload is missing or not JSON text")
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False)


def sendable(text: str) -> bool:
    """Whether ``text`` can be sent as an HTTP header value (as ``Last-Event-ID``, ``X-Event-ID`` …)."""
    return _UNSENDABLE.search(text) is None


def _header_text(value: object, name: str) -> str | None:
    """``value`` when it can be sent as an HTTP header value (None stays None); else :class:`MalformedFrame`."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise MalformedFrame(f"{name} is not a string")
    if _UNSENDABLE.search(value):
        raise MalformedFrame(f"{name} contains control characters")
    return value


def read_event(frame: Mapping[str, Any], event_id: str, session_id: str) -> EventReceived:
    """The :class:`EventReceived` for an ``event`` frame with id ``event_id``, checked against the
    grammar: ``payload`` JSON text (or an object), ``eventType`` a string, ``headers`` absent, null or
    an object of strings, and every value that becomes a delivery header free of control characters.
    Raises :class:`MalformedFrame` (never anything else) for a frame that is not so."""
    headers = frame.get("headers")
    if headers is None:
        headers = {}
    elif not isinstance(headers, dict) or not all(isinstance(v, str) for v in headers.values()):
        raise MalformedFrame("headers is not an object of strings")
    event_type = frame.get("eventType")
    # One search over every value that becomes a header (the common case: all fine); only a frame
    # that fails it is looked at value by value, for the reason.
    texts = [event_id, *[headers.get(name) or "" for name in _HEADER_FIELDS]]
    if not isinstance(event_type, str) or _UNSENDABLE.search("".join(texts) + event_type) is not None:
        _header_text(event_id, "eventId")
        for name in _HEADER_FIELDS:
            _header_text(headers.get(name), f"headers[{name!r}]")
        _header_text(event_type, "eventType")
    payload = payload_text(frame)
    if not payload.isascii():
        try:
            payload.encode("utf-8")
        except UnicodeEncodeError:
            raise MalformedFrame("payload is not valid Unicode text") from None
    return event_received(frame, event_id, payload, session_id)


def check_welcome(frame: Mapping[str, Any]) -> None:
    """Raise :class:`MalformedFrame` unless the ``welcome`` frame's ``resumedAfter`` and ``lastEventId``
    are each absent, null or a string that can be sent back as ``Last-Event-ID``."""
    for name in ("resumedAfter", "lastEventId"):
        _header_text(frame.get(name), f"welcome {name}")


def created_at(payload: str) -> float | None:
    """The payload's ``created_at`` as unix seconds, or None when it has none or it is not ISO 8601.

    Read with a pattern, not a JSON parse, since it runs on every replayed event."""
    m = _CREATED_AT.search(payload, 0, _CREATED_AT_SPAN)
    if not m:
        return None
    try:
        return datetime.fromisoformat(m.group(1).replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def event_received(frame: Mapping[str, Any], event_id: str, payload: str, session_id: str) -> EventReceived:
    """The :class:`EventReceived` for an ``event`` frame, received now, without checks (see
    :func:`read_event`). Its type, request id and webhook id come from the frame, else its delivery
    headers; the webhook id falls back to ``session_id`` (a CLI session signs as itself)."""
    headers = frame.get("headers") or {}
    return EventReceived(
        event_id,
        str(frame.get("eventType") or headers.get("X-Event-Type") or ""),
        payload,
        headers.get("x-cstar-request-id") or headers.get("X-Cstar-Request-Id"),
        str(headers.get("X-Webhook-ID") or session_id),
        time.time(),
        frame.get("resend") is True,
    )


def too_large_notice(frame: Mapping[str, Any], event_id: str, limit: int) -> EventTooLarge:
    """The :class:`EventTooLarge` for an ``event_too_large`` frame; ``limit`` is the relay's frame
    limit in bytes. A ``size`` that is not an integer from 0 to :data:`MAX_SIZE` reads as None
    (unknown), and an ``eventType`` that is not a string as ""."""
    size = frame.get("size")
    event_type = frame.get("eventType")
    return EventTooLarge(
        event_id,
        event_type if isinstance(event_type, str) else "",
        size if isinstance(size, int) and not isinstance(size, bool) and 0 <= size <= MAX_SIZE else None,
        limit,
    )


def ack_frame(event_id: str, status: int | None, duration_ms: int, attempts: int, error: str | None) -> str:
    """The ``ack`` frame's text: ``{"type": "ack", "eventId", "status", "durationMs", "attempts", "error"}``,
    compact and ASCII-only (the text ``json.dumps(..., separators=(",", ":"))`` gives), built without
    a generic encoder since it runs once per event."""
    return (
        f'{{"type":{_quote(FRAME_ACK)},"eventId":{_quote(event_id)},'
        f'"status":{"null" if status is None else int(status)},"durationMs":{int(duration_ms)},'
        f'"attempts":{int(attempts)},"error":{"null" if error is None else _quote(error)}}}'
    )
