"""Webhook deliveries from the emulator to a real local receiver: signed, retried, in order."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import httpx
import pytest

from cstar_cli.protocol.webhook import verify_signature
from tests.support.emulator import LocalEmulator, start_emulator_thread
from tests.support.receivers import RecordingReceiver

pytestmark = pytest.mark.e2e


@pytest.fixture
def fast_retry_emulator(tmp_path) -> Iterator[LocalEmulator]:
    with start_emulator_thread(tmp_path / "emulator.db", webhook_retry_delay=0.05) as emu:
        yield emu


def test_delivery_is_signed_and_retried_after_a_500(fast_retry_emulator: LocalEmulator) -> None:
    emu = fast_retry_emulator
    receiver = RecordingReceiver([500])
    try:
        with emu.client() as api:
            hook = api.post(
                "/webhooks", json={"name": "local", "url": receiver.url, "events": ["ticket.created"]}
            ).json()["data"]
            created = api.post("/tickets", json={"title": "Webhook me"})
        (_, h1, body1), (_, h2, body2) = receiver.wait_for(2)
    finally:
        receiver.close()

    assert body1 == body2, "every attempt sends the exact same bytes"
    payload = json.loads(body1)
    assert payload["type"] == "ticket.created"
    assert payload["data"]["ticket"]["id"] == created.json()["data"]["id"]
    for attempt, headers in ((1, h1), (2, h2)):
        assert verify_signature(body1, headers["X-Signature"], hook["secret"])
        assert headers["X-Delivery-Attempt"] == str(attempt)
        assert headers["X-Webhook-ID"] == hook["id"]
        assert headers["X-Event-Type"] == "ticket.created"
        assert headers["X-Event-ID"] == payload["id"]
        assert headers["x-cstar-request-id"] == created.headers["x-cstar-request-id"]
        assert headers["Content-Type"] == "application/json"
        assert headers["X-Timestamp"].endswith("Z")
    assert not verify_signature(body1, h1["X-Signature"], "whsec_wrong")

    for _ in range(50):
        records = httpx.get(
            emu.url("/_emulator/deliveries"), params={"kind": "webhook", "target": hook["id"]}, trust_env=False
        ).json()["data"]
        if len(records) == 2:
            break
        time.sleep(0.05)
    assert [(r["attempt"], r["status"], r["eventId"]) for r in records] == [
        (1, 500, payload["id"]),
        (2, 200, payload["id"]),
    ]
    assert records[0]["error"] == "HTTP 500" and records[1]["error"] is None


def test_deliveries_keep_event_order_and_skip_paused_webhooks(fast_retry_emulator: LocalEmulator) -> None:
    emu = fast_retry_emulator
    receiver = RecordingReceiver([503, 503])
    paused = RecordingReceiver([])
    try:
        with emu.client() as api:
            api.post("/webhooks", json={"name": "ordered", "url": receiver.url, "events": "customer.*"})
            off = api.post("/webhooks", json={"name": "off", "url": paused.url, "events": "*"}).json()["data"]
            api.patch(f"/webhooks/{off['id']}", json={"isActive": False})
            emails = [f"order{i}@example.com" for i in range(3)]
            for email in emails:
                api.post("/customers", json={"name": "O", "email": email})
        got = receiver.wait_for(5)
    finally:
        receiver.close()
        paused.close()
    attempts = [(json.loads(body)["data"]["customer"]["email"], h["X-Delivery-Attempt"]) for _, h, body in got]
    assert attempts == [(emails[0], "1"), (emails[0], "2"), (emails[0], "3"), (emails[1], "1"), (emails[2], "1")]
    assert paused.requests == []
