"""Rows → API objects for the computed endpoints' own tables: automation rules (reference:
"Automations object") and import history entries (reference: ``GET /import``), plus the enums
those endpoints accept."""

from __future__ import annotations

import sqlite3

from cstar_emulator.db import loads_list, loads_obj
from cstar_emulator.models import Resource

__all__ = [
    "ACTION_TYPES",
    "AI_ACTIONS",
    "ANALYTICS_PERIODS",
    "BULK_ACTIONS",
    "CONDITION_OPERATORS",
    "EXPORT_FORMATS",
    "MERGE_STRATEGIES",
    "RESOURCE_KINDS",
    "automation",
    "import_log",
]

#: The resources bulk, export and import work on (plural, as their bodies name them) → the
#: singular name search results, audit entries and automation tests use.
RESOURCE_KINDS = {"tickets": "ticket", "customers": "customer", "articles": "article"}
BULK_ACTIONS = ("update", "delete")
EXPORT_FORMATS = ("json", "csv")
MERGE_STRATEGIES = ("skip", "overwrite", "merge")
AI_ACTIONS = ("auto-tag", "suggest-reply", "summarize", "improve")
#: Analytics periods and their length in days.
ANALYTICS_PERIODS = {"day": 1, "week": 7, "month": 30, "quarter": 90, "year": 365}
CONDITION_OPERATORS = (
    "equals",
    "not_equals",
    "contains",
    "not_contains",
    "starts_with",
    "ends_with",
    "in",
    "not_in",
    "greater_than",
    "less_than",
    "is_empty",
    "is_not_empty",
)
#: Automation action types → the parameter each needs (None: none).
ACTION_TYPES: dict[str, str | None] = {
    "assign": "agentId",
    "set_status": "status",
    "set_priority": "priority",
    "add_tag": "tag",
    "remove_tag": "tag",
    "add_note": "note",
    "send_reply": "content",
}


def automation(row: sqlite3.Row) -> Resource:
    """An automation rule: ``{"id", "name", "triggerEvent", "conditions", "actions", "enabled",
    "executionCount", "createdAt", "updatedAt"}``."""
    return {
        "id": row["id"],
        "name": row["name"],
        "triggerEvent": row["trigger_event"],
        "conditions": loads_obj(row["conditions"]),
        "actions": loads_list(row["actions"]),
        "enabled": bool(row["enabled"]),
        "executionCount": row["execution_count"],
        "createdAt": row["created_at"],
        "updatedAt": row["updated_at"],
    }


def import_log(row: sqlite3.Row) -> Resource:
    """An import history entry: ``{"id", "resource", "status", "mergeStrategy", "totalRecords",
    "created", "updated", "skipped", "failed", "errors", "createdAt"}``."""
    return {
        "id": row["id"],
        "resource": row["resource"],
        "status": row["status"],
        "mergeStrategy": row["merge_strategy"],
        "totalRecords": row["total_records"],
        "created": row["created_count"],
        "updated": row["updated_count"],
        "skipped": row["skipped_count"],
        "failed": row["failed_count"],
        "errors": loads_list(row["errors"]),
        "createdAt": row["created_at"],
    }
