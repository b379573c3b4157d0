"""The listen session's WebSocket (server contract: "Listening — CLI sessions", steps 2–4; docs/protocol.md).

Frames are JSON text objects with a ``type``:

- server → CLI ``welcome`` ``{"sessionId", "resumedAfter", "lastEventId"}``;
- server → CLI ``event`` ``{"eventId", "eventType", "payload", "headers"}``;
- server → CLI ``event_too_large`` ``{"eventId", "eventType", "size"}``, instead of an event frame that
  would exceed the client's :data:`MAX_FRAME_HEADER`;
- CLI → server ``ack`` ``{"eventId", "status", "durationMs", "attempts", "error"}``.
"""

from __future__ import annotations

__all__ = [
    "CLOSE_ABRUPT",
    "CLOSE_FORBIDDEN",
    "CLOSE_GOING_AWAY",
    "CLOSE_SERVER_ERROR",
    "CLOSE_SESSION_UNKNOWN",
    "CLOSE_TOO_BIG",
    "CLOSE_UNAUTHORIZED",
    "FRAME_ACK",
    "FRAME_EVENT",
    "FRAME_EVENT_TOO_LARGE",
    "FRAME_WELCOME",
    "LAST_EVENT_ID_HEADER",
    "MAX_EVENT_FRAME_BYTES",
    "MAX_FRAME_HEADER",
]

FRAME_WELCOME = "welcome"
FRAME_EVENT = "event"
FRAME_EVENT_TOO_LARGE = "event_too_large"
FRAME_ACK = "ack"

#: Handshake header: the client's largest accepted message, in bytes.
MAX_FRAME_HEADER = "X-Max-Frame-Bytes"
#: Handshake header: resume after this event id.
LAST_EVENT_ID_HEADER = "Last-Event-ID"
#: The largest event frame a server sends (bytes); the emulator's request limits guarantee it.
MAX_EVENT_FRAME_BYTES = 4 * 1024 * 1024

#: Key invalid or revoked: do not retry.
CLOSE_UNAUTHORIZED = 4401
#: The key may not attach to this session (a publishable key): do not retry.
CLOSE_FORBIDDEN = 4403
#: Session unknown, expired or deleted: create a new session and resume.
CLOSE_SESSION_UNKNOWN = 4404
#: Server shutting down: reconnect with backoff and resume.
CLOSE_GOING_AWAY = 1001
#: Connection lost without a close frame: reconnect with backoff and resume.
CLOSE_ABRUPT = 1006
#: A message over the receiver's size limit.
CLOSE_TOO_BIG = 1009
#: Server error: reconnect with backoff and resume.
CLOSE_SERVER_ERROR = 1011
