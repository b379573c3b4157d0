"""``cstar listen`` sessions (server contract: "Listening — CLI sessions"): creating, listing and
deleting them, and where a connecting socket's stream starts.

A session's signing secret is stable per team, mode and device name. A session remembers the
partition's newest event when it was created, so a socket that names no ``Last-Event-ID`` is sent
everything after it: nothing between creating the session, connecting and reconnecting before a
first ack is missed.

Catch-up across runs: a session created with a resume key (a device and profile) acks for that
key; the newest event its sessions acknowledged in order is that key's cursor. A session created
with ``resume`` starts after the cursor instead of at the newest event, so events created while no
listener ran, and events a previous run received but never acknowledged, come first. Cursors are
kept in memory and written at most :data:`CURSOR_FLUSH_AFTER` s late: one write per ack would cost
more than the ack itself.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

from cstar_cli.protocol import events as catalog
from cstar_cli.protocol import frames
from cstar_emulator.db import Database, Scope
from cstar_emulator.envelope import ApiError
from cstar_emulator.ids import iso, new_id
from cstar_emulator.listeners import Ack, Listeners
from cstar_emulator.models import Resource
from cstar_emulator.repositories.cursors import Cursor, ResumeCursors
from cstar_emulator.repositories.events import EventLog
from cstar_emulator.repositories.sessions import ActiveSession, CliSessions
from cstar_emulator.services.auth import KeyContext
from cstar_emulator.services.deliveries import Deliveries
from cstar_emulator.services.events import EventBus

__all__ = ["DEFAULT_DEVICE", "SESSION_TTL", "ResumePoint", "SessionService"]

#: How late (s) an advanced resume cursor may be written.
CURSOR_FLUSH_AFTER = 0.05

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
        self.cursors = ResumeCursors(db)
        # (scope, resume key) → the newest cursor not yet written.
        self._dirty: dict[tuple[Scope, str], Cursor] = {}
        self._timer: asyncio.TimerHandle | None = None

    def create(
        self,
        key: KeyContext,
        events: list[str],
        device_name: str | None,
        *,
        resume_key: str | None = None,
        resume: bool = False,
    ) -> Resource:
        """A new session for ``key`` receiving ``events`` (patterns), for ``device_name`` (None or
        empty: ``cstar-cli``; the signing secret is per device name). With a ``resume_key``, its acks
        advance that key's cursor, and with ``resume`` its stream starts after the cursor. Returns
        ``{"id", "secret", "events", "expiresAt", "resume"}``: ``resume`` is None unless asked for,
        else ``{"after", "count", "since", "missingBefore"}`` (see :meth:`_resume_from`)."""
        device = device_name or DEFAULT_DEVICE
        scope = key.scope
        now = time.time()
        with self.db.transaction():
            secret = self.sessions.device_secret(scope, device)
            if secret is None:
                secret = new_id("whsec_", 48)
                self.sessions.add_device_secret(scope, device, secret)
            start_seq = self.bus.last_seq(scope)
            caught: Resource | None = None
            if resume and resume_key:
                start_seq, caught = self._resume_from(scope, resume_key, events, start_seq)
            if resume_key and (caught is None or caught["after"] is None):
                # The key's place starts here, so a run that is stopped before its first ack (or
                # one started with --no-resume) is caught up from here by the next one.
                here = Cursor(start_seq, self.events.id_at(scope, start_seq) or "")
                self.cursors.upsert_many([(scope, resume_key, here, now)])
            session_id = self.sessions.insert(
                scope,
                key_id=key.id,
                device_name=device,
                events=events,
                created=now,
                expires=now + SESSION_TTL,
                start_seq=start_seq,
            )
            if resume_key:
                self.cursors.bind(scope, session_id, resume_key)
        return {
            "id": session_id,
            "secret": secret,
            "events": events,
            "expiresAt": iso(now + SESSION_TTL),
            "resume": caught,
        }

    def _resume_from(self, scope: Scope, resume_key: str, events: list[str], top: int) -> tuple[int, Resource]:
        """Where a resuming session of ``resume_key`` starts (a sequence number; ``top`` is the newest
        event's) and what it catches up: ``after`` (the cursor's event id, None when the key has
        none: nothing to catch up, live events only), ``count`` (stored events after it that match
        ``events``), ``since`` (ISO 8601 creation time of the oldest of those, or None) and
        ``missingBefore`` (ISO 8601, set when events after the cursor were already dropped by
        retention: the oldest stored event's time; events before it may be missing)."""
        known = [c for c in (self._dirty.get((scope, resume_key)), self.cursors.get(scope, resume_key)) if c]
        cursor = max(known, key=lambda c: c.seq) if known else None
        if cursor is None or cursor.seq >= top:
            after_id = cursor.event_id or None if cursor is not None else None
            return top, {"after": after_id, "count": 0, "since": None, "missingBefore": None}
        start, missing = cursor.seq, None
        oldest = self.cursors.oldest(scope)
        if oldest is not None and oldest[0] > cursor.seq + 1:
            start, missing = oldest[0] - 1, iso(oldest[1])
        caught = self.cursors.catch_up(scope, start)
        count = sum(n for kind, n in caught.counts.items() if catalog.matches(kind, events))
        since = iso(caught.first_created) if count and caught.first_created is not None else None
        return start, {"after": cursor.event_id or None, "count": count, "since": since, "missingBefore": missing}

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

    def resume_key_of(self, session_id: str) -> str | None:
        """The resume key a session acks for, or None."""
        return self.cursors.key_of(session_id)

    def record_ack(self, session_id: str, scope: Scope, ack: Ack, *, resume_key: str | None = None) -> None:
        """Record an ack a session's socket sent as one of its deliveries; with a ``resume_key``, an
        ack of an event the socket sent (``ack.seq``) newer than the key's cursor advances it."""
        if resume_key is not None and ack.seq is not None and ack.event_id is not None:
            slot = (scope, resume_key)
            current = self._dirty.get(slot)
            if current is None or ack.seq > current.seq:
                self._dirty[slot] = Cursor(ack.seq, ack.event_id)
                self._schedule_flush()
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

    def _schedule_flush(self) -> None:
        if self._timer is not None:
            return
        try:
            self._timer = asyncio.get_running_loop().call_later(CURSOR_FLUSH_AFTER, self.flush_cursors)
        except RuntimeError:
            self.flush_cursors()

    def flush_cursors(self) -> None:
        """Write the advanced cursors now (a cursor never moves back)."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if not self._dirty:
            return
        dirty, self._dirty = self._dirty, {}
        now = time.time()
        with self.db.transaction():
            self.cursors.upsert_many((scope, key, cursor, now) for (scope, key), cursor in dirty.items())

    def expire_all(self) -> int:
        """Make every session unknown to new connections. Returns how many were live."""
        return self.sessions.expire_all()

    def prune(self, now: float | None = None) -> None:
        """Drop sessions that expired more than 7 days ago."""
        self.sessions.delete_expired_before((time.time() if now is None else now) - KEEP_EXPIRED)
