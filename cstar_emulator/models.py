"""Rows ↔ API objects for tickets, customers, messages, articles and webhooks.

The object shapes are the reference's ("Tickets object", "Customers object", "Messages object",
"Articles object", "Webhooks object"), plus ``metadata``. Every query takes a :class:`Scope`, so a
test key can never read or change live rows.
"""

from __future__ import annotations

import math
import sqlite3
from typing import Any

from cstar_emulator.db import Database, Scope, dumps, escape_like, loads_list, loads_obj
from cstar_emulator.ids import iso_now, new_id

__all__ = [
    "ARTICLE_STATUSES",
    "CUSTOMER_STATUSES",
    "PRIORITIES",
    "SENDERS",
    "SENTIMENTS",
    "TICKET_STATUSES",
    "article",
    "create_article",
    "create_customer",
    "create_message",
    "create_ticket",
    "customer",
    "get",
    "like",
    "list_messages",
    "message",
    "page_meta",
    "paginate",
    "ticket",
    "update",
    "webhook",
]

TICKET_STATUSES = ("new", "open", "pending", "resolved", "closed")
PRIORITIES = ("low", "normal", "high", "urgent")
CUSTOMER_STATUSES = ("active", "inactive")
SENTIMENTS = ("positive", "neutral", "negative")
SENDERS = ("agent", "customer", "system")
ARTICLE_STATUSES = ("draft", "published")

_TICKETS = "SELECT t.*, (SELECT COUNT(*) FROM messages m WHERE m.ticket_id = t.id) AS message_count FROM tickets t"
_CUSTOMERS = "SELECT c.*, (SELECT COUNT(*) FROM tickets t WHERE t.customer_id = c.id) AS ticket_count FROM customers c"


def ticket(row: sqlite3.Row) -> dict[str, Any]:
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


def customer(row: sqlite3.Row) -> dict[str, Any]:
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


def message(row: sqlite3.Row) -> dict[str, Any]:
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


def article(row: sqlite3.Row) -> dict[str, Any]:
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


def webhook(row: sqlite3.Row, *, with_secret: bool = False) -> dict[str, Any]:
    """A webhook; ``secret`` only when ``with_secret`` (the reference shows it once, at creation)."""
    obj: dict[str, Any] = {
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


def get(db: Database, kind: str, scope: Scope, row_id: str) -> dict[str, Any] | None:
    """One ``kind`` (``tickets``, ``customers``, ``articles``, ``webhooks``) object of ``scope`` by id,
    or None. Tickets come without their messages; webhooks without their secret."""
    select, alias, serialise = _LISTS[kind]
    row = db.one(f"{select} WHERE {alias}.id = ? AND {alias}.team_id = ? AND {alias}.mode = ?", row_id, *scope)
    return serialise(row) if row else None


def list_messages(db: Database, scope: Scope, ticket_id: str) -> list[dict[str, Any]]:
    """A ticket's messages, oldest first."""
    rows = db.all(
        "SELECT * FROM messages WHERE ticket_id = ? AND team_id = ? AND mode = ? ORDER BY rowid",
        ticket_id,
        *scope,
    )
    return [message(r) for r in rows]


def like(term: str) -> str:
    """A LIKE pattern matching ``term`` anywhere (use with ``ESCAPE '\\'``)."""
    return f"%{escape_like(term)}%"


def paginate(
    db: Database,
    kind: str,
    scope: Scope,
    where: list[str],
    params: list[Any],
    page: int,
    page_size: int,
) -> tuple[list[dict[str, Any]], dict[str, int]]:
    """One page of ``kind`` (``tickets``, ``customers``, ``articles``, ``webhooks``), newest first,
    and the reference's pagination ``{page, pageSize, total, totalPages}``."""
    select, alias, serialise = _LISTS[kind]
    clauses = [f"{alias}.team_id = ?", f"{alias}.mode = ?", *where]
    sql_where = " WHERE " + " AND ".join(clauses)
    args = [*scope, *params]
    total = db.scalar(f"SELECT COUNT(*) FROM {kind} {alias}{sql_where}", *args)
    rows = db.all(
        f"{select}{sql_where} ORDER BY {alias}.rowid DESC LIMIT ? OFFSET ?",
        *args,
        page_size,
        (page - 1) * page_size,
    )
    return [serialise(r) for r in rows], page_meta(page, page_size, total)


def page_meta(page: int, page_size: int, total: int) -> dict[str, int]:
    """The reference's ``meta.pagination``: ``{page, pageSize, total, totalPages}``."""
    return {"page": page, "pageSize": page_size, "total": total, "totalPages": math.ceil(total / page_size)}


_LISTS: dict[str, tuple[str, str, Any]] = {
    "tickets": (_TICKETS, "t", ticket),
    "customers": (_CUSTOMERS, "c", customer),
    "articles": ("SELECT a.* FROM articles a", "a", article),
    "webhooks": ("SELECT w.* FROM webhooks w", "w", webhook),
}


def create_customer(
    db: Database,
    scope: Scope,
    *,
    name: str,
    email: str | None,
    status: str = "active",
    sentiment: str = "neutral",
    tags: list[str] | None = None,
    notes: str | None = None,
    metadata: dict[str, Any] | None = None,
    created_at: str | None = None,
) -> str:
    """Insert a customer; returns its ``cus_`` id. Raises ``sqlite3.IntegrityError`` on a taken email."""
    cid = new_id("cus_", 32)
    now = created_at or iso_now()
    db.run(
        "INSERT INTO customers (id, team_id, mode, name, email, status, sentiment, tags, notes, metadata, "
        "created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        cid,
        *scope,
        name,
        email,
        status,
        sentiment,
        dumps(tags or []),
        notes,
        dumps(metadata or {}),
        now,
        now,
    )
    return cid


def create_ticket(
    db: Database,
    scope: Scope,
    *,
    title: str,
    priority: str = "normal",
    status: str = "new",
    customer_id: str | None = None,
    assigned_to: str | None = None,
    tags: list[str] | None = None,
    notes: str | None = None,
    metadata: dict[str, Any] | None = None,
    created_at: str | None = None,
) -> str:
    """Insert a ticket; returns its ``tkt_`` id."""
    tid = new_id("tkt_", 32)
    now = created_at or iso_now()
    db.run(
        "INSERT INTO tickets (id, team_id, mode, title, status, priority, customer_id, assigned_to, tags, "
        "notes, metadata, created_at, updated_at, resolved_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        tid,
        *scope,
        title,
        status,
        priority,
        customer_id,
        assigned_to,
        dumps(tags or []),
        notes,
        dumps(metadata or {}),
        now,
        now,
        now if status in ("resolved", "closed") else None,
    )
    return tid


def create_message(
    db: Database,
    scope: Scope,
    ticket_id: str,
    *,
    content: str,
    sender: str = "agent",
    sender_name: str | None = None,
    is_internal: bool = False,
    created_at: str | None = None,
) -> str:
    """Insert a message on ``ticket_id`` and touch the ticket's ``updatedAt``; returns its ``msg_`` id."""
    mid = new_id("msg_", 12)
    now = created_at or iso_now()
    with db.transaction():
        db.run(
            "INSERT INTO messages (id, team_id, mode, ticket_id, content, sender, sender_name, is_internal, "
            "created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            mid,
            *scope,
            ticket_id,
            content,
            sender,
            sender_name,
            int(is_internal),
            now,
        )
        db.run("UPDATE tickets SET updated_at = ? WHERE id = ?", now, ticket_id)
    return mid


def create_article(
    db: Database,
    scope: Scope,
    *,
    title: str,
    content: str = "",
    category: str | None = None,
    status: str = "draft",
    is_public: bool = False,
    tags: list[str] | None = None,
    metadata: dict[str, Any] | None = None,
    view_count: int = 0,
    use_count: int = 0,
    created_at: str | None = None,
) -> str:
    """Insert an article; returns its ``art_`` id."""
    aid = new_id("art_", 32)
    now = created_at or iso_now()
    db.run(
        "INSERT INTO articles (id, team_id, mode, title, content, category, status, is_public, tags, view_count, "
        "use_count, metadata, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        aid,
        *scope,
        title,
        content,
        category,
        status,
        int(is_public),
        dumps(tags or []),
        view_count,
        use_count,
        dumps(metadata or {}),
        now,
        now,
    )
    return aid


def update(db: Database, table: str, scope: Scope, row_id: str, changes: dict[str, Any]) -> None:
    """Set ``changes`` (column → value; lists and dicts stored as JSON) and ``updated_at`` on one row."""
    values = {k: dumps(v) if isinstance(v, (list, dict)) else v for k, v in changes.items()}
    values["updated_at"] = iso_now()
    assignments = ", ".join(f"{col} = ?" for col in values)
    db.run(
        f"UPDATE {table} SET {assignments} WHERE id = ? AND team_id = ? AND mode = ?",
        *values.values(),
        row_id,
        *scope,
    )
