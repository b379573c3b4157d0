"""Rows → API objects: the one place each table's row is turned into the shape the API answers with.

The resource shapes are the reference's ("Tickets object", "Customers object", "Messages object",
"Articles object", "Webhooks object", plus ``metadata``); API keys, CLI sessions, request-log entries
and deliveries follow the server contract. The enum tuples are the values each field allows.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from cstar_cli.protocol.keys import redact
from cstar_emulator.db import loads_list, loads_obj
from cstar_emulator.ids import iso

__all__ = [
    "ARTICLE_STATUSES",
    "CUSTOMER_STATUSES",
    "DONE_STATUSES",
    "PRIORITIES",
    "SENDERS",
    "SENTIMENTS",
    "TICKET_STATUSES",
    "api_key",
    "article",
    "cli_session",
    "customer",
    "delivery",
    "log_entry",
    "message",
    "team",
    "ticket",
    "webhook",
]

TICKET_STATUSES = ("new", "open", "pending", "resolved", "closed")
#: Statuses that end a ticket (``resolvedAt`` set, ``ticket.closed`` fired on entering one).
DONE_STATUSES = ("resolved", "closed")
PRIORITIES = ("low", "normal", "high", "urgent")
CUSTOMER_STATUSES = ("active", "inactive")
SENTIMENTS = ("positive", "neutral", "negative")
SENDERS = ("agent", "customer", "system")
ARTICLE_STATUSES = ("draft", "published")

Resource = dict[str, Any]


def ticket(row: sqlite3.Row) -> Resource:
    """A ticket row (with ``message_count``) as the reference's Tickets object."""
    return {
        "id": row["id"],
        "title": row["title"],
        "status": row["status"],
        "priority": row["priority"],
        "customerId": row["customer_id"],
        "assignedTo": row["assigned_to"],
        "tags": loads_list(row["tags"]),
        "notes": row["notes"],
        "metadata": loads_obj(row["metadata"]),
        "messageCount": row["message_count"],
        "createdAt": row["created_at"],
        "updatedAt": row["updated_at"],
        "resolvedAt": row["resolved_at"],
    }


def customer(row: sqlite3.Row) -> Resource:
    """A customer row (with ``ticket_count``) as the reference's Customers object."""
    return {
        "id": row["id"],
        "name": row["name"],
        "email": row["email"],
        "status": row["status"],
        "sentiment": row["sentiment"],
        "tags": loads_list(row["tags"]),
        "notes": row["notes"],
        "metadata": loads_obj(row["metadata"]),
        "ticketCount": row["ticket_count"],
        "createdAt": row["created_at"],
        "updatedAt": row["updated_at"],
    }


def message(row: sqlite3.Row) -> Resource:
    """A message row as the reference's Messages object."""
    return {
        "id": row["id"],
        "ticketId": row["ticket_id"],
        "content": row["content"],
        "sender": row["sender"],
        "senderName": row["sender_name"],
        "isInternal": bool(row["is_internal"]),
        "createdAt": row["created_at"],
    }


def article(row: sqlite3.Row) -> Resource:
    """An article row as the reference's Articles object."""
    return {
        "id": row["id"],
        "title": row["title"],
        "content": row["content"],
        "category": row["category"],
        "status": row["status"],
        "isPublic": bool(row["is_public"]),
        "tags": loads_list(row["tags"]),
        "viewCount": row["view_count"],
        "useCount": row["use_count"],
        "metadata": loads_obj(row["metadata"]),
        "createdAt": row["created_at"],
        "updatedAt": row["updated_at"],
    }


def webhook(row: sqlite3.Row, *, with_secret: bool = False) -> Resource:
    """A webhook; ``secret`` only when ``with_secret`` (the reference shows it once, at creation)."""
    obj: Resource = {
        "id": row["id"],
        "name": row["name"],
        "url": row["url"],
        "events": loads_list(row["events"]),
        "isActive": bool(row["is_active"]),
        "createdAt": row["created_at"],
        "updatedAt": row["updated_at"],
    }
    if with_secret:
        obj["secret"] = row["secret"]
    return obj


def api_key(row: sqlite3.Row, *, with_secret: bool = False) -> Resource:
    """The contract's API key object; the full ``key`` only when ``with_secret`` (at creation)."""
    obj: Resource = {
        "id": row["id"],
        "name": row["name"],
        "type": row["type"],
        "mode": row["mode"],
        "redacted": redact(row["secret"]),
        "createdAt": row["created_at"],
        "lastUsedAt": row["last_used_at"],
        "revokedAt": row["revoked_at"],
    }
    if with_secret:
        obj["key"] = row["secret"]
    return obj


def team(row: sqlite3.Row) -> Resource:
    """A team as ``/me`` shows it: ``{"id", "name", "slug", "plan", "memberCount"}``."""
    return {
        "id": row["id"],
        "name": row["name"],
        "slug": row["slug"],
        "plan": row["plan"],
        "memberCount": row["member_count"],
    }


def cli_session(row: sqlite3.Row) -> Resource:
    """A CLI session without its secret: ``{"id", "deviceName", "events", "createdAt", "expiresAt"}``."""
    return {
        "id": row["id"],
        "deviceName": row["device_name"],
        "events": loads_list(row["events"]),
        "createdAt": row["created_at"],
        "expiresAt": iso(row["expires"]),
    }


def log_entry(row: sqlite3.Row) -> Resource:
    """A request-log row as the contract's entry (``durationMs`` in ms, ``keyId`` null when unknown)."""
    return {
        "id": row["id"],
        "method": row["method"],
        "path": row["path"],
        "status": row["status"],
        "durationMs": row["duration_ms"],
        "createdAt": row["created_at"],
        "keyId": row["key_id"],
        "ip": row["ip"],
        "userAgent": row["user_agent"],
        "errorCode": row["error_code"],
    }


def delivery(row: sqlite3.Row) -> Resource:
    """A recorded delivery attempt or ack: ``{"kind", "target", "teamId", "mode", "eventId",
    "eventType", "attempt", "status", "durationMs", "error", "createdAt"}``."""
    return {
        "kind": row["kind"],
        "target": row["target"],
        "teamId": row["team_id"],
        "mode": row["mode"],
        "eventId": row["event_id"],
        "eventType": row["event_type"],
        "attempt": row["attempt"],
        "status": row["status"],
        "durationMs": row["duration_ms"],
        "error": row["error"],
        "createdAt": row["created_at"],
    }
