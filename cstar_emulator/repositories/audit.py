"""The audit log as a view: stored events (who caused each, through the request log and the key it
used) and API-key creations and revocations, read together newest first. Nothing is stored for it."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from cstar_emulator.db import Database, Scope, escape_like
from cstar_emulator.ids import iso
from cstar_emulator.models import Resource

__all__ = ["AuditQuery", "AuditTrail"]

# ISO 8601 text columns → unix seconds, so they order and filter with the events' ``created``.
_EPOCH = "((julianday({}) - 2440587.5) * 86400.0)"

_ENTRIES = f"""
SELECT 'aud_' || substr(e.id, 5) AS id, e.type AS action, e.payload AS payload, e.request_id AS request_id,
       e.created AS at, l.key_id AS actor_id, k.name AS actor_name, NULL AS key_id
  FROM events e
  LEFT JOIN request_logs l ON l.id = e.request_id
  LEFT JOIN api_keys k ON k.id = l.key_id
 WHERE e.team_id = :team AND e.mode = :mode
UNION ALL
SELECT 'aud_' || substr(k.id, 5) || 'c', 'api_key.created', NULL, NULL, {_EPOCH.format("k.created_at")},
       NULL, NULL, k.id
  FROM api_keys k WHERE k.team_id = :team AND k.mode = :mode
UNION ALL
SELECT 'aud_' || substr(k.id, 5) || 'r', 'api_key.revoked', NULL, NULL, {_EPOCH.format("k.revoked_at")},
       NULL, NULL, k.id
  FROM api_keys k WHERE k.team_id = :team AND k.mode = :mode AND k.revoked_at IS NOT NULL
"""


@dataclass(frozen=True)
class AuditQuery:
    """Which entries a page wants (None: any): ``action`` (exact, e.g. ``ticket.created``),
    ``resource_type`` (``ticket``: every ``ticket.*`` action), ``actor_id`` (``key_…``), and
    ``start``/``end`` unix seconds (inclusive start, exclusive end)."""

    action: str | None = None
    resource_type: str | None = None
    actor_id: str | None = None
    start: float | None = None
    end: float | None = None


class AuditTrail:
    """Reads the audit view of one partition."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def page(self, scope: Scope, query: AuditQuery, page: int, page_size: int) -> tuple[list[Resource], int]:
        """Page ``page`` (from 1) of ``page_size`` entries matching ``query``, newest first, and how
        many match in all. Each entry: ``{"id", "action", "resourceType", "resourceId", "actorId",
        "actorName", "details", "createdAt"}``."""
        where: list[str] = []
        params: dict[str, Any] = {"team": scope.team_id, "mode": scope.mode}
        if query.action is not None:
            where.append("action = :action")
            params["action"] = query.action
        if query.resource_type is not None:
            where.append("action LIKE :prefix ESCAPE '\\'")
            params["prefix"] = escape_like(query.resource_type) + ".%"
        if query.actor_id is not None:
            where.append("actor_id = :actor")
            params["actor"] = query.actor_id
        if query.start is not None:
            where.append("at >= :start")
            params["start"] = query.start
        if query.end is not None:
            where.append("at < :end")
            params["end"] = query.end
        sql_where = (" WHERE " + " AND ".join(where)) if where else ""
        total = int(self.db.conn.execute(f"SELECT COUNT(*) FROM ({_ENTRIES}){sql_where}", params).fetchone()[0])
        rows = self.db.conn.execute(
            f"SELECT * FROM ({_ENTRIES}){sql_where} ORDER BY at DESC, id DESC LIMIT :limit OFFSET :offset",
            {**params, "limit": page_size, "offset": (page - 1) * page_size},
        ).fetchall()
        return [_entry(row) for row in rows], total


def _entry(row: Any) -> Resource:
    action: str = row["action"]
    resource_type = action.split(".", 1)[0]
    details: dict[str, Any] = {}
    resource_id: str | None = row["key_id"]
    if row["payload"] is not None:
        payload = json.loads(row["payload"])
        data = payload.get("data") or {}
        obj = data.get(resource_type)
        if not isinstance(obj, dict):  # e.g. synthetic events: the first object the data holds
            obj = next((v for v in data.values() if isinstance(v, dict) and "id" in v), {})
        resource_id = obj.get("id")
        if not isinstance(resource_id, str):
            # Events about no single object (team preferences, game progress) name an id field, or
            # else concern the team itself.
            named = (val for key, val in data.items() if key.lower().endswith("id") and isinstance(val, str))
            resource_id = next(named, payload["team_id"])
        label = obj.get("title") or obj.get("name")
        details = {"eventId": payload["id"], "requestId": row["request_id"]}
        if label is not None:
            details["label"] = label
    if row["actor_id"] is not None:
        actor_name = row["actor_name"] or row["actor_id"]
    else:
        actor_name = "System"
    return {
        "id": row["id"],
        "action": action,
        "resourceType": resource_type,
        "resourceId": resource_id,
        "actorId": row["actor_id"],
        "actorName": actor_name,
        "details": details,
        "createdAt": iso(row["at"]),
    }
