"""The emulator's webhook delivery over its kept-alive HTTP/1.1 client: one connection per webhook
for a whole stream of events, the webhook's current URL and state from the next attempt on, URL
credentials sent as Basic auth, and errors recorded in the receiver's words."""

from __future__ import annotations

import base64
import socket
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from cstar_cli.protocol.webhook import verify_signature
from tests.support.emulator import LocalEmulator, start_emulator_thread
from tests.support.receivers import RecordingReceiver

pytestmark = pytest.mark.e2e


@pytest.fixture
def emu(tmp_path) -> Iterator[LocalEmulator]:
    with start_emulator_thread(tmp_path / "emulator.db", webhook_retry_delay=0.05) as emulator:
        yield emulator


@pytest.fixture
def receiver() -> Iterator[RecordingReceiver]:
    rx = RecordingReceiver(keep_alive=True)
    try:
        yield rx
    finally:
        rx.close()


def _records(emu: LocalEmulator, hook_id: str, n: int) -> list[dict[str, Any]]:
    deadline = time.monotonic() + 15
    while True:
        records: list[dict[str, Any]] = httpx.get(
            emu.url("/_emulator/deliveries"), params={"kind": "webhook", "target": hook_id}, trust_env=False
        ).json()["data"]
        if len(records) >= n or time.monotonic() > deadline:
            return records
        time.sleep(0.02)


def _hook(api: httpx.Client, url: str) -> dict[str, Any]:
    r = api.post("/webhooks", json={"name": "keepalive", "url": url, "events": ["ticket.created"]})
    assert r.status_code == 201, r.text
    hook: dict[str, Any] = r.json()["data"]
    return hook


def test_a_stream_of_events_goes_over_one_connection_in_order(emu: LocalEmulator, receiver: RecordingReceiver) -> None:
    with emu.client() as api:
        hook = _hook(api, receiver.url)
        ids = [api.post("/tickets", json={"title": f"t{i}"}).json()["data"]["id"] for i in range(30)]
    got = receiver.wait_for(30)
    assert len({port for port, _, _ in got}) == 1, "one kept-alive connection for the whole stream"
    sent = [httpx.Response(200, content=body).json()["data"]["ticket"]["id"] for _, _, body in got]
    assert sent == ids
    for _, headers, body in got:
        assert verify_signature(body, headers["X-Signature"], hook["secret"])
        assert headers["X-Delivery-Attempt"] == "1"
        assert headers["Host"] == f"127.0.0.1:{receiver.port}"
        assert headers["User-Agent"] == "cstar-emulator"
        assert headers["Content-Length"] == str(len(body))
    assert [r["status"] for r in _records(emu, hook["id"], 30)] == [200] * 30


def test_an_edited_url_applies_from_the_next_delivery(emu: LocalEmulator, receiver: RecordingReceiver) -> None:
    other = RecordingReceiver(keep_alive=True)
    try:
        with emu.client() as api:
            hook = _hook(api, receiver.url)
            api.post("/tickets", json={"title": "first"})
            receiver.wait_for(1)
            assert api.patch(f"/webhooks/{hook['id']}", json={"url": other.url}).status_code == 200
            api.post("/tickets", json={"title": "second"})
            (_, headers, _), *_ = other.wait_for(1)
            assert headers["X-Webhook-ID"] == hook["id"]
            assert api.patch(f"/webhooks/{hook['id']}", json={"isActive": False}).status_code == 200
            api.post("/tickets", json={"title": "paused"})
            assert api.patch(f"/webhooks/{hook['id']}", json={"isActive": True, "url": receiver.url}).status_code == 200
            api.post("/tickets", json={"title": "third"})
        got = receiver.wait_for(2)
    finally:
        other.close()
    titles = [httpx.Response(200, content=body).json()["data"]["ticket"]["title"] for _, _, body in got]
    assert titles == ["first", "third"]
    assert len(other.requests) == 1


def test_url_credentials_are_sent_as_basic_auth(emu: LocalEmulator, receiver: RecordingReceiver) -> None:
    with emu.client() as api:
        _hook(api, f"http://hook%20user:p%40ss@127.0.0.1:{receiver.port}/hook")
        api.post("/tickets", json={"title": "with credentials"})
    (_, headers, _), *_ = receiver.wait_for(1)
    assert headers["Authorization"] == "Basic " + base64.b64encode(b"hook user:p@ss").decode()
    assert headers["Host"] == f"127.0.0.1:{receiver.port}", "the Host header carries no credentials"


def test_a_refused_connection_is_recorded_and_retried_with_later_attempts(emu: LocalEmulator) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nothing listens there
    with emu.client() as api:
        hook = _hook(api, f"http://127.0.0.1:{port}/hook")
        api.post("/tickets", json={"title": "nobody home"})
        records = _records(emu, hook["id"], 5)
    assert [r["attempt"] for r in records] == [1, 2, 3, 4, 5]
    assert {r["error"] for r in records} == {"connection refused"}
    assert all(r["status"] is None for r in records)
