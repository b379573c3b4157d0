"""Bulk updates and deletes (reference: "Bulk Operations"): up to 100 tickets, customers or articles
changed through their own services, so each item fires exactly the events its single-item call
would (``ticket.updated``/``closed``/``assigned``, ``customer.deleted``…), all in one transaction.

An item that cannot be changed (unknown id, a taken email) is reported in ``errors`` and the others
still apply; every such failure is raised by the resource service before it writes anything.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from cstar_emulator.db import Database, Scope
from cstar_emulator.envelope import ApiError
from cstar_emulator.models import Resource

__all__ = ["BulkService", "ResourceService"]


class ResourceService(Protocol):
    """What bulk needs of the ticket, customer and article services."""

    def update(self, scope: Scope, row_id: str, request_id: str | None, fields: dict[str, Any], /) -> Resource: ...

    def delete(self, scope: Scope, row_id: str, request_id: str | None, /) -> Resource: ...


class BulkService:
    """Applies one action to many resources of one kind (``services``: ``tickets`` → its service)."""

    def __init__(self, db: Database, services: dict[str, ResourceService]) -> None:
        self.db = db
        self.services = services

    def run(
        self,
        scope: Scope,
        request_id: str | None,
        *,
        action: str,
        resource: str,
        ids: Sequence[str],
        fields: dict[str, Any] | None = None,
    ) -> Resource:
        """``action`` (``update`` with ``fields``, columns as the resource's update takes them; or
        ``delete``) on each of ``ids``, in order. Returns the reference's bulk result: ``{"object":
        "bulk_result", "action", "resource", "total", "succeeded", "failed", "errors": [{"id", "code",
        "message", "field"?}]}``."""
        service = self.services[resource]
        errors: list[dict[str, Any]] = []
        with self.db.transaction():
            for row_id in ids:
                try:
                    if action == "delete":
                        service.delete(scope, row_id, request_id)
                    else:
                        service.update(scope, row_id, request_id, dict(fields or {}))
                except ApiError as e:
                    if e.status >= 500:
                        raise
                    error: dict[str, Any] = {"id": row_id, "code": e.code, "message": e.message}
                    if e.field is not None:
                        error["field"] = e.field
                    errors.append(error)
        return {
            "object": "bulk_result",
            "action": action,
            "resource": resource,
            "total": len(ids),
            "succeeded": len(ids) - len(errors),
            "failed": len(errors),
            "errors": errors,
        }
