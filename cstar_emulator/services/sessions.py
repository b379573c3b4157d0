"""``cstar listen`` sessions (server contract: "Listening — CLI sessions"): creating, listing and
deleting them, and where a connecting socket's stream starts.

A session's signing secret is stable per team, mode and device name. A session remembers the
partition's newest event when it was created, so a socket that names no ``Last-Event-ID`` is sent
everything after it: nothing between creating the session, connecting and reconnecting before a
first ack is missed.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from cstar_cli.protocol import frames
from cstar_emulator.db import Database, Scope
from cstar_emulator.envelope import ApiError
from cstar_emulator.ids import iso, new_id
from cstar_emulator.listeners import Ack, Listeners
from cstar_emulator.models import Resource
from cstar_emulator.repositories.events import EventLog
from cstar_emulator.repositories.sessions import ActiveSession, CliSessions
from cstar_emulator.services.auth import KeyContext
from cstar_emulator.services.deliveries import Deliveries
from cstar_emulator.services.events import EventBus

__all__ = ["DEFAULT_DEVICE", "SESSION_TTL", "ResumePoint", "SessionService"]

SESSION_TTL = 24 * 3600
#: Sessions that expired longer ago than this (s) are deleted when pruning.
KEEP_EXPIRED = 7 * 24 * 3600
DEFAULT_DEVICE = "cstar-cli"


@dataclass(frozen=True)
class ResumePoint:
    """Where a socket's stream starts: ``after`` (a sequence number; None: live events only), the
    welcome frame's ``resumed_after`` (the client's ``Last-Event-ID`` when it is known) and its
    ``last_event_id``: the event the stream starts after, which a client that loses the socket before
    its first ack resumes after, missing nothing."""

    after: int | None
    resumed_after: str | None
    last_event_id: str | None


class SessionService:
    """Listen sessions of one partition per call, and the open sockets of each (``listeners``)."""

    def __init__(
        self,
        db: Database,
        sessions: CliSessions,
        events: EventLog,
        bus: EventBus,
        listeners: Listeners,
        deliveries: Deliveries,
    ) -> None:
        self.db = db
        self.sessions = sessions
        self.events = events
        self.bus = bus
        self.listeners = listeners
        self.deliveries = deliveries

    def create(self, key: KeyContext, events: list[str], device_name: str | None) -> Resource:
        """A new session for ``key`` receiving ``events`` (patterns), for ``device_name`` (None or
        empty: ``cstar-cli``). Returns ``{"id", "secret", "events", "expiresAt"}``."""
        device = device_name or DEFAULT_DEVICE
        scope = key.scope
        now = time.time()
        with self.db.transaction():
            secret = self.sessions.device_secret(scope, device)
            if secret is None:
                secret = new_id("whsec_", 48)
                self.sessions.add_device_secret(scope, device, secret)
            session_id = self.sessions.insert(
                scope,
                key_id=key.id,
                device_name=device,
                events=events,
                created=now,
                expires=now + SESSION_TTL,
                start_seq=self.bus.last_seq(scope),
            )
        return {"id": session_id, "secret": secret, "events": events, "expiresAt": iso(now + SESSION_TTL)}

    def live(self, scope: Scope) -> list[Resource]:
        """The live sessions of ``scope``, newest first: ``{"object": "cli_session", "id",
        "deviceName", "events", "createdAt", "expiresAt", "connected"}``."""
        connected = set(self.listeners.matching(scope, None))
        return [
            {"object": "cli_session", **row, "connected": row["id"] in connected}
            for row in self.sessions.live(scope, time.time())
        ]

    def delete(self, scope: Scope, session_id: str) -> Resource:
        """Forget the session (404 when ``scope`` has none) and, once that commits, close its open
        sockets with 4404. The device's signing secret is kept. Returns ``{"id", "object", "deleted"}``."""
        with self.db.transaction():
            if not self.sessions.delete(scope, session_id):
                raise ApiError(404, "not_found", f"No CLI session {session_id}.")
            self.db.on_commit(lambda: self.listeners.close(frames.CLOSE_SESSION_UNKNOWN, session_id=session_id))
        return {"id": session_id, "object": "cli_session", "deleted": True}

    def active(self, scope: Scope, session_id: str) -> ActiveSession | None:
        """The session if ``scope`` has it live, else None (unknown, expired, deleted, or another
        team's or mode's)."""
        return self.sessions.active(scope, session_id, time.time())

    def resume_point(self, scope: Scope, last_event_id: str | None, start_seq: int) -> ResumePoint:
        """Where a socket sending ``last_event_id`` (None: none) to a session created at ``start_seq``
        starts. An unknown or pruned id means live events only, after the newest stored one."""
        after = self.bus.seq_of(scope, last_event_id) if last_event_id else start_seq
        if after is None:
            return ResumePoint(None, None, self.events.latest_id(scope))
        if last_event_id:
            return ResumePoint(after, last_event_id, last_event_id)
        return ResumePoint(after, None, self.events.id_at(scope, after))

    def record_ack(self, session_id: str, scope: Scope, ack: Ack) -> None:
        """Record an ack a session's socket sent as one of its deliveries."""
        self.deliveries.record(
            "cli",
            session_id,
            scope,
            event_id=ack.event_id,
            attempt=ack.attempts,
            status=ack.status,
            duration_ms=ack.duration_ms,
            error=ack.error,
        )

    def expire_all(self) -> int:
        """Make every session unknown to new connections. Returns how many were live."""
        return self.sessions.expire_all()

    def prune(self, now: float | None = None) -> None:
        """Drop sessions that expired more than 7 days ago."""
        self.sessions.delete_expired_before((time.time() if now is None else now) - KEEP_EXPIRED)
