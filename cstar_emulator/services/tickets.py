"""Tickets and their messages (reference: "Tickets", "Messages").

Events: ``ticket.created`` (after ``customer.created`` for a customer created inline),
``ticket.updated``, then ``ticket.closed`` when the status became resolved/closed and
``ticket.assigned`` when the assignee changed to someone; ``ticket.message_added``;
``ticket.deleted``. Each ticket event's data is ``{"ticket", "customer"?}`` (+ ``"message"``).
"""

from __future__ import annotations

from typing import Any

from cstar_emulator.db import Database, Scope
from cstar_emulator.envelope import ApiError
from cstar_emulator.ids import iso_now
from cstar_emulator.models import DONE_STATUSES, Resource
from cstar_emulator.repositories.customers import Customers
from cstar_emulator.repositories.messages import Messages
from cstar_emulator.repositories.table import ListQuery
from cstar_emulator.repositories.tickets import Tickets
from cstar_emulator.services._common import changed, found
from cstar_emulator.services.events import EventBus
from cstar_emulator.services.game import GameService

__all__ = ["InlineCustomer", "TicketService"]

#: ``(name, email or None)`` of a customer to find by email or create with a ticket.
InlineCustomer = tuple[str, "str | None"]

_DEFAULT_SENDER_NAMES = {"agent": "Support Agent", "system": "System"}


class TicketService:
    """What the ticket and message endpoints do, in one partition per call."""

    def __init__(
        self,
        db: Database,
        tickets: Tickets,
        customers: Customers,
        messages: Messages,
        bus: EventBus,
        *,
        game: GameService | None = None,
    ) -> None:
        self.db = db
        self.tickets = tickets
        self.customers = customers
        self.messages = messages
        self.bus = bus
        self.game = game

    def page(self, scope: Scope, query: ListQuery, page: int, page_size: int) -> tuple[list[Resource], int]:
        """A page of tickets (newest first; ``query.search`` looks in titles, notes and message text)
        and the total."""
        return self.tickets.page(scope, query, page, page_size)

    def get(self, scope: Scope, ticket_id: str) -> Resource:
        """The ticket with its ``messages`` (oldest first); 404 when ``scope`` has none."""
        ticket = found(self.tickets, scope, ticket_id, "ticket")
        ticket["messages"] = self.messages.of_ticket(scope, ticket_id)
        return ticket

    def create(
        self,
        scope: Scope,
        request_id: str | None,
        fields: dict[str, Any],
        *,
        customer_id: str | None = None,
        inline_customer: InlineCustomer | None = None,
    ) -> Resource:
        """Create a ticket of ``fields`` (columns: ``title``, ``priority``, ``tags``, ``notes``,
        ``metadata``) for ``customer_id`` (400 ``customerId`` when ``scope`` has no such customer) or
        for the ``inline_customer``: the customer with that email, else a new one."""
        with self.db.transaction():
            new_customer: Resource | None = None
            if customer_id is not None:
                if self.customers.get(scope, customer_id) is None:
                    raise ApiError.invalid("customerId", f"No customer with id {customer_id!r}.")
            elif inline_customer is not None:
                name, email = inline_customer
                customer_id = self.customers.id_by_email(scope, email) if email else None
                if customer_id is None:
                    customer_id = self.customers.insert(scope, {"name": name or "Unknown", "email": email})
                    new_customer = self.customers.get(scope, customer_id)
            ticket_id = self.tickets.insert(scope, {**fields, "customer_id": customer_id})
            ticket = found(self.tickets, scope, ticket_id, "ticket")
            if new_customer is not None:
                self.bus.emit(scope, "customer.created", {"customer": new_customer}, request_id)
            self.bus.emit(scope, "ticket.created", self._event_data(scope, ticket), request_id)
        return ticket

    def update(self, scope: Scope, ticket_id: str, request_id: str | None, fields: dict[str, Any]) -> Resource:
        """Apply ``fields`` (columns: ``title``, ``status``, ``priority``, ``assigned_to``, ``tags``,
        ``notes``, and ``metadata``: a patch merged into the stored one, a null value removing its
        key). Entering a done status sets ``resolved_at`` (kept if already set), leaving one clears
        it. Returns the ticket; nothing is written or fired when nothing changed."""
        with self.db.transaction():
            before = found(self.tickets, scope, ticket_id, "ticket")
            diff = changed(before, fields)
            if not diff:
                return before
            closing = diff.get("status") in DONE_STATUSES and before["status"] not in DONE_STATUSES
            if "status" in diff:
                diff["resolved_at"] = (before["resolvedAt"] or iso_now()) if diff["status"] in DONE_STATUSES else None
            self.tickets.update(scope, ticket_id, diff)
            ticket = found(self.tickets, scope, ticket_id, "ticket")
            data = self._event_data(scope, ticket)
            self.bus.emit(scope, "ticket.updated", data, request_id)
            if closing:
                self.bus.emit(scope, "ticket.closed", data, request_id)
            if diff.get("assigned_to"):
                self.bus.emit(scope, "ticket.assigned", data, request_id)
            if closing and self.game is not None:
                # The agent's XP and the boss's damage commit (or roll back) with the close.
                self.game.ticket_closed(scope, ticket, request_id)
        return ticket

    def delete(self, scope: Scope, ticket_id: str, request_id: str | None) -> Resource:
        """Delete the ticket and its messages; returns ``{"id", "deleted": true}``."""
        with self.db.transaction():
            ticket = found(self.tickets, scope, ticket_id, "ticket")
            data = self._event_data(scope, ticket)
            self.messages.delete_of_ticket(ticket_id)
            self.tickets.delete(scope, ticket_id)
            self.bus.emit(scope, "ticket.deleted", data, request_id)
        return {"id": ticket_id, "deleted": True}

    def messages_of(self, scope: Scope, ticket_id: str) -> list[Resource]:
        """The ticket's messages, oldest first; 404 when ``scope`` has no such ticket."""
        found(self.tickets, scope, ticket_id, "ticket")
        return self.messages.of_ticket(scope, ticket_id)

    def add_message(
        self,
        scope: Scope,
        ticket_id: str,
        request_id: str | None,
        *,
        content: str,
        sender: str,
        sender_name: str | None,
        is_internal: bool,
    ) -> Resource:
        """Add a message to the ticket (and touch its ``updatedAt``). Without ``sender_name``: "Support
        Agent", "System", or the ticket's customer's name ("Customer" when it has none)."""
        with self.db.transaction():
            ticket = found(self.tickets, scope, ticket_id, "ticket")
            if sender_name is None:
                customer = self._customer(scope, ticket["customerId"])
                sender_name = _DEFAULT_SENDER_NAMES.get(sender, customer["name"] if customer else "Customer")
            now = iso_now()
            message_id = self.messages.insert(
                scope,
                {
                    "ticket_id": ticket_id,
                    "content": content,
                    "sender": sender,
                    "sender_name": sender_name,
                    "is_internal": is_internal,
                },
                created_at=now,
            )
            self.tickets.touch(ticket_id, now)
            message = found(self.messages, scope, message_id, "message")
            data = self._event_data(scope, found(self.tickets, scope, ticket_id, "ticket"))
            data["message"] = message
            self.bus.emit(scope, "ticket.message_added", data, request_id)
        return message

    def _customer(self, scope: Scope, customer_id: str | None) -> Resource | None:
        return self.customers.get(scope, customer_id) if customer_id else None

    def _event_data(self, scope: Scope, ticket: Resource) -> dict[str, Any]:
        data: dict[str, Any] = {"ticket": ticket}
        customer = self._customer(scope, ticket.get("customerId"))
        if customer is not None:
            data["customer"] = customer
        return data
