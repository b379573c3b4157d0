"""The relay's side of the listen frames (:mod:`cstar_cli.protocol.frames`): server frames read into
fields and elements, ack frames written.

Every reader here is lenient the way the relay must be: a frame that is not a JSON object, or an
event frame without an ``eventId``, is skipped (None), never an error, so a newer server's extra frame
types and fields do not break an older CLI.
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

__all__ = ["ack_frame", "created_at", "decode", "event_id_of", "event_received", "payload_text", "too_large_notice"]

_CREATED_AT = re.compile(r'"created_at"\s*:\s*"([^"]+)"')
#: How far into a payload ``created_at`` is looked for (characters): it sits near the top.
_CREATED_AT_SPAN = 4096

_loads = json.loads


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
    server that sends it as an object) its compact JSON."""
    payload = frame.get("payload")
    if isinstance(payload, str):
        return payload
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False)


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
    """The :class:`EventReceived` for an ``event`` frame, received now. Its type, request id and
    webhook id come from the frame, else its delivery headers; the webhook id falls back to
    ``session_id`` (a CLI session signs as itself)."""
    headers = frame.get("headers") or {}
    return EventReceived(
        event_id,
        str(frame.get("eventType") or headers.get("X-Event-Type") or ""),
        payload,
        headers.get("x-cstar-request-id") or headers.get("X-Cstar-Request-Id"),
        str(headers.get("X-Webhook-ID") or session_id),
        time.time(),
    )


def too_large_notice(frame: Mapping[str, Any], event_id: str, limit: int) -> EventTooLarge:
    """The :class:`EventTooLarge` for an ``event_too_large`` frame; ``limit`` is the relay's frame
    limit in bytes. A missing or non-integer ``size`` reads as 0."""
    size = frame.get("size")
    return EventTooLarge(
        event_id,
        str(frame.get("eventType") or ""),
        size if isinstance(size, int) and not isinstance(size, bool) else 0,
        limit,
    )


def ack_frame(event_id: str, status: int | None, duration_ms: int, attempts: int, error: str | None) -> str:
    """The ``ack`` frame's text: ``{"type": "ack", "eventId", "status", "durationMs", "attempts", "error"}``."""
    return json.dumps(
        {
            "type": FRAME_ACK,
            "eventId": event_id,
            "status": status,
            "durationMs": duration_ms,
            "attempts": attempts,
            "error": error,
        },
        separators=(",", ":"),
    )
