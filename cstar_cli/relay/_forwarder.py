"""Forward one event to the local receiver: the exact payload bytes, signed per attempt, retried.

Implements the server contract's "Event payloads and signatures" for ``cstar listen``: every attempt
carries the headers of :func:`cstar_cli.protocol.webhook.delivery_headers`, signed at the moment it is sent
over the bytes sent, with ``X-Delivery-Attempt`` counting from 1.

Retry policy (documented in docs/listen.md): an attempt fails on a non-2xx status, a refused or
reset connection, a TLS error or no answer within ``timeout`` seconds; after a failure the next
attempt starts after ``backoff[n]`` seconds, up to ``attempts`` attempts in all (default 4 attempts,
pausing 0.5, 1 and 2 s). With a time budget (``retry_for``, ``cstar listen --retry-for``) the count
is unbounded instead: the pauses double from 0.5 s up to :data:`RETRY_FOR_CAP`, and no attempt starts
later than ``retry_for`` seconds after the first one (one in progress still runs to its ``timeout``).
A failure is reported, never raised: the relay acks it and goes on.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass

from cstar_cli import __version__
from cstar_cli.protocol.webhook import delivery_headers
from cstar_cli.relay._elements import Delivered, DeliveryAttempted, DeliveryFailed, EventReceived
from cstar_cli.relay._http import HttpClient, HttpError, Sent
from cstar_cli.relay._target import display_url, merge_headers

__all__ = ["DEFAULT_ATTEMPTS", "DEFAULT_BACKOFF", "DEFAULT_TIMEOUT", "ForwardOptions", "Forwarder", "Pending"]

DEFAULT_TIMEOUT = 30.0
DEFAULT_ATTEMPTS = 4
DEFAULT_BACKOFF: tuple[float, ...] = (0.5, 1.0, 2.0)
#: With ``retry_for``, the longest pause (s) between two attempts.
RETRY_FOR_CAP = 30.0
USER_AGENT = f"cstar-cli/{__version__} (listen)"


@dataclass(frozen=True)
class ForwardOptions:
    """How to forward: ``url`` (already normalised by :func:`parse_forward_url`), extra ``headers``
    (``(name, value)`` pairs that replace ours case-insensitively), per-attempt ``timeout`` (s),
    ``verify`` TLS certificates, total ``attempts`` and the ``backoff`` pauses (s) between them (the
    last pause repeats if there are more attempts than pauses). ``retry_for`` (s), when set, replaces
    ``attempts`` and ``backoff`` with a time budget per delivery (module docs). A ``user:password@`` in
    ``url`` is sent as Basic auth and shown only as :attr:`display_url`."""

    url: str
    headers: tuple[tuple[str, str], ...] = ()
    timeout: float = DEFAULT_TIMEOUT
    verify: bool = True
    attempts: int = DEFAULT_ATTEMPTS
    backoff: tuple[float, ...] = DEFAULT_BACKOFF
    retry_for: float | None = None

    @property
    def display_url(self) -> str:
        """``url`` with its password masked (``user:***@host``): what elements and output show."""
        return display_url(self.url)


class Forwarder:
    """Delivers events one at a time over one kept-alive connection (:class:`HttpClient`).

    ``secret`` is the session's signing secret; assign a new one after a session renewal.
    """

    def __init__(self, options: ForwardOptions, secret: str) -> None:
        self.options = options
        self.secret = secret
        # Shown in every element; computed once, as the options never change.
        self._shown = options.display_url
        # The current delivery's time budget (monotonic), set by first_attempt: one at a time.
        self._deadline: float | None = None
        # Requests may be written early (chain) until one of them fails on the connection.
        self._early = True
        self._http = HttpClient(options.url, timeout=options.timeout, verify=options.verify, user_agent=USER_AGENT)

    async def aclose(self) -> None:
        await self._http.aclose()

    def _pause(self, attempt: int) -> float:
        backoff = self.options.backoff
        return backoff[min(attempt, len(backoff)) - 1] if backoff else 0.0

    async def deliver(self, event: EventReceived) -> AsyncIterator[DeliveryAttempted | Delivered | DeliveryFailed]:
        """Forward ``event`` until it succeeds or the attempts run out.

        Yields one :class:`DeliveryAttempted` per attempt, then the :class:`Delivered` or
        :class:`DeliveryFailed` outcome (always last, exactly once). Never raises for the receiver's
        sake; cancellation propagates.
        """
        step = await self.first_attempt(event)
        yield step
        if step.retry_in is not None:
            async for later in self.retries(event, step):
                yield later
        else:
            yield self.outcome(event, step)

    async def first_attempt(self, event: EventReceived) -> DeliveryAttempted:
        """The first attempt of :meth:`deliver`; when its ``retry_in`` is None it was the last one
        (:meth:`outcome` gives the result), else :meth:`retries` goes on from it. The relay's
        straight-line path for the common case: one attempt, no generator in between."""
        return await self.finish(self.start(event))

    def start(self, event: EventReceived) -> Pending:
        """Begin :meth:`first_attempt` without waiting: sign it and, when the connection to the
        receiver is open, write it now; :meth:`finish` waits for the answer (and connects first
        when nothing could be written). The relay writes the next event this way while it reports
        the one before."""
        budget = self.options.retry_for
        self._deadline = time.monotonic() + budget if budget is not None else None
        body = event.payload.encode("utf-8", "surrogatepass")
        return self._begin(event, body, 1, self._total_attempts(), self._deadline)

    def _total_attempts(self) -> int:
        """A delivery's attempts in all; 0 = bounded by time, not count (DeliveryAttempted.max_attempts)."""
        return 0 if self.options.retry_for is not None else max(1, self.options.attempts)

    def chain(self, current: Pending, event: EventReceived) -> Pending:
        """Begin ``event``'s first attempt to be written the moment ``current`` (in flight) gets a
        2xx (see :meth:`HttpClient.chain`), so the receiver goes straight on to it; pass it to
        :meth:`finish` after ``current``. If ``current`` fails, nothing was written and
        :meth:`finish` starts it afresh (signed anew). After an early request failed for a reason
        other than the receiver's answer (the connection lost with the request on it), this
        forwarder writes none early any more."""
        body = event.payload.encode("utf-8", "surrogatepass")
        headers = self._sign(event, body, 1)
        pending = Pending(event, body, headers, 1, self._total_attempts(), None, time.perf_counter())
        pending.early = True
        if current.sent is not None and self._early:
            try:
                pending.sent = self._http.chain(current.sent, headers, body)
            except HttpError as e:
                pending.error = e.reason
        return pending

    def send_now(self, pending: Pending) -> None:
        """Write ``pending`` now (signed anew) if it was chained but never written: the one before it
        failed, or had to open the connection first. Then it can carry a chain of its own."""
        if not pending.early or pending.written or pending.error is not None:
            return
        fresh = self.start(pending.event)
        pending.headers, pending.sent, pending.error = fresh.headers, fresh.sent, fresh.error
        pending.total, pending.deadline, pending.started = fresh.total, fresh.deadline, fresh.started
        pending.early = False

    async def finish(self, pending: Pending) -> DeliveryAttempted:
        """The :class:`DeliveryAttempted` of the attempt :meth:`start` (or :meth:`chain`) began."""
        self.send_now(pending)
        status: int | None = None
        error = pending.error
        if error is None:
            try:
                if pending.sent is not None:
                    status = await self._http.answer(pending.sent)
                else:
                    status = await self._http.post(pending.headers, pending.body)
            except HttpError as e:
                error = e.reason
                if pending.early:
                    self._early = False
            else:
                error = None if 200 <= status < 300 else f"receiver answered {status}"
        sent = pending.sent
        started = sent.written_at if sent is not None and sent.written_at is not None else pending.started
        duration_ms = (time.perf_counter() - started) * 1000
        retry_in = self._next_pause(pending.attempt, pending.total, pending.deadline) if error is not None else None
        event = pending.event
        return DeliveryAttempted(
            event.event_id, self._shown, pending.attempt, pending.total, status, duration_ms, error, retry_in,
            pending.headers,
        )

    async def retries(
        self, event: EventReceived, first: DeliveryAttempted
    ) -> AsyncIterator[DeliveryAttempted | Delivered | DeliveryFailed]:
        """The rest of :meth:`deliver` after ``first`` (from :meth:`first_attempt`) failed with a
        pause to wait: one :class:`DeliveryAttempted` per further attempt, then the outcome."""
        body = event.payload.encode("utf-8", "surrogatepass")
        total, deadline = first.max_attempts, self._deadline
        step = first
        attempt = 1
        while step.retry_in is not None:
            await asyncio.sleep(step.retry_in)
            attempt += 1
            step = await self._attempt(event, body, attempt, total, deadline)
            yield step
        yield self.outcome(event, step)

    @staticmethod
    def outcome(event: EventReceived, last: DeliveryAttempted) -> Delivered | DeliveryFailed:
        """The final result of ``event`` whose attempt ``last`` was the last one."""
        kind = Delivered if last.error is None else DeliveryFailed
        return kind(event, last.url, last.status, last.duration_ms, last.attempt, last.error)

    def _next_pause(self, attempt: int, total: int, deadline: float | None) -> float | None:
        """The pause (s) after failed attempt ``attempt``, or None when it was the last one: the
        count ran out (``total``), or the next attempt would start after ``deadline`` (monotonic)."""
        if deadline is None:
            return self._pause(attempt) if attempt < total else None
        pause = min(0.5 * 2 ** min(attempt - 1, 16), RETRY_FOR_CAP)
        return pause if time.monotonic() + pause <= deadline else None

    async def _attempt(
        self, event: EventReceived, body: bytes, attempt: int, total: int, deadline: float | None = None
    ) -> DeliveryAttempted:
        """One signed POST of ``body`` (attempt ``attempt`` of ``total``, 0 when bounded by
        ``deadline``); every way it can end is in the element: the status, or None and the ``error``
        (``receiver answered 500``, ``timed out after 30 s``…), and the pause before the next attempt
        (None after the last or a 2xx)."""
        return await self.finish(self._begin(event, body, attempt, total, deadline))

    def _begin(self, event: EventReceived, body: bytes, attempt: int, total: int, deadline: float | None) -> Pending:
        """Sign attempt ``attempt`` of ``body`` and write it if the connection is open (see :meth:`start`)."""
        headers = self._sign(event, body, attempt)
        pending = Pending(event, body, headers, attempt, total, deadline, time.perf_counter())
        try:
            pending.sent = self._http.send(headers, body)
        except HttpError as e:
            pending.error = e.reason
        return pending


    def _sign(self, event: EventReceived, body: bytes, attempt: int) -> dict[str, str]:
        """The headers of attempt ``attempt`` of ``body``: signed now, the user's ``--header``s merged in."""
        headers = delivery_headers(
            body,
            self.secret,
            event_id=event.event_id,
            event_type=event.event_type,
            webhook_id=event.webhook_id,
            request_id=event.request_id,
            attempt=attempt,
        )
        extra = self.options.headers
        return merge_headers(headers, extra) if extra else headers


class Pending:
    """One attempt begun by :meth:`Forwarder.start`: its event, the ``body`` and ``headers`` it
    sends, its number and limits, when it started (``perf_counter`` s), and either the request
    written (``sent``), nothing yet (both None: :meth:`Forwarder.finish` connects and sends), or
    the ``error`` that kept it from being sent (an invalid header)."""

    __slots__ = ("attempt", "body", "deadline", "early", "error", "event", "headers", "sent", "started", "total")

    def __init__(
        self,
        event: EventReceived,
        body: bytes,
        headers: dict[str, str],
        attempt: int,
        total: int,
        deadline: float | None,
        started: float,
    ) -> None:
        self.event = event
        self.body = body
        self.headers = headers
        self.attempt = attempt
        self.total = total
        self.deadline = deadline
        self.started = started
        self.sent: Sent | None = None
        self.error: str | None = None
        #: Begun by :meth:`Forwarder.chain`: written only once the one before got a 2xx.
        self.early = False

    @property
    def written(self) -> bool:
        """Whether the request went out already."""
        return self.sent is not None and self.sent.written
