"""The listen relay: CLI session → WebSocket → (optional) forwarder → ack, with reconnect and resume.

Implements the server contract's "Listening — CLI sessions":

1. a session is created with the caller's blocking ``open_session()`` (``CStarClient.create_cli_session``);
2. its ``websocketUrl`` is opened with ``Authorization: Bearer <key>``, ``X-Max-Frame-Bytes`` (the
   largest frame this relay accepts) and ``Last-Event-ID`` (the last acked event) when resuming;
3. each ``event`` frame is forwarded (strictly one at a time, in the order received) and then acked
   with its final outcome, never before; an ``event_too_large`` notice (the server's stand-in for an
   event over the frame limit) is acked as failed at once;
4. close 4401 ends the run with :class:`CStarAuthenticationError`, close 4403 with
   :class:`CStarPermissionError`; close 4404 (or a 404 handshake) creates a new session and
   resumes; any other close, a network loss or a failed handshake is retried forever with capped
   exponential backoff (0.25 s doubling to 5 s, ±50 % jitter). The backoff only starts again from
   0.25 s after a connection that made progress (acked an event, or stayed up a minute).
5. A server that ignores ``X-Max-Frame-Bytes`` and sends a bigger frame makes the connection fail
   (1009) on the same event after every resume: after :data:`TOO_BIG_TRIES` such failures in a row
   at the same resume point the run ends with :class:`CStarServerError` (exit 8) naming the last
   acked event, instead of looping for ever.

An event the run already handled (its ack lost to a disconnect, so the server replays it) is acked
again with its first outcome and not forwarded twice. Only the first connection is allowed to fail
for good: :class:`CStarConnectionError` (exit 9) if it cannot be opened after three tries.

The relay prints nothing and never exits the process; it yields the elements of
:mod:`cstar_cli.relay._elements` and raises :mod:`cstar_cli.errors` classes.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import threading
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable, Mapping
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus, InvalidURI, WebSocketException

from cstar_cli.api import USER_AGENT
from cstar_cli.backoff import backoff_delay
from cstar_cli.errors import (
    CStarAuthenticationError,
    CStarConnectionError,
    CStarError,
    CStarPermissionError,
    CStarRateLimitError,
    CStarServerError,
)
from cstar_cli.protocol.urls import is_loopback
from cstar_cli.relay._elements import (
    Delivered,
    DeliveryAttempted,
    DeliveryFailed,
    DuplicateIgnored,
    Element,
    EventReceived,
    EventTooLarge,
    Outcome,
    Ready,
    Reconnected,
    Reconnecting,
    SessionRenewed,
    Stopped,
)
from cstar_cli.relay._forwarder import Forwarder, ForwardOptions

__all__ = [
    "DEFAULT_MAX_FRAME_BYTES",
    "RECONNECT_CAP",
    "RECONNECT_FIRST",
    "TOO_BIG_TRIES",
    "Relay",
    "SessionCloser",
    "SessionOpener",
]

#: ``open_session()`` → the contract's session object ``{"id", "websocketUrl", "secret", "events", …}``.
SessionOpener = Callable[[], Mapping[str, Any]]
#: ``close_session(session_id)``: delete the session on the server (blocking; errors are ignored).
SessionCloser = Callable[[str], None]

#: The largest WebSocket message accepted (bytes), announced to the server as ``X-Max-Frame-Bytes``.
#: 16 MiB, four times the emulator's largest possible event frame.
DEFAULT_MAX_FRAME_BYTES = 2**24
#: Connections in a row that fail on an over-limit frame at the same resume point before giving up.
TOO_BIG_TRIES = 3
#: A connection that stayed up this long (s) counts as healthy: the next reconnect backoff starts over.
STABLE_AFTER = 60.0
#: How long (s) stopping waits for the session to be deleted on the server.
CLOSE_SESSION_WAIT = 1.0

RECONNECT_FIRST = 0.25
RECONNECT_CAP = 5.0
INITIAL_TRIES = 3
#: How many handled event ids are remembered to recognise a replayed one.
SEEN_WINDOW = 50_000
#: After a reconnect, this long without a frame means the server's replay is over.
REPLAY_QUIET = 0.3
CLOSE_UNAUTHORIZED = 4401
CLOSE_FORBIDDEN = 4403
CLOSE_SESSION_GONE = 4404
CLOSE_TOO_BIG = 1009

_CREATED_AT = re.compile(r'"created_at"\s*:\s*"([^"]+)"')


class _SessionGone(Exception):
    """The server no longer knows the session: create a new one."""


class _Lost(Exception):
    """A transient loss; ``reason`` is what the user is told."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _revoked(detail: str | None = None) -> CStarAuthenticationError:
    return CStarAuthenticationError(
        "The API key was rejected while listening: it is invalid or was revoked" + (f" ({detail})." if detail else "."),
        code="key_revoked",
        hint="Create a new key (`cstar keys create`) and run `cstar login` again, or pass --api-key.",
    )


def _backoff(attempt: int) -> float:
    return backoff_delay(attempt, base=RECONNECT_FIRST, cap=RECONNECT_CAP, low=0.5, high=1.5)


def _created_ts(payload: str) -> float | None:
    m = _CREATED_AT.search(payload, 0, 4096)
    if not m:
        return None
    try:
        return datetime.fromisoformat(m.group(1).replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


async def _in_daemon_thread(fn: Callable[[], Any]) -> Any:
    """Run a blocking call without holding up the process's exit: a cancelled ``cstar listen``
    must end within a second even when an API call is still waiting on a timeout."""
    loop = asyncio.get_running_loop()
    fut: asyncio.Future[Any] = loop.create_future()

    def settle(result: Any, exc: BaseException | None) -> None:
        if fut.done():
            return
        if exc is not None:
            fut.set_exception(exc)
        else:
            fut.set_result(result)

    def work() -> None:
        try:
            result, exc = fn(), None
        except BaseException as e:  # handed to the awaiting coroutine, which re-raises it
            result, exc = None, e
        # RuntimeError: the loop is already closed, so nobody is waiting any more.
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(settle, result, exc)

    threading.Thread(target=work, name="cstar-session", daemon=True).start()
    return await fut


class Relay:
    """One ``cstar listen`` run. Iterate :meth:`run`; call :meth:`aclose` when done (also after an
    error or cancellation) to close the socket and the HTTP client and get the :class:`Stopped` totals.

    ``open_session`` is a blocking call returning the contract's session object (called again after
    a 4404); ``close_session``, if given, deletes the current session when the relay is closed;
    ``api_key`` authenticates the WebSocket; ``events`` is the filter shown in :class:`Ready`;
    ``forward`` says where to forward, or None to only report events (they are acked with
    ``status: null, attempts: 0``); ``max_frame_bytes`` is the largest WebSocket message accepted
    (announced as ``X-Max-Frame-Bytes``; raises ValueError below 1).
    """

    def __init__(
        self,
        open_session: SessionOpener,
        *,
        api_key: str,
        events: tuple[str, ...] = ("*",),
        forward: ForwardOptions | None = None,
        close_session: SessionCloser | None = None,
        max_frame_bytes: int = DEFAULT_MAX_FRAME_BYTES,
    ) -> None:
        if max_frame_bytes < 1:
            raise ValueError("max_frame_bytes must be at least 1")
        self._open_session = open_session
        self._close_session = close_session
        self._max_frame = int(max_frame_bytes)
        self._key = api_key
        self._events = tuple(events)
        self._forward = forward
        self._forwarder: Forwarder | None = None
        self._ws: ClientConnection | None = None
        self._session: Mapping[str, Any] = {}
        self._secret = ""
        self._last_acked: str | None = None
        self._handled: OrderedDict[str, str] = OrderedDict()
        self._received = self._forwarded = self._failed = self._duplicates = self._reconnects = 0
        self._too_large = self._acks = 0
        # Reconnect attempts since the last connection that made progress (see run()).
        self._attempts = 0
        self._in_flight: str | None = None

    # public -----------------------------------------------------------------------------------

    def totals(self) -> Stopped:
        """The run's totals so far."""
        return Stopped(
            self._received,
            self._forwarded,
            self._failed,
            self._duplicates,
            self._reconnects,
            self._too_large,
            self._in_flight,
        )

    async def aclose(self) -> Stopped:
        """Close the WebSocket (waiting at most 0.5 s for the close handshake) and the forwarder's
        connections, then delete the session with ``close_session`` (waiting at most 1 s); return
        the totals. Safe to call more than once."""
        ws, self._ws = self._ws, None
        if ws is not None:
            with contextlib.suppress(asyncio.TimeoutError, OSError, WebSocketException):
                await asyncio.wait_for(ws.close(), 0.5)
        fwd, self._forwarder = self._forwarder, None
        if fwd is not None:
            await fwd.aclose()
        closer, self._close_session = self._close_session, None
        session_id = str(self._session.get("id") or "")
        if closer is not None and session_id:
            # Best effort: a session left behind only expires later, and the run's own outcome
            # (or error) must not be replaced by a failure to tidy up.
            with contextlib.suppress(Exception):
                await asyncio.wait_for(_in_daemon_thread(lambda: closer(session_id)), CLOSE_SESSION_WAIT)
        return self.totals()

    async def run(self) -> AsyncIterator[Element]:
        """Listen until cancelled, yielding elements (see :mod:`cstar_cli.relay._elements`).

        Raises :class:`CStarAuthenticationError` (exit 3) when the key is refused (close 4401, a 401
        or 403 handshake, or a 401 on session creation), :class:`CStarPermissionError` (exit 4) on
        close 4403, :class:`CStarConnectionError` (exit 9) when the first connection cannot be made,
        :class:`CStarServerError` (exit 8) when the server keeps sending a frame over the limit
        (see the module docs), and the API client's errors from the first ``open_session()``.
        Other losses are retried forever.
        """
        await self._new_session(initial=True)
        await self._first_connect()
        shown = self._forward.display_url if self._forward is not None else None
        yield Ready(str(self._session.get("id") or ""), self._secret, self._events, shown)
        too_big_streak = 0
        too_big_cursor: str | None = None
        while True:
            connected_at = time.monotonic()
            acks_before = self._acks
            try:
                async for element in self._pump(resumed=self._reconnects > 0):
                    yield element
            except ConnectionClosed as e:
                gone, reason, too_big = self._classify_close(e)
            acked = self._acks > acks_before
            if acked or time.monotonic() - connected_at >= STABLE_AFTER:
                self._attempts = 0
            if too_big:
                # The server resends the same over-limit frame after every resume: count the
                # failures that made no progress from the same cursor, and stop at a few.
                same = not acked and too_big_cursor == self._last_acked
                too_big_streak = too_big_streak + 1 if same else 1
                too_big_cursor = self._last_acked
                if too_big_streak >= TOO_BIG_TRIES:
                    raise self._too_big_error()
            else:
                too_big_streak = 0
            async for element in self._reconnect(reason, gone):
                yield element

    def _too_big_error(self) -> CStarServerError:
        where = f"right after {self._last_acked}" if self._last_acked else "at the start of the session"
        return CStarServerError(
            f"The server keeps sending an event larger than the {self._max_frame}-byte frame limit, "
            f"{where} ({TOO_BIG_TRIES} times in a row); it cannot be received.",
            code="event_too_large",
            hint="The server does not send event_too_large notices. A new `cstar listen` starts with "
            "new events; fetch that one from the API if you need it.",
        )

    # session and connection -------------------------------------------------------------------

    async def _new_session(self, *, initial: bool) -> SessionRenewed | None:
        session = await _in_daemon_thread(self._open_session)
        url = str(session.get("websocketUrl") or "")
        secret = str(session.get("secret") or "")
        if not url or not secret:
            raise CStarServerError(
                "The server's CLI session has no websocketUrl or secret.",
                code="bad_session",
                hint="Check --base-url / CSTAR_BASE_URL points at the cStar API.",
            )
        parts = urlsplit(url)
        if parts.scheme not in ("ws", "wss") or (parts.scheme == "ws" and not is_loopback(parts.hostname)):
            # A key must never travel unencrypted to a non-local host, whatever the server says.
            raise CStarConnectionError(
                f"Refusing to open the listen WebSocket at {parts.scheme}://{parts.hostname}: not wss://.",
                code="insecure_websocket",
                hint="Use an https:// base URL, or http:// only with localhost.",
            )
        changed = bool(self._secret) and secret != self._secret
        self._session, self._secret = session, secret
        if self._forward is not None:
            if self._forwarder is None:
                self._forwarder = Forwarder(self._forward, secret)
            self._forwarder.secret = secret
        return None if initial else SessionRenewed(str(session.get("id") or ""), secret, changed)

    async def _open(self) -> ClientConnection:
        """Open the session's WebSocket. Raises :class:`_SessionGone` (404), auth errors (401/403) and
        :class:`_Lost` for anything transient."""
        headers = {"Authorization": f"Bearer {self._key}", "X-Max-Frame-Bytes": str(self._max_frame)}
        if self._last_acked:
            headers["Last-Event-ID"] = self._last_acked
        try:
            return await connect(
                str(self._session["websocketUrl"]),
                additional_headers=headers,
                user_agent_header=USER_AGENT,
                open_timeout=10,
                close_timeout=0.5,
                max_size=self._max_frame,
                # Frames are small JSON and mostly on loopback: compression would only cost CPU.
                compression=None,
            )
        except InvalidStatus as e:
            status = e.response.status_code
            if status in (401, 403):
                raise _revoked(f"HTTP {status}") from None
            if status == 404:
                raise _SessionGone() from None
            raise _Lost(f"the server answered HTTP {status}") from None
        except InvalidURI as e:
            raise CStarServerError(f"The server sent an invalid WebSocket URL ({e}).", code="bad_session") from None
        except (OSError, asyncio.TimeoutError, WebSocketException) as e:
            raise _Lost(_describe_network(e)) from None

    async def _first_connect(self) -> None:
        renewed = False
        for attempt in range(1, INITIAL_TRIES + 1):
            try:
                self._ws = await self._open()
                return
            except _SessionGone:
                if renewed:
                    raise CStarServerError(
                        "The server does not know the CLI session it just created.", code="session_unknown"
                    ) from None
                renewed = True
                await self._new_session(initial=True)
            except _Lost as e:
                if attempt == INITIAL_TRIES:
                    raise CStarConnectionError(
                        f"Could not open the listen WebSocket: {e.reason}.",
                        code="websocket_failed",
                        hint="Check your network and --base-url / CSTAR_BASE_URL, then run `cstar listen` again.",
                    ) from None
                await asyncio.sleep(_backoff(attempt))

    def _classify_close(self, e: ConnectionClosed) -> tuple[bool, str, bool]:
        """(session gone?, reason, frame over the limit?) for a closed connection; raises for 4401
        and 4403."""
        if (e.sent is not None and e.sent.code == CLOSE_TOO_BIG) or (
            e.rcvd is not None and e.rcvd.code == CLOSE_TOO_BIG
        ):
            return False, f"the server sent a frame over the {self._max_frame}-byte limit (1009)", True
        if e.rcvd is None:
            return False, "the connection was lost", False
        code, why = e.rcvd.code, e.rcvd.reason
        if code == CLOSE_UNAUTHORIZED:
            raise _revoked() from None
        if code == CLOSE_FORBIDDEN:
            raise CStarPermissionError(
                "The server refused the listen WebSocket for this key (close 4403): it needs a secret key"
                " of the session's team and mode.",
                code="secret_key_required",
            ) from None
        if code == CLOSE_SESSION_GONE:
            return True, "the session expired", False
        return False, f"the server closed the connection ({code}{' ' + why if why else ''})", False

    async def _reconnect(self, reason: str, gone: bool) -> AsyncIterator[Element]:
        old, self._ws = self._ws, None
        if old is not None:
            # The peer is already gone; don't wait for a close handshake that will never come.
            old.transport.abort()
        self._reconnects += 1
        attempt = 0
        while True:
            attempt += 1
            # The backoff step carries over from earlier losses until a connection makes progress.
            self._attempts += 1
            delay = _backoff(self._attempts)
            yield Reconnecting(reason, attempt, delay)
            await asyncio.sleep(delay)
            try:
                if gone:
                    renewed = await self._new_session(initial=False)
                    gone = False
                    if renewed is not None:
                        yield renewed
                self._ws = await self._open()
                return
            except _SessionGone:
                gone, reason = True, "the session expired"
            except _Lost as e:
                reason = e.reason
            except CStarAuthenticationError:
                raise
            except CStarRateLimitError as e:
                reason = "rate limited"
                await asyncio.sleep(min(e.retry_after, 60.0))
            except CStarError as e:
                # Creating the new session failed for a transient reason (server down, 5xx…).
                reason = e.message

    # frames -----------------------------------------------------------------------------------

    async def _pump(self, *, resumed: bool) -> AsyncIterator[Element]:
        """Handle frames until the connection closes (raises ``ConnectionClosed``)."""
        ws = self._ws
        assert ws is not None
        forwarder = self._forwarder
        handled = self._handled
        # After a reconnect, count what the server re-sends from before it (see Reconnected).
        replaying = resumed
        replayed = 0
        gap = False
        resumed_after = self._last_acked
        connected_at = time.time()
        loads = json.loads

        def reconnected() -> Reconnected:
            return Reconnected(str(self._session.get("id") or ""), resumed_after, replayed, gap)

        while True:
            if replaying:
                try:
                    raw = await asyncio.wait_for(ws.recv(), REPLAY_QUIET)
                except asyncio.TimeoutError:
                    replaying = False
                    yield reconnected()
                    continue
            else:
                raw = await ws.recv()
            try:
                frame = loads(raw)
            except ValueError:
                continue
            if not isinstance(frame, dict):
                continue
            kind = frame.get("type")
            if kind != "event" and kind != "event_too_large":
                if kind == "welcome":
                    if resumed_after and frame.get("resumedAfter") is None:
                        # The server no longer holds our last acked event, so it cannot replay after it.
                        gap = True
                    cursor = frame.get("lastEventId")
                    if self._last_acked is None and isinstance(cursor, str) and cursor:
                        # Nothing acked yet: the server names the point this socket's stream starts
                        # after, so a drop before the first ack replays everything since.
                        self._last_acked = cursor
                continue
            event_id = frame.get("eventId")
            if not isinstance(event_id, str) or not event_id:
                continue
            if kind == "event_too_large":
                if replaying:
                    replayed += 1
                prior = handled.get(event_id)
                if prior is None:
                    size = frame.get("size")
                    notice = EventTooLarge(
                        event_id,
                        str(frame.get("eventType") or ""),
                        size if isinstance(size, int) and not isinstance(size, bool) else 0,
                        self._max_frame,
                    )
                    self._too_large += 1
                    yield notice
                    prior = self._remember(event_id, None, 0, 0, notice.error)
                else:
                    self._duplicates += 1
                    yield DuplicateIgnored(event_id)
                await ws.send(prior)
                self._acked(event_id)
                continue
            payload = frame.get("payload")
            if not isinstance(payload, str):
                payload = json.dumps(payload, separators=(",", ":"), ensure_ascii=False)
            if replaying:
                created = _created_ts(payload)
                if created is not None and created >= connected_at:
                    replaying = False
                    yield reconnected()
                else:
                    replayed += 1
            prior = handled.get(event_id)
            if prior is not None:
                self._duplicates += 1
                yield DuplicateIgnored(event_id)
                await ws.send(prior)
                self._acked(event_id)
                continue
            headers = frame.get("headers") or {}
            event = EventReceived(
                event_id,
                str(frame.get("eventType") or headers.get("X-Event-Type") or ""),
                payload,
                headers.get("x-cstar-request-id") or headers.get("X-Cstar-Request-Id"),
                str(headers.get("X-Webhook-ID") or self._session.get("id") or ""),
                time.time(),
            )
            self._received += 1
            if forwarder is None:
                yield event
                text = self._remember(event_id, None, 0, 0, None)
            else:
                # Until its outcome is known, a stop leaves this event unacknowledged (see Stopped).
                self._in_flight = event_id
                yield event
                outcome: Outcome | None = None
                async for step in forwarder.deliver(event):
                    if isinstance(step, DeliveryAttempted):
                        yield step
                    else:
                        outcome = step
                assert isinstance(outcome, Delivered | DeliveryFailed)
                if outcome.ok:
                    self._forwarded += 1
                else:
                    self._failed += 1
                text = self._remember(
                    event_id, outcome.status, round(outcome.duration_ms), outcome.attempts, outcome.error
                )
                self._in_flight = None
                yield outcome
            await ws.send(text)
            self._acked(event_id)

    def _remember(self, event_id: str, status: int | None, duration_ms: int, attempts: int, error: str | None) -> str:
        """The ack frame for a handled event, kept to answer a replay of it with the same outcome."""
        text = json.dumps(
            {
                "type": "ack",
                "eventId": event_id,
                "status": status,
                "durationMs": duration_ms,
                "attempts": attempts,
                "error": error,
            },
            separators=(",", ":"),
        )
        handled = self._handled
        handled[event_id] = text
        if len(handled) > SEEN_WINDOW:
            handled.popitem(last=False)
        return text

    def _acked(self, event_id: str) -> None:
        self._last_acked = event_id
        self._acks += 1


def _describe_network(e: BaseException) -> str:
    if isinstance(e, asyncio.TimeoutError):
        return "timed out"
    if isinstance(e, ConnectionRefusedError):
        return "connection refused"
    text = str(e)
    if isinstance(e, OSError) and e.strerror:
        text = e.strerror.lower()
    return text or type(e).__name__
