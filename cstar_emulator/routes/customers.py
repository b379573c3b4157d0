"""``/customers`` (reference: "Customers")."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from cstar_emulator import models
from cstar_emulator import validate as v
from cstar_emulator.envelope import ok, page_meta
from cstar_emulator.repositories.table import ListQuery
from cstar_emulator.routes._fields import customer_fields, documented
from cstar_emulator.routes._http import TEAM, api_routes, caller

__all__ = ["ROUTES"]


async def list_customers(request: Request) -> Response:
    """``GET /customers?status&sentiment&search&page&pageSize`` (search: name or email)."""
    c = caller(request)
    page, size = v.page_params(request)
    query = ListQuery(
        {
            "status": v.query_choice(request, "status", models.CUSTOMER_STATUSES),
            "sentiment": v.query_choice(request, "sentiment", models.SENTIMENTS),
        },
        request.query_params.get("search"),
    )
    data, total = c.emulator.customers.page(c.scope, query, page, size)
    return ok(request, data, pagination=page_meta(page, size, total))


async def get_customer(request: Request) -> Response:
    """``GET /customers/{id}``."""
    c = caller(request)
    return ok(request, c.emulator.customers.get(c.scope, request.path_params["customer_id"]))


async def create_customer(request: Request) -> Response:
    """``POST /customers``: ``name`` and ``email`` required, email unique per team and mode (409)."""
    c = caller(request)
    fields = customer_fields(documented(await v.body(request), "createCustomer"), True)
    return ok(request, c.emulator.customers.create(c.scope, c.request_id, fields), status=201)


async def update_customer(request: Request) -> Response:
    """``PATCH /customers/{id}``: name, email, status, sentiment, tags, notes, metadata (merged)."""
    c = caller(request)
    fields = customer_fields(await v.body(request), False)
    return ok(request, c.emulator.customers.update(c.scope, request.path_params["customer_id"], c.request_id, fields))


async def delete_customer(request: Request) -> Response:
    """``DELETE /customers/{id}``: tickets are kept but unlinked."""
    c = caller(request)
    return ok(request, c.emulator.customers.delete(c.scope, request.path_params["customer_id"], c.request_id))


ROUTES = api_routes(
    TEAM,
    [
        ("GET", "/customers", list_customers),
        ("POST", "/customers", create_customer),
        ("GET", "/customers/{customer_id}", get_customer),
        ("PATCH", "/customers/{customer_id}", update_customer),
        ("DELETE", "/customers/{customer_id}", delete_customer),
    ],
)
