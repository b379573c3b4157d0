"""The listen relay: CLI session → WebSocket → (optional) forwarder → ack, with reconnect and resume.

Implements the server contract's "Listening — CLI sessions":

1. a session is created with the caller's blocking ``open_session()`` (``CStarClient.create_cli_session``);
2. its ``websocketUrl`` is opened with ``Authorization: Bearer <key>``, ``X-Max-Frame-Bytes`` (the
   largest frame this relay accepts) and ``Last-Event-ID`` (the last acked event) when resuming;
3. each ``event`` frame is forwarded (strictly one at a time, in the order received) and then acked
   with its final outcome, never before; an ``event_too_large`` notice (the server's stand-in for an
   event over the frame limit) is acked as failed at once. With several targets (``routes``) the
   event goes to each matching target's own queue instead (:class:`~cstar_cli.relay._routes.Fanout`),
   frames keep being read meanwhile, and acks still go out in arrival order, each once every
   matching target has its final outcome;
4. close 4401 ends the run with :class:`CStarAuthenticationError`, close 4403 with
   :class:`CStarPermissionError`; close 4404 (or a 404 handshake) creates a new session and
   resumes; any other close, a network loss or a failed handshake is retried forever with capped
   exponential backoff (0.25 s doubling to 5 s, ±50 % jitter). The backoff only starts again from
   0.25 s after a connection that made progress (acked a new event, not a replayed one it had
   acked before, or stayed up a minute).
5. A server that ignores ``X-Max-Frame-Bytes`` and sends a bigger frame makes the connection fail
   (1009) on the same event after every resume: after :data:`TOO_BIG_TRIES` such failures in a row
   at the same resume point the run ends with :class:`CStarServerError` (exit 8) naming the last
   acked event, instead of looping for ever.

An event the run already handled (its ack lost to a disconnect, so the server replays it) is acked
again with its first outcome and not forwarded twice, unless the frame carries ``"resend": true``
(``POST /events/{id}/resend``): that one is forwarded and acked again, and never becomes the resume
point. A frame that does not match the grammar is reported (:class:`FrameIgnored`) and, when it names
an event, acked as failed; it never ends the run.
The session's ``websocketUrl`` is only opened on the API's own origin (``base_url``), so the key is
never sent anywhere else. Only the first connection is allowed to fail
for good: :class:`CStarConnectionError` (exit 9) if it cannot be opened after three tries.

The relay prints nothing and never exits the process; it yields the elements of
:mod:`cstar_cli.relay._elements` and raises :mod:`cstar_cli.errors` classes.

A run, step by step (each step one method of :class:`Relay`)::

    run        _new_session → _first_connect → Ready, then for ever:
                 _pump → (connection lost) classify_close → _reset_backoff_if_healthy
                 → _TooBigGuard.exhausted? → _reconnect (→ _next_delay, _new_session, _open)
    _pump      _receive → _plain_event? → EventReceived → first_attempt (→ retries) → _settle → _ack
               otherwise _route → _on_welcome | _on_event | _on_too_large | _on_malformed
    _on_event  _Replay.observe → (_duplicate | EventReceived → deliver → _settle) → _ack

The socket itself (handshake, close codes) is :mod:`cstar_cli.relay._connection`; reading and writing
frames, :mod:`cstar_cli.relay._frames`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
import time
from collections import OrderedDict, deque
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed, WebSocketException

from cstar_cli.backoff import backoff_delay
from cstar_cli.errors import (
    CStarAuthenticationError,
    CStarConnectionError,
    CStarError,
    CStarRateLimitError,
    CStarServerError,
)
from cstar_cli.output import shorten
from cstar_cli.protocol.frames import FRAME_EVENT, FRAME_EVENT_TOO_LARGE, FRAME_WELCOME
from cstar_cli.relay._connection import (
    Loss,
    Lost,
    SessionGone,
    before_data,
    check_session,
    classify_close,
    frame_ready,
    open_socket,
    write_texts,
)
from cstar_cli.relay._elements import (
    CatchingUp,
    Delivered,
    DeliveryAttempted,
    DeliveryFailed,
    DuplicateIgnored,
    Element,
    EventReceived,
    FrameIgnored,
    Outcome,
    Ready,
    Reconnected,
    Reconnecting,
    SessionRenewed,
    Stopped,
)
from cstar_cli.relay._forwarder import Forwarder, ForwardOptions, Pending
from cstar_cli.relay._frames import (
    MalformedFrame,
    ack_frame,
    check_welcome,
    created_at,
    decode,
    event_id_of,
    read_event,
    sendable,
    too_large_notice,
)
from cstar_cli.relay._routes import Fanout, Job, Route

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
#: How long (s) stopping waits for the WebSocket's close handshake.
CLOSE_SOCKET_WAIT = 0.5

#: Reconnect backoff (s): the first pause, doubling up to the cap, each ±50 % jitter.
RECONNECT_FIRST = 0.25
RECONNECT_CAP = 5.0
#: The longest pause (s) a rate-limited session renewal honours from ``Retry-After``.
RATE_LIMIT_PAUSE_CAP = 60.0
#: Tries to open the first connection before the run fails (exit 9).
INITIAL_TRIES = 3
#: How many handled event ids are remembered to recognise a replayed one.
SEEN_WINDOW = 50_000
#: After a reconnect, this long (s) without a frame means the server's replay is over.
REPLAY_QUIET = 0.3
#: Acks are written together (one write for many): at most this many wait, for at most ACK_DELAY s.
ACK_BATCH = 64
ACK_DELAY = 0.01

#: The handler of one event frame type: ``(socket, frame, event id, replay)`` → the elements it yields.
_FrameHandler = Callable[[ClientConnection, Mapping[str, Any], str, "_Replay"], AsyncIterator[Element]]


def _backoff(attempt: int) -> float:
    """The pause (s) before reconnect attempt ``attempt`` (1-based)."""
    return backoff_delay(attempt, base=RECONNECT_FIRST, cap=RECONNECT_CAP, low=0.5, high=1.5)


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


class _Replay:
    """One connection's view of the server's replay (see :class:`Reconnected`).

    After a resume (``active``), the frames the server re-sends from before it are counted until the
    first live event (created at or after the connection opened) or :data:`REPLAY_QUIET` seconds
    without a frame. ``gap`` is set when the welcome shows the server no longer holds
    ``resumed_after``.
    """

    __slots__ = ("active", "count", "gap", "resumed_after", "session_id", "since")

    def __init__(self, session_id: str, resumed_after: str | None, *, active: bool) -> None:
        self.session_id = session_id
        self.resumed_after = resumed_after
        self.active = active
        self.since = time.time()
        self.count = 0
        self.gap = False

    def welcomed(self, resumed_after: object) -> None:
        """Note the welcome's ``resumedAfter``: null after we asked to resume means a gap."""
        if self.resumed_after and resumed_after is None:
            self.gap = True

    def observe(self, payload: str | None) -> Reconnected | None:
        """Count one event frame while replaying (``payload`` None for a notice, which has none).
        Returns the :class:`Reconnected` element when this event is live, which ends the replay."""
        if not self.active:
            return None
        created = created_at(payload) if payload is not None else None
        if created is not None and created >= self.since:
            return self.finish()
        self.count += 1
        return None

    def finish(self) -> Reconnected:
        """End the replay: the :class:`Reconnected` element with what was counted."""
        self.active = False
        return Reconnected(self.session_id, self.resumed_after, self.count, self.gap)


class _Unacked:
    """An event handled with several targets whose ack has not been sent: acks go out in the
    order events arrived, each once its ``job`` (None: the ``ack`` is already known) is done."""

    __slots__ = ("ack", "cursor", "event_id", "job")

    def __init__(self, event_id: str, job: Job | None, ack: str | None, *, cursor: bool = True) -> None:
        self.event_id = event_id
        self.job = job
        self.ack = ack
        # False for a resend: acking it must not move the resume point back.
        self.cursor = cursor


#: What :meth:`Relay._receive_or_wake` returns when the fan-out has elements to hand out.
_WAKE = object()


def _timestamp(value: object) -> float | None:
    """An ISO 8601 time from the server as unix seconds, or None."""
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


class _StopRequested(Exception):
    """Raised after the ack that follows :meth:`Relay.stop`, to end :meth:`Relay.run`."""


class _TooBigGuard:
    """Counts connections in a row lost to an over-limit frame (1009) at the same resume point
    without progress: a server that ignores ``X-Max-Frame-Bytes`` resends that frame after every
    resume, so :meth:`exhausted` says when to stop (module docs, point 5)."""

    __slots__ = ("cursor", "streak")

    def __init__(self) -> None:
        self.streak = 0
        self.cursor: str | None = None

    def exhausted(self, loss: Loss, *, progressed: bool, cursor: str | None) -> bool:
        """Record the end of a connection (``cursor``: the last acked event id); True once
        :data:`TOO_BIG_TRIES` such losses came in a row."""
        if not loss.too_big:
            self.streak = 0
            return False
        same = not progressed and self.cursor == cursor
        self.streak = self.streak + 1 if same else 1
        self.cursor = cursor
        return self.streak >= TOO_BIG_TRIES


class Relay:
    """One ``cstar listen`` run. Iterate :meth:`run`; call :meth:`aclose` when done (also after an
    error or cancellation) to close the socket and the HTTP client and get the :class:`Stopped` totals.

    ``open_session`` is a blocking call returning the contract's session object (called again after
    a 4404); ``close_session``, if given, deletes the current session when the relay is closed;
    ``api_key`` authenticates the WebSocket; ``events`` is the filter shown in :class:`Ready`;
    ``forward`` says where to forward, or None to only report events (they are acked with
    ``status: null, attempts: 0``); ``max_frame_bytes`` is the largest WebSocket message accepted
    (announced as ``X-Max-Frame-Bytes``; raises ValueError below 1). ``base_url`` is the API the
    sessions come from: their ``websocketUrl`` must be on its origin (see :func:`check_session`);
    None skips that check, for callers whose ``open_session`` is not an API call. ``routes``
    (instead of ``forward``) forwards to several targets, each event to those whose patterns match
    (see :mod:`cstar_cli.relay._routes`). A first session whose ``resume`` object reports events to
    catch up makes :meth:`run` yield :class:`CatchingUp` right after :class:`Ready`.
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
        base_url: str | None = None,
        routes: Sequence[Route] = (),
    ) -> None:
        if max_frame_bytes < 1:
            raise ValueError("max_frame_bytes must be at least 1")
        self._open_session = open_session
        self._close_session = close_session
        self._max_frame = int(max_frame_bytes)
        self._key = api_key
        self._base_url = base_url
        self._events = tuple(events)
        self._forward = forward
        self._forwarder: Forwarder | None = None
        # Several targets (or one taking only some events): each with its own queue (see _routes).
        self._routes = tuple(routes)
        if len(self._routes) == 1 and self._routes[0].patterns is None and forward is None:
            self._forward, self._routes = self._routes[0].options, ()
        self._fanout: Fanout | None = None
        self._unacked: deque[_Unacked] = deque()
        self._unacked_ids: dict[str, _Unacked] = {}
        self._recv: tuple[ClientConnection, asyncio.Task[Any]] | None = None
        self._ws: ClientConnection | None = None
        self._session: Mapping[str, Any] = {}
        self._secret = ""
        self._last_acked: str | None = None
        # event id → its ack frame, to answer a replay with the first outcome.
        self._handled: OrderedDict[str, str] = OrderedDict()
        self._received = self._forwarded = self._failed = self._duplicates = self._reconnects = 0
        self._too_large = self._malformed = 0
        # Acks of events this run had not acked before: what counts as progress (a re-ack of a
        # replayed event does not, or a server replaying it before an oversized frame loops for ever).
        self._progress = 0
        # Reasons of frames without an event id already reported: each is reported once per run.
        self._reported: set[str] = set()
        # Reconnect attempts since the last connection that made progress (see _reset_backoff_if_healthy).
        self._attempts = 0
        self._in_flight: str | None = None
        self._stopping = False
        # Delivered events after which the frontend stops (stop_after), if it said so.
        self._stop_after: int | None = None
        # Acks due on ``_acks_ws`` but not written yet: (event id, ack frame, cursor, new), see _ack.
        self._acks: list[tuple[str, str, bool, bool]] = []
        self._acks_ws: ClientConnection | None = None
        self._acks_timer: asyncio.TimerHandle | None = None

    # public -----------------------------------------------------------------------------------

    def stop(self) -> None:
        """End :meth:`run` gracefully: the event being handled is still acked with its outcome, then
        the iteration ends (no error). For a frontend that has seen enough, e.g. ``--exit-after``:
        call it while handling the element (an outcome) and keep iterating."""
        self._stopping = True

    def stop_after(self, delivered: int) -> None:
        """Say that the frontend calls :meth:`stop` once ``delivered`` events in all got a 2xx
        (``--exit-after``): the relay then never writes an event beyond that one ahead of time."""
        self._stop_after = delivered

    def totals(self) -> Stopped:
        """The run's totals so far."""
        return Stopped(
            self._received,
            self._forwarded,
            self._failed,
            self._duplicates,
            self._reconnects,
            self._too_large,
            self._unacked[0].event_id if self._unacked else self._in_flight,
            self._malformed,
        )

    async def aclose(self) -> Stopped:
        """Close the WebSocket (waiting at most 0.5 s for the close handshake) and the forwarder's
        connections, then delete the session with ``close_session`` (waiting at most 1 s); return
        the totals. Safe to call more than once."""
        ws, self._ws = self._ws, None
        self._write_acks()  # outcomes already known are acked before the socket closes
        if ws is not None:
            with contextlib.suppress(asyncio.TimeoutError, OSError, WebSocketException):
                await asyncio.wait_for(ws.close(), CLOSE_SOCKET_WAIT)
        fwd, self._forwarder = self._forwarder, None
        if fwd is not None:
            await fwd.aclose()
        self._drop_recv()
        fan, self._fanout = self._fanout, None
        if fan is not None:
            await fan.aclose()
        closer, self._close_session = self._close_session, None
        session_id = self._session_id()
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
        await self._new_session()
        await self._first_connect()
        yield self._ready()
        catching_up = self._catching_up()
        if catching_up is not None:
            yield catching_up
        guard = _TooBigGuard()
        while True:
            connected_at, progress_before = time.monotonic(), self._progress
            try:
                async for element in self._pump(resumed=self._reconnects > 0):
                    yield element
            except _StopRequested:
                return
            except ConnectionClosed as e:
                loss = classify_close(e, self._max_frame)
            progressed = self._progress > progress_before
            self._reset_backoff_if_healthy(progressed, connected_at)
            if guard.exhausted(loss, progressed=progressed, cursor=self._last_acked):
                raise self._too_big_error()
            async for element in self._reconnect(loss):
                yield element

    # session and connection -------------------------------------------------------------------

    def _session_id(self) -> str:
        return str(self._session.get("id") or "")

    def _ready(self) -> Ready:
        """The :class:`Ready` element for the first session."""
        shown = self._forward.display_url if self._forward is not None else None
        routes = tuple((r.shown_patterns, r.options.display_url) for r in self._routes)
        if routes:
            shown = routes[0][1]
        return Ready(self._session_id(), self._secret, self._events, shown, routes)

    def _catching_up(self) -> CatchingUp | None:
        """The :class:`CatchingUp` element when the first session resumes a previous run with
        something to catch up (or something lost to retention), else None."""
        resume = self._session.get("resume")
        if not isinstance(resume, Mapping):
            return None
        count = resume.get("count")
        count = count if isinstance(count, int) and not isinstance(count, bool) and count > 0 else 0
        missing = _timestamp(resume.get("missingBefore"))
        if not count and missing is None:
            return None
        after = resume.get("after")
        return CatchingUp(count, _timestamp(resume.get("since")), after if isinstance(after, str) else None, missing)

    async def _new_session(self) -> SessionRenewed:
        """Create a session with ``open_session`` and sign with its secret from now on; the element
        says whether the secret changed (shown only after a renewal). Raises the API client's
        errors and those of :func:`check_session`."""
        session = await _in_daemon_thread(self._open_session)
        secret = str(session.get("secret") or "")
        check_session(str(session.get("websocketUrl") or ""), secret, self._base_url)
        changed = bool(self._secret) and secret != self._secret
        self._session, self._secret = session, secret
        if self._forward is not None:
            if self._forwarder is None:
                self._forwarder = Forwarder(self._forward, secret)
            self._forwarder.secret = secret
        elif self._routes:
            if self._fanout is None:
                self._fanout = Fanout(self._routes, secret)
            self._fanout.secret = secret
        return SessionRenewed(self._session_id(), secret, changed)

    async def _open(self) -> ClientConnection:
        """Open the current session's WebSocket, resuming after the last acked event (see
        :func:`open_socket` for what it raises)."""
        return await open_socket(
            str(self._session["websocketUrl"]),
            api_key=self._key,
            max_frame_bytes=self._max_frame,
            last_event_id=self._last_acked,
        )

    async def _first_connect(self) -> None:
        """Open the first connection: one renewal if the new session is already unknown, and up to
        :data:`INITIAL_TRIES` tries for transient failures. Raises :class:`CStarServerError` (the
        renewed session is unknown too) or :class:`CStarConnectionError` (exit 9)."""
        renewed = False
        attempt = 0
        while True:
            try:
                self._ws = await self._open()
                return
            except SessionGone:
                if renewed:
                    raise CStarServerError(
                        "The server does not know the CLI session it just created.", code="session_unknown"
                    ) from None
                renewed = True
                await self._new_session()
            except Lost as e:
                attempt += 1
                if attempt >= INITIAL_TRIES:
                    raise CStarConnectionError(
                        f"Could not open the listen WebSocket: {e.reason}.",
                        code="websocket_failed",
                        hint="Check your network and --base-url / CSTAR_BASE_URL, then run `cstar listen` again.",
                    ) from None
                await asyncio.sleep(_backoff(attempt))

    def _reset_backoff_if_healthy(self, progressed: bool, connected_at: float) -> None:
        """After a connection made progress (``progressed``: it acked a new event) or stayed up
        :data:`STABLE_AFTER` seconds since ``connected_at`` (monotonic), the backoff starts over."""
        if progressed or time.monotonic() - connected_at >= STABLE_AFTER:
            self._attempts = 0

    def _next_delay(self) -> float:
        """The pause (s) before the next reconnect attempt: the step carries over from earlier
        losses until a connection makes progress."""
        self._attempts += 1
        return _backoff(self._attempts)

    def _too_big_error(self) -> CStarServerError:
        where = f"right after {self._last_acked}" if self._last_acked else "at the start of the session"
        return CStarServerError(
            f"The server keeps sending an event larger than the {self._max_frame}-byte frame limit, "
            f"{where} ({TOO_BIG_TRIES} times in a row); it cannot be received.",
            code="event_too_large",
            hint="The server does not send event_too_large notices. A new `cstar listen` starts with "
            "new events; fetch that one from the API if you need it.",
        )

    async def _reconnect(self, loss: Loss) -> AsyncIterator[Element]:
        """Drop the lost socket, then retry with backoff until a new one is open, renewing the
        session first when it is gone. Yields :class:`Reconnecting` before each attempt and
        :class:`SessionRenewed` after a renewal; raises :class:`CStarAuthenticationError` when the
        key is refused, and retries everything else."""
        old, self._ws = self._ws, None
        if old is not None:
            # The peer is already gone; don't wait for a close handshake that will never come.
            old.transport.abort()
        self._reconnects += 1
        reason, gone = loss.reason, loss.session_gone
        attempt = 0
        while True:
            attempt += 1
            delay = self._next_delay()
            yield Reconnecting(reason, attempt, delay)
            await asyncio.sleep(delay)
            try:
                if gone:
                    renewed = await self._new_session()
                    gone = False
                    yield renewed
                self._ws = await self._open()
                return
            except SessionGone:
                gone, reason = True, "the session expired"
            except Lost as e:
                reason = e.reason
            except CStarAuthenticationError:
                raise
            except CStarRateLimitError as e:
                reason = "rate limited"
                await asyncio.sleep(min(e.retry_after, RATE_LIMIT_PAUSE_CAP))
            except CStarError as e:
                # Creating the new session failed for a transient reason (server down, 5xx…).
                reason = e.message

    # frames -----------------------------------------------------------------------------------

    async def _pump(self, *, resumed: bool) -> AsyncIterator[Element]:
        """Handle the open socket's frames, one at a time in order, until it closes (raises
        ``ConnectionClosed``). ``resumed``: this connection follows a reconnect, so the server's
        replay is counted (see :class:`Reconnected`)."""
        ws = self._ws
        assert ws is not None
        replay = _Replay(self._session_id(), self._last_acked, active=resumed)
        fanout = self._fanout
        forwarder = self._forwarder
        ahead: Pending | None = None  # the next event's first attempt, written early (_send_ahead)
        held: dict[str, Any] | str | None = None  # a frame read early, not for the straight line
        while True:
            if fanout is None:
                event: EventReceived | None
                if ahead is not None:
                    pending, ahead = ahead, None
                    event = pending.event
                    assert forwarder is not None
                    forwarder.send_now(pending)  # if the one before could not take it along
                else:
                    frame = held if held is not None else await self._receive(ws, replay)
                    held = None
                    event = self._plain_event(frame, replay) if forwarder is not None else None
                    if event is not None:
                        assert forwarder is not None
                        self._received += 1
                        self._in_flight = event.event_id
                        yield event
                        pending = forwarder.start(event)
                if event is not None:
                    assert forwarder is not None
                    # The common case in a straight line, without a generator per step: a new event
                    # for the one target, forwarded, its outcome acked (what _on_event does for it).
                    if self._may_send_ahead():
                        ahead, held = await self._chain_next(ws, replay, forwarder, pending)
                    step = await forwarder.finish(pending)
                    try:
                        yield step
                        outcome: Delivered | DeliveryFailed
                        if step.retry_in is None:
                            outcome = forwarder.outcome(event, step)
                        else:
                            async for later in forwarder.retries(event, step):
                                if isinstance(later, DeliveryAttempted):
                                    yield later
                                else:
                                    outcome = later
                        ack = self._settle(outcome)
                        if ahead is not None and ahead.written:
                            self._in_flight = ahead.event.event_id
                        yield outcome
                        await self._ack(ws, event.event_id, ack, new=not event.resend, cursor=not event.resend)
                    except (ConnectionClosed, _StopRequested):
                        if ahead is not None and ahead.written:
                            async for element in self._finish_ahead(ws, ahead):
                                yield element
                        raise
                    if ahead is not None:
                        self._received += 1
                        self._in_flight = ahead.event.event_id
                        yield ahead.event
                    continue
            else:
                for element in fanout.drain():
                    if isinstance(element, (Delivered, DeliveryFailed)):
                        if element.ok:
                            self._forwarded += 1
                        else:
                            self._failed += 1
                    yield element
                await self._flush_acks(ws)
                frame = await self._receive_or_wake(ws, replay, fanout)
                if frame is _WAKE:
                    continue
            if frame is None:
                yield replay.finish()
                continue
            async for element in self._route(ws, frame, replay):
                yield element

    def _may_send_ahead(self) -> bool:
        """Whether the next event may go out before the current one is reported and acked: not
        when stopping, nor when the current one is the last the frontend waits for (:meth:`stop_after`)."""
        return not self._stopping and (self._stop_after is None or self._forwarded + 1 < self._stop_after)

    async def _chain_next(
        self, ws: ClientConnection, replay: _Replay, forwarder: Forwarder, current: Pending
    ) -> tuple[Pending | None, dict[str, Any] | str | None]:
        """While ``current`` is in flight, prepare the next event if its frame is already here, to
        be written the moment ``current`` gets a 2xx (:meth:`Forwarder.chain`): the receiver goes
        straight on to it while ``current`` is reported and acked (on 2 cores that overlap is most
        of a burst's speed). The order is unchanged: nothing is written before the answer to the
        one before, and nothing after a failure. Returns (the attempt prepared, None), or (None,
        the frame read) when that frame is not a new plain event, or (None, None) when no frame is
        waiting."""
        if not frame_ready(ws):
            return None, None
        frame = await self._receive(ws, replay)  # a whole message is queued: returns without waiting
        event = self._plain_event(frame, replay)
        if event is None or event.event_id == current.event.event_id:
            return None, frame
        return forwarder.chain(current, event), None

    async def _finish_ahead(self, ws: ClientConnection, ahead: Pending) -> AsyncIterator[Element]:
        """The event written ahead when the connection closed or a stop came before the one in
        front of it was acked: its answer is awaited and reported; a success is remembered (a
        replay of it is then answered without forwarding it twice) and, when stopping, acked; a
        failure is left unacked, so the server sends it again."""
        assert self._forwarder is not None
        event = ahead.event
        self._received += 1
        yield event
        step = await self._forwarder.finish(ahead)
        yield step
        if step.error is not None:
            return
        outcome = self._forwarder.outcome(event, step)
        ack = self._settle(outcome)
        yield outcome
        if self._stopping:
            await self._ack(ws, event.event_id, ack, new=not event.resend, cursor=not event.resend)

    def _plain_event(self, frame: object, replay: _Replay) -> EventReceived | None:
        """The :class:`EventReceived` of ``frame`` when it is the common case :meth:`_pump` handles in
        a straight line: a well-formed ``event`` frame, outside a replay, for an event neither
        handled nor on its way (or a resend). None for anything else, which :meth:`_route` handles."""
        if replay.active or type(frame) is not dict or frame.get("type") != FRAME_EVENT:
            return None
        event_id = event_id_of(frame)
        if event_id is None or event_id in self._unacked_ids:
            return None
        try:
            event = read_event(frame, event_id, self._session_id())
        except MalformedFrame:
            return None
        if not event.resend and event_id in self._handled:
            return None
        return event

    async def _receive_or_wake(self, ws: ClientConnection, replay: _Replay, fanout: Fanout) -> Any:
        """:meth:`_receive`, or :data:`_WAKE` as soon as the fan-out has elements to hand out; the
        pending read is kept for the next call, so no frame is lost."""
        if self._recv is not None and self._recv[0] is not ws:
            self._drop_recv()
        if self._recv is None:
            self._recv = (ws, asyncio.ensure_future(self._receive(ws, replay)))
        task = self._recv[1]
        if not fanout.wake.is_set():
            wake = asyncio.ensure_future(fanout.wake.wait())
            try:
                await asyncio.wait({task, wake}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                wake.cancel()
        if not task.done():
            return _WAKE
        self._recv = None
        return task.result()

    def _drop_recv(self) -> None:
        """Forget the pending read of a socket that is gone (its error, if any, is consumed)."""
        recv, self._recv = self._recv, None
        if recv is None:
            return
        task = recv[1]
        if task.done():
            if not task.cancelled():
                task.exception()
        else:
            task.cancel()

    async def _flush_acks(self, ws: ClientConnection) -> None:
        """Send the acks of the oldest events whose targets are all done, in arrival order."""
        queue = self._unacked
        while queue and (queue[0].job is None or queue[0].job.done):
            head = queue[0]
            if head.ack is None:
                assert head.job is not None
                status, duration, attempts, error = head.job.summary()
                head.ack = self._remember(head.event_id, ack_frame(head.event_id, status, duration, attempts, error))
            queue.popleft()
            self._unacked_ids.pop(head.event_id, None)
            await self._ack(ws, head.event_id, head.ack, new=head.cursor, cursor=head.cursor, ordered=True)

    async def _receive(self, ws: ClientConnection, replay: _Replay) -> dict[str, Any] | str | None:
        """The next frame as a JSON object, or the reason it is none (``not JSON``, ``not a JSON
        object``); None once a replay has been quiet for :data:`REPLAY_QUIET` seconds."""
        if replay.active:
            try:
                raw = await asyncio.wait_for(ws.recv(), REPLAY_QUIET)
            except asyncio.TimeoutError:
                return None
        else:
            raw = await ws.recv()
        frame = decode(raw)
        if frame is not None:
            return frame
        try:
            json.loads(raw)
        except ValueError:
            return "not JSON"
        return "not a JSON object"

    def _route(self, ws: ClientConnection, frame: Mapping[str, Any] | str, replay: _Replay) -> AsyncIterator[Element]:
        """The steps that handle ``frame`` (or the reason it is not a JSON object): its type's handler
        for a ``welcome``, an ``event`` or an ``event_too_large`` with an ``eventId``, and
        :meth:`_on_malformed` for anything else."""
        if isinstance(frame, str):
            return self._on_malformed(ws, None, frame)
        kind = frame.get("type")
        if kind == FRAME_WELCOME:
            return self._on_welcome(ws, frame, replay)
        handler: _FrameHandler
        if kind == FRAME_EVENT:
            handler = self._on_event
        elif kind == FRAME_EVENT_TOO_LARGE:
            handler = self._on_too_large
        else:
            what = "no type" if kind is None else f"unknown type {shorten(repr(kind), 60)}"
            return self._on_malformed(ws, None, what)
        event_id = event_id_of(frame)
        if event_id is None:
            return self._on_malformed(ws, None, f"{kind} frame without an eventId string")
        return handler(ws, frame, event_id, replay)

    async def _on_welcome(self, ws: ClientConnection, frame: Mapping[str, Any], replay: _Replay) -> AsyncIterator[Element]:
        """A ``welcome``: note a gap in the replay, and take its ``lastEventId`` as the resume point
        while nothing is acked yet. A malformed one is reported and otherwise ignored."""
        try:
            check_welcome(frame)
        except MalformedFrame as e:
            async for element in self._on_malformed(ws, None, e.why):
                yield element
            return
        replay.welcomed(frame.get("resumedAfter"))
        cursor = frame.get("lastEventId")
        if self._last_acked is None and isinstance(cursor, str) and cursor:
            # The server names the point this socket's stream starts after, so a drop before the
            # first ack replays everything since.
            self._last_acked = cursor

    async def _on_event(
        self, ws: ClientConnection, frame: Mapping[str, Any], event_id: str, replay: _Replay
    ) -> AsyncIterator[Element]:
        """An ``event``: forward it (or only report it) and ack its outcome; a replay of a handled
        event is acked again with its first outcome instead. Yields :class:`EventReceived`, each
        :class:`DeliveryAttempted` and the outcome (or :class:`DuplicateIgnored`); a frame that
        breaks the grammar goes to :meth:`_on_malformed`."""
        try:
            event = read_event(frame, event_id, self._session_id())
        except MalformedFrame as e:
            replay.observe(None)
            async for element in self._on_malformed(ws, event_id, e.why):
                yield element
            return
        # A resend is asked for, not replayed: it is handled again even if acked before, and it is
        # neither part of the replay nor a resume point (its ack must not move the cursor back).
        ended = None if event.resend else replay.observe(event.payload)
        if ended is not None:
            yield ended
        if event_id in self._unacked_ids:
            # Still on its way to some target (its ack will follow): not forwarded a second time.
            yield self._duplicate(event_id)
            return
        ack = None if event.resend else self._handled.get(event_id)
        if ack is not None:
            yield self._duplicate(event_id)
            await self._ack(ws, event_id, ack, new=False)
            return
        self._received += 1
        forwarder = self._forwarder
        if self._fanout is not None:
            entry = _Unacked(event_id, self._fanout.submit(event), None, cursor=not event.resend)
            self._unacked.append(entry)
            self._unacked_ids[event_id] = entry
            yield event
            await self._flush_acks(ws)
            return
        if forwarder is None:
            yield event
            ack = self._remember(event_id, ack_frame(event_id, None, 0, 0, None))
        else:
            # Until its outcome is known, a stop leaves this event unacknowledged (see Stopped).
            self._in_flight = event_id
            yield event
            outcome: Delivered | DeliveryFailed | None = None
            async for step in forwarder.deliver(event):
                if isinstance(step, DeliveryAttempted):
                    yield step
                else:
                    outcome = step
            assert outcome is not None
            ack = self._settle(outcome)
            yield outcome
        await self._ack(ws, event_id, ack, new=not event.resend, cursor=not event.resend)

    async def _on_too_large(
        self, ws: ClientConnection, frame: Mapping[str, Any], event_id: str, replay: _Replay
    ) -> AsyncIterator[Element]:
        """An ``event_too_large`` notice: report it (:class:`EventTooLarge`, or
        :class:`DuplicateIgnored` for a replayed one) and ack it as failed, never forwarded."""
        replay.observe(None)
        ack = self._handled.get(event_id)
        if ack is not None:
            yield self._duplicate(event_id)
            await self._ack(ws, event_id, ack, new=False)
            return
        notice = too_large_notice(frame, event_id, self._max_frame)
        self._too_large += 1
        yield notice
        ack = self._remember(event_id, ack_frame(event_id, None, 0, 0, notice.error))
        await self._ack(ws, event_id, ack, new=True)

    async def _on_malformed(self, ws: ClientConnection, event_id: str | None, why: str) -> AsyncIterator[Element]:
        """A frame that does not match the grammar (``why``). One naming an event (``event_id``) is
        reported and acked as failed, so the server does not replay it for ever (a replay of it is
        a duplicate); one without is reported the first time its ``why`` comes up and skipped."""
        if event_id is None:
            self._malformed += 1
            if why not in self._reported:
                self._reported.add(why)
                yield FrameIgnored(None, why)
            return
        ack = self._handled.get(event_id)
        if ack is not None:
            yield self._duplicate(event_id)
            await self._ack(ws, event_id, ack, new=False)
            return
        self._malformed += 1
        ignored = FrameIgnored(event_id, why)
        yield ignored
        ack = self._remember(event_id, ack_frame(event_id, None, 0, 0, ignored.error))
        await self._ack(ws, event_id, ack, new=True)

    def _duplicate(self, event_id: str) -> DuplicateIgnored:
        """Count a replay of a handled event."""
        self._duplicates += 1
        return DuplicateIgnored(event_id)

    def _settle(self, outcome: Outcome) -> str:
        """Count a forwarded event's final ``outcome`` and return (and remember) its ack frame; the
        event is no longer in flight."""
        if outcome.ok:
            self._forwarded += 1
        else:
            self._failed += 1
        event_id = outcome.event.event_id
        ack = self._remember(
            event_id, ack_frame(event_id, outcome.status, round(outcome.duration_ms), outcome.attempts, outcome.error)
        )
        self._in_flight = None
        return ack

    async def _send_acks(self, ws: ClientConnection) -> None:
        """Send the waiting acks now, all but the last in one write and the last through
        ``ws.send`` (which waits while the socket's buffer is full, and raises ``ConnectionClosed``)."""
        if self._acks_timer is not None:
            self._acks_timer.cancel()
            self._acks_timer = None
        batch, self._acks = self._acks, []
        if len(batch) > 1:
            write_texts(ws, [b[1] for b in batch[:-1]])
        await ws.send(batch[-1][1])
        self._acked(batch)

    def _write_acks(self) -> None:
        """Write the waiting acks in one write, without waiting (the timer's flush, and before
        closing); acks due on a connection that is no longer open are dropped (their events are
        replayed and answered from :attr:`_handled`)."""
        if self._acks_timer is not None:
            self._acks_timer.cancel()
            self._acks_timer = None
        batch, self._acks = self._acks, []
        ws = self._acks_ws
        if batch and ws is not None and write_texts(ws, [b[1] for b in batch]):
            self._acked(batch)

    def _drop_acks(self) -> None:
        if self._acks_timer is not None:
            self._acks_timer.cancel()
            self._acks_timer = None
        self._acks = []

    def _acked(self, batch: list[tuple[str, str, bool, bool]]) -> None:
        """What sending ``batch`` means: each event becomes the resume point (unless not ``cursor``:
        a resend's), and each ``new`` one counts as progress."""
        for event_id, _, cursor, new in batch:
            if cursor and sendable(event_id):
                # An id that cannot travel as Last-Event-ID (a malformed frame's) is acked, never resumed from.
                self._last_acked = event_id
            if new:
                self._progress += 1

    def _remember(self, event_id: str, ack: str) -> str:
        """Keep ``ack`` (the last :data:`SEEN_WINDOW` only) to answer a replay of ``event_id``; returns it."""
        handled = self._handled
        handled[event_id] = ack
        if len(handled) > SEEN_WINDOW:
            handled.popitem(last=False)
        return ack

    async def _ack(
        self, ws: ClientConnection, event_id: str, ack: str, *, new: bool, cursor: bool = True, ordered: bool = False
    ) -> None:
        """Send ``ack`` (raises ``ConnectionClosed``), together with others: it waits at most
        :data:`ACK_DELAY` s or behind :data:`ACK_BATCH` - 1 others, and goes at once when stopping.
        Once sent, ``event_id`` becomes the resume point (unless not ``cursor``: a resend's), and
        acking a ``new`` event (not a replay of one acked before) counts as progress. Waiting acks
        are also written whenever the server's next bytes arrive (:func:`before_data`). With several
        targets, a new event's ack waits behind earlier events still being delivered (``ordered``:
        it is :meth:`_flush_acks` sending it)."""
        if new and not ordered and self._unacked:
            self._unacked.append(_Unacked(event_id, None, ack, cursor=cursor))
            self._unacked_ids[event_id] = self._unacked[-1]
            return
        if self._acks_ws is not ws:
            self._drop_acks()
            self._acks_ws = ws
            before_data(ws, self._write_acks)
        self._acks.append((event_id, ack, cursor, new))
        if self._stopping or len(self._acks) >= ACK_BATCH:
            await self._send_acks(ws)
        elif self._acks_timer is None:
            self._acks_timer = asyncio.get_running_loop().call_later(ACK_DELAY, self._write_acks)
        if self._stopping:
            raise _StopRequested
