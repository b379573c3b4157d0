"""``cstar_resend_event`` without ``webhookId``: the event goes to the connected ``cstar listen``
session. A real ``cstar listen --forward-to`` subprocess forwards to a real signature-verifying
receiver that fails until it is "fixed"; the tools run in-process through the SDK's client against
the same emulator. Every wait is a condition with a deadline.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import anyio
import pytest
from mcp import Client
from mcp_types import CallToolResult

from cstar_cli.mcp.access import ApiAccess
from cstar_cli.mcp.server import CStarMCPServer, build_server
from cstar_cli.receiver import Receiver
from cstar_cli.settings import resolve
from tests.support.emulator import EmulatorThread
from tests.test_listen import Listen

pytestmark = [pytest.mark.anyio, pytest.mark.e2e, pytest.mark.timeout(90)]

_T = TypeVar("_T")


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def server(emulator: EmulatorThread) -> Iterator[CStarMCPServer]:
    api = ApiAccess(lambda: resolve(api_key=emulator.keys["sk_test"], base_url=emulator.base_url), max_retries=0)
    yield build_server(api)
    api.close()


def text(result: CallToolResult) -> str:
    return "\n".join(c.text for c in result.content if hasattr(c, "text"))


def until(check: Callable[[], _T | None], what: str, timeout: float = 20) -> _T:
    deadline = time.monotonic() + timeout
    while not (value := check()):
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)
    return value


def signed_at(signature: str | None) -> int:
    parts = dict(p.split("=", 1) for p in (signature or "").split(","))
    return int(parts["t"])


async def test_resend_without_webhook_id_reaches_the_listener_freshly_signed(
    server: CStarMCPServer, emulator: EmulatorThread
) -> None:
    with Receiver("pending", status=500) as rx:
        listen = Listen(emulator, "--forward-to", rx.url, "--no-resume", "--retry-for", "250ms")
        rx.secret = listen.ready()
        async with Client(server) as client:

            async def tool(name: str, args: dict[str, Any]) -> dict[str, Any]:
                result = await client.call_tool(name, args)
                assert not result.is_error, text(result)
                seen = text(result)
                assert rx.secret not in seen and emulator.keys["sk_test"] not in seen
                return dict(result.structured_content or {})

            sent = await tool("cstar_trigger_webhook", {"event": "ticket.created"})
            event_id = sent["eventId"]
            listen.wait(listen.out, lambda s: event_id in s and "gave up" in s)
            [first] = [d for d in rx.received if d.event_id == event_id]
            assert first.verified and first.status == 500

            rx.status = 200  # the handler is fixed
            resent = await tool("cstar_resend_event", {"eventId": event_id})
            assert resent["eventId"] == event_id and resent["target"].startswith("cls_") and resent["queued"]

            again = until(lambda: [d for d in rx.received if d.event_id == event_id and d.status == 200], "the resend")
            listen.wait(listen.out, lambda s: event_id in s and "(resent)" in s)
            [second] = again
            # Byte for byte, and signed again for this delivery (by the listen session's secret).
            assert second.verified and second.body == first.body
            assert signed_at(second.header("X-Signature")) >= signed_at(first.header("X-Signature"))

            # The listen target's latest outcome, once it is the resend's 200 (it was the first 500).
            deadline = time.monotonic() + 20
            while True:
                recent = await tool("cstar_recent_events", {"limit": 5})
                [event] = [e for e in recent["events"] if e["id"] == event_id]
                [outcome] = [d for d in event["deliveries"] if d["target"] == resent["target"]]
                if outcome["status"] == 200:
                    break
                assert time.monotonic() < deadline, f"recent events never showed the new listen delivery: {outcome}"
                await anyio.sleep(0.05)
            assert outcome["failed"] is False and outcome["error"] is None
        assert listen.finish() == 130
    # One failed delivery and one resend: nothing else reached the receiver for this event.
    assert [d.status for d in rx.received if d.event_id == event_id] == [500, 200]

