"""The emulator refuses what a web page could send it: a foreign ``Host`` (DNS rebinding) on any path
and over WebSocket, and on ``/_emulator/*`` a foreign ``Origin`` or a body that is not JSON — with a
403 envelope, and without the refused request changing anything."""

from __future__ import annotations

import json
import socket
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.sync.client import connect

from cstar_emulator.hosts import HostPolicy, check_allow_host, split_host
from tests.support.cli import cstar_subprocess
from tests.support.emulator import LocalEmulator, start_emulator

FORGED_HOSTS = [
    "evil.example",
    "evil.example:{port}",
    "127.0.0.1.evil.example:{port}",
    "localhost.evil.example",
    "evil@127.0.0.1:{port}",
    "127.0.0.1:{port}/x",
    "",
]
FOREIGN_ORIGINS = ["http://evil.example", "null", "http://localhost:3000", "https://127.0.0.1:{port}", "http://127.0.0.1"]


def _raw(emu: LocalEmulator, request: bytes) -> tuple[int, bytes]:
    """Send ``request`` as-is; the status code and the rest of the answer (read until close)."""
    with socket.create_connection(("127.0.0.1", emu.port), timeout=10) as s:
        s.sendall(request)
        chunks = []
        while chunk := s.recv(65536):
            chunks.append(chunk)
    answer = b"".join(chunks)
    return int(answer.split(b" ", 2)[1]), answer


def _assert_refused(resp: httpx.Response, code: str) -> None:
    assert resp.status_code == 403, resp.text
    body = resp.json()
    assert body["success"] is False
    assert body["error"]["type"] == "permission_error" and body["error"]["code"] == code
    assert body["error"]["doc_url"].endswith("#" + code)
    assert body["meta"]["requestId"].startswith("req_")
    assert resp.headers["x-cstar-request-id"] == body["meta"]["requestId"]


def _new_session(emu: LocalEmulator) -> dict[str, Any]:
    with emu.client() as c:
        resp = c.post("/cli/sessions", json={"deviceName": uuid.uuid4().hex})
    assert resp.status_code == 201, resp.text
    return resp.json()["data"]


def _latest_event_id(emu: LocalEmulator, session: dict[str, Any] | None = None) -> str | None:
    """The newest event id of the seeded test scope, as the welcome on ``session`` (default: a new
    one) reports it; the welcome also proves the session was not expired."""
    session = session or _new_session(emu)
    with connect(session["websocketUrl"], additional_headers=emu.auth(), proxy=None, open_timeout=5) as ws:
        welcome = json.loads(ws.recv(timeout=5))
    assert welcome["type"] == "welcome"
    return welcome["lastEventId"]


def _control(emu: LocalEmulator, name: str, **kwargs: Any) -> httpx.Response:
    return httpx.post(emu.url(f"/_emulator/{name}"), trust_env=False, timeout=10, **kwargs)


def test_forged_host_is_refused_everywhere_and_changes_nothing(emulator: LocalEmulator) -> None:
    baseline = _control(emulator, "burst", json={"count": 1}).json()["data"]["lastEventId"]
    session = _new_session(emulator)
    for template in FORGED_HOSTS:
        forged = {"Host": template.format(port=emulator.port)}
        with emulator.client(headers=forged) as c:
            _assert_refused(c.get("/tickets"), "host_not_allowed")
            _assert_refused(c.post("/tickets", json={"title": "rebound", "customerId": "x"}), "host_not_allowed")
        for name, body in [("burst", {"count": 5}), ("fail-next", {"status": 503}), ("expire-sessions", {})]:
            _assert_refused(_control(emulator, name, json=body, headers=forged), "host_not_allowed")
        _assert_refused(
            httpx.get(emulator.url("/_emulator/health"), headers=forged, trust_env=False), "host_not_allowed"
        )
    # Nothing fired: no burst event, sessions still known, no armed fault.
    assert _latest_event_id(emulator, session) == baseline
    with emulator.client() as c:
        assert c.get("/tickets").status_code == 200
        titles = [t["title"] for t in c.get("/tickets", params={"pageSize": 100}).json()["data"]]
    assert "rebound" not in titles
    stderr = emulator.stderr_text()
    assert "host_not_allowed" in stderr and emulator.keys["sk_test"] not in stderr


@pytest.mark.parametrize(
    "host", ["localhost", "localhost:{port}", "LOCALHOST:{port}", "127.0.0.1", "127.9.8.7:{port}", "[::1]:{port}"]
)
def test_loopback_names_are_answered(emulator_session: LocalEmulator, host: str) -> None:
    headers = {"Host": host.format(port=emulator_session.port)}
    with emulator_session.client(headers=headers) as c:
        assert c.get("/tickets").status_code == 200
    health = httpx.get(emulator_session.url("/_emulator/health"), headers=headers, trust_env=False)
    assert health.status_code == 200


def test_missing_or_repeated_host_is_refused(emulator_session: LocalEmulator) -> None:
    status, answer = _raw(emulator_session, b"GET /_emulator/health HTTP/1.0\r\n\r\n")
    assert status == 403 and b'"host_not_allowed"' in answer
    twice = b"GET /_emulator/health HTTP/1.1\r\nHost: 127.0.0.1\r\nHost: evil.example\r\nConnection: close\r\n\r\n"
    status, _ = _raw(emulator_session, twice)
    assert status in (400, 403)  # the HTTP parser may reject it first; it is never answered


def test_websocket_with_forged_host_is_denied_before_the_handshake(emulator_session: LocalEmulator) -> None:
    emu = emulator_session
    with emu.client() as c:
        session = c.post("/cli/sessions", json={"deviceName": uuid.uuid4().hex}).json()["data"]
    path = f"/api/v1/teams/{emu.team_id}/cli/sessions/{session['id']}/ws"
    handshake = (
        f"GET {path} HTTP/1.1\r\nHost: evil.example:{emu.port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        f"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
        f"Authorization: Bearer {emu.keys['sk_test']}\r\n\r\n"
    ).encode()
    status, answer = _raw(emu, handshake)
    assert status == 403 and b"101" not in answer.split(b"\r\n", 1)[0]
    assert b'"host_not_allowed"' in answer
    # The real Host still gets the session.
    with connect(session["websocketUrl"], additional_headers=emu.auth(), proxy=None, open_timeout=5) as ws:
        assert json.loads(ws.recv(timeout=5))["type"] == "welcome"


def test_controls_refuse_foreign_origins_and_non_json_bodies(emulator: LocalEmulator) -> None:
    baseline = _control(emulator, "burst", json={"count": 1}).json()["data"]["lastEventId"]
    session = _new_session(emulator)
    for origin in FOREIGN_ORIGINS:
        headers = {"Origin": origin.format(port=emulator.port)}
        _assert_refused(_control(emulator, "burst", json={"count": 3}, headers=headers), "origin_not_allowed")
        _assert_refused(_control(emulator, "fail-next", json={"status": 503}, headers=headers), "origin_not_allowed")
        _assert_refused(_control(emulator, "expire-sessions", headers=headers), "origin_not_allowed")
        health = httpx.get(emulator.url("/_emulator/health"), headers=headers, trust_env=False)
        _assert_refused(health, "origin_not_allowed")
    cross = {"Sec-Fetch-Site": "cross-site"}
    _assert_refused(_control(emulator, "burst", json={"count": 3}, headers=cross), "origin_not_allowed")
    # What a page may POST cross-origin without a preflight: text/plain, forms, multipart.
    raw = b'{"count": 3}'
    for content_type in ("text/plain", "text/plain;charset=UTF-8", "application/x-www-form-urlencoded"):
        resp = _control(emulator, "burst", content=raw, headers={"Content-Type": content_type})
        _assert_refused(resp, "json_required")
    _assert_refused(_control(emulator, "burst", files={"count": ("c", b"3")}), "json_required")
    _assert_refused(_control(emulator, "fail-next", content=b'{"status": 503}'), "json_required")
    _assert_refused(_control(emulator, "expire-sessions", headers={"Content-Type": "text/plain"}), "json_required")
    assert _latest_event_id(emulator, session) == baseline
    with emulator.client() as c:
        assert c.get("/tickets").status_code == 200  # no fault was armed


def test_controls_still_answer_their_own_clients(emulator: LocalEmulator) -> None:
    own = {"Origin": f"http://127.0.0.1:{emulator.port}", "Sec-Fetch-Site": "same-origin"}
    fired = _control(emulator, "burst", json={"count": 2}, headers=own)
    assert fired.status_code == 200, fired.text
    assert _latest_event_id(emulator) == fired.json()["data"]["lastEventId"]  # what the refusal tests rely on
    charset = {"Content-Type": "application/json; charset=utf-8"}
    assert _control(emulator, "burst", content=b'{"count": 1}', headers=charset).status_code == 200
    # An empty body needs no Content-Type (curl -X POST …/expire-sessions).
    assert _control(emulator, "expire-sessions").json()["data"] == {"expired": 1}  # _latest_event_id's
    assert httpx.get(emulator.url("/_emulator/health"), headers=own, trust_env=False).status_code == 200


def test_api_requests_from_browsers_keep_working(emulator_session: LocalEmulator) -> None:
    # The API's protection is the bearer key, which a page only has if it was given one.
    with emulator_session.client("pk_test", headers={"Origin": "http://app.example"}) as c:
        assert c.get("/tickets").status_code == 200
    with emulator_session.client(headers={"Origin": "http://app.example"}) as c:
        created = c.post("/customers", json={"name": "Origin Test", "email": f"{uuid.uuid4().hex}@example.com"})
    assert created.status_code == 201, created.text


@pytest.mark.e2e
def test_allow_host_adds_names(tmp_path: Path) -> None:
    with start_emulator(tmp_path / "e.db", extra_args=["--allow-host", "emulator", "--allow-host", "Api.Local"]) as emu:
        for host in ("emulator", f"emulator:{emu.port}", f"api.local:{emu.port}", "localhost"):
            with emu.client(headers={"Host": host}) as c:
                assert c.get("/tickets").status_code == 200, host
        with emu.client(headers={"Host": "other"}) as c:
            _assert_refused(c.get("/tickets"), "host_not_allowed")


@pytest.mark.e2e
def test_allow_any_host_warns_but_controls_still_refuse_pages(tmp_path: Path) -> None:
    with start_emulator(tmp_path / "e.db", extra_args=["--allow-host", "*"]) as emu:
        with emu.client(headers={"Host": f"evil.example:{emu.port}"}) as c:
            assert c.get("/tickets").status_code == 200
        rebound = {"Host": f"evil.example:{emu.port}", "Origin": f"http://evil.example:{emu.port}"}
        _assert_refused(_control(emu, "burst", json={"count": 1}, headers=rebound), "origin_not_allowed")
        assert "DNS rebinding" in emu.stderr_text()


@pytest.mark.e2e
@pytest.mark.parametrize("value", ["http://emulator", "emulator:8787", "a b", "emulator/x", ""])
def test_malformed_allow_host_is_a_usage_error(tmp_path: Path, value: str) -> None:
    # A subprocess with a deadline: were the flag accepted, the emulator would run until stopped.
    run = cstar_subprocess("emulator", "start", "--port", "0", "--db", str(tmp_path / "e.db"), "--allow-host", value)
    assert run.code == 2
    assert "--allow-host" in run.stderr and "Traceback" not in run.output
    assert len([line for line in run.stderr.splitlines() if line.strip()]) <= 2


def test_host_policy_units() -> None:
    assert split_host("LocalHost:8787") == ("localhost", 8787)
    assert split_host("[::1]") == ("::1", None)
    for bad in (None, "", "::1", "[zz]:1", "a:99999", "a:", "user@host", "a b"):
        assert split_host(bad) is None, bad
    loopback = HostPolicy()
    assert loopback.allows("127.0.0.1:1") and loopback.allows("[::1]:1") and not loopback.allows("10.0.0.1")
    everywhere = HostPolicy("0.0.0.0")
    assert everywhere.allows("192.168.1.5:8787") and everywhere.allows("0.0.0.0") and everywhere.allows("[fe80::1]")
    assert not everywhere.allows("evil.example:8787")
    bound = HostPolicy("192.168.1.5", ["emulator"])
    assert bound.allows("192.168.1.5:8787") and bound.allows("EMULATOR") and not bound.allows("192.168.1.6")
    assert check_allow_host(" [::1] ") == "::1" and check_allow_host("*") == "*"
    with pytest.raises(ValueError):
        check_allow_host("-bad-")
