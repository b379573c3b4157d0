"""Recordings of ``cstar listen --record FILE``, read back by ``cstar replay FILE``.

A recording is JSON lines, one object per event, appended in the order the events were handled::

    {"type": "event", "eventId": "evt_…", "eventType": "ticket.created", "webhookId": "cls_…",
     "requestId": "req_…" | null, "receivedAt": "2026-12-01T14:02:11.123Z",
     "payload": "<the exact payload text, as a JSON string>",
     "headers": {"X-Signature": "t=…,v1=…", …} | null,
     "delivery": {"url", "status", "durationMs", "attempts", "error"} | null}

``headers`` are those of the last delivery attempt (null without ``--forward-to``); values of
credential headers given with ``-H`` (``Authorization``, ``Proxy-Authorization``, ``Cookie``,
``X-Api-Key``) are stored as ``***``, and an API key never appears. ``delivery`` is the outcome, as in
``cstar listen --format json``. The file is created 0600 (payloads may hold customer data) and an
existing one readable by others is made 0600 before anything is appended. A line is written and
flushed when the event's outcome is known (no fsync: a crash may lose the last line, never split
an earlier one).
"""

from __future__ import annotations

import contextlib
import json
import os
import stat
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import IO, Any

from cstar_cli.errors import CStarError, CStarUsageError
from cstar_cli.protocol.keys import KEY_PATTERN, redact

__all__ = ["Recorded", "Recorder", "read_recording"]

#: Header names whose values are never stored (case-insensitive).
SECRET_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie", "x-api-key"})


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _safe_headers(headers: Mapping[str, str]) -> dict[str, str]:
    safe: dict[str, str] = {}
    for name, value in headers.items():
        if name.lower() in SECRET_HEADERS:
            safe[name] = "***"
        else:
            safe[name] = " ".join(redact(w) if KEY_PATTERN.match(w) else w for w in value.split(" "))
    return safe


def _open_private(path: Path) -> IO[str]:
    """``path`` opened to append, 0600 (created so, or tightened when others could read it)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        mode = os.fstat(fd).st_mode
        if stat.S_ISREG(mode) and mode & 0o077:
            os.fchmod(fd, 0o600)
        return os.fdopen(fd, "a", encoding="utf-8", newline="\n")
    except BaseException:
        os.close(fd)
        raise


class Recorder:
    """Appends each handled event of a ``cstar listen`` run to ``path`` (module docs for the line).

    Call it with every relay element (the others are ignored); :meth:`close` when done. Raises
    :class:`CStarUsageError` (exit 2) when ``path`` cannot be opened, :class:`CStarError` when a line
    cannot be written.
    """

    def __init__(self, path: Path, *, forwarding: bool) -> None:
        self.path = path
        self.forwarding = forwarding
        try:
            self._file = _open_private(path)
        except OSError as e:
            raise CStarUsageError(
                f"Cannot open --record file {str(path)!r}: {e.strerror or e}.",
                code="invalid_record_file",
                field="record",
                hint="Give a file in a folder you can write to, e.g. --record events.jsonl.",
            ) from None
        self._headers: dict[str, Mapping[str, str] | None] = {}

    def __call__(self, element: Any) -> None:
        from cstar_cli import relay as r

        if isinstance(element, r.EventReceived):
            if not self.forwarding:
                self._write(element, None, None)
        elif isinstance(element, r.DeliveryAttempted):
            self._headers[element.event_id] = element.headers
        elif isinstance(element, (r.Delivered, r.DeliveryFailed)):
            headers = self._headers.pop(element.event.event_id, None)
            self._write(element.event, headers, element.to_dict())

    def _write(self, ev: Any, headers: Mapping[str, str] | None, delivery: dict[str, Any] | None) -> None:
        line = {
            "type": "event",
            "eventId": ev.event_id,
            "eventType": ev.event_type,
            "webhookId": ev.webhook_id,
            "requestId": ev.request_id,
            "receivedAt": _iso(ev.received_at),
            "payload": ev.payload,
            "headers": _safe_headers(headers) if headers is not None else None,
            "delivery": delivery,
        }
        try:
            # ensure_ascii: a payload with lone surrogates still round-trips to the same text.
            self._file.write(json.dumps(line, separators=(",", ":")) + "\n")
            self._file.flush()
        except OSError as e:
            raise CStarError(
                f"Cannot write to --record file {str(self.path)!r}: {e.strerror or e}.",
                code="record_write_failed",
                hint="Check the disk the recording goes to.",
            ) from None

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self._file.close()


@dataclass(frozen=True, slots=True)
class Recorded:
    """One event read back from a recording: ``payload`` the exact text, ``received_at`` unix seconds."""

    event_id: str
    event_type: str
    webhook_id: str
    request_id: str | None
    received_at: float
    payload: str


def _field(obj: Mapping[str, Any], name: str, *, optional: bool = False) -> Any:
    value = obj.get(name)
    if value is None and optional:
        return None
    if not isinstance(value, str) or (not value and name != "payload"):
        raise ValueError(f"{name} is not a {'string' if name == 'payload' else 'non-empty string'}")
    return value


def _parse_line(text: str) -> Recorded:
    try:
        obj = json.loads(text)
    except ValueError:
        raise ValueError("not JSON") from None
    if not isinstance(obj, dict):
        raise ValueError("not a JSON object")
    if obj.get("type") != "event":
        raise ValueError('"type" is not "event"')
    received = _field(obj, "receivedAt")
    try:
        when = datetime.fromisoformat(received.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError("receivedAt is not an ISO 8601 time") from None
    if when.tzinfo is None:
        raise ValueError("receivedAt has no time zone")
    return Recorded(
        _field(obj, "eventId"),
        _field(obj, "eventType"),
        _field(obj, "webhookId"),
        _field(obj, "requestId", optional=True),
        when.timestamp(),
        _field(obj, "payload"),
    )


def read_recording(path: Path) -> list[Recorded]:
    """Every event of the recording at ``path``, in order; blank lines are skipped.

    Raises :class:`CStarUsageError` (exit 2) when the file cannot be read, is not UTF-8, holds no
    event, or has a malformed line (the message names its number and what is wrong).
    """
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        if isinstance(e, UnicodeDecodeError):
            why = "not UTF-8 text"
        else:
            why = e.strerror or str(e)
        raise CStarUsageError(
            f"Cannot read recording {str(path)!r}: {why}.",
            code="invalid_recording",
            field="file",
            hint="Give a file written by `cstar listen --record FILE`.",
        ) from None
    events: list[Recorded] = []
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        try:
            events.append(_parse_line(line))
        except ValueError as e:
            raise CStarUsageError(
                f"Line {number} of {str(path)!r} is not a recorded event: {e}.",
                code="invalid_recording",
                field="file",
                hint="Each line must be one JSON object written by `cstar listen --record`; fix or delete that line.",
            ) from None
    if not events:
        raise CStarUsageError(
            f"Recording {str(path)!r} holds no events.",
            code="invalid_recording",
            field="file",
            hint="Record some with `cstar listen --forward-to URL --record FILE`.",
        )
    return events
