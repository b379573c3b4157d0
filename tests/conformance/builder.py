"""Request values built from the OpenAPI document's schemas alone.

``example_value(schema, name)`` gives one valid value for a schema: its ``example``, ``const``,
first ``enum`` value or ``default``, else a value of its ``type`` within its limits (strings are
unique per call, so names, keys and emails never collide). ``body_for(operation_id)`` is the body
with every required field of the operation's request schema; an update with no required field gets
one field, so it changes something.
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Mapping
from typing import Any

from cstar_cli.protocol import openapi
from tests.conformance import extensions

__all__ = ["body_for", "bogus_enum_value", "enum_fields", "example_value", "required_fields", "unique"]

_counter = itertools.count(1)


def unique(stem: str) -> str:
    """``conformance_<stem>_<n>``: a fresh string for each call in this process."""
    return f"conformance_{stem}_{next(_counter)}"


def _types(schema: Mapping[str, Any]) -> list[str]:
    kind = schema.get("type", "object" if "properties" in schema else "string")
    return list(kind) if isinstance(kind, list) else [kind]


def example_value(schema: Mapping[str, Any], name: str = "value") -> Any:
    """One value ``schema`` (a schema of the document, ``$ref`` allowed) accepts; ``name`` is the
    field's name, used to make strings recognisable and to spot emails."""
    schema = openapi.resolve(schema)
    for key in ("example", "const"):
        if key in schema:
            return schema[key]
    if schema.get("enum"):
        return schema["enum"][0]
    if "default" in schema:
        return schema["default"]
    kind = next((t for t in _types(schema) if t != "null"), "string")
    if kind == "string":
        fmt = schema.get("format")
        if fmt == "uuid":
            return str(uuid.uuid4())
        if fmt == "email" or "email" in name.lower():
            return f"{unique(name)}@example.com"
        if fmt == "uri" or str(schema.get("pattern", "")).startswith("^https://"):
            return f"https://example.com/{unique(name)}"
        if fmt == "date-time":
            return "2026-01-01T00:00:00Z"
        return schema.get("x-id-prefix", "") + unique(name)
    if kind in ("integer", "number"):
        low = schema.get("minimum", 1)
        high = schema.get("maximum", max(low, 1))
        return min(max(low, 1), high)
    if kind == "boolean":
        return True
    if kind == "array":
        items = schema.get("items", {"type": "string"})
        return [example_value(items, name) for _ in range(max(1, schema.get("minItems", 1)))]
    if kind == "object":
        props = schema.get("properties", {})
        return {field: example_value(props[field], field) for field in schema.get("required", []) if field in props}
    return None


def required_fields(operation_id: str) -> list[str]:
    """The required top-level fields of the operation's JSON request body ([] without a body)."""
    schema = extensions.request_body_schema(operation_id)
    return list(openapi.resolve(schema).get("required", [])) if schema else []


def enum_fields(operation_id: str) -> list[str]:
    """Top-level body fields whose schema is an ``enum`` of strings."""
    schema = extensions.request_body_schema(operation_id)
    if not schema:
        return []
    props = openapi.resolve(schema).get("properties", {})
    return [name for name, prop in props.items() if openapi.resolve(prop).get("enum")]


def bogus_enum_value(values: list[Any]) -> str:
    """A string that is none of ``values``."""
    candidate = "not_a_valid_value"
    while candidate in values:
        candidate += "_"
    return candidate


def _pick_update_field(props: Mapping[str, Any]) -> str | None:
    """The field an update without required fields sets: an enum, else a boolean, else a string."""
    for wanted in ("enum", "boolean", "string"):
        for name, prop in props.items():
            prop = openapi.resolve(prop)
            if (wanted == "enum" and prop.get("enum")) or (wanted != "enum" and _types(prop) == [wanted]):
                return name
    return None


def body_for(operation_id: str) -> dict[str, Any] | None:
    """A JSON body for the operation from its request schema (None when it takes none): every
    required field; a PATCH with no required field gets one field (see ``_pick_update_field``)."""
    schema = extensions.request_body_schema(operation_id)
    if schema is None:
        return None
    schema = openapi.resolve(schema)
    props = schema.get("properties", {})
    body = {name: example_value(props.get(name, {}), name) for name in schema.get("required", [])}
    if not body and _method(operation_id) == "PATCH":
        field = _pick_update_field(props)
        if field is not None:
            body[field] = example_value(props[field], field)
    return body


def _method(operation_id: str) -> str:
    known = extensions.OPERATIONS.get(operation_id)
    return known.method if known else next(op.method for op in openapi.operations() if op.operation_id == operation_id)
