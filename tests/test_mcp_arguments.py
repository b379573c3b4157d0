"""Tool arguments are checked strictly against the published input schemas, in-process: every string
has a length limit, no type is coerced, unknown arguments are rejected, and what the server accepts
is exactly what the schema allows (checked against ``jsonschema`` with hypothesis). No API call is
made: the server points at a closed port and every call here fails validation or needs no API.
"""

from __future__ import annotations

from typing import Any

import anyio
import jsonschema
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from mcp import Client
from mcp_types import CallToolResult
from pydantic import BaseModel, ValidationError

from cstar_cli.mcp.access import ApiAccess
from cstar_cli.mcp.server import CStarMCPServer, build_server, strict_arguments_model
from cstar_cli.mcp.tools import SPECS, Tools
from cstar_cli.settings import resolve

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(60)]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def server() -> CStarMCPServer:
    return build_server(ApiAccess(lambda: resolve(api_key="sk_test_" + "z" * 28, base_url="http://127.0.0.1:9")))


async def schemas(server: CStarMCPServer) -> dict[str, dict[str, Any]]:
    return {t.name: t.input_schema for t in await server.list_tools()}


async def call(server: CStarMCPServer, name: str, args: dict[str, Any]) -> CallToolResult:
    async with Client(server) as client:
        return await client.call_tool(name, args)


def text(result: CallToolResult) -> str:
    return "\n".join(c.text for c in result.content if hasattr(c, "text"))


async def test_every_schema_is_closed_and_every_string_is_bounded(server: CStarMCPServer) -> None:
    for name, schema in (await schemas(server)).items():
        assert schema["additionalProperties"] is False, name
        for arg, prop in schema.get("properties", {}).items():
            strings = [prop] if prop.get("type") == "string" else [prop.get("items", {})]
            for s in strings:
                if s.get("type") == "string":
                    assert "enum" in s or "maxLength" in s, f"{name}.{arg} has no length limit"
    props = (await schemas(server))["cstar_create_ticket"]["properties"]
    assert props["tags"]["items"] == {"type": "string", "minLength": 1, "maxLength": 100}
    assert (await schemas(server))["cstar_get_ticket"]["properties"]["ticketId"]["maxLength"] == 100
    assert (await schemas(server))["cstar_get_customer"]["properties"]["customerId"]["maxLength"] == 100


@pytest.mark.parametrize(
    ("tool", "args", "expected"),
    [
        (
            "cstar_get_ticket",
            {"ticketId": "tkt_" + "a" * 100_000},
            "ticketId must be at most 100 characters (got 100,004)",
        ),
        (
            "cstar_get_customer",
            {"customerId": "cus_" + "9" * 500},
            "customerId must be at most 100 characters (got 504)",
        ),
        ("cstar_list_tickets", {"customerId": "cus_" + "x" * 200}, "customerId must be at most 100 characters"),
        (
            "cstar_create_ticket",
            {"title": "t", "tags": ["ok", "x" * 101]},
            "tags[1] must be at most 100 characters (got 101)",
        ),
        ("cstar_create_ticket", {"title": "t", "tags": ["ok", ""]}, "tags[1] must not be empty"),
        ("cstar_list_articles", {"category": "c" * 201}, "category must be at most 200 characters (got 201)"),
        ("cstar_list_tickets", {"pageSize": "5"}, "pageSize: Input should be a valid integer (got '5')"),
        ("cstar_list_tickets", {"page": True}, "page: Input should be a valid integer (got true)"),
        ("cstar_list_articles", {"isPublic": "true"}, "isPublic: Input should be a valid boolean (got 'true')"),
        ("cstar_create_ticket", {"title": "t", "tags": '["a"]'}, "tags: Input should be a valid list"),
        ("cstar_create_ticket", {"title": 7}, "title: Input should be a valid string (got 7)"),
        ("cstar_list_tickets", {"stauts": "open"}, "'stauts' is not an argument of cstar_list_tickets"),
        ("cstar_list_tickets", {"stauts": "open"}, "Did you mean status?"),
        ("cstar_list_events", {"zzz": 1}, "Its arguments: category."),
        ("cstar_get_status", {"verbose": True}, "cstar_get_status takes no arguments."),
        ("cstar_list_events", {"q" * 5000: 1}, "'" + "q" * 59 + "…' is not an argument"),
    ],
)
async def test_strict_arguments_are_readable_tool_errors(
    server: CStarMCPServer, tool: str, args: dict[str, Any], expected: str
) -> None:
    result = await call(server, tool, args)
    assert result.is_error
    assert text(result).startswith(f"Error (INVALID_FIELD): Invalid arguments for {tool}: "), text(result)
    assert expected in text(result)
    assert "\nHint: " in text(result) and "internal_error" not in text(result)
    assert len(text(result)) < 1000


async def test_arguments_the_schema_allows_still_work(server: CStarMCPServer) -> None:
    assert not (await call(server, "cstar_list_events", {"category": "tickets"})).is_error
    assert not (await call(server, "cstar_list_events", {})).is_error
    # An explicit null for an optional argument means "not given", as before.
    assert not (await call(server, "cstar_list_events", {"category": None})).is_error


# --- the strict models accept exactly what the published schemas allow ------------------------

argument_values = (
    st.none()
    | st.booleans()
    | st.integers(-5, 200)
    | st.sampled_from(["open", "tickets", "ticket.created", "tkt_abc", "cus_1", "", "5", "x" * 101, "é"])
    | st.lists(st.sampled_from(["a", "", "b" * 101]), max_size=3)
)


_PUBLISHED: dict[str, tuple[dict[str, Any], type[BaseModel]]] = {}


def published(name: str) -> tuple[dict[str, Any], type[BaseModel]]:
    """The tool's published input schema and the strict model the server checks arguments with."""
    if not _PUBLISHED:
        server = build_server(ApiAccess(lambda: resolve(api_key=None, base_url="http://127.0.0.1:9")))
        for tool in anyio.run(server.list_tools):
            method = getattr(Tools(server.cstar_tools.api), server.specs[tool.name].method)
            _PUBLISHED[tool.name] = (tool.input_schema, strict_arguments_model(tool.name, method))
    return _PUBLISHED[name]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from([spec.name for spec in SPECS]), st.data())
def test_strict_models_agree_with_the_published_schemas(name: str, data: st.DataObject) -> None:
    schema, model = published(name)
    props = schema.get("properties", {})
    args = data.draw(st.dictionaries(st.sampled_from([*props, "other"]), argument_values, max_size=4))
    try:
        model.model_validate(args)
        accepted = True
    except ValidationError:
        accepted = False
    # An optional argument without a default (a `X | None = None` parameter) is published without
    # "null", but an explicit null means "not given".
    optional = {k for k, p in props.items() if "default" not in p} - set(schema.get("required", []))
    given_args = {k: v for k, v in args.items() if v is not None or k not in optional}
    allowed = jsonschema.Draft202012Validator(schema).is_valid(given_args)
    assert accepted == allowed, (args, schema)
