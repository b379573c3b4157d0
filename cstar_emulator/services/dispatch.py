"""Webhook deliveries (reference: "Webhooks" → "Headers sent with each delivery", "Retry policy").

Each matching active webhook gets the event's exact payload bytes, signed at send time with its
secret (:func:`cstar_cli.protocol.webhook.delivery_headers`). Failed attempts (non-2xx, timeout,
connection error) are retried with exponential backoff. One worker per webhook sends its events
strictly in order: an event waits until the one before it succeeded or ran out of attempts. While
one is in flight, the next is signed and chained to it (:meth:`HttpClient.chain`): written the moment
the one before gets a 2xx, never earlier and never after a failure.

Each webhook's worker POSTs over that webhook's kept-alive
:class:`cstar_cli.protocol.http1.HttpClient`, kept between bursts (reopened when the URL changes,
dropped when the webhook is deleted or paused): per POST it costs a fraction of an ``httpx`` request, which is what
lets delivery keep up with ``cstar listen``. Where and how to deliver (URL, secret, active) is cached
per webhook and dropped by :meth:`WebhookDispatcher.invalidate` on every webhook write, so an edit,
pause or delete applies from the next attempt on without a query per attempt. Attempts are recorded
through :class:`~cstar_emulator.services.deliveries.Deliveries`, which writes them in batches a few
milliseconds late.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass

from cstar_cli.protocol import events as catalog
from cstar_cli.protocol.http1 import HttpClient, HttpError, Sent, basic_auth
from cstar_cli.protocol.webhook import delivery_headers
from cstar_emulator.db import Database, Scope
from cstar_emulator.repositories.events import Event
from cstar_emulator.repositories.webhooks import Target, Webhooks
from cstar_emulator.services.deliveries import Deliveries

__all__ = ["WebhookDispatcher"]

log = logging.getLogger("cstar.emulator")

#: The ``User-Agent`` of every delivery.
USER_AGENT = "cstar-emulator"


class WebhookDispatcher:
    """Background delivery of events to webhooks.

    ``base_delay`` (s) is the wait before the second attempt; it doubles for each further one, up to
    ``max_attempts`` attempts in all. ``timeout`` (s) bounds one attempt.
    """

    def __init__(
        self,
        db: Database,
        webhooks: Webhooks,
        deliveries: Deliveries,
        *,
        base_delay: float = 0.5,
        max_attempts: int = 5,
        timeout: float = 10.0,
    ) -> None:
        self.db = db
        self.webhooks = webhooks
        self.deliveries = deliveries
        self.base_delay = base_delay
        self.max_attempts = max_attempts
        self.timeout = timeout
        self._subscriptions: dict[Scope, list[tuple[str, list[str]]]] = {}
        self._queues: dict[str, deque[Event]] = {}
        self._workers: dict[str, asyncio.Task[None]] = {}
        # Webhook id → its target (None: deleted or paused); any webhook write clears it all, as
        # writes are rare and a reset or import may touch every webhook of a scope.
        self._targets: dict[str, Target | None] = {}
        self._clients: dict[str, HttpClient] = {}
        # Webhooks whose receiver lost an early-written request: no more chaining for them.
        self._unchained: set[str] = set()

    def invalidate(self, scope: Scope) -> None:
        """Forget the cached webhook list of ``scope`` and every cached target; call after any
        webhook write."""
        self._forget(scope)
        # A list read again before the write commits would hold it even if it then rolls back.
        self.db.on_rollback(lambda: self._forget(scope))

    def _forget(self, scope: Scope) -> None:
        self._subscriptions.pop(scope, None)
        self._targets.clear()
        for client in self._clients.values():
            client.unchain()  # signed for the target as it was: delivered afresh instead

    def _target(self, webhook_id: str) -> Target | None:
        """Where to deliver to the webhook now (cached until :meth:`invalidate`)."""
        try:
            return self._targets[webhook_id]
        except KeyError:
            target = self._targets[webhook_id] = self.webhooks.target(webhook_id)
            return target

    def matching(self, scope: Scope, event_type: str) -> list[str]:
        """Ids of the active webhooks of ``scope`` subscribed to ``event_type``."""
        subs = self._subscriptions.get(scope)
        if subs is None:
            subs = self._subscriptions[scope] = self.webhooks.subscriptions(scope)
        return [wid for wid, patterns in subs if catalog.matches(event_type, patterns)]

    def enqueue(self, webhook_ids: Sequence[str], events: Sequence[Event]) -> None:
        """Queue ``events`` (in order) for each webhook and make sure its worker runs."""
        for wid in webhook_ids:
            self._queues.setdefault(wid, deque()).extend(events)
            if wid not in self._workers:
                task = asyncio.get_running_loop().create_task(self._work(wid))
                self._workers[wid] = task

    async def _work(self, webhook_id: str) -> None:
        queue = self._queues[webhook_id]
        early: _Early | None = None
        try:
            while queue or early is not None:
                if early is not None:
                    event, first = early.event, early if early.sent.written else None
                else:
                    event, first = queue.popleft(), None
                early = await self._deliver(webhook_id, event, first, queue)
        finally:
            self._workers.pop(webhook_id, None)
            if not queue:
                self._queues.pop(webhook_id, None)

    def _chain(self, webhook_id: str, client: HttpClient, sent: Sent, queue: deque[Event]) -> _Early | None:
        """Sign the next queued event and chain it to ``sent`` (in flight) on ``client``."""
        target = self._target(webhook_id)
        if target is None or target.url != client.url or webhook_id in self._unchained:
            return None
        event = queue.popleft()
        body = event.payload.encode("utf-8")
        headers = self._sign(event, body, target, webhook_id, 1)
        try:
            later = client.chain(sent, headers, body)
        except HttpError:
            later = Sent(0.0)  # never written: delivered afresh, where the error is recorded
        return _Early(event, headers, later, client)

    @staticmethod
    def _sign(event: Event, body: bytes, target: Target, webhook_id: str, attempt: int) -> dict[str, str]:
        return delivery_headers(
            body,
            target.secret,
            event_id=event.id,
            event_type=event.type,
            webhook_id=webhook_id,
            request_id=event.request_id,
            attempt=attempt,
        )

    async def _client(self, webhook_id: str, url: str) -> HttpClient:
        """The webhook's client for ``url``; one for an earlier URL is closed first."""
        client = self._clients.get(webhook_id)
        if client is not None and client.url != url:
            await self._drop_client(webhook_id)
            client = None
        if client is None:
            client = self._clients[webhook_id] = HttpClient(
                url, timeout=self.timeout, user_agent=USER_AGENT, authorization=basic_auth(url)
            )
        return client

    async def _drop_client(self, webhook_id: str) -> None:
        client = self._clients.pop(webhook_id, None)
        if client is not None:
            await client.aclose()

    async def _deliver(
        self, webhook_id: str, event: Event, first: _Early | None, queue: deque[Event]
    ) -> _Early | None:
        """Deliver ``event`` with its retries (``first``: its first attempt, already written by a
        chain). Returns the next event, taken from ``queue`` and chained to an attempt of this one,
        if any (written only if that attempt got a 2xx)."""
        body = event.payload.encode("utf-8")
        following: _Early | None = None
        target: Target | None = None
        for attempt in range(1, self.max_attempts + 1):
            sent: Sent | None = None
            if attempt == 1 and first is not None:
                headers, sent, client = first.headers, first.sent, first.client
            else:
                # Looked up every attempt: the webhook may have been edited, paused or deleted meanwhile.
                target = self._target(webhook_id)
                if target is None:
                    await self._drop_client(webhook_id)
                    return following
                headers = self._sign(event, body, target, webhook_id, attempt)
            status: int | None = None
            error: str | None = None
            started = time.perf_counter()
            try:
                if sent is None:
                    assert target is not None
                    client = await self._client(webhook_id, target.url)
                    sent = client.send(headers, body)
                if sent is None:
                    status = await client.post(headers, body)  # connects first
                else:
                    if following is None and queue:
                        following = self._chain(webhook_id, client, sent, queue)
                    try:
                        status = await client.answer(sent)
                    except HttpError:
                        if first is not None and attempt == 1:
                            # Written early and lost with its connection: this webhook's events
                            # go one after another from now on.
                            self._unchained.add(webhook_id)
                        raise
                    started = sent.written_at or started
                if not 200 <= status < 300:
                    error = f"HTTP {status}"
            except HttpError as e:
                error = e.reason
            duration = round((time.perf_counter() - started) * 1000, 1)
            self.deliveries.record(
                "webhook",
                webhook_id,
                event.scope,
                event_id=event.id,
                event_type=event.type,
                attempt=attempt,
                status=status,
                duration_ms=duration,
                error=error,
            )
            if error is None:
                return following
            if attempt < self.max_attempts:
                log.info("Webhook %s: %s for %s; retrying (attempt %d)", webhook_id, error, event.id, attempt + 1)
                await asyncio.sleep(self.base_delay * 2 ** (attempt - 1))
        log.warning("Webhook %s: giving up on %s after %d attempts", webhook_id, event.id, self.max_attempts)
        return following

    async def aclose(self) -> None:
        """Stop every worker (pending deliveries are dropped) and close every connection."""
        workers = list(self._workers.values())
        for task in workers:
            task.cancel()
        await asyncio.gather(*workers, return_exceptions=True)
        self._queues.clear()
        for webhook_id in list(self._clients):
            await self._drop_client(webhook_id)


@dataclass(frozen=True, slots=True)
class _Early:
    """The next event of a webhook, signed (``headers``) and chained (``sent``) on ``client``."""

    event: Event
    headers: dict[str, str]
    sent: Sent
    client: HttpClient
