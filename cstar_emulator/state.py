"""The running emulator: its settings, database, repositories and every service the routes share.
This is where the parts are wired together; nothing below it imports it."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cstar_cli.protocol import frames
from cstar_emulator.db import Database
from cstar_emulator.hub import Hub
from cstar_emulator.idempotency import IdempotencyStore
from cstar_emulator.listeners import Listeners
from cstar_emulator.repositories.analytics import AnalyticsQueries
from cstar_emulator.repositories.articles import Articles
from cstar_emulator.repositories.audit import AuditTrail
from cstar_emulator.repositories.automations import Automations
from cstar_emulator.repositories.customers import Customers
from cstar_emulator.repositories.deliveries import DeliveryRecords
from cstar_emulator.repositories.event_history import EventHistoryRecords
from cstar_emulator.repositories.events import Event, EventLog
from cstar_emulator.repositories.game import GameStore
from cstar_emulator.repositories.idempotency import IdempotencyRecords
from cstar_emulator.repositories.imports import ImportLogs
from cstar_emulator.repositories.keys import ApiKeys
from cstar_emulator.repositories.messages import Messages
from cstar_emulator.repositories.request_logs import LoggedRequest, RequestLogs
from cstar_emulator.repositories.sessions import CliSessions
from cstar_emulator.repositories.teams import Teams
from cstar_emulator.repositories.tickets import Tickets
from cstar_emulator.repositories.webhooks import Webhooks
from cstar_emulator.seed import Seed, SeedTables, ensure_seed
from cstar_emulator.seed_game import seed_game
from cstar_emulator.seed_plain import seed_plain
from cstar_emulator.services.ai import AiService
from cstar_emulator.services.analytics import AnalyticsService
from cstar_emulator.services.articles import ArticleService
from cstar_emulator.services.audit import AuditService
from cstar_emulator.services.auth import Authenticator, RateLimiter
from cstar_emulator.services.automations import AutomationService
from cstar_emulator.services.bulk import BulkService
from cstar_emulator.services.controls import Faults
from cstar_emulator.services.customers import CustomerService
from cstar_emulator.services.deliveries import Deliveries
from cstar_emulator.services.dispatch import WebhookDispatcher
from cstar_emulator.services.event_history import EventHistory
from cstar_emulator.services.events import EventBus
from cstar_emulator.services.game import GameService
from cstar_emulator.services.keys import KeyService
from cstar_emulator.services.logs import RequestLog
from cstar_emulator.services.plain import PlainServices
from cstar_emulator.services.search import SearchService
from cstar_emulator.services.sessions import SessionService
from cstar_emulator.services.tickets import TicketService
from cstar_emulator.services.transfer import TransferService
from cstar_emulator.services.webhooks import WebhookService

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
    runs until :meth:`start` is awaited inside the server's event loop; the services work without
    it (and without HTTP), which is what the fast tests use.
    """

    def __init__(self, db_path: Path | str, settings: Settings | None = None) -> None:
        self.settings = settings or Settings()
        db = self.db = Database(db_path)
        teams, keys = Teams(db), ApiKeys(db)
        tickets, customers, messages = Tickets(db), Customers(db), Messages(db)
        articles, webhooks, events = Articles(db), Webhooks(db), EventLog(db)
        # Kept for resetting to the seed (cstar_emulator.snapshot).
        self.seed_tables = SeedTables(teams, keys, customers, tickets, messages, articles)
        self.seed = self.seed_data()
        self.base_url: str | None = None

        self.auth = Authenticator(keys)
        self.limiter = RateLimiter(self.settings.rate_limit)
        self.idempotency = IdempotencyStore(IdempotencyRecords(db))
        self.faults = Faults()
        self.listeners = Listeners()
        self.event_hub: Hub[Event] = Hub()
        self.log_hub: Hub[LoggedRequest] = Hub()
        self.deliveries = Deliveries(db, DeliveryRecords(db))
        self.dispatcher = WebhookDispatcher(
            db,
            webhooks,
            self.deliveries,
            base_delay=self.settings.webhook_retry_delay,
            max_attempts=self.settings.webhook_attempts,
            timeout=self.settings.webhook_timeout,
        )
        self.bus = EventBus(db, events, self.event_hub, self.dispatcher, self.listeners)
        self.logs = RequestLog(db, RequestLogs(db), teams, self.log_hub)
        self.keys = KeyService(db, keys, teams, self._end_streams_of_key)
        self.sessions = SessionService(db, CliSessions(db), events, self.bus, self.listeners, self.deliveries)
        self.game = GameService(db, GameStore(db), self.bus)
        self.tickets = TicketService(db, tickets, customers, messages, self.bus, game=self.game)
        self.customers = CustomerService(db, customers, tickets, self.bus)
        self.articles = ArticleService(db, articles, self.bus)
        self.webhooks = WebhookService(db, webhooks, self.dispatcher, self.bus)
        self.history = EventHistory(
            db, EventHistoryRecords(db), self.deliveries, webhooks, self.dispatcher, self.sessions, self.listeners
        )
        # Customer groups, categories, community, members, settings and the other plain resources.
        self.plain = PlainServices(db, self.bus, tickets)
        # The computed endpoints: analytics, search, audit log, bulk, export/import, AI, automations.
        self.analytics = AnalyticsService(AnalyticsQueries(db))
        self.search = SearchService(tickets, customers, articles, messages)
        self.audit = AuditService(AuditTrail(db))
        self.bulk = BulkService(db, {"tickets": self.tickets, "customers": self.customers, "articles": self.articles})
        self.transfer = TransferService(
            db,
            {"tickets": tickets, "customers": customers, "articles": articles},
            customers,
            ImportLogs(db),
            self.tickets,
            self.customers,
            self.articles,
        )
        self.ai = AiService(self.tickets)
        self.automations = AutomationService(db, Automations(db), tickets, customers, articles)
        self._pruner: asyncio.Task[None] | None = None

    def _end_streams_of_key(self, key_id: str) -> None:
        # A revoked key's sockets close with 4401 and its log streams end.
        self.listeners.close(frames.CLOSE_UNAUTHORIZED, key_id=key_id)
        self.log_hub.close(lambda sub: sub.tag == key_id)

    def seed_data(self, team_id: str | None = None) -> Seed:
        """Every group's first-start data, where the database lacks it (a new team gets ``team_id``,
        default a fresh UUID), and a usable seeded key of each kind. A reset calls it on an emptied
        database, so every seeding step belongs here."""
        seed = ensure_seed(self.db, self.seed_tables, team_id=team_id)
        seed_plain(self.db, seed.team_id)
        seed_game(self.db, seed.team_id)
        return seed

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
        self.listeners.close(frames.CLOSE_GOING_AWAY)
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
