"""The whole agent loop of docs/mcp.md ("Debugging a webhook handler"), as an agent runs it: the
SDK's stdio client against a real ``cstar mcp-server`` subprocess, against the emulator, with a real
local webhook receiver that fails until it is "fixed".

recent → trigger (with an override) → wait (gets it) → read the failure → fix the handler → resend
→ recent shows the new delivery → verify the captured signature (valid) and a tampered body (why not).
Every wait is a condition with a deadline; no API key or signing secret ever reaches a result or stderr.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from mcp import Client
from mcp.client.stdio import StdioServerParameters, stdio_client

from cstar_cli.receiver import Receiver
from tests.support.cli import ROOT, cstar_env
from tests.support.emulator import LocalEmulator, start_emulator_thread

pytestmark = [pytest.mark.anyio, pytest.mark.e2e, pytest.mark.timeout(90)]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def emu(tmp_path: Path) -> Iterator[LocalEmulator]:
    e = start_emulator_thread(tmp_path / "emulator.db")
    try:
        yield e
    finally:
        e.stop()


def text(result: Any) -> str:
    return "\n".join(c.text for c in result.content if hasattr(c, "text"))


async def test_debug_a_failing_webhook_handler_end_to_end(emu: LocalEmulator, tmp_path: Path) -> None:
    with Receiver("whsec_placeholder_until_created", status=500) as rx:
        created = httpx.post(
            f"{emu.base_url}/api/v1/teams/{emu.team_id}/webhooks",
            json={"name": "handler under development", "url": rx.url, "events": ["ticket.*"]},
            headers={"Authorization": f"Bearer {emu.keys['sk_test']}"},
            timeout=10,
        ).json()["data"]
        webhook_id, secret = created["id"], created["secret"]
        rx.secret = secret  # the handler verifies with its webhook's secret, and answers 500 until fixed
        secrets = [secret, *emu.keys.values()]
        env = cstar_env({"CSTAR_API_KEY": emu.keys["sk_test"], "CSTAR_BASE_URL": emu.base_url, "CSTAR_DEBUG": "1"})
        params = StdioServerParameters(command=sys.executable, args=["-m", "cstar_cli", "mcp-server"], env=env, cwd=str(ROOT))
        results: list[Any] = []
        stderr_path = tmp_path / "stderr.txt"
        with stderr_path.open("w") as errlog:
            async with Client(stdio_client(params, errlog=errlog), mode="legacy", read_timeout_seconds=60) as client:

                async def tool(name: str, args: dict[str, Any]) -> dict[str, Any]:
                    result = await client.call_tool(name, args)
                    results.append(result)
                    assert not result.is_error, text(result)
                    return dict(result.structured_content or {})

                async def until(name: str, args: dict[str, Any], test: Any, timeout: float = 30) -> dict[str, Any]:
                    deadline = time.monotonic() + timeout
                    while True:
                        data = await tool(name, args)
                        if test(data):
                            return data
                        assert time.monotonic() < deadline, data
                        await _pause()

                # 1. Where the history stands.
                recent = await tool("cstar_recent_events", {"limit": 5})
                cursor = recent["cursor"]
                assert cursor == (recent["events"][0]["id"] if recent["events"] else "start")

                # 2. Send a shaped test event.
                sent = await tool(
                    "cstar_trigger_webhook", {"event": "ticket.created", "override": ["ticket.priority=urgent"]}
                )
                event_id = sent["eventId"]
                assert [d["target"] for d in sent["deliveries"]] == [webhook_id]

                # 3. Wait for it: the first ticket event after the cursor, summarised.
                waited = await tool(
                    "cstar_wait_for_event", {"eventType": "ticket.*", "since": cursor, "timeoutSeconds": 30}
                )
                event = waited["event"]
                assert event["id"] == event_id and waited["cursor"] == event_id
                assert event["type"] == "ticket.created" and event["fields"]["priority"] == "urgent"
                assert event["resourceId"].startswith("tkt_")

                # 4. Read the failure: the handler answered 500.
                def failed_here(data: dict[str, Any]) -> bool:
                    return any(
                        e["id"] == event_id and any(d["target"] == webhook_id and d["failed"] for d in e["deliveries"])
                        for e in data["events"]
                    )

                failures = await until("cstar_recent_events", {"failed": True, "type": "ticket.*"}, failed_here)
                outcome = next(d for e in failures["events"] if e["id"] == event_id for d in e["deliveries"])
                assert outcome["status"] == 500 and outcome["failed"] is True

                # 5. Fix the handler, resend, and see the new delivery succeed.
                rx.status = 200
                resent = await tool("cstar_resend_event", {"eventId": event_id, "webhookId": webhook_id})
                assert resent["eventId"] == event_id and resent["target"] == webhook_id and resent["queued"]

                def resent_ok(data: dict[str, Any]) -> bool:
                    mine = [e for e in data["events"] if e["id"] == event_id]
                    return bool(mine) and any(
                        d["target"] == webhook_id and d["status"] == 200 and d["attempts"] == 1 and not d["failed"]
                        for d in mine[0]["deliveries"]
                    )

                await until("cstar_recent_events", {"limit": 10}, resent_ok)
                firsts = [d for d in rx.received if d.event_id == event_id and d.attempt == 1]
                assert [d.status for d in firsts] == [500, 200] and firsts[0].body == firsts[1].body

                # Nothing newer arrived meanwhile: a short wait from the cursor says so, normally.
                quiet = await tool("cstar_wait_for_event", {"since": event_id, "timeoutSeconds": 0.5})
                assert quiet["event"] is None and quiet["cursor"] == event_id

                # 6. Verify what the handler received: valid; a tampered body is not, and why.
                captured = firsts[0]
                signature = captured.header("X-Signature") or ""
                good = await tool(
                    "cstar_verify_signature",
                    {"payload": captured.body.decode(), "signature": signature, "secret": secret},
                )
                assert good["valid"] is True and good["reason"] == "valid"
                tampered = captured.body.decode().replace('"urgent"', '"low"')
                bad = await tool(
                    "cstar_verify_signature", {"payload": tampered, "signature": signature, "secret": secret}
                )
                assert bad["valid"] is False and bad["reason"] == "signature_mismatch"

        for result in results:
            seen = text(result) + repr(result.structured_content)
            assert not [s for s in secrets if s in seen], "a secret reached a tool result"
        stderr = stderr_path.read_text()
        assert not [s for s in secrets if s in stderr] and "Traceback" not in stderr


async def _pause() -> None:
    import anyio

    await anyio.sleep(0.1)
