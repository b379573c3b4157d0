"""Webhook deliveries (reference: "Webhooks" → "Headers sent with each delivery", "Retry policy").

Each matching active webhook gets the event's exact payload bytes, signed at send time with its
secret (:func:`cstar_cli.protocol.webhook.delivery_headers`). Failed attempts (non-2xx, timeout,
connection error) are retried with exponential backoff. One worker per webhook sends its events
strictly in order: an event waits until the one before it succeeded or ran out of attempts.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Sequence

import httpx

from cstar_cli.protocol import events as catalog
from cstar_cli.protocol.webhook import delivery_headers
from cstar_emulator.db import Database, Scope
from cstar_emulator.repositories.events import Event
from cstar_emulator.repositories.webhooks import Webhooks
from cstar_emulator.services.deliveries import Deliveries

__all__ = ["WebhookDispatcher"]

log = logging.getLogger("cstar.emulator")


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
        self._client: httpx.AsyncClient | None = None

    def invalidate(self, scope: Scope) -> None:
        """Forget the cached webhook list of ``scope``; call after any webhook write."""
        self._subscriptions.pop(scope, None)
        # A list read again before the write commits would hold it even if it then rolls back.
        self.db.on_rollback(lambda: self._subscriptions.pop(scope, None))

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
        try:
            while queue:
                await self._deliver(webhook_id, queue.popleft())
        finally:
            self._workers.pop(webhook_id, None)
            if not queue:
                self._queues.pop(webhook_id, None)

    async def _deliver(self, webhook_id: str, event: Event) -> None:
        body = event.payload.encode("utf-8")
        for attempt in range(1, self.max_attempts + 1):
            # Re-read every attempt: the webhook may have been edited, paused or deleted meanwhile.
            target = self.webhooks.target(webhook_id)
            if target is None:
                return
            headers = delivery_headers(
                body,
                target.secret,
                event_id=event.id,
                event_type=event.type,
                webhook_id=webhook_id,
                request_id=event.request_id,
                attempt=attempt,
            )
            status: int | None = None
            error: str | None = None
            started = time.perf_counter()
            try:
                resp = await self._http().post(target.url, content=body, headers=headers)
                status = resp.status_code
                if not 200 <= status < 300:
                    error = f"HTTP {status}"
            except httpx.TimeoutException:
                error = f"timed out after {self.timeout:g} s"
            except httpx.HTTPError as e:
                error = str(e) or type(e).__name__
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
                return
            if attempt < self.max_attempts:
                log.info("Webhook %s: %s for %s; retrying (attempt %d)", webhook_id, error, event.id, attempt + 1)
                await asyncio.sleep(self.base_delay * 2 ** (attempt - 1))
        log.warning("Webhook %s: giving up on %s after %d attempts", webhook_id, event.id, self.max_attempts)

    def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            # trust_env=False: a proxy from the environment must not intercept local receivers.
            self._client = httpx.AsyncClient(timeout=self.timeout, trust_env=False, follow_redirects=False)
        return self._client

    async def aclose(self) -> None:
        """Stop every worker (pending deliveries are dropped) and close the HTTP client."""
        workers = list(self._workers.values())
        for task in workers:
            task.cancel()
        await asyncio.gather(*workers, return_exceptions=True)
        self._queues.clear()
        if self._client is not None:
            await self._client.aclose()
            self._client = None
