"""The listen relay: CLI session → WebSocket → (optional) forwarder → ack, with reconnect and resume.

Implements the server contract's "Listening — CLI sessions":

1. a session is created with the caller's blocking ``open_session()`` (``CStarClient.create_cli_session``);
2. its ``websocketUrl`` is opened with ``Authorization: Bearer <key>`` (and ``Last-Event-ID`` = the last
   acked event when resuming);
3. each ``event`` frame is forwarded (strictly one at a time, in the order received) and then acked
   with its final outcome, never before;
4. close 4401 ends the run with :class:`CStarAuthenticationError`; close 4404 (or a 404 handshake)
   creates a new session and resumes; any other close, a network loss or a failed handshake is
   retried forever with capped exponential backoff (0.25 s doubling to 5 s, ±50 % jitter).

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
from cstar_cli.config import is_loopback
from cstar_cli.errors import (
    CStarAuthenticationError,
    CStarConnectionError,
    CStarError,
    CStarRateLimitError,
    CStarServerError,
)
from cstar_cli.relay._elements import (
    DeliveryAttempted,
    DuplicateIgnored,
    Element,
    EventReceived,
    Outcome,
    Ready,
    Reconnected,
    Reconnecting,
    SessionRenewed,
    Stopped,
)
from cstar_cli.relay._forwarder import Forwarder, ForwardOptions

__all__ = ["RECONNECT_CAP", "RECONNECT_FIRST", "Relay", "SessionOpener"]

#: ``open_session()`` → the contract's session object ``{"id", "websocketUrl", "secret", "events", …}``.
SessionOpener = Callable[[], Mapping[str, Any]]

RECONNECT_FIRST = 0.25
RECONNECT_CAP = 5.0
INITIAL_TRIES = 3
#: How many handled event ids are remembered to recognise a replayed one.
SEEN_WINDOW = 50_000
#: After a reconnect, this long without a frame means the server's replay is over.
REPLAY_QUIET = 0.3
CLOSE_UNAUTHORIZED = 4401
CLOSE_SESSION_GONE = 4404

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
    a 4404); ``api_key`` authenticates the WebSocket; ``events`` is the filter shown in
    :class:`Ready`; ``forward`` says where to forward, or None to only report events (they are acked
    with ``status: null, attempts: 0``).
    """

    def __init__(
        self,
        open_session: SessionOpener,
        *,
        api_key: str,
        events: tuple[str, ...] = ("*",),
        forward: ForwardOptions | None = None,
    ) -> None:
        self._open_session = open_session
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

    # public -----------------------------------------------------------------------------------

    def totals(self) -> Stopped:
        """The run's totals so far."""
        return Stopped(self._received, self._forwarded, self._failed, self._duplicates, self._reconnects)

    async def aclose(self) -> Stopped:
        """Close the WebSocket (waiting at most 0.5 s for the close handshake) and the forwarder's
        connections; return the totals. Safe to call more than once."""
        ws, self._ws = self._ws, None
        if ws is not None:
            with contextlib.suppress(asyncio.TimeoutError, OSError, WebSocketException):
                await asyncio.wait_for(ws.close(), 0.5)
        fwd, self._forwarder = self._forwarder, None
        if fwd is not None:
            await fwd.aclose()
        return self.totals()

    async def run(self) -> AsyncIterator[Element]:
        """Listen until cancelled, yielding elements (see :mod:`cstar_cli.relay._elements`).

        Raises :class:`CStarAuthenticationError` (exit 3) when the key is refused (close 4401, a 401
        or 403 handshake, or a 401 on session creation), :class:`CStarConnectionError` (exit 9) when
        the first connection cannot be made, and the API client's errors from the first
        ``open_session()``. Later losses are retried forever.
        """
        await self._new_session(initial=True)
        await self._first_connect()
        yield Ready(str(self._session.get("id") or ""), self._secret, self._events, self._forward and self._forward.url)
        while True:
            try:
                async for element in self._pump(resumed=self._reconnects > 0):
                    yield element
            except ConnectionClosed as e:
                gone, reason = self._classify_close(e)
            async for element in self._reconnect(reason, gone):
                yield element

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
        headers = {"Authorization": f"Bearer {self._key}"}
        if self._last_acked:
            headers["Last-Event-ID"] = self._last_acked
        try:
            return await connect(
                str(self._session["websocketUrl"]),
                additional_headers=headers,
                user_agent_header=USER_AGENT,
                open_timeout=10,
                close_timeout=0.5,
                max_size=2**24,
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

    def _classify_close(self, e: ConnectionClosed) -> tuple[bool, str]:
        """(session gone?, reason) for a closed connection; raises for 4401."""
        if e.rcvd is None:
            return False, "the connection was lost"
        code, why = e.rcvd.code, e.rcvd.reason
        if code == CLOSE_UNAUTHORIZED:
            raise _revoked() from None
        if code == CLOSE_SESSION_GONE:
            return True, "the session expired"
        return False, f"the server closed the connection ({code}{' ' + why if why else ''})"

    async def _reconnect(self, reason: str, gone: bool) -> AsyncIterator[Element]:
        old, self._ws = self._ws, None
        if old is not None:
            # The peer is already gone; don't wait for a close handshake that will never come.
            old.transport.abort()
        self._reconnects += 1
        attempt = 0
        while True:
            attempt += 1
            delay = _backoff(attempt)
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
            if frame.get("type") != "event":
                if frame.get("type") == "welcome":
                    if resumed_after and frame.get("resumedAfter") is None:
                        # The server no longer holds our last acked event, so it cannot replay after it.
                        gap = True
                    cursor = frame.get("lastEventId")
                    if self._last_acked is None and isinstance(cursor, str) and cursor:
                        # Nothing acked yet: resume from where this run started, so a drop before the
                        # first ack still replays every event since.
                        self._last_acked = cursor
                continue
            event_id = frame.get("eventId")
            if not isinstance(event_id, str) or not event_id:
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
                self._last_acked = event_id
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
            yield event
            if forwarder is None:
                ack = {
                    "type": "ack",
                    "eventId": event_id,
                    "status": None,
                    "durationMs": 0,
                    "attempts": 0,
                    "error": None,
                }
            else:
                outcome: Outcome | None = None
                async for step in forwarder.deliver(event):
                    if isinstance(step, DeliveryAttempted):
                        yield step
                    else:
                        outcome = step
                assert outcome is not None
                if outcome.ok:
                    self._forwarded += 1
                else:
                    self._failed += 1
                yield outcome
                ack = {
                    "type": "ack",
                    "eventId": event_id,
                    "status": outcome.status,
                    "durationMs": round(outcome.duration_ms),
                    "attempts": outcome.attempts,
                    "error": outcome.error,
                }
            text = json.dumps(ack, separators=(",", ":"))
            handled[event_id] = text
            if len(handled) > SEEN_WINDOW:
                handled.popitem(last=False)
            await ws.send(text)
            self._last_acked = event_id


def _describe_network(e: BaseException) -> str:
    if isinstance(e, asyncio.TimeoutError):
        return "timed out"
    if isinstance(e, ConnectionRefusedError):
        return "connection refused"
    text = str(e)
    if isinstance(e, OSError) and e.strerror:
        text = e.strerror.lower()
    return text or type(e).__name__
