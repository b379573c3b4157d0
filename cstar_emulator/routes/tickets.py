"""``/tickets`` and ``/tickets/{id}/messages`` (reference: "Tickets", "Messages")."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from cstar_emulator import models
from cstar_emulator import validate as v
from cstar_emulator.envelope import ApiError, ok, page_meta
from cstar_emulator.repositories.table import ListQuery
from cstar_emulator.routes._http import TEAM, api_routes, caller, shared_fields
from cstar_emulator.services.tickets import InlineCustomer

__all__ = ["ROUTES"]


async def list_tickets(request: Request) -> Response:
    """``GET /tickets?status&priority&search&customerId&page&pageSize``, newest first. ``search``
    looks in titles, notes and message text."""
    c = caller(request)
    page, size = v.page_params(request)
    query = ListQuery(
        {
            "status": v.query_choice(request, "status", models.TICKET_STATUSES),
            "priority": v.query_choice(request, "priority", models.PRIORITIES),
            "customer_id": request.query_params.get("customerId") or None,
        },
        request.query_params.get("search"),
    )
    data, total = c.emulator.tickets.page(c.scope, query, page, size)
    return ok(request, data, pagination=page_meta(page, size, total))


async def get_ticket(request: Request) -> Response:
    """``GET /tickets/{id}``: the ticket with its ``messages``."""
    c = caller(request)
    return ok(request, c.emulator.tickets.get(c.scope, request.path_params["ticket_id"]))


async def create_ticket(request: Request) -> Response:
    """``POST /tickets``: ``title`` required; ``customerId``, or ``customerName`` (+ optional
    ``customerEmail``) to find or create the customer inline."""
    c = caller(request)
    body = await v.body(request)
    fields: dict[str, Any] = {
        "title": v.text(v.require(body, "title"), "title") or "",
        "priority": v.choice(body.get("priority") or "normal", "priority", models.PRIORITIES),
        **shared_fields(body, creating=True),
    }
    customer_id: str | None = None
    inline: InlineCustomer | None = None
    if body.get("customerId") is not None:
        customer_id = v.text(body["customerId"], "customerId")
    elif body.get("customerName") is not None:
        name = v.text(body["customerName"], "customerName") or ""
        email = v.text(body.get("customerEmail"), "customerEmail", nullable=True) or None
        if email is not None and "@" not in email:
            raise ApiError.invalid("customerEmail", "customerEmail must be an email address.")
        inline = (name, email)
    ticket = c.emulator.tickets.create(c.scope, c.request_id, fields, customer_id=customer_id, inline_customer=inline)
    return ok(request, ticket, status=201)


async def update_ticket(request: Request) -> Response:
    """``PATCH /tickets/{id}``: any of title, status, priority, assignedTo, tags, notes, metadata
    (merged)."""
    c = caller(request)
    body = await v.body(request)
    fields: dict[str, Any] = {}
    if "title" in body:
        fields["title"] = v.text(v.require(body, "title"), "title")
    if "status" in body:
        fields["status"] = v.choice(body["status"], "status", models.TICKET_STATUSES)
    if "priority" in body:
        fields["priority"] = v.choice(body["priority"], "priority", models.PRIORITIES)
    if "assignedTo" in body:
        fields["assigned_to"] = v.text(body["assignedTo"], "assignedTo", nullable=True) or None
    fields |= shared_fields(body, creating=False)
    return ok(request, c.emulator.tickets.update(c.scope, request.path_params["ticket_id"], c.request_id, fields))


async def delete_ticket(request: Request) -> Response:
    """``DELETE /tickets/{id}``: the ticket and its messages."""
    c = caller(request)
    return ok(request, c.emulator.tickets.delete(c.scope, request.path_params["ticket_id"], c.request_id))


async def list_messages(request: Request) -> Response:
    """``GET /tickets/{id}/messages``: oldest first."""
    c = caller(request)
    return ok(request, c.emulator.tickets.messages_of(c.scope, request.path_params["ticket_id"]))


async def create_message(request: Request) -> Response:
    """``POST /tickets/{id}/messages``: ``content`` required; ``sender`` (default agent),
    ``senderName``, ``isInternal``."""
    c = caller(request)
    body = await v.body(request)
    content = v.text(v.require(body, "content"), "content") or ""
    sender = v.choice(body.get("sender") or "agent", "sender", models.SENDERS)
    sender_name = v.text(body.get("senderName"), "senderName", nullable=True) or None
    is_internal = v.flag(body["isInternal"], "isInternal") if body.get("isInternal") is not None else False
    message = c.emulator.tickets.add_message(
        c.scope,
        request.path_params["ticket_id"],
        c.request_id,
        content=content,
        sender=sender,
        sender_name=sender_name,
        is_internal=is_internal,
    )
    return ok(request, message, status=201)


ROUTES = api_routes(
    TEAM,
    [
        ("GET", "/tickets", list_tickets),
        ("POST", "/tickets", create_ticket),
        ("GET", "/tickets/{ticket_id}", get_ticket),
        ("PATCH", "/tickets/{ticket_id}", update_ticket),
        ("DELETE", "/tickets/{ticket_id}", delete_ticket),
        ("GET", "/tickets/{ticket_id}/messages", list_messages),
        ("POST", "/tickets/{ticket_id}/messages", create_message),
    ],
)
