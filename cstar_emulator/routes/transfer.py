"""``/bulk``, ``/export`` and ``/import`` (reference: "Bulk Operations", "Export", "Import"). Bodies
are checked against the OpenAPI document's schemas first (required fields, enums, item limits),
then each resource field with the rules of the resource's own endpoints."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from cstar_emulator import models
from cstar_emulator import validate as v
from cstar_emulator.envelope import ApiError, ok, page_meta
from cstar_emulator.repositories.table import ListQuery
from cstar_emulator.routes._http import TEAM, api_routes, caller
from cstar_emulator.routes._records import checked_body, create_fields, key_types, update_fields
from cstar_emulator.services.transfer import ExportSpec

__all__ = ["EXPORT_FILTERS", "ROUTES"]


async def bulk(request: Request) -> Response:
    """``POST /bulk {"action": "update"|"delete", "resource", "ids": [≤100], "data"?}``: ``data``
    (required to update) takes the fields the resource's PATCH takes."""
    c = caller(request)
    body = checked_body(await v.body(request), "runBulkOperation")
    ids = [v.text(i, "ids", max_len=v.MAX_TEXT["customerId"]) or "" for i in body["ids"]]
    fields: dict[str, Any] | None = None
    if body["action"] == "update":
        data = body.get("data")
        if not data:
            raise ApiError.invalid("data", "data is required to update: the fields to set on every item.")
        fields = update_fields(body["resource"], data, strict=True, prefix="data")
    result = c.emulator.bulk.run(
        c.scope, c.request_id, action=body["action"], resource=body["resource"], ids=ids, fields=fields
    )
    return ok(request, result)


#: The filters an export may give each resource: API name → (column, allowed values or None).
EXPORT_FILTERS: dict[str, dict[str, tuple[str, tuple[str, ...] | None]]] = {
    "tickets": {
        "status": ("status", models.TICKET_STATUSES),
        "priority": ("priority", models.PRIORITIES),
        "customerId": ("customer_id", None),
        "assignedTo": ("assigned_to", None),
    },
    "customers": {"status": ("status", models.CUSTOMER_STATUSES), "sentiment": ("sentiment", models.SENTIMENTS)},
    "articles": {
        "status": ("status", models.ARTICLE_STATUSES),
        "category": ("category", None),
        "isPublic": ("is_public", None),
    },
}


def _export_spec(index: int, item: dict[str, Any]) -> ExportSpec:
    kind = item["type"]
    filters = item.get("filters") or {}
    allowed = EXPORT_FILTERS[kind]
    equals: dict[str, object] = {}
    search: str | None = None
    for name, value in filters.items():
        field = f"resources[{index}].filters.{name}"
        if name == "search":
            search = v.text(value, field, nullable=True)
            continue
        if name not in allowed:
            names = ", ".join([*allowed, "search"])
            raise ApiError.invalid(field, f"{field} is not a filter of {kind} (filters: {names}).")
        column, choices = allowed[name]
        if value is None:
            continue
        if name == "isPublic":
            equals[column] = int(v.flag(value, field))
        elif choices is not None:
            equals[column] = v.choice(value, field, choices)
        else:
            equals[column] = v.text(value, field, max_len=v.MAX_TEXT["customerId"] if name != "category" else 200)
    return ExportSpec(kind, ListQuery(equals, search))


async def export(request: Request) -> Response:
    """``POST /export {"resources": [{"type", "filters"?}], "format": "json"|"csv"}`` (json by
    default); filters are the resource's list filters (and ``search``). Each type at most once."""
    c = caller(request)
    body = checked_body(await v.body(request), "createExport")
    if not body["resources"]:
        raise ApiError.invalid("resources", "resources must name at least one of tickets, customers, articles.")
    specs = [_export_spec(i, item) for i, item in enumerate(body["resources"])]
    kinds = [s.type for s in specs]
    if len(set(kinds)) != len(kinds):
        raise ApiError.invalid("resources", "resources names a type more than once; give each type once.")
    return ok(request, c.emulator.transfer.export(c.scope, specs, body.get("format") or "json"))


async def create_import(request: Request) -> Response:
    """``POST /import {"resource", "records": [≤500], "mergeStrategy": "skip"|"overwrite"|"merge"}``
    (skip by default). Records take the fields of the resource's create endpoint."""
    c = caller(request)
    body = checked_body(await v.body(request), "createImport")
    resource = body["resource"]
    records = [create_fields(resource, i, r) for i, r in enumerate(body["records"])]
    result = c.emulator.transfer.import_records(
        c.scope, c.request_id, resource, records, body.get("mergeStrategy") or "skip"
    )
    return ok(request, result)


async def list_imports(request: Request) -> Response:
    """``GET /import?page&pageSize``: past imports, newest first."""
    c = caller(request)
    key_types(c, "listImports", "Reading import history")
    page, size = v.page_params(request)
    data, total = c.emulator.transfer.history(c.scope, page, size)
    return ok(request, data, pagination=page_meta(page, size, total))


ROUTES = api_routes(
    TEAM,
    [
        ("POST", "/bulk", bulk),
        ("POST", "/export", export),
        ("POST", "/import", create_import),
        ("GET", "/import", list_imports),
    ],
)
