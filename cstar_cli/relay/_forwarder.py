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
from cstar_cli.relay._http import HttpClient, HttpError
from cstar_cli.relay._target import display_url, merge_headers

__all__ = ["DEFAULT_ATTEMPTS", "DEFAULT_BACKOFF", "DEFAULT_TIMEOUT", "ForwardOptions", "Forwarder"]

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
        budget = self.options.retry_for
        # 0 = bounded by time, not count (DeliveryAttempted.max_attempts).
        total = 0 if budget is not None else max(1, self.options.attempts)
        self._deadline = time.monotonic() + budget if budget is not None else None
        return await self._attempt(event, event.payload.encode("utf-8", "surrogatepass"), 1, total, self._deadline)

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
        opts = self.options
        headers = delivery_headers(
            body,
            self.secret,
            event_id=event.event_id,
            event_type=event.event_type,
            webhook_id=event.webhook_id,
            request_id=event.request_id,
            attempt=attempt,
        )
        if opts.headers:
            headers = merge_headers(headers, opts.headers)
        status: int | None
        error: str | None
        started = time.perf_counter()
        try:
            status = await self._http.post(headers, body)
        except HttpError as e:
            status, error = None, e.reason
        else:
            error = None if 200 <= status < 300 else f"receiver answered {status}"
        duration_ms = (time.perf_counter() - started) * 1000
        retry_in = self._next_pause(attempt, total, deadline) if error is not None else None
        return DeliveryAttempted(
            event.event_id, self._shown, attempt, total, status, duration_ms, error, retry_in, headers
        )
