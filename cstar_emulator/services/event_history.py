"""Event history and resend (server contract: "Event history and resend"): the stored events of a
partition with each target's latest outcome, and sending one again to a webhook or a listen session.

A resend re-sends the stored payload text byte for byte: a webhook gets it through its dispatcher
queue (signed at send time, like any delivery, attempts numbered from 1 again); a listen session gets
it on its open sockets as an ``event`` frame with ``"resend": true``, signed by the CLI as usual.
"""

from __future__ import annotations

from collections.abc import Sequence

from cstar_emulator.db import Database, Scope
from cstar_emulator.envelope import ApiError
from cstar_emulator.ids import iso
from cstar_emulator.listeners import Listeners
from cstar_emulator.models import Resource
from cstar_emulator.repositories.event_history import EventHistoryRecords, StoredEvent, TargetOutcome
from cstar_emulator.repositories.webhooks import Webhooks
from cstar_emulator.services.deliveries import Deliveries
from cstar_emulator.services.dispatch import WebhookDispatcher
from cstar_emulator.services.sessions import SessionService

__all__ = ["EventHistory"]

_TARGET_TYPES = {"webhook": "webhook", "cli": "listen"}


def _delivery(o: TargetOutcome) -> Resource:
    return {
        "target": o.target,
        "targetType": _TARGET_TYPES.get(o.kind, o.kind),
        "status": o.status,
        "attempts": o.attempt,
        "durationMs": o.duration_ms,
        "error": o.error,
        "at": o.created_at,
    }


class EventHistory:
    """Lists stored events with their outcomes and resends them."""

    def __init__(
        self,
        db: Database,
        records: EventHistoryRecords,
        deliveries: Deliveries,
        webhooks: Webhooks,
        dispatcher: WebhookDispatcher,
        sessions: SessionService,
        listeners: Listeners,
    ) -> None:
        self.db = db
        self.records = records
        self.deliveries = deliveries
        self.webhooks = webhooks
        self.dispatcher = dispatcher
        self.sessions = sessions
        self.listeners = listeners

    def _resources(self, scope: Scope, found: Sequence[StoredEvent], *, payload: bool) -> list[Resource]:
        outcomes = self.records.outcomes(scope, [s.event.id for s in found])
        items = []
        for s in found:
            item: Resource = {
                "id": s.event.id,
                "type": s.event.type,
                "createdAt": iso(s.created),
                "requestId": s.event.request_id,
                "deliveries": [_delivery(o) for o in outcomes[s.event.id]],
            }
            if payload:
                item["payload"] = s.event.payload
            items.append(item)
        return items

    def _seq(self, scope: Scope, event_id: str, field: str) -> int:
        stored = self.records.get(scope, event_id)
        if stored is None:
            raise ApiError.invalid(field, f"No event {event_id!r}.")
        return stored.event.seq

    def page(
        self,
        scope: Scope,
        patterns: Sequence[str],
        *,
        failed: bool,
        limit: int,
        before: str | None,
        after: str | None = None,
    ) -> tuple[list[Resource], bool, str | None]:
        """Up to ``limit`` events, newest first, older than the event ``before`` (an ``evt_…`` id);
        or, with ``after``, the events newer than that one, oldest first. Whether more exist, and the
        next page's cursor (the last event's id). 400 ``before``/``after`` for an event ``scope`` has
        not (or no longer) got, and for both at once."""
        if before and after:
            raise ApiError.invalid("after", "Give before or after, not both.")
        before_seq = self._seq(scope, before, "before") if before else None
        after_seq = self._seq(scope, after, "after") if after else None
        # Acks and attempts are written in batches: the latest must be visible to this read.
        self.deliveries.flush()
        found, has_more = self.records.page(
            scope, patterns, failed=failed, limit=limit, before_seq=before_seq, after_seq=after_seq
        )
        items = self._resources(scope, found, payload=False)
        return items, has_more, (items[-1]["id"] if has_more and items else None)

    def _stored(self, scope: Scope, event_id: str) -> StoredEvent:
        stored = self.records.get(scope, event_id)
        if stored is None:
            raise ApiError(404, "event_not_found", f"No event {event_id} (unknown, or older than the event log keeps).")
        return stored

    def get(self, scope: Scope, event_id: str) -> Resource:
        """One event with its ``payload`` (the exact JSON text sent) and its outcome per target; 404
        ``event_not_found``."""
        stored = self._stored(scope, event_id)
        self.deliveries.flush()
        return self._resources(scope, [stored], payload=True)[0]

    def resend(
        self,
        scope: Scope,
        event_id: str,
        *,
        webhook_id: str | None = None,
        session_id: str | None = None,
        device_name: str | None = None,
    ) -> Resource:
        """Send a stored event again, once the caller's transaction commits: to ``webhook_id``, to
        ``session_id``, or else to the newest connected session of ``device_name`` (None: of the
        partition). Returns ``{"eventId", "target", "queued": true}``.

        Raises :class:`ApiError`: 404 ``event_not_found``, 404 ``webhook_not_found`` /
        ``session_not_found``, 409 ``webhook_inactive`` (paused), 409 ``no_listener`` (no open socket).
        """
        stored = self._stored(scope, event_id)
        event = stored.event
        if webhook_id is not None:
            webhook = self.webhooks.get_with_secret(scope, webhook_id)
            if webhook is None:
                raise ApiError(404, "webhook_not_found", f"No webhook {webhook_id}.")
            if not webhook.get("isActive", True):
                raise ApiError(409, "webhook_inactive", f"Webhook {webhook_id} is paused; resume it to resend.")
            self.db.on_commit(lambda: self.dispatcher.enqueue([webhook_id], [event]))
            return {"eventId": event.id, "target": webhook_id, "queued": True}
        target = self._session(scope, session_id, device_name)
        self.db.on_commit(lambda: self.listeners.resend(target, event))
        return {"eventId": event.id, "target": target, "queued": True}

    def _session(self, scope: Scope, session_id: str | None, device_name: str | None) -> str:
        connected = [s for s in self.sessions.live(scope) if s["connected"]]
        if session_id is not None:
            if self.sessions.active(scope, session_id) is None:
                raise ApiError(404, "session_not_found", f"No live CLI session {session_id}.")
            if not any(s["id"] == session_id for s in connected):
                raise ApiError(409, "no_listener", f"CLI session {session_id} has no connected listener.")
            return session_id
        if device_name is not None:
            connected = [s for s in connected if s["deviceName"] == device_name]
        if not connected:
            where = f" on device {device_name!r}" if device_name is not None else ""
            raise ApiError(409, "no_listener", f"No connected `cstar listen` session{where}.")
        return str(connected[0]["id"])
