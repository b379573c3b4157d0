"""The example receiver: a real local HTTP server that verifies signatures."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import httpx
import pytest

from cstar_cli.protocol.webhook import delivery_headers
from cstar_cli.receiver import Receiver
from tests.support.cli import cstar_env

pytestmark = pytest.mark.e2e  # every test serves the receiver

SECRET = "whsec_receiver_test"
BODY = b'{"id":"evt_r1","type":"ticket.created","created_at":"2026-01-01T00:00:00.000Z","team_id":"t","data":{}}'


def _headers(body: bytes = BODY, secret: str = SECRET, attempt: int = 1) -> dict[str, str]:
    return delivery_headers(
        body,
        secret,
        event_id="evt_r1",
        event_type="ticket.created",
        webhook_id="cls_1",
        request_id="req_1",
        attempt=attempt,
    )


def test_verified_delivery_is_recorded_byte_for_byte() -> None:
    with Receiver(SECRET, path="/webhooks") as rx, httpx.Client() as http:
        r = http.post(rx.url, content=BODY, headers=_headers(attempt=2))
        assert r.status_code == 200
        (d,) = rx.received
        assert d.verified and d.status == 200 and d.body == BODY
        assert (d.event_id, d.event_type, d.attempt) == ("evt_r1", "ticket.created", 2)
        assert d.header("x-cstar-request-id") == "req_1" and d.header_count("X-Signature") == 1


def test_bad_signature_is_401_and_wrong_path_404() -> None:
    with Receiver(SECRET, path="/webhooks") as rx, httpx.Client() as http:
        assert http.post(rx.url, content=BODY + b" ", headers=_headers()).status_code == 401
        assert http.post(rx.url, content=BODY, headers=_headers(secret="whsec_other")).status_code == 401
        assert http.post(rx.url, content=BODY).status_code == 401
        other = rx.url.replace("/webhooks", "/other")
        assert http.post(other, content=BODY, headers=_headers()).status_code == 404
        assert [d.verified for d in rx.received] == [False, False, False, True]


def test_fail_first_then_status() -> None:
    with Receiver(SECRET, fail_first=2, status=202) as rx, httpx.Client() as http:
        codes = [http.post(rx.url, content=BODY, headers=_headers()).status_code for _ in range(3)]
        assert codes == [500, 500, 202]
        assert rx.wait_for(3, timeout=1)
        assert len(rx.received) == 3  # each POST was answered before the next, so no other can come


def test_keeps_the_connection_alive() -> None:
    with Receiver(SECRET) as rx, httpx.Client() as http:
        for _ in range(3):
            http.post(rx.url, content=BODY, headers=_headers())
        assert len({d.peer for d in rx.received}) == 1


@pytest.mark.timeout(30)
def test_command_line_logs_one_line_per_request() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "cstar_cli.receiver", "--port", "0", "--secret", SECRET, "--path", "/hooks"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=cstar_env(),
    )
    try:
        assert proc.stderr is not None and proc.stdout is not None
        banner = proc.stderr.readline()
        assert banner.startswith("Receiving webhooks at http://127.0.0.1:")
        url = banner.split(" at ", 1)[1].split(" ", 1)[0]
        assert url.endswith("/hooks")
        with httpx.Client() as http:
            assert http.post(url, content=BODY, headers=_headers()).status_code == 200
            assert http.post(url, content=BODY, headers=_headers(secret="nope")).status_code == 401
        assert proc.stdout.readline().strip() == "[200] ticket.created evt_r1 attempt 1 signature verified"
        assert proc.stdout.readline().strip() == "[401] ticket.created evt_r1 attempt 1 signature INVALID"
    finally:
        os.kill(proc.pid, signal.SIGINT)
        _, err = proc.communicate(timeout=10)
    assert proc.returncode == 0
    assert "Traceback" not in err
