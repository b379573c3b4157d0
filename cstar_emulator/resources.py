"""Tickets, customers, messages, articles and webhooks (reference: "API Reference" → each section).

Every handler works inside the calling key's partition (``request.state.key.scope``) and fires the
reference's events for what it changed, carrying the request's ``x-cstar-request-id``. Write handlers
run in one transaction each (:func:`~cstar_emulator.idempotency.atomic`), so a change and its
events are stored together or not at all.
"""

from __future__ import annotations

import sqlite3
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import Response

from cstar_cli.protocol import events as catalog
from cstar_cli.protocol.urls import is_loopback
from cstar_emulator import models
from cstar_emulator import validate as v
from cstar_emulator.auth import request_context
from cstar_emulator.db import Scope, dumps
from cstar_emulator.envelope import ApiError, ok
from cstar_emulator.idempotency import atomic
from cstar_emulator.ids import iso_now, new_id
from cstar_emulator.samples import sample_data

if TYPE_CHECKING:
    from cstar_emulator.state import Emulator

__all__ = ["ROUTES"]


def _emit(request: Request, event_type: str, data: dict[str, Any]) -> None:
    emulator, key = request_context(request)
    emulator.bus.emit(key.scope, event_type, data, request.state.request_id)


def _found(emulator: Emulator, kind: str, scope: Scope, row_id: str) -> dict[str, Any]:
    """The ``kind`` object (see :func:`models.get`), or 404."""
    obj = models.get(emulator.db, kind, scope, row_id)
    if obj is None:
        raise ApiError.not_found(kind[:-1], row_id)
    return obj


def _customer_or_none(emulator: Emulator, scope: Scope, customer_id: str | None) -> dict[str, Any] | None:
    return models.get(emulator.db, "customers", scope, customer_id) if customer_id else None


def _ticket_event_data(emulator: Emulator, scope: Scope, ticket: dict[str, Any]) -> dict[str, Any]:
    data: dict[str, Any] = {"ticket": ticket}
    customer = _customer_or_none(emulator, scope, ticket.get("customerId"))
    if customer is not None:
        data["customer"] = customer
    return data


def _shared_fields(body: dict[str, Any], before: dict[str, Any] | None, *, notes: bool = True) -> dict[str, Any]:
    """``tags``, ``notes`` (unless ``notes`` is False) and ``metadata`` (merged into ``before``'s) when
    present in ``body``, keyed by column; the same rules on create and update."""
    fields: dict[str, Any] = {}
    if "tags" in body:
        fields["tags"] = v.tag_list(body["tags"]) if body["tags"] is not None else []
    if notes and "notes" in body:
        fields["notes"] = v.text(body["notes"], "notes", nullable=True)
    if body.get("metadata") is not None:
        fields["metadata"] = v.metadata(body["metadata"], before["metadata"] if before else None)
    return fields


def _changed(before: dict[str, Any], fields: dict[str, Any]) -> dict[str, Any]:
    """The ``fields`` (by column) whose value differs from the ``before`` object (camelCase keys)."""

    def api_name(column: str) -> str:
        head, *rest = column.split("_")
        return head + "".join(part.title() for part in rest)

    return {col: val for col, val in fields.items() if before[api_name(col)] != val}


def _filters(
    request: Request, enums: dict[str, tuple[str, ...]], searched: tuple[str, ...]
) -> tuple[list[str], list[Any]]:
    """WHERE clauses and parameters for a list: each enum query parameter (``enums`` maps
    ``alias.column`` to its allowed values; the parameter is the column name) and ``search``: any of
    the ``searched`` conditions holds, ``{like}`` in each standing for "contains the term"."""
    where: list[str] = []
    params: list[Any] = []
    for column, allowed in enums.items():
        if value := v.query_choice(request, column.split(".", 1)[1], allowed):
            where.append(f"{column} = ?")
            params.append(value)
    if term := request.query_params.get("search", "").strip():
        like = "LIKE ? ESCAPE '\\'"
        where.append("(" + " OR ".join(cond.format(like=like) for cond in searched) + ")")
        params += [models.like(term)] * len(searched)
    return where, params


async def list_tickets(request: Request) -> Response:
    """``GET /tickets?status&priority&search&customerId&page&pageSize``, newest first. ``search``
    looks in titles, notes and message text."""
    emulator, key = request_context(request)
    page, size = v.page_params(request)
    where, params = _filters(
        request,
        {"t.status": models.TICKET_STATUSES, "t.priority": models.PRIORITIES},
        (
            "t.title {like}",
            "t.notes {like}",
            "EXISTS (SELECT 1 FROM messages m WHERE m.ticket_id = t.id AND m.content {like})",
        ),
    )
    if customer_id := request.query_params.get("customerId"):
        where.append("t.customer_id = ?")
        params.append(customer_id)
    data, pagination = models.paginate(emulator.db, "tickets", key.scope, where, params, page, size)
    return ok(request, data, pagination=pagination)


async def get_ticket(request: Request) -> Response:
    """``GET /tickets/{id}``: the ticket with its ``messages``."""
    emulator, key = request_context(request)
    ticket = _found(emulator, "tickets", key.scope, request.path_params["ticket_id"])
    ticket["messages"] = models.list_messages(emulator.db, key.scope, ticket["id"])
    return ok(request, ticket)


async def create_ticket(request: Request) -> Response:
    """``POST /tickets``: ``title`` required; ``customerId``, or ``customerName`` (+ optional
    ``customerEmail``) to create the customer inline. Fires ``customer.created`` (inline customer)
    and ``ticket.created``."""
    emulator, key = request_context(request)
    db = emulator.db
    body = await v.body(request)
    title = v.text(v.require(body, "title"), "title")
    priority = v.choice(body.get("priority") or "normal", "priority", models.PRIORITIES)
    shared = _shared_fields(body, None)
    new_customer: dict[str, Any] | None = None
    customer_id = body.get("customerId")
    if customer_id is not None:
        customer_id = v.text(customer_id, "customerId")
        if _customer_or_none(emulator, key.scope, customer_id) is None:
            raise ApiError.invalid("customerId", f"No customer with id {customer_id!r}.")
    elif body.get("customerName") is not None:
        name = v.text(body["customerName"], "customerName")
        email = v.text(body.get("customerEmail"), "customerEmail", nullable=True) or None
        if email is not None and "@" not in email:
            raise ApiError.invalid("customerEmail", "customerEmail must be an email address.")
        existing = email and db.one(
            "SELECT id FROM customers WHERE team_id = ? AND mode = ? AND email = ? COLLATE NOCASE", *key.scope, email
        )
        if existing:
            customer_id = existing["id"]
        else:
            customer_id = models.create_customer(db, key.scope, name=name or "Unknown", email=email)
            new_customer = models.get(db, "customers", key.scope, customer_id)
    tid = models.create_ticket(
        db,
        key.scope,
        title=title or "",
        priority=priority,
        customer_id=customer_id,
        **shared,
    )
    ticket = _found(emulator, "tickets", key.scope, tid)
    if new_customer is not None:
        _emit(request, "customer.created", {"customer": new_customer})
    _emit(request, "ticket.created", _ticket_event_data(emulator, key.scope, ticket))
    return ok(request, ticket, status=201)


async def update_ticket(request: Request) -> Response:
    """``PATCH /tickets/{id}``: any of title, status, priority, assignedTo, tags, notes, metadata
    (merged). Fires ``ticket.updated`` when something changed, then ``ticket.closed`` when the status
    became resolved/closed and ``ticket.assigned`` when the assignee changed to someone."""
    emulator, key = request_context(request)
    before = _found(emulator, "tickets", key.scope, request.path_params["ticket_id"])
    body = await v.body(request)
    changes: dict[str, Any] = {}
    if "title" in body:
        changes["title"] = v.text(v.require(body, "title"), "title")
    if "status" in body:
        changes["status"] = v.choice(body["status"], "status", models.TICKET_STATUSES)
    if "priority" in body:
        changes["priority"] = v.choice(body["priority"], "priority", models.PRIORITIES)
    if "assignedTo" in body:
        changes["assigned_to"] = v.text(body["assignedTo"], "assignedTo", nullable=True) or None
    changed = _changed(before, changes | _shared_fields(body, before))
    if not changed:
        return ok(request, before)
    done = ("resolved", "closed")
    closing = changed.get("status") in done and before["status"] not in done
    if "status" in changed:
        changed["resolved_at"] = (before["resolvedAt"] or iso_now()) if changed["status"] in done else None
    models.update(emulator.db, "tickets", key.scope, before["id"], changed)
    ticket = _found(emulator, "tickets", key.scope, before["id"])
    data = _ticket_event_data(emulator, key.scope, ticket)
    _emit(request, "ticket.updated", data)
    if closing:
        _emit(request, "ticket.closed", data)
    if changed.get("assigned_to"):
        _emit(request, "ticket.assigned", data)
    return ok(request, ticket)


async def delete_ticket(request: Request) -> Response:
    """``DELETE /tickets/{id}``: the ticket and its messages. Fires ``ticket.deleted``."""
    emulator, key = request_context(request)
    ticket = _found(emulator, "tickets", key.scope, request.path_params["ticket_id"])
    data = _ticket_event_data(emulator, key.scope, ticket)
    with emulator.db.transaction():
        emulator.db.run("DELETE FROM messages WHERE ticket_id = ?", ticket["id"])
        emulator.db.run("DELETE FROM tickets WHERE id = ?", ticket["id"])
    _emit(request, "ticket.deleted", data)
    return ok(request, {"id": ticket["id"], "deleted": True})


async def list_messages(request: Request) -> Response:
    """``GET /tickets/{id}/messages``: oldest first."""
    emulator, key = request_context(request)
    ticket = _found(emulator, "tickets", key.scope, request.path_params["ticket_id"])
    return ok(request, models.list_messages(emulator.db, key.scope, ticket["id"]))


async def create_message(request: Request) -> Response:
    """``POST /tickets/{id}/messages``: ``content`` required; ``sender`` (default agent),
    ``senderName``, ``isInternal``. Fires ``ticket.message_added``."""
    emulator, key = request_context(request)
    ticket = _found(emulator, "tickets", key.scope, request.path_params["ticket_id"])
    body = await v.body(request)
    content = v.text(v.require(body, "content"), "content")
    sender = v.choice(body.get("sender") or "agent", "sender", models.SENDERS)
    sender_name = v.text(body.get("senderName"), "senderName", nullable=True) or None
    if sender_name is None:
        customer = _customer_or_none(emulator, key.scope, ticket["customerId"])
        sender_name = {"agent": "Support Agent", "system": "System"}.get(
            sender, customer["name"] if customer else "Customer"
        )
    is_internal = v.flag(body["isInternal"], "isInternal") if body.get("isInternal") is not None else False
    mid = models.create_message(
        emulator.db,
        key.scope,
        ticket["id"],
        content=content or "",
        sender=sender,
        sender_name=sender_name,
        is_internal=is_internal,
    )
    message = next(m for m in models.list_messages(emulator.db, key.scope, ticket["id"]) if m["id"] == mid)
    data = _ticket_event_data(emulator, key.scope, _found(emulator, "tickets", key.scope, ticket["id"]))
    data["message"] = message
    _emit(request, "ticket.message_added", data)
    return ok(request, message, status=201)


def _email(value: Any) -> str:
    email = v.text(value, "email") or ""
    if "@" not in email or email.startswith("@") or email.endswith("@"):
        raise ApiError.invalid("email", f"email must be an email address (got {email!r}).")
    return email


def _email_taken(email: str) -> ApiError:
    return ApiError(409, "email_already_exists", f"A customer with email {email!r} already exists.", field="email")


async def list_customers(request: Request) -> Response:
    """``GET /customers?status&sentiment&search&page&pageSize`` (search: name or email)."""
    emulator, key = request_context(request)
    page, size = v.page_params(request)
    where, params = _filters(
        request,
        {"c.status": models.CUSTOMER_STATUSES, "c.sentiment": models.SENTIMENTS},
        ("c.name {like}", "c.email {like}"),
    )
    data, pagination = models.paginate(emulator.db, "customers", key.scope, where, params, page, size)
    return ok(request, data, pagination=pagination)


async def get_customer(request: Request) -> Response:
    """``GET /customers/{id}``."""
    emulator, key = request_context(request)
    return ok(request, _found(emulator, "customers", key.scope, request.path_params["customer_id"]))


async def create_customer(request: Request) -> Response:
    """``POST /customers``: ``name`` and ``email`` required, email unique per team and mode (409).
    Fires ``customer.created``."""
    emulator, key = request_context(request)
    body = await v.body(request)
    name = v.text(v.require(body, "name"), "name")
    email = _email(v.require(body, "email"))
    shared = _shared_fields(body, None)
    try:
        cid = models.create_customer(emulator.db, key.scope, name=name or "", email=email, **shared)
    except sqlite3.IntegrityError:
        raise _email_taken(email) from None
    customer = _found(emulator, "customers", key.scope, cid)
    _emit(request, "customer.created", {"customer": customer})
    return ok(request, customer, status=201)


async def update_customer(request: Request) -> Response:
    """``PATCH /customers/{id}``: name, email, status, sentiment, tags, notes, metadata (merged).
    Fires ``customer.updated`` when something changed."""
    emulator, key = request_context(request)
    before = _found(emulator, "customers", key.scope, request.path_params["customer_id"])
    body = await v.body(request)
    changes: dict[str, Any] = {}
    if "name" in body:
        changes["name"] = v.text(v.require(body, "name"), "name")
    if "email" in body:
        changes["email"] = _email(v.require(body, "email"))
    if "status" in body:
        changes["status"] = v.choice(body["status"], "status", models.CUSTOMER_STATUSES)
    if "sentiment" in body:
        changes["sentiment"] = v.choice(body["sentiment"], "sentiment", models.SENTIMENTS)
    changed = _changed(before, changes | _shared_fields(body, before))
    if not changed:
        return ok(request, before)
    try:
        models.update(emulator.db, "customers", key.scope, before["id"], changed)
    except sqlite3.IntegrityError:
        raise _email_taken(changed.get("email", "")) from None
    customer = _found(emulator, "customers", key.scope, before["id"])
    _emit(request, "customer.updated", {"customer": customer})
    return ok(request, customer)


async def delete_customer(request: Request) -> Response:
    """``DELETE /customers/{id}``: tickets are kept but unlinked. Fires ``customer.deleted``."""
    emulator, key = request_context(request)
    customer = _found(emulator, "customers", key.scope, request.path_params["customer_id"])
    with emulator.db.transaction():
        emulator.db.run("UPDATE tickets SET customer_id = NULL WHERE customer_id = ?", customer["id"])
        emulator.db.run("DELETE FROM customers WHERE id = ?", customer["id"])
    _emit(request, "customer.deleted", {"customer": customer})
    return ok(request, {"id": customer["id"], "deleted": True})


async def list_articles(request: Request) -> Response:
    """``GET /articles?category&status&isPublic&search&page&pageSize``."""
    emulator, key = request_context(request)
    page, size = v.page_params(request)
    where, params = _filters(request, {"a.status": models.ARTICLE_STATUSES}, ("a.title {like}", "a.content {like}"))
    q = request.query_params
    if category := q.get("category"):
        where.append("a.category = ? COLLATE NOCASE")
        params.append(category)
    if q.get("isPublic"):
        where.append("a.is_public = ?")
        params.append(int(v.flag(q["isPublic"], "isPublic")))
    data, pagination = models.paginate(emulator.db, "articles", key.scope, where, params, page, size)
    return ok(request, data, pagination=pagination)


async def get_article(request: Request) -> Response:
    """``GET /articles/{id}`` with full content."""
    emulator, key = request_context(request)
    return ok(request, _found(emulator, "articles", key.scope, request.path_params["article_id"]))


def _article_fields(body: dict[str, Any], before: dict[str, Any] | None) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    if before is None or "title" in body:
        fields["title"] = v.text(v.require(body, "title"), "title")
    if "content" in body:
        fields["content"] = v.text(body["content"], "content", max_len=v.MAX_ARTICLE_CONTENT, nullable=True) or ""
    if "category" in body:
        fields["category"] = v.text(body["category"], "category", nullable=True) or None
    if "status" in body:
        fields["status"] = v.choice(body["status"], "status", models.ARTICLE_STATUSES)
    if "isPublic" in body:
        fields["is_public"] = v.flag(body["isPublic"], "isPublic")
    return fields | _shared_fields(body, before, notes=False)


async def create_article(request: Request) -> Response:
    """``POST /articles``: ``title`` required; starts as a draft. Fires ``article.created`` (and
    ``article.published`` when created published)."""
    emulator, key = request_context(request)
    fields = _article_fields(await v.body(request), None)
    aid = models.create_article(emulator.db, key.scope, **fields)
    article = _found(emulator, "articles", key.scope, aid)
    _emit(request, "article.created", {"article": article})
    if article["status"] == "published":
        _emit(request, "article.published", {"article": article})
    return ok(request, article, status=201)


async def update_article(request: Request) -> Response:
    """``PATCH /articles/{id}``. Fires ``article.updated``, and ``article.published`` when the status
    became published."""
    emulator, key = request_context(request)
    before = _found(emulator, "articles", key.scope, request.path_params["article_id"])
    fields = _article_fields(await v.body(request), before)
    changed = _changed(before, fields)
    if not changed:
        return ok(request, before)
    models.update(emulator.db, "articles", key.scope, before["id"], changed)
    article = _found(emulator, "articles", key.scope, before["id"])
    _emit(request, "article.updated", {"article": article})
    if changed.get("status") == "published":
        _emit(request, "article.published", {"article": article})
    return ok(request, article)


async def delete_article(request: Request) -> Response:
    """``DELETE /articles/{id}``. Fires ``article.deleted``."""
    emulator, key = request_context(request)
    article = _found(emulator, "articles", key.scope, request.path_params["article_id"])
    emulator.db.run("DELETE FROM articles WHERE id = ?", article["id"])
    _emit(request, "article.deleted", {"article": article})
    return ok(request, {"id": article["id"], "deleted": True})


def _webhook_url(value: Any) -> str:
    url = v.text(value, "url") or ""
    parts = urlsplit(url)
    if parts.scheme == "https" and parts.hostname:
        return url
    if parts.scheme == "http" and is_loopback(parts.hostname):
        return url
    raise ApiError.invalid("url", "url must be an https:// URL (http:// is accepted for localhost receivers).")


def _webhook_row(emulator: Emulator, scope: Scope, webhook_id: str) -> sqlite3.Row:
    row = emulator.db.one("SELECT * FROM webhooks WHERE id = ? AND team_id = ? AND mode = ?", webhook_id, *scope)
    if row is None:
        raise ApiError.not_found("webhook", webhook_id)
    return row


async def list_webhooks(request: Request) -> Response:
    """``GET /webhooks`` (page/pageSize accepted), newest first; secrets are never listed."""
    emulator, key = request_context(request)
    page, size = v.page_params(request)
    data, pagination = models.paginate(emulator.db, "webhooks", key.scope, [], [], page, size)
    return ok(request, data, pagination=pagination)


async def get_webhook(request: Request) -> Response:
    """``GET /webhooks/{id}`` (no secret)."""
    emulator, key = request_context(request)
    return ok(request, models.webhook(_webhook_row(emulator, key.scope, request.path_params["webhook_id"])))


async def create_webhook(request: Request) -> Response:
    """``POST /webhooks {"name", "url", "events"}`` → 201 with the ``whsec_`` secret (shown only here).
    ``events``: list or comma-separated; exact types, ``resource.*`` or ``*``."""
    emulator, key = request_context(request)
    body = await v.body(request)
    name = v.text(v.require(body, "name"), "name")
    url = _webhook_url(v.require(body, "url"))
    events = v.event_patterns(v.require(body, "events"))
    is_active = v.flag(body["isActive"], "isActive") if body.get("isActive") is not None else True
    wid = new_id("whk_", 12)
    now = iso_now()
    emulator.db.run(
        "INSERT INTO webhooks (id, team_id, mode, name, url, events, secret, is_active, created_at, updated_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        wid,
        *key.scope,
        name,
        url,
        dumps(events),
        new_id("whsec_", 48),
        int(is_active),
        now,
        now,
    )
    emulator.dispatcher.invalidate(key.scope)
    return ok(request, models.webhook(_webhook_row(emulator, key.scope, wid), with_secret=True), status=201)


async def update_webhook(request: Request) -> Response:
    """``PATCH /webhooks/{id}``: name, url, events, isActive."""
    emulator, key = request_context(request)
    row = _webhook_row(emulator, key.scope, request.path_params["webhook_id"])
    body = await v.body(request)
    changes: dict[str, Any] = {}
    if "name" in body:
        changes["name"] = v.text(v.require(body, "name"), "name")
    if "url" in body:
        changes["url"] = _webhook_url(v.require(body, "url"))
    if "events" in body:
        changes["events"] = v.event_patterns(v.require(body, "events"))
    if "isActive" in body:
        changes["is_active"] = int(v.flag(body["isActive"], "isActive"))
    if changes:
        models.update(emulator.db, "webhooks", key.scope, row["id"], changes)
        emulator.dispatcher.invalidate(key.scope)
    return ok(request, models.webhook(_webhook_row(emulator, key.scope, row["id"])))


async def delete_webhook(request: Request) -> Response:
    """``DELETE /webhooks/{id}``; queued deliveries to it are dropped."""
    emulator, key = request_context(request)
    row = _webhook_row(emulator, key.scope, request.path_params["webhook_id"])
    emulator.db.run("DELETE FROM webhooks WHERE id = ?", row["id"])
    emulator.dispatcher.invalidate(key.scope)
    return ok(request, {"id": row["id"], "deleted": True})


async def trigger_test(request: Request) -> Response:
    """``POST /webhooks/trigger-test {"event"}`` (a triggerable type, else 400 field ``event``): a
    synthetic event to every matching active webhook and connected listen session. Returns
    ``{"event", "eventId", "test": true, "deliveries": [{"target", "queued": true}]}``."""
    emulator, key = request_context(request)
    body = await v.body(request)
    event_type = v.require(body, "event")
    if event_type not in catalog.TRIGGERABLE:
        close = catalog.suggest(str(event_type), catalog.TRIGGERABLE, n=1)
        hint = f" Did you mean {close[0]}?" if close else ""
        raise ApiError.invalid(
            "event", f"{event_type!r} cannot be triggered; use one of: {', '.join(catalog.TRIGGERABLE)}.{hint}"
        )
    event, targets = emulator.bus.emit(key.scope, event_type, sample_data(event_type), request.state.request_id)
    deliveries = [{"target": t, "queued": True} for t in targets]
    return ok(request, {"event": event_type, "eventId": event.id, "test": True, "deliveries": deliveries})


def _team(path: str) -> str:
    return "/api/v1/teams/{team_id}" + path


_TABLE = [
    ("GET", _team("/tickets"), list_tickets),
    ("POST", _team("/tickets"), create_ticket),
    ("GET", _team("/tickets/{ticket_id}"), get_ticket),
    ("PATCH", _team("/tickets/{ticket_id}"), update_ticket),
    ("DELETE", _team("/tickets/{ticket_id}"), delete_ticket),
    ("GET", _team("/tickets/{ticket_id}/messages"), list_messages),
    ("POST", _team("/tickets/{ticket_id}/messages"), create_message),
    ("GET", _team("/customers"), list_customers),
    ("POST", _team("/customers"), create_customer),
    ("GET", _team("/customers/{customer_id}"), get_customer),
    ("PATCH", _team("/customers/{customer_id}"), update_customer),
    ("DELETE", _team("/customers/{customer_id}"), delete_customer),
    ("GET", _team("/articles"), list_articles),
    ("POST", _team("/articles"), create_article),
    ("GET", _team("/articles/{article_id}"), get_article),
    ("PATCH", _team("/articles/{article_id}"), update_article),
    ("DELETE", _team("/articles/{article_id}"), delete_article),
    ("GET", _team("/webhooks"), list_webhooks),
    ("POST", _team("/webhooks"), create_webhook),
    ("POST", _team("/webhooks/trigger-test"), trigger_test),
    ("GET", _team("/webhooks/{webhook_id}"), get_webhook),
    ("PATCH", _team("/webhooks/{webhook_id}"), update_webhook),
    ("DELETE", _team("/webhooks/{webhook_id}"), delete_webhook),
]
#: ``(method, path, endpoint)`` for every route of this module; each write runs in one transaction
#: with its events and idempotency record.
ROUTES = [(method, path, endpoint if method == "GET" else atomic(endpoint)) for method, path, endpoint in _TABLE]
