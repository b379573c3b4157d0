"""The tool list stays lean: ``tools/list`` averages under 1,500 bytes a tool (what the client sends
the model on every session), and the compact output schemas accept what the full ones accept.
In-process, no API call: a size budget, not a timing."""

from __future__ import annotations

import functools
import json
from typing import Any

import anyio
import jsonschema
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from mcp_types import ListToolsResult
from pydantic import TypeAdapter

from cstar_cli.mcp import outputs as o
from cstar_cli.mcp.access import ApiAccess
from cstar_cli.mcp.schemas import compact_output_schema
from cstar_cli.mcp.server import build_server
from cstar_cli.mcp.toolset import select_tools
from cstar_cli.settings import resolve

BUDGET = 1500  # bytes a tool on average, with room for 14 tools (docs/mcp.md, "Size of the tool list")


def wire_bytes(names: list[str] | None = None) -> tuple[int, dict[str, int]]:
    """(bytes of the ``tools/list`` result as sent, bytes of each tool's entry)."""
    api = ApiAccess(lambda: resolve(api_key=None, base_url="http://127.0.0.1:9"))
    server = build_server(api, names) if names is not None else build_server(api)
    result = ListToolsResult(tools=anyio.run(server.list_tools))

    def size(value: Any) -> int:
        return len(json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode())

    # The SDK sends results as model_dump(by_alias=True, mode="json", exclude_none=True), compact.
    dumped = result.model_dump(by_alias=True, mode="json", exclude_none=True)
    return size(dumped), {t["name"]: size(t) for t in dumped["tools"]}


@pytest.mark.parametrize("read_only", [False, True])
def test_tools_list_averages_under_the_budget(read_only: bool) -> None:
    total, per_tool = wire_bytes(select_tools(read_only=read_only))
    assert total / len(per_tool) < BUDGET, per_tool
    # No one tool may eat the room the others leave.
    assert max(per_tool.values()) < 2 * BUDGET, per_tool


def test_published_output_schemas_are_compact_and_valid() -> None:
    api = ApiAccess(lambda: resolve(api_key=None, base_url="http://127.0.0.1:9"))
    for tool in anyio.run(build_server(api).list_tools):
        schema = tool.output_schema
        assert schema is not None and schema["type"] == "object"
        jsonschema.Draft202012Validator.check_schema(schema)
        text = json.dumps(schema)
        assert '"title"' not in text.replace('"title": {', "") and '"required"' not in text, tool.name
        assert '{"type": "null"}' not in text, tool.name  # nullable types are folded into one schema


RESULT_TYPES = [o.TicketList, o.TicketResult, o.TicketCreated, o.CustomerList, o.CustomerResult, o.ArticleList]
RESULT_TYPES += [o.TriggerResult, o.StatusResult, o.EventList]

leaf = st.none() | st.booleans() | st.integers(-3, 3) | st.floats(allow_nan=False) | st.text(max_size=3)
json_values = st.recursive(
    leaf,
    lambda inner: st.lists(inner, max_size=2) | st.dictionaries(st.text(max_size=2), inner, max_size=2),
    max_leaves=4,
)


@functools.cache
def _schemas(kind: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    full = TypeAdapter(kind).json_schema()
    return full, compact_output_schema(full)


def _example(schema: dict[str, Any], defs: dict[str, Any]) -> Any:
    """A document the full schema accepts, every field present (the first type of each union)."""
    if "$ref" in schema:
        return _example(defs[schema["$ref"].rsplit("/", 1)[1]], defs)
    if "anyOf" in schema:
        return _example(schema["anyOf"][0], defs)
    kind = schema.get("type")
    if kind == "object":
        return {k: _example(v, defs) for k, v in (schema.get("properties") or {}).items()}
    if kind == "array":
        return [_example(schema.get("items") or {}, defs)]
    return {"string": "x", "integer": 1, "number": 1.5, "boolean": True, "null": None}.get(str(kind), "x")


def _paths(doc: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(doc, dict):
        for k, v in doc.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            out += _paths(v, (*prefix, i))
    return out


def _replace(doc: Any, path: tuple[Any, ...], value: Any) -> Any:
    if not path:
        return value
    copy = json.loads(json.dumps(doc))
    node = copy
    for part in path[:-1]:
        node = node[part]
    node[path[-1]] = value
    return copy


def _missing_field(error: jsonschema.ValidationError) -> bool:
    """Whether ``error``, or one under it (the branches of an ``anyOf``), is a missing field."""
    return error.validator == "required" or any(_missing_field(e) for e in error.context or ())


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(RESULT_TYPES), st.data())
def test_compact_schema_accepts_exactly_what_the_full_one_does(kind: Any, data: st.DataObject) -> None:
    full, compact = _schemas(kind)
    doc = _example(full, full.get("$defs", {}))
    path = data.draw(st.sampled_from(_paths(doc)))
    changed = _replace(doc, path, data.draw(json_values))
    errors = list(jsonschema.Draft202012Validator(full).iter_errors(changed))
    # Every field of a result is always present, so the compact schema leaves "required" out.
    if any(_missing_field(e) for e in errors):
        return
    full_ok = not errors
    assert jsonschema.Draft202012Validator(compact).is_valid(changed) == full_ok, (path, changed)
