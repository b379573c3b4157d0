"""Customers (reference: "Customers"). Events: ``customer.created``, ``customer.updated`` (only when
something changed), ``customer.deleted``; data ``{"customer"}``."""

from __future__ import annotations

import sqlite3
from typing import Any

from cstar_emulator.db import Database, Scope
from cstar_emulator.envelope import ApiError
from cstar_emulator.models import Resource
from cstar_emulator.repositories.customers import Customers
from cstar_emulator.repositories.table import ListQuery
from cstar_emulator.repositories.tickets import Tickets
from cstar_emulator.services._common import changed, found
from cstar_emulator.services.events import EventBus

__all__ = ["CustomerService"]


def _email_taken(email: str) -> ApiError:
    return ApiError(409, "email_already_exists", f"A customer with email {email!r} already exists.", field="email")


class CustomerService:
    """What the customer endpoints do, in one partition per call."""

    def __init__(self, db: Database, customers: Customers, tickets: Tickets, bus: EventBus) -> None:
        self.db = db
        self.customers = customers
        self.tickets = tickets
        self.bus = bus

    def page(self, scope: Scope, query: ListQuery, page: int, page_size: int) -> tuple[list[Resource], int]:
        """A page of customers (newest first; ``query.search`` looks in name and email) and the total."""
        return self.customers.page(scope, query, page, page_size)

    def get(self, scope: Scope, customer_id: str) -> Resource:
        """The customer; 404 when ``scope`` has none."""
        return found(self.customers, scope, customer_id, "customer")

    def create(self, scope: Scope, request_id: str | None, fields: dict[str, Any]) -> Resource:
        """Create a customer of ``fields`` (columns: ``name``, ``email``, ``tags``, ``notes``,
        ``metadata``). 409 ``email_already_exists`` when ``scope`` has that email (any case)."""
        with self.db.transaction():
            try:
                customer_id = self.customers.insert(scope, fields)
            except sqlite3.IntegrityError:
                raise _email_taken(fields["email"]) from None
            customer = found(self.customers, scope, customer_id, "customer")
            self.bus.emit(scope, "customer.created", {"customer": customer}, request_id)
        return customer

    def update(self, scope: Scope, customer_id: str, request_id: str | None, fields: dict[str, Any]) -> Resource:
        """Apply ``fields`` (columns: ``name``, ``email``, ``status``, ``sentiment``, ``tags``,
        ``notes``, and ``metadata``: a patch merged into the stored one). 409 on a taken email."""
        with self.db.transaction():
            before = found(self.customers, scope, customer_id, "customer")
            diff = changed(before, fields)
            if not diff:
                return before
            try:
                self.customers.update(scope, customer_id, diff)
            except sqlite3.IntegrityError:
                raise _email_taken(diff.get("email", "")) from None
            customer = found(self.customers, scope, customer_id, "customer")
            self.bus.emit(scope, "customer.updated", {"customer": customer}, request_id)
        return customer

    def delete(self, scope: Scope, customer_id: str, request_id: str | None) -> Resource:
        """Delete the customer; its tickets are kept but unlinked. Returns ``{"id", "deleted": true}``."""
        with self.db.transaction():
            customer = found(self.customers, scope, customer_id, "customer")
            self.tickets.unlink_customer(customer_id)
            self.customers.delete(scope, customer_id)
            self.bus.emit(scope, "customer.deleted", {"customer": customer}, request_id)
        return {"id": customer_id, "deleted": True}
