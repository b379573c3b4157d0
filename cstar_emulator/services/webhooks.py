"""Webhook subscriptions and trigger-test (reference: "Webhooks"). Every write makes the dispatcher
read the partition's subscriptions again."""

from __future__ import annotations

from typing import Any

from cstar_cli.protocol import events as catalog
from cstar_emulator.db import Database, Scope
from cstar_emulator.envelope import ApiError
from cstar_emulator.models import Resource
from cstar_emulator.repositories.table import ListQuery
from cstar_emulator.repositories.webhooks import Webhooks
from cstar_emulator.samples import sample_data
from cstar_emulator.services._common import found
from cstar_emulator.services.dispatch import WebhookDispatcher
from cstar_emulator.services.events import EventBus

__all__ = ["WebhookService"]


class WebhookService:
    """What the webhook endpoints do, in one partition per call. Secrets are shown only on create."""

    def __init__(self, db: Database, webhooks: Webhooks, dispatcher: WebhookDispatcher, bus: EventBus) -> None:
        self.db = db
        self.webhooks = webhooks
        self.dispatcher = dispatcher
        self.bus = bus

    def page(self, scope: Scope, page: int, page_size: int) -> tuple[list[Resource], int]:
        """A page of webhooks, newest first, without secrets, and the total."""
        return self.webhooks.page(scope, ListQuery(), page, page_size)

    def get(self, scope: Scope, webhook_id: str) -> Resource:
        """The webhook without its secret; 404 when ``scope`` has none."""
        return found(self.webhooks, scope, webhook_id, "webhook")

    def create(self, scope: Scope, *, name: str, url: str, events: list[str], is_active: bool) -> Resource:
        """Create a webhook; the returned object carries its ``whsec_`` ``secret``."""
        with self.db.transaction():
            webhook_id = self.webhooks.insert(
                scope, {"name": name, "url": url, "events": events, "is_active": is_active}
            )
            self.dispatcher.invalidate(scope)
            webhook = self.webhooks.get_with_secret(scope, webhook_id)
        assert webhook is not None
        return webhook

    def update(self, scope: Scope, webhook_id: str, fields: dict[str, Any]) -> Resource:
        """Apply ``fields`` (columns: ``name``, ``url``, ``events``, ``is_active``); returns the webhook."""
        with self.db.transaction():
            found(self.webhooks, scope, webhook_id, "webhook")
            if fields:
                self.webhooks.update(scope, webhook_id, fields)
                self.dispatcher.invalidate(scope)
            return found(self.webhooks, scope, webhook_id, "webhook")

    def delete(self, scope: Scope, webhook_id: str) -> Resource:
        """Delete the webhook (queued deliveries to it are dropped); returns ``{"id", "deleted": true}``."""
        with self.db.transaction():
            found(self.webhooks, scope, webhook_id, "webhook")
            self.webhooks.delete(scope, webhook_id)
            self.dispatcher.invalidate(scope)
        return {"id": webhook_id, "deleted": True}

    def trigger_sample(self, event_type: Any) -> Resource:
        """``{"event", "data"}``: the synthetic ``data`` a trigger-test of ``event_type`` would send (a
        triggerable type, else 400 ``event``), for a client to shape and send back as ``data``."""
        name = _triggerable(event_type)
        return {"event": name, "data": sample_data(name)}

    def trigger_test(
        self, scope: Scope, request_id: str | None, event_type: Any, data: dict[str, Any] | None = None
    ) -> Resource:
        """Send a synthetic ``event_type`` event (a triggerable type, else 400 ``event``) to every
        matching active webhook and connected listen session; ``data`` (an object) replaces the
        synthetic sample. Returns ``{"event", "eventId", "test": true, "deliveries": [{"target",
        "queued": true}]}``."""
        name = _triggerable(event_type)
        payload = sample_data(name) if data is None else data
        event, targets = self.bus.emit(scope, name, payload, request_id)
        deliveries = [{"target": t, "queued": True} for t in targets]
        return {"event": name, "eventId": event.id, "test": True, "deliveries": deliveries}


def _triggerable(event_type: Any) -> str:
    if event_type not in catalog.TRIGGERABLE:
        close = catalog.suggest(str(event_type), catalog.TRIGGERABLE, n=1)
        hint = f" Did you mean {close[0]}?" if close else ""
        raise ApiError.invalid(
            "event", f"{event_type!r} cannot be triggered; use one of: {', '.join(catalog.TRIGGERABLE)}.{hint}"
        )
    return str(event_type)
