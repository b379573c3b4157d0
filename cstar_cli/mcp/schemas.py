"""The published output schemas, made small: every tool's schema is sent to the client on each
``tools/list``, and a client may put it in the model's context, so it says what the result holds
(field names, types, nesting) and nothing twice.

From the schema pydantic derives for a result type (:mod:`cstar_cli.mcp.outputs`),
:func:`compact_output_schema` drops what repeats or restates: titles (the field names say it),
descriptions (the tool's description and the result's own ``note`` say what matters), ``required``
lists (every field of every result is always present, null when unknown), and a ``$defs`` entry
used once (inlined). A nullable type becomes one schema, e.g. ``{"type": ["string", "null"]}``. What a result may
hold is unchanged: the compact schema accepts exactly the documents the full one accepts, apart
from a missing field, which no result has (the server checks each one against the full type).
"""

from __future__ import annotations

import json
from typing import Any

__all__ = ["compact_output_schema"]

_DEFS = "#/$defs/"
_DROPPED = frozenset({"title", "description", "required"})


def _nullable(schema: dict[str, Any]) -> dict[str, Any]:
    options = schema.get("anyOf")
    if not (isinstance(options, list) and len(options) == 2 and options[1] == {"type": "null"}):
        return schema
    first = options[0]
    rest = {k: v for k, v in schema.items() if k != "anyOf"}
    if isinstance(first, dict) and isinstance(first.get("type"), str) and not set(first) & set(rest):
        # `properties`, `items` and the like constrain only the non-null type, so they can stay.
        return {**rest, **first, "type": [first["type"], "null"]}
    return schema


def _compact(node: Any, defs: dict[str, Any], uses: dict[str, int]) -> Any:
    if isinstance(node, list):
        return [_compact(item, defs, uses) for item in node]
    if not isinstance(node, dict):
        return node
    ref = node.get("$ref")
    if isinstance(ref, str) and ref.startswith(_DEFS) and uses.get(ref[len(_DEFS) :]) == 1:
        # Used once: the definition in place is shorter than the reference plus the entry.
        return _compact(defs[ref[len(_DEFS) :]], defs, uses)
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key in _DROPPED:
            continue
        if key in ("properties", "$defs"):
            # Property and definition names are data here, not keywords: walk their values only.
            out[key] = {name: _compact(sub, defs, uses) for name, sub in value.items()}
        else:
            out[key] = _compact(value, defs, uses)
    if out.get("additionalProperties") is True:
        del out["additionalProperties"]  # the default: says nothing
    return _nullable(out)


def compact_output_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """The compact form of a pydantic-derived JSON Schema (see the module docstring); ``schema``
    itself is left unchanged. Keeps the object root an MCP ``outputSchema`` needs."""
    defs: dict[str, Any] = schema.get("$defs") or {}
    text = json.dumps(schema)
    uses = {name: text.count(f'"{_DEFS}{name}"') for name in defs}
    root = {k: v for k, v in schema.items() if k != "$defs"}
    out: dict[str, Any] = _compact(root, defs, uses)
    shared = {name: _compact(defs[name], defs, uses) for name in defs if uses[name] > 1}
    if shared:
        out["$defs"] = shared
    return out
