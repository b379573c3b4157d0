"""The relay's forwarder against the real example receiver: exact bytes, per-attempt signatures,
retries with backoff, header overrides, refused and silent receivers."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Iterator

import pytest

from cstar_cli.protocol.webhook import verify_signature
from cstar_cli.receiver import Receiver
from cstar_cli.relay import Delivered, DeliveryAttempted, DeliveryFailed, EventReceived, Forwarder, ForwardOptions

SECRET = "whsec_forwarder_test"
# Deliberately not compact, with non-ASCII text: a re-serialisation would change these bytes.
PAYLOAD = '{"id": "evt_f1",  "type":"ticket.created","created_at":"2026-01-01T00:00:00.000Z","data":{"t":"Zoë ✓"}}'
EVENT = EventReceived("evt_f1", "ticket.created", PAYLOAD, "req_f1", "cls_f1", time.time())
FAST = (0.01, 0.02, 0.03)


def deliver(options: ForwardOptions, event: EventReceived = EVENT) -> list[object]:
    async def go() -> list[object]:
        fwd = Forwarder(options, SECRET)
        try:
            return [step async for step in fwd.deliver(event)]
        finally:
            await fwd.aclose()

    return asyncio.run(go())


@pytest.fixture
def rx() -> Iterator[Receiver]:
    with Receiver(SECRET, path="/webhooks") as receiver:
        yield receiver


@pytest.mark.e2e
def test_forwards_exact_bytes_with_signed_headers(rx: Receiver) -> None:
    steps = deliver(ForwardOptions(rx.url + "?tenant=a"))
    assert [type(s) for s in steps] == [DeliveryAttempted, Delivered]
    done = steps[-1]
    assert isinstance(done, Delivered) and done.ok and done.status == 200 and done.attempts == 1
    (d,) = rx.received
    assert d.body == PAYLOAD.encode("utf-8") and d.verified and d.path == "/webhooks?tenant=a"
    assert d.header("Content-Type") == "application/json"
    assert (d.event_id, d.event_type, d.header("X-Webhook-ID"), d.header("x-cstar-request-id")) == (
        "evt_f1",
        "ticket.created",
        "cls_f1",
        "req_f1",
    )
    assert d.attempt == 1 and (d.header("X-Timestamp") or "").endswith("Z")


@pytest.mark.e2e
def test_retries_500_then_delivers_signing_each_attempt() -> None:
    with Receiver(SECRET, fail_first=2) as rx:
        steps = deliver(ForwardOptions(rx.url, backoff=FAST))
    attempts = [s for s in steps if isinstance(s, DeliveryAttempted)]
    assert [(a.attempt, a.status, a.retry_in) for a in attempts] == [(1, 500, 0.01), (2, 500, 0.02), (3, 200, None)]
    assert attempts[0].error == "receiver answered 500"
    final = steps[-1]
    assert isinstance(final, Delivered) and final.attempts == 3 and final.error is None
    assert [d.attempt for d in rx.received] == [1, 2, 3]
    assert all(d.verified and d.body == PAYLOAD.encode() for d in rx.received)


@pytest.mark.e2e
def test_gives_up_after_the_last_attempt_with_the_last_status() -> None:
    with Receiver(SECRET, status=404) as rx:
        steps = deliver(ForwardOptions(rx.url, attempts=3, backoff=FAST))
    final = steps[-1]
    assert isinstance(final, DeliveryFailed)
    assert (final.status, final.attempts, final.error) == (404, 3, "receiver answered 404")
    assert final.to_dict()["status"] == 404 and final.to_dict()["attempts"] == 3
    assert len(rx.received) == 3


def test_refused_connection_is_reported_not_raised() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    steps = deliver(ForwardOptions(f"http://127.0.0.1:{port}/", attempts=2, backoff=FAST))
    first, last = steps[0], steps[-1]
    assert isinstance(first, DeliveryAttempted) and first.status is None and first.error == "connection refused"
    assert isinstance(last, DeliveryFailed) and last.status is None and last.error == "connection refused"
    assert last.attempts == 2


@pytest.mark.e2e
def test_silent_receiver_times_out() -> None:
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.1)
        while not stop.is_set():
            try:
                accepted.append(server.accept()[0])
            except OSError:
                continue

    t = threading.Thread(target=accept, daemon=True)
    t.start()
    try:
        url = f"http://127.0.0.1:{server.getsockname()[1]}/"
        steps = deliver(ForwardOptions(url, timeout=0.2, attempts=2, backoff=FAST))
    finally:
        stop.set()
        t.join(2)
        for c in accepted:
            c.close()
        server.close()
    last = steps[-1]
    assert isinstance(last, DeliveryFailed) and last.error == "timed out after 0.2 s" and last.attempts == 2


@pytest.mark.e2e
def test_user_headers_replace_ours_case_insensitively(rx: Receiver) -> None:
    opts = ForwardOptions(rx.url, headers=(("authorization", "Bearer dev"), ("x-event-type", "custom.type")))
    deliver(opts)
    (d,) = rx.received
    assert d.header("Authorization") == "Bearer dev"
    assert d.header("X-Event-Type") == "custom.type" and d.header_count("X-Event-Type") == 1
    assert d.verified


@pytest.mark.e2e
def test_overriding_the_signature_is_honoured(rx: Receiver) -> None:
    steps = deliver(ForwardOptions(rx.url, headers=(("X-Signature", "t=1,v1=00"),), attempts=1))
    (d,) = rx.received
    assert d.header_count("x-signature") == 1 and not d.verified
    assert isinstance(steps[-1], DeliveryFailed) and steps[-1].status == 401


@pytest.mark.e2e
def test_signature_is_over_the_bytes_sent() -> None:
    with Receiver(SECRET) as rx:
        deliver(ForwardOptions(rx.url))
        (d,) = rx.received
        assert verify_signature(d.body, d.header("X-Signature"), SECRET)
        assert not verify_signature(d.body.decode().replace(" ", ""), d.header("X-Signature"), SECRET)
