"""The event bus: every state change becomes one stored event, fanned out to listen sessions and
webhooks (reference: "Webhooks" → "Payload format"; server contract: "Listening", "Event payloads").

An event's payload ``{"id": "evt_…", "type", "created_at", "team_id", "data"}`` is serialised once,
here; that exact text is stored, replayed, sent in WebSocket frames and POSTed to webhooks. Events
carry a per-(team, mode) sequence number that orders replay and lets streams drop duplicates.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any, Protocol

from cstar_emulator.db import Database, Scope, dumps
from cstar_emulator.hub import Hub
from cstar_emulator.ids import iso, new_id
from cstar_emulator.repositories.events import Event, EventLog

__all__ = ["RETAIN_COUNT", "RETAIN_SECONDS", "EventBus", "Targets", "WebhookQueue"]

#: Replay keeps at least this long and at least this many events per team and mode.
RETAIN_SECONDS = 24 * 3600
RETAIN_COUNT = 10_000


class Targets(Protocol):
    """Something that receives events: returns the ids it will deliver ``event_type`` to."""

    def matching(self, scope: Scope, event_type: str) -> list[str]: ...


class WebhookQueue(Targets, Protocol):
    """The webhook dispatcher as the bus sees it."""

    def enqueue(self, webhook_ids: Sequence[str], events: Sequence[Event]) -> None: ...


class EventBus:
    """Stores events and hands them to ``hub`` (listen sessions) and ``webhooks`` (the dispatcher).
    ``sessions`` reports which connected sessions a type reaches, for trigger-test's answer."""

    def __init__(self, db: Database, log: EventLog, hub: Hub[Event], webhooks: WebhookQueue, sessions: Targets) -> None:
        self.db = db
        self.log = log
        self.hub = hub
        self.webhooks = webhooks
        self.sessions = sessions
        self._seq: dict[Scope, int] = {}

    def emit(
        self, scope: Scope, event_type: str, data: dict[str, Any], request_id: str | None
    ) -> tuple[Event, list[str]]:
        """Store and deliver one event. Returns it and its targets (``whk_…`` and ``cls_…`` ids)."""
        events, targets = self.emit_many(scope, event_type, [data], request_id)
        return events[0], targets

    def emit_many(
        self, scope: Scope, event_type: str, datas: Sequence[dict[str, Any]], request_id: str | None
    ) -> tuple[list[Event], list[str]]:
        """Store one event per item of ``datas``, in order, in the caller's transaction (or one of its
        own), and deliver them once it has committed: a write that rolls back fires nothing."""
        seq = self.last_seq(scope)
        now = time.time()
        created_at = iso(now)
        events: list[Event] = []
        for data in datas:
            seq += 1
            event_id = new_id("evt_")
            payload = dumps(
                {"id": event_id, "type": event_type, "created_at": created_at, "team_id": scope.team_id, "data": data}
            )
            events.append(Event(scope, seq, event_id, event_type, payload, request_id))
        webhook_ids = self.webhooks.matching(scope, event_type)

        def deliver() -> None:
            self.hub.publish_many(scope, events)
            if webhook_ids:
                self.webhooks.enqueue(webhook_ids, events)

        with self.db.transaction():
            self.log.insert(events, now)
            # The next event of this transaction numbers on from these; after a rollback the
            # numbers are free again, so the cache is re-read.
            self._seq[scope] = seq
            self.db.on_rollback(lambda: self._seq.pop(scope, None))
            self.db.on_commit(deliver)
        return events, webhook_ids + self.sessions.matching(scope, event_type)

    def seq_of(self, scope: Scope, event_id: str) -> int | None:
        """The sequence number of a stored event of this partition, or None (unknown or pruned)."""
        return self.log.seq_of(scope, event_id)

    def last_seq(self, scope: Scope) -> int:
        """The sequence number of the newest event of this partition (0 when there is none)."""
        if scope not in self._seq:
            self._seq[scope] = self.log.top_seq(scope)
        return self._seq[scope]

    def after(self, scope: Scope, seq: int, limit: int = 500) -> list[Event]:
        """Up to ``limit`` stored events with a sequence number above ``seq``, in order."""
        return self.log.after(scope, seq, limit)

    def prune(self, now: float | None = None) -> int:
        """Drop events older than :data:`RETAIN_SECONDS` that are also outside the newest
        :data:`RETAIN_COUNT` of their partition. Returns how many were dropped."""
        cutoff = (time.time() if now is None else now) - RETAIN_SECONDS
        return sum(self.log.delete_old(scope, cutoff, top - RETAIN_COUNT) for scope, top in self.log.tops())
