"""The emulator's WebSocket keepalive against a client that reads slowly: ``cstar listen``'s relay
forwarding a burst to a slow receiver holds back reading, so the emulator's pings wait behind the
frames already sent and their pongs come late, but its acks keep arriving. With a short keepalive
(``ws_ping``) the whole burst is still delivered over one connection: no drop, no reconnect."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

from cstar_cli.relay import Delivered, ForwardOptions, Reconnecting, Relay
from cstar_emulator.server import ServerThread

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]

EVENTS = 300
#: The receiver's answer time per event (s): the relay falls far behind the burst.
SLOW = 0.01


async def _slow_receiver(seen: list[bytes]) -> asyncio.Server:
    """An HTTP/1.1 receiver on 127.0.0.1 answering each POST 200 after :data:`SLOW` s (keep-alive)."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = next(
                    int(line.split(b":", 1)[1])
                    for line in head.split(b"\r\n")
                    if line.lower().startswith(b"content-length:")
                )
                seen.append(await reader.readexactly(length))
                await asyncio.sleep(SLOW)
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()

    return await asyncio.start_server(handle, "127.0.0.1", 0)


def test_a_slow_receiver_costs_no_reconnect(tmp_path: Path) -> None:
    with ServerThread(db_path=tmp_path / "e.db", rate_limit=0, ws_ping=(0.2, 0.2)) as emu:
        info = emu.info
        key = info["keys"]["sk_test"]
        api = httpx.Client(
            base_url=f"{emu.base_url}/api/v1/teams/{info['teamId']}",
            headers={"Authorization": f"Bearer {key}"},
            trust_env=False,
            timeout=30,
        )
        control = httpx.Client(base_url=emu.base_url, trust_env=False, timeout=60)

        def open_session() -> Any:
            return api.post("/cli/sessions", json={"events": ["*"], "deviceName": uuid.uuid4().hex}).json()["data"]

        async def main() -> list[Any]:
            seen: list[bytes] = []
            server = await _slow_receiver(seen)
            port = server.sockets[0].getsockname()[1]
            relay = Relay(
                open_session, api_key=key, forward=ForwardOptions(f"http://127.0.0.1:{port}/"), base_url=emu.base_url
            )
            elements: list[Any] = []
            delivered = 0
            try:
                async for element in relay.run():
                    elements.append(element)
                    if len(elements) == 1:  # Ready: the socket is open, send the burst
                        await asyncio.to_thread(
                            lambda: control.post(
                                "/_emulator/burst", json={"count": EVENTS, "event": "ticket.created"}
                            ).raise_for_status()
                        )
                    if isinstance(element, Delivered):
                        delivered += 1
                        if delivered == EVENTS:
                            relay.stop()
            finally:
                await relay.aclose()
                server.close()
            return elements

        try:
            elements = asyncio.run(main())
        finally:
            api.close()
            control.close()
    assert [e for e in elements if isinstance(e, Reconnecting)] == []
    assert sum(isinstance(e, Delivered) for e in elements) == EVENTS
