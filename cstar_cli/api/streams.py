"""The request-log stream (``GET /teams/{teamId}/logs/stream``, server contract "Request logs") on the
shared :class:`~cstar_cli.api._transport.Transport`.

:func:`tail` yields typed elements and prints nothing; ``cstar logs --tail`` renders them::

    LogStreamOpened(resumed_after)                  the stream is open (again); ``resumed_after`` is the last id seen
    LogStreamEntry(id, entry)                       one API request, as the contract's log entry
    LogStreamReconnecting(attempt, delay, reason)   the stream dropped; the next try starts in ``delay`` s

The stream is Server-Sent Events: ``id:``/``event:``/``data:`` fields, a blank line ends an event,
``:`` lines are comments (the server's ``: ping`` keep-alive). After a drop, the next connection sends
``Last-Event-ID`` with the last *complete* event's id, so nothing is missed; ids already yielded are
skipped as well, so nothing is repeated even if the server replays one.

Errors: an error response raises its :mod:`cstar_cli.errors` class (401 → exit 3, 403 → exit 4, …),
except 429 and 5xx, which are retried like network failures. Before the first successful connection
the stream gives up after ``connect_attempts`` failed tries (:class:`CStarConnectionError`, exit 9);
once it has been open it reconnects for as long as the caller keeps iterating. A TLS failure
(certificate not verifiable, handshake failed) is never retried: it raises
:class:`CStarConnectionError` at once.
"""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import cast

import httpx

from cstar_cli.api._transport import Transport, connection_error, error_for, is_tls_failure
from cstar_cli.api.models import LogEntry
from cstar_cli.backoff import backoff_delay as _backoff_delay
from cstar_cli.errors import CStarConnectionError, CStarError, CStarRateLimitError, CStarServerError

__all__ = [
    "MAX_BACKOFF",
    "LogStreamElement",
    "LogStreamEntry",
    "LogStreamOpened",
    "LogStreamReconnecting",
    "SSEEvent",
    "SSEParser",
    "backoff_delay",
    "tail",
]

#: Longest wait between reconnection attempts, in seconds.
MAX_BACKOFF = 10.0
#: The server pings every 15 s; three missed pings mean the connection is dead.
READ_TIMEOUT = 45.0
_TIMEOUT = httpx.Timeout(10.0, read=READ_TIMEOUT)
_HEADERS = {"Accept": "text/event-stream", "Cache-Control": "no-cache"}


@dataclass(frozen=True)
class LogStreamOpened:
    """The stream is open. ``resumed_after`` is the ``Last-Event-ID`` sent (None on a fresh start)."""

    resumed_after: str | None


@dataclass(frozen=True)
class LogStreamEntry:
    """One logged API request: ``id`` (``req_…``) and ``entry``, the contract's log entry."""

    id: str
    entry: LogEntry


@dataclass(frozen=True)
class LogStreamReconnecting:
    """The stream dropped (``reason``, a short phrase); attempt number ``attempt`` starts in ``delay`` s."""

    attempt: int
    delay: float
    reason: str


LogStreamElement = LogStreamOpened | LogStreamEntry | LogStreamReconnecting


@dataclass
class SSEEvent:
    """One dispatched Server-Sent Event: ``event`` type (``message`` when absent), ``data`` (the
    ``data:`` lines joined with newlines) and ``id`` (the stream's last event id at dispatch, or None)."""

    event: str
    data: str
    id: str | None


@dataclass
class SSEParser:
    """Incremental ``text/event-stream`` parser (WHATWG HTML "Server-sent events", event stream
    interpretation). Feed it decoded lines without their terminators; it returns an event when a
    blank line completes one.

    ``last_id`` is the id to resume after: like a browser's ``EventSource``, it only takes an ``id:``
    value once the event carrying it is complete, so an event cut off by a dropped connection is
    asked for again. ``retry`` holds the last ``retry:`` value in seconds, if any.
    """

    last_id: str | None = None
    retry: float | None = None
    _id_buffer: str | None = None
    _event: str = ""
    _data: list[str] = field(default_factory=list)
    _has_data: bool = False

    def __post_init__(self) -> None:
        self._id_buffer = self.last_id

    def feed(self, line: str) -> SSEEvent | None:
        """Process one line; return the completed :class:`SSEEvent` on a blank line that ends one."""
        if line == "":
            return self._dispatch()
        if line.startswith(":"):
            return None
        name, sep, value = line.partition(":")
        if sep and value.startswith(" "):
            value = value[1:]
        if name == "data":
            self._data.append(value)
            self._has_data = True
        elif name == "event":
            self._event = value
        elif name == "id":
            if "\0" not in value:
                self._id_buffer = value or None
        elif name == "retry" and value.isdigit():
            self.retry = int(value) / 1000
        return None

    def reset(self) -> None:
        """Drop a half-received event (the connection ended mid-event); ``last_id`` stays."""
        self._id_buffer = self.last_id
        self._event = ""
        self._data = []
        self._has_data = False

    def _dispatch(self) -> SSEEvent | None:
        self.last_id = self._id_buffer
        if not self._has_data:
            self._event = ""
            return None
        ev = SSEEvent(self._event or "message", "\n".join(self._data), self.last_id)
        self._event = ""
        self._data = []
        self._has_data = False
        return ev


def backoff_delay(attempt: int, *, base: float = 0.5, cap: float = MAX_BACKOFF) -> float:
    """Seconds to wait before reconnection ``attempt`` (1-based): exponential from ``base``, capped at
    ``cap``, with up to 25 % jitter taken off."""
    return _backoff_delay(attempt, base=base, cap=cap, low=0.75, high=1.0)


class _Retryable(Exception):
    """A failure worth reconnecting after (network error, 429, 5xx, stream ended)."""

    def __init__(self, reason: str, wait: float | None = None, error: CStarError | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.wait = wait
        self.error = error


class _Seen:
    """The last 2,048 entry ids yielded, to drop a replayed one."""

    def __init__(self, size: int = 2048) -> None:
        self._order: deque[str] = deque(maxlen=size)
        self._ids: set[str] = set()

    def add(self, rid: str) -> bool:
        """Record ``rid``; False when it was already seen."""
        if rid in self._ids:
            return False
        if len(self._order) == self._order.maxlen:
            self._ids.discard(self._order[0])
        self._order.append(rid)
        self._ids.add(rid)
        return True


def tail(
    transport: Transport,
    stream_path: str,
    *,
    filters: dict[str, str | None] | None = None,
    last_event_id: str | None = None,
    connect_attempts: int = 4,
) -> Iterator[LogStreamElement]:
    """Yield :data:`LogStreamElement` values from the log stream at ``stream_path`` (relative to
    ``/api/v1``) until the caller stops.

    ``filters`` are the contract's ``method``/``status``/``path``, sent as given (None or empty ones
    left out). ``last_event_id`` resumes after that ``req_…``. Waits between tries use the transport's
    ``sleep``. Raises a :class:`CStarError` for a non-retryable error response, and
    :class:`CStarConnectionError` if the stream never opened within ``connect_attempts`` tries, or at
    once on a TLS failure.
    """
    params = {k: v for k, v in (filters or {}).items() if v}
    parser = SSEParser(last_id=last_event_id)
    seen = _Seen()
    ever_connected = False
    failures = 0
    while True:
        try:
            headers = {**_HEADERS, **({"Last-Event-ID": parser.last_id} if parser.last_id else {})}
            with transport.stream(stream_path, params=params, headers=headers, timeout=_TIMEOUT) as resp:
                _check_opened(resp, transport.base_url)
                ever_connected = True
                yield LogStreamOpened(parser.last_id)
                for line in resp.iter_lines():
                    # Counted from the first byte, not the handshake, so a server that accepts and
                    # at once closes is retried with a growing delay instead of in a tight loop.
                    failures = 0
                    ev = parser.feed(line)
                    if ev is None or ev.event != "request":
                        continue
                    entry = _decode(ev.data)
                    rid = str(entry.get("id") or ev.id or "")
                    if rid and not seen.add(rid):
                        continue
                    yield LogStreamEntry(rid, entry)
            parser.reset()
            raise _Retryable("the server closed the stream")
        except (httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError) as e:
            if is_tls_failure(e):
                # Retrying cannot make an untrusted certificate trusted.
                raise connection_error(transport.base_url, e, _TIMEOUT) from None
            parser.reset()
            failure = _Retryable(_describe(e), error=connection_error(transport.base_url, e, _TIMEOUT))
        except _Retryable as e:
            failure = e
        failures += 1
        if not ever_connected and failures >= connect_attempts:
            raise failure.error or CStarConnectionError(
                f"Could not open the log stream at {transport.base_url} ({failure.reason})."
            )
        delay = backoff_delay(failures)
        if failure.wait is not None:
            delay = min(max(delay, failure.wait), MAX_BACKOFF * 6)
        elif parser.retry is not None:
            delay = max(delay, min(parser.retry, MAX_BACKOFF))
        yield LogStreamReconnecting(failures, round(delay, 2), failure.reason)
        transport.sleep(delay)


def _check_opened(resp: httpx.Response, base_url: str) -> None:
    """Raise unless ``resp`` is an open event stream: :class:`_Retryable` for 429/5xx, the error's
    class for another error status, :class:`CStarServerError` for a 200 that is not a stream."""
    if resp.status_code != 200:
        resp.read()
        try:
            body = resp.json()
        except ValueError:
            body = None
        err = error_for(resp, body)
        if body is None and not isinstance(err, CStarRateLimitError):
            err.message = f"HTTP {resp.status_code} from {base_url} (not a cStar API response)."
        if isinstance(err, CStarRateLimitError):
            raise _Retryable("rate limited", wait=err.retry_after, error=err)
        if isinstance(err, CStarServerError):
            raise _Retryable(f"server error {resp.status_code}", error=err)
        raise err
    if not resp.headers.get("content-type", "").startswith("text/event-stream"):
        raise CStarServerError(
            f"Unexpected response from {base_url} (not an event stream).",
            request_id=resp.headers.get("x-cstar-request-id"),
            status_code=resp.status_code,
            hint="Check --base-url / CSTAR_BASE_URL points at a cStar API.",
        )


def _decode(data: str) -> LogEntry:
    try:
        entry = json.loads(data)
    except ValueError:
        return cast(LogEntry, {"raw": data})
    return cast(LogEntry, entry if isinstance(entry, dict) else {"raw": entry})


def _describe(e: Exception) -> str:
    if isinstance(e, httpx.TimeoutException):
        return "no data or keep-alive for too long" if isinstance(e, httpx.ReadTimeout) else "timed out"
    if isinstance(e, httpx.RemoteProtocolError):
        return "the connection broke"
    return "the API could not be reached"
