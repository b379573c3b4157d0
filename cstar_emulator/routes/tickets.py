"""``/tickets`` and ``/tickets/{id}/messages`` (reference: "Tickets", "Messages")."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from cstar_emulator import models
from cstar_emulator import validate as v
from cstar_emulator.envelope import ok, page_meta
from cstar_emulator.repositories.table import ListQuery
from cstar_emulator.routes._fields import documented, ticket_customer, ticket_fields
from cstar_emulator.routes._http import TEAM, api_routes, caller

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
    """``POST /tickets``: ``title`` required; ``customerId``, or ``customerName`` and/or
    ``customerEmail`` to find (by email) or create the customer inline."""
    c = caller(request)
    body = await v.body(request)
    fields = ticket_fields(documented(body, "createTicket"), True)
    customer_id, inline = ticket_customer(body)
    ticket = c.emulator.tickets.create(c.scope, c.request_id, fields, customer_id=customer_id, inline_customer=inline)
    return ok(request, ticket, status=201)


async def update_ticket(request: Request) -> Response:
    """``PATCH /tickets/{id}``: any of title, status, priority, assignedTo, tags, notes, metadata
    (merged)."""
    c = caller(request)
    fields = ticket_fields(await v.body(request), False)
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
