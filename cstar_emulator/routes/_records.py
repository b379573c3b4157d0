"""Parsing resource fields out of plain objects for the endpoints that take many at once (bulk
``data``, import ``records``) with the resources' own parsers (:mod:`cstar_emulator.routes._fields`);
plus the OpenAPI-driven checks of a whole request body and of key types.

Each parser returns the fields keyed by column, as the resource services take them.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from typing import Any

from cstar_cli.protocol import openapi
from cstar_emulator.envelope import ApiError
from cstar_emulator.routes._fields import PARSERS, ticket_customer
from cstar_emulator.routes._http import Caller
from cstar_emulator.services.auth import require_secret
from cstar_emulator.services.tickets import InlineCustomer
from cstar_emulator.services.transfer import ImportRecord

__all__ = [
    "READ_ONLY",
    "UPDATABLE",
    "checked_body",
    "create_fields",
    "key_types",
    "prefixed",
    "update_fields",
]

#: Fields an exported object carries that the server sets; an imported record may hold them.
READ_ONLY = frozenset(
    {"id", "object", "createdAt", "updatedAt", "resolvedAt", "messageCount", "ticketCount", "viewCount", "useCount"}
)

#: The fields each resource's update (PATCH, bulk ``data``) accepts.
UPDATABLE: dict[str, frozenset[str]] = {
    "tickets": frozenset({"title", "status", "priority", "assignedTo", "tags", "notes", "metadata"}),
    "customers": frozenset({"name", "email", "status", "sentiment", "tags", "notes", "metadata"}),
    "articles": frozenset({"title", "content", "category", "status", "isPublic", "tags", "metadata"}),
}


def prefixed(prefix: str, parse: Callable[[], Any]) -> Any:
    """``parse()``, its 400 errors' ``field`` (and message) put under ``prefix`` (``data``,
    ``records[3]``)."""
    try:
        return parse()
    except ApiError as e:
        if e.status != 400 or e.field is None:
            raise
        raise ApiError.invalid(f"{prefix}.{e.field}", f"{prefix}: {e.message}") from None


def update_fields(resource: str, data: Mapping[str, Any], *, strict: bool, prefix: str) -> dict[str, Any]:
    """The columns an update of ``resource`` (``tickets``…) with the API fields ``data`` sets.
    ``metadata`` stays a patch (checked against the stored one by the service). With ``strict``, a
    field the update does not accept is a 400 naming ``<prefix>.<field>``."""
    if strict:
        for name in data:
            if name not in UPDATABLE[resource]:
                allowed = ", ".join(sorted(UPDATABLE[resource]))
                raise ApiError.invalid(f"{prefix}.{name}", f"{prefix}.{name} cannot be updated (allowed: {allowed}).")
    known = {k: val for k, val in data.items() if k in UPDATABLE[resource]}
    fields: dict[str, Any] = prefixed(prefix, lambda: PARSERS[resource](known, False))
    return fields


def create_fields(resource: str, index: int, record: Any) -> ImportRecord:
    """Parse import record ``index`` of ``resource``; never raises for bad input (the error is in
    the result). Server-set fields (:data:`READ_ONLY`) and unknown fields are ignored."""
    prefix = f"records[{index}]"
    if not isinstance(record, dict):
        return ImportRecord(index, error={"index": index, "field": prefix, "message": f"{prefix} must be an object."})
    try:
        record_id = record.get("id")
        if record_id is not None and not isinstance(record_id, str):
            raise ApiError.invalid(f"{prefix}.id", f"{prefix}.id must be a string.")
        fields: dict[str, Any] = prefixed(prefix, lambda: PARSERS[resource](record, True))
        patch = update_fields(resource, record, strict=False, prefix=prefix)
        customer_id: str | None = None
        inline: InlineCustomer | None = None
        if resource == "tickets":
            customer_id, inline = prefixed(prefix, lambda: ticket_customer(record))
        return ImportRecord(index, record_id, fields, patch, customer_id, inline)
    except ApiError as e:
        return ImportRecord(index, error={"index": index, "field": e.field, "message": e.message})


@functools.cache
def _body_schema(operation_id: str) -> Mapping[str, Any]:
    schema = openapi.request_body_schema(operation_id)
    assert schema is not None, operation_id
    return schema


def _location(path: Any) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def checked_body(body: dict[str, Any], operation_id: str) -> dict[str, Any]:
    """``body`` when it satisfies the operation's request-body schema in the OpenAPI document
    (required fields, types, enums, item limits); else 400 ``INVALID_FIELD`` naming the first
    offending field (``ids``, ``resources[0].type``)."""
    validator = openapi.validator(_body_schema(operation_id))
    errors = sorted(validator.iter_errors(body), key=lambda e: (len(e.absolute_path), _location(e.absolute_path)))
    if errors:
        err = errors[0]
        where = _location(err.absolute_path)
        if err.validator == "required":
            missing = next((name for name in err.validator_value if name not in err.instance), None)
            field = f"{where}.{missing}" if where else str(missing)
            raise ApiError.invalid(field, f"{field} is required.")
        field = where or "body"
        if err.validator == "enum":
            options = ", ".join(map(str, err.validator_value))
            raise ApiError.invalid(field, f"{field} must be one of: {options} (got {err.instance!r}).")
        raise ApiError.invalid(field, _problem(field, err.validator, err.validator_value, err.message))
    return body


def _problem(field: str, keyword: Any, expected: Any, message: str) -> str:
    # jsonschema's own messages quote the offending value, which may be large.
    if keyword == "type":
        return f"{field} must be of type {expected}."
    if keyword == "maxItems":
        return f"{field} may hold at most {expected} items."
    if keyword == "minItems":
        return f"{field} must hold at least {expected} item{'s' if expected != 1 else ''}."
    return f"{field}: {message[:200]}."


def key_types(c: Caller, operation_id: str, what: str) -> None:
    """403 ``secret_key_required`` when the OpenAPI document lists only secret keys for the
    operation (``x-cstar-key-types``) and ``c`` holds a publishable one. ``what`` names the call."""
    if "publishable" not in openapi.operation(operation_id).get("x-cstar-key-types", ["secret"]):
        require_secret(c.key, what)
