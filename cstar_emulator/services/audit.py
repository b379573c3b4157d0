"""The audit log (reference: "Audit Log"): a read-only view of what really happened in a partition,
built from the stored events (every state change fires one) and the API keys' creation and
revocation times. ``actorId``/``actorName`` are the API key whose request caused the change (its
id and name, from the request log), or null/"System" for changes no API request made (seeding,
``/_emulator`` controls, key operations). Entries last as long as their events (at least 24 h and
the newest 10,000 per partition) and request-log entries (7 days) are kept."""

from __future__ import annotations

from cstar_emulator.db import Scope
from cstar_emulator.models import Resource
from cstar_emulator.repositories.audit import AuditQuery, AuditTrail

__all__ = ["AuditService"]


class AuditService:
    """Reads the audit log of one partition."""

    def __init__(self, trail: AuditTrail) -> None:
        self.trail = trail

    def page(self, scope: Scope, query: AuditQuery, page: int, page_size: int) -> tuple[list[Resource], int]:
        """A page of entries ``{"id": "aud_…", "action", "resourceType", "resourceId", "actorId",
        "actorName", "details": {"eventId", "requestId", "label"?}, "createdAt"}``, newest first,
        and how many match."""
        return self.trail.page(scope, query, page, page_size)
