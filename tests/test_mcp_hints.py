"""An argument of the wrong JSON type gets a hint showing the shape its input schema expects
(``override takes a list of strings, not a string: ["ticket.priority=urgent"]``), for every
argument of every tool, derived from the published schema. In-process; arguments are refused
before any API call, so no emulator is needed."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import anyio
import pytest
from mcp import Client

from cstar_cli.mcp.access import ApiAccess
from cstar_cli.mcp.results import expected_shape
from cstar_cli.mcp.server import CStarMCPServer, build_server
from cstar_cli.settings import resolve

pytestmark = [pytest.mark.anyio]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def server() -> Iterator[CStarMCPServer]:
    api = ApiAccess(lambda: resolve(api_key="sk_test_" + "h1nt" * 8, base_url="http://127.0.0.1:9"), max_retries=0)
    yield build_server(api)
    api.close()


async def hint_for(server: CStarMCPServer, tool: str, args: dict[str, Any]) -> str:
    async with Client(server) as client:
        result = await client.call_tool(tool, args)
    assert result.is_error
    [line] = [line for line in result.content[0].text.splitlines() if line.startswith("Hint: ")]  # type: ignore[union-attr]
    return line


@pytest.mark.parametrize(
    ("tool", "args", "shown"),
    [
        (
            "cstar_trigger_webhook",
            {"event": "ticket.created", "override": "ticket.priority=urgent"},
            'override takes a list of strings, not a string: ["ticket.priority=urgent"].',
        ),
        (
            "cstar_trigger_webhook",
            {"event": "ticket.created", "payload": '{"ticket": {"priority": "urgent"}}'},
            'payload takes a JSON object, not a string: {"ticket": {"priority": "urgent"}}.',
        ),
        ("cstar_trigger_webhook", {"event": "ticket.created", "add": [7]}, 'add[0] takes a string, not a number: "7".'),
        ("cstar_list_tickets", {"pageSize": "5"}, "pageSize takes a whole number (1 to 100), not a string: 5."),
        ("cstar_list_tickets", {"page": 1.5}, "page takes a whole number (at least 1), not a fraction: 1."),
        ("cstar_list_tickets", {"status": 5}, 'status takes a string, not a number: "new".'),
        ("cstar_list_articles", {"isPublic": "true"}, "isPublic takes true or false, not a string: true."),
        ("cstar_create_ticket", {"title": "Hi", "tags": "billing"}, 'tags takes a list of strings, not a string: ["billing"].'),
        (
            "cstar_wait_for_event",
            {"timeoutSeconds": "ten"},
            "timeoutSeconds takes a number (over 0, at most 60), not a string: 30.",
        ),
    ],
)
async def test_a_value_of_the_wrong_type_gets_the_expected_shape(
    server: CStarMCPServer, tool: str, args: dict[str, Any], shown: str
) -> None:
    hint = await hint_for(server, tool, args)
    assert hint.startswith(f"Hint: {shown} ")
    # The general advice still follows.
    assert hint.endswith(f"Fix the argument and call {tool} again; its input schema lists what is allowed.")


def _wrong(schema: dict[str, Any]) -> Any:
    return 5 if schema.get("type") == "string" else "text"


def test_every_argument_of_every_tool_has_a_shape_hint(server: CStarMCPServer) -> None:
    tools = anyio.run(server.list_tools)
    checked = 0
    for tool in tools:
        for name, schema in tool.input_schema.get("properties", {}).items():
            hint = expected_shape(name, schema, _wrong(schema))
            assert hint is not None and hint.startswith(f"{name} takes "), (tool.name, name, schema)
            checked += 1
    assert checked >= 40


async def test_the_right_type_with_a_bad_value_gets_no_shape_hint(server: CStarMCPServer) -> None:
    hint = await hint_for(server, "cstar_list_tickets", {"pageSize": 500})
    assert " takes " not in hint
    assert expected_shape("limit", {"type": "number"}, 3) is None  # an integer is a number
    assert expected_shape("since", {"type": "string"}, None) is None  # null means "not given"
