"""The field rules of tickets, customers and articles: one parser a resource, used by their own
create and update endpoints and by the endpoints that take many objects at once (bulk ``data``,
import ``records``), so every way in checks a field the same way and with the same limits.

A parser takes the API fields of one object (a JSON body or record) and returns the columns they
set, as the resource services take them; a bad value is a 400 ``INVALID_FIELD`` naming the field.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from typing import Any

from cstar_cli.protocol import openapi
from cstar_emulator import models
from cstar_emulator import validate as v
from cstar_emulator.envelope import ApiError
from cstar_emulator.routes._http import shared_fields
from cstar_emulator.services.tickets import InlineCustomer

__all__ = ["PARSERS", "Parser", "article_fields", "customer_fields", "documented", "ticket_customer", "ticket_fields"]

#: ``parser(fields, creating)`` → columns. ``creating``: the object's required fields must be there
#: and defaults apply; otherwise only the fields present are parsed (an update).
Parser = Callable[[Mapping[str, Any], bool], dict[str, Any]]


def _email(value: Any) -> str:
    email = v.text(value, "email") or ""
    if "@" not in email or email.startswith("@") or email.endswith("@"):
        raise ApiError.invalid("email", f"email must be an email address (got {email!r}).")
    return email


def ticket_fields(body: Mapping[str, Any], creating: bool) -> dict[str, Any]:
    """``title`` (required on create), ``status``, ``priority`` (default ``normal``), ``assignedTo``
    (blank: unassigned), ``tags``, ``notes``, ``metadata``."""
    fields: dict[str, Any] = {}
    if creating or "title" in body:
        fields["title"] = v.text(v.require(dict(body), "title"), "title")
    if "status" in body:
        fields["status"] = v.choice(body["status"], "status", models.TICKET_STATUSES)
    if creating:
        fields["priority"] = v.choice(body.get("priority") or "normal", "priority", models.PRIORITIES)
    elif "priority" in body:
        fields["priority"] = v.choice(body["priority"], "priority", models.PRIORITIES)
    if "assignedTo" in body:
        fields["assigned_to"] = v.text(body["assignedTo"], "assignedTo", nullable=True) or None
    return fields | shared_fields(dict(body), creating=creating)


def customer_fields(body: Mapping[str, Any], creating: bool) -> dict[str, Any]:
    """``name`` and ``email`` (both required on create), ``status``, ``sentiment``, ``tags``,
    ``notes``, ``metadata``."""
    fields: dict[str, Any] = {}
    if creating or "name" in body:
        fields["name"] = v.text(v.require(dict(body), "name"), "name")
    if creating or "email" in body:
        fields["email"] = _email(v.require(dict(body), "email"))
    if "status" in body:
        fields["status"] = v.choice(body["status"], "status", models.CUSTOMER_STATUSES)
    if "sentiment" in body:
        fields["sentiment"] = v.choice(body["sentiment"], "sentiment", models.SENTIMENTS)
    return fields | shared_fields(dict(body), creating=creating)


def article_fields(body: Mapping[str, Any], creating: bool) -> dict[str, Any]:
    """``title`` (required on create), ``content`` (at most ``MAX_ARTICLE_CONTENT`` characters),
    ``category``, ``status``, ``isPublic``, ``tags``, ``metadata``."""
    fields: dict[str, Any] = {}
    if creating or "title" in body:
        fields["title"] = v.text(v.require(dict(body), "title"), "title")
    if "content" in body:
        fields["content"] = v.text(body["content"], "content", max_len=v.MAX_ARTICLE_CONTENT, nullable=True) or ""
    if "category" in body:
        fields["category"] = v.text(body["category"], "category", nullable=True) or None
    if "status" in body:
        fields["status"] = v.choice(body["status"], "status", models.ARTICLE_STATUSES)
    if "isPublic" in body:
        fields["is_public"] = v.flag(body["isPublic"], "isPublic")
    return fields | shared_fields(dict(body), creating=creating, notes=False)


#: The parser of each resource, by its path name.
PARSERS: dict[str, Parser] = {
    "tickets": ticket_fields,
    "customers": customer_fields,
    "articles": article_fields,
}


def ticket_customer(body: Mapping[str, Any]) -> tuple[str | None, InlineCustomer | None]:
    """Whom a new ticket is for: ``customerId``, else ``(customerName, customerEmail)`` (either
    may be absent) to find the customer by email or create one; ``(None, None)`` when none is named."""
    if body.get("customerId") is not None:
        return v.text(body["customerId"], "customerId"), None
    if body.get("customerName") is not None or body.get("customerEmail") is not None:
        email = v.text(body.get("customerEmail"), "customerEmail", nullable=True) or None
        if email is not None and "@" not in email:
            raise ApiError.invalid("customerEmail", "customerEmail must be an email address.")
        name = v.text(body.get("customerName"), "customerName", nullable=True) or ""
        return None, (name, email)
    return None, None


@functools.cache
def _declared(operation_id: str) -> frozenset[str]:
    schema = openapi.resolve(openapi.request_body_schema(operation_id) or {})
    return frozenset(schema.get("properties", {}))


def documented(body: Mapping[str, Any], operation_id: str) -> dict[str, Any]:
    """The fields of ``body`` the operation's request body declares in the OpenAPI document (what
    ``POST /tickets`` takes is less than an imported ticket may carry); the rest are ignored."""
    declared = _declared(operation_id)
    return {name: value for name, value in body.items() if name in declared}
