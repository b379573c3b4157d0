"""What the test controls under ``/_emulator/`` do besides closing sockets: armed faults for API
requests, and bursts of synthetic events."""

from __future__ import annotations

from dataclasses import dataclass

from cstar_cli.protocol import events as catalog
from cstar_emulator.db import Scope
from cstar_emulator.envelope import ApiError
from cstar_emulator.models import Resource
from cstar_emulator.samples import sample_data
from cstar_emulator.services.events import EventBus

__all__ = ["Fault", "Faults", "burst"]

_MESSAGES = {
    400: "The request was rejected.",
    401: "Invalid API key provided.",
    403: "This key may not do that.",
    404: "Not found.",
    409: "The request conflicts with the current state.",
    429: "Rate limit exceeded; retry shortly.",
}


@dataclass
class Fault:
    """``remaining`` requests (optionally only ``method`` and paths starting with ``path``) will get
    ``status`` with the reference's error envelope."""

    remaining: int
    status: int
    path: str | None = None
    method: str | None = None

    def error(self) -> ApiError:
        """The error a request hit by this fault gets."""
        headers = {"Retry-After": "1"} if self.status == 429 else None
        message = _MESSAGES.get(self.status) or "Internal server error."
        return ApiError(self.status, None, message, headers=headers)


class Faults:
    """Armed ``fail-next`` faults, consumed first-armed first by matching API requests."""

    def __init__(self) -> None:
        self._armed: list[Fault] = []

    def arm(self, fault: Fault) -> None:
        """Add ``fault`` after those already armed."""
        self._armed.append(fault)

    def take(self, method: str, path: str) -> ApiError | None:
        """Consume one matching fault and return its error, or None."""
        for fault in self._armed:
            if (fault.path is None or path.startswith(fault.path)) and fault.method in (None, method):
                fault.remaining -= 1
                if fault.remaining <= 0:
                    self._armed.remove(fault)
                return fault.error()
        return None


def burst(bus: EventBus, scope: Scope, event_type: str, count: int, request_id: str | None) -> Resource:
    """Emit ``count`` synthetic ``event_type`` events (a catalog type, else 400 ``event``) into
    ``scope`` in one transaction. Returns ``{"count", "event", "firstEventId", "lastEventId"}``."""
    if event_type not in catalog.CATALOG:
        raise ApiError.invalid("event", f"Unknown event type {event_type!r}.")
    events, _ = bus.emit_many(scope, event_type, [sample_data(event_type)] * count, request_id)
    return {"count": count, "event": event_type, "firstEventId": events[0].id, "lastEventId": events[-1].id}
