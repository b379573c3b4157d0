"""The running emulator: its settings, database and every service the routes share."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cstar_emulator.auth import Keys, RateLimiter
from cstar_emulator.controls import Faults
from cstar_emulator.db import Database
from cstar_emulator.deliveries import Deliveries
from cstar_emulator.dispatch import WebhookDispatcher
from cstar_emulator.events import Event, EventBus
from cstar_emulator.hub import Hub
from cstar_emulator.idempotency import IdempotencyStore
from cstar_emulator.logs import LogItem, RequestLog
from cstar_emulator.seed import ensure_seed
from cstar_emulator.sessions import Listeners, Sessions

__all__ = ["Emulator", "Settings"]

log = logging.getLogger("cstar.emulator")

PRUNE_EVERY = 600.0


@dataclass(frozen=True)
class Settings:
    """Tunables: ``rate_limit`` requests/hour for every key (None: the reference's 1000 secret / 100
    publishable; 0: unlimited); webhook retry ``webhook_retry_delay`` (s, doubled per attempt) and
    ``webhook_attempts``; ``webhook_timeout`` (s); ``log_ping_interval`` (s) of the log stream."""

    rate_limit: int | None = None
    webhook_retry_delay: float = 0.5
    webhook_attempts: int = 5
    webhook_timeout: float = 10.0
    log_ping_interval: float = 15.0


class Emulator:
    """Opens (creating and seeding if needed) the database at ``db_path`` and builds the services.

    Raises :class:`cstar_emulator.db.DatabaseError` when the file is unusable or in use. Nothing
    runs until :meth:`start` is awaited inside the server's event loop.
    """

    def __init__(self, db_path: Path | str, settings: Settings | None = None) -> None:
        self.settings = settings or Settings()
        self.db = Database(db_path)
        self.seed = ensure_seed(self.db)
        self.base_url: str | None = None
        self.keys = Keys(self.db)
        self.limiter = RateLimiter(self.settings.rate_limit)
        self.idempotency = IdempotencyStore(self.db)
        self.faults = Faults()
        self.deliveries = Deliveries(self.db)
        self.sessions = Sessions(self.db)
        self.listeners = Listeners()
        self.event_hub: Hub[Event] = Hub()
        self.log_hub: Hub[LogItem] = Hub()
        self.dispatcher = WebhookDispatcher(
            self.db,
            self.deliveries,
            base_delay=self.settings.webhook_retry_delay,
            max_attempts=self.settings.webhook_attempts,
            timeout=self.settings.webhook_timeout,
        )
        self.bus = EventBus(self.db, self.event_hub, self.dispatcher, self.listeners)
        self.logs = RequestLog(self.db, self.log_hub)
        self._pruner: asyncio.Task[None] | None = None

    def info(self) -> dict[str, Any]:
        """The ready line: ``{"baseUrl", "teamId", "keys": {"sk_test", "sk_live", "pk_test",
        "pk_live"}, "db"}``."""
        return {
            "baseUrl": self.base_url,
            "teamId": self.seed.team_id,
            "keys": dict(self.seed.keys),
            "db": str(self.db.path),
        }

    def prune(self) -> None:
        """Drop what is past retention: events, request logs, idempotency records, old sessions."""
        with self.db.transaction():
            self.bus.prune()
            self.logs.prune()
            self.idempotency.prune()
            self.sessions.prune()

    async def start(self) -> None:
        """Prune once and start the periodic pruning (inside the server's event loop)."""
        self.prune()
        self._pruner = asyncio.get_running_loop().create_task(self._prune_periodically())

    def begin_shutdown(self) -> None:
        """End open streams so the server can stop promptly: listen sockets close with 1001 (going
        away) and log streams finish."""
        self.listeners.close(1001)
        self.log_hub.close()

    async def aclose(self) -> None:
        """End streams, stop webhook workers and pruning, close the database."""
        self.begin_shutdown()
        if self._pruner is not None:
            self._pruner.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._pruner
        await self.dispatcher.aclose()
        self.deliveries.flush()
        self.db.close()

    async def _prune_periodically(self) -> None:
        while True:
            await asyncio.sleep(PRUNE_EVERY)
            try:
                self.prune()
            except Exception:
                log.exception("Pruning the emulator database failed")
