"""The listen session on the real emulator: who may attach to a session's WebSocket, the
``event_too_large`` notice for a client's ``X-Max-Frame-Bytes``, ``welcome.lastEventId`` as the
resume point, and ``DELETE /cli/sessions/{id}``."""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

import httpx
import pytest
from websockets.sync.client import connect

from cstar_cli.receiver import Receiver
from cstar_cli.relay import Delivered, EventReceived, EventTooLarge, ForwardOptions, Relay
from tests.support.emulator import LocalEmulator
from tests.test_emulator_listen import close_code, new_session, open_ws, recv, welcome

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(60)]


def session_count(emu: LocalEmulator) -> int:
    """How many live listen sessions the test key's team and mode has (``GET /cli/sessions``)."""
    with emu.client() as api:
        r = api.get("/cli/sessions")
    assert r.status_code == 200, r.text
    return len(r.json()["data"])


def deliveries(emu: LocalEmulator, **params: str) -> list[dict[str, Any]]:
    r = httpx.get(emu.url("/_emulator/deliveries"), params={"kind": "cli", **params}, trust_env=False)
    return list(r.json()["data"])


# --- who may attach ----------------------------------------------------------------------------


def test_only_a_secret_key_of_the_sessions_team_and_mode_may_attach(emulator_session: LocalEmulator) -> None:
    emu = emulator_session
    session = new_session(emu)
    with open_ws(emu, session, key=emu.keys["pk_test"]) as ws:
        assert close_code(ws) == 4403, "a publishable key of the same team and mode is refused"
    with open_ws(emu, session, key=emu.keys["pk_live"]) as ws:
        assert close_code(ws) == 4403
    with open_ws(emu, session, key=emu.keys["sk_live"]) as ws:
        assert close_code(ws) == 4404, "a secret key of the other mode does not see the session"
    with emu.client() as api:
        other = api.post("/api-keys", json={"name": "second secret key"}).json()["data"]["key"]
    with open_ws(emu, session, key=other) as ws:
        assert welcome(ws)["sessionId"] == session["id"], "any secret key of the team and mode may"


# --- frames over the client's limit ---------------------------------------------------------------


def test_an_event_over_the_announced_limit_becomes_a_notice(emulator_session: LocalEmulator) -> None:
    emu = emulator_session
    session = new_session(emu, ["ticket.created"])
    with emu.client() as api:
        api.post("/tickets", json={"title": "small"}).raise_for_status()
        api.post("/tickets", json={"title": "big", "metadata": {"blob": "é" * 3000}}).raise_for_status()
    with open_ws(emu, session) as ws:
        welcome(ws)
        small, big = recv(ws), recv(ws)
    sizes = [len(json.dumps(f, ensure_ascii=False, separators=(",", ":")).encode()) for f in (small, big)]
    limit = sum(sizes) // 2
    assert sizes[0] < limit < sizes[1]
    headers = {"Authorization": f"Bearer {emu.keys['sk_test']}", "X-Max-Frame-Bytes": str(limit)}
    with connect(session["websocketUrl"], additional_headers=headers, proxy=None, max_size=limit) as ws:
        welcome(ws)
        assert recv(ws)["eventId"] == small["eventId"]
        raw = ws.recv(timeout=5)
        notice = json.loads(raw)
    assert notice == {
        "type": "event_too_large",
        "eventId": big["eventId"],
        "eventType": "ticket.created",
        "size": notice["size"],
    }
    # The size counts bytes, not characters (the payload is mostly two-byte "é").
    assert notice["size"] > limit and abs(notice["size"] - sizes[1]) < 200


def test_relay_reports_acks_and_moves_past_an_event_too_large(emulator: LocalEmulator) -> None:
    """End to end with the relay's limit lowered so an ordinary event is "too large"."""
    emu = emulator
    elements: list[Any] = []

    async def main(secret: str, url: str, session_ids: list[str]) -> None:
        def open_session() -> dict[str, Any]:
            data = new_session(emu, ["ticket.created"], device="relay-test")
            session_ids.append(data["id"])
            return data

        relay = Relay(open_session, api_key=emu.keys["sk_test"], forward=ForwardOptions(url), max_frame_bytes=4000)
        loop = asyncio.get_running_loop()
        try:
            async for element in relay.run():
                elements.append(element)
                if len(elements) == 1:
                    await loop.run_in_executor(None, make_events)
                if isinstance(element, Delivered) and '"title":"next"' in element.event.payload:
                    after.append(element.event.event_id)
                    break
        finally:
            await relay.aclose()

    after: list[str] = []

    def make_events() -> None:
        with emu.client() as api:
            api.post("/tickets", json={"title": "big", "metadata": {"blob": "x" * 6000}}).raise_for_status()
            api.post("/tickets", json={"title": "next"}).raise_for_status()

    secret = new_session(emu, device="relay-test")["secret"]
    session_ids: list[str] = []
    with Receiver(secret) as rx:
        asyncio.run(asyncio.wait_for(main(secret, rx.url, session_ids), 30))
    (notice,) = [e for e in elements if isinstance(e, EventTooLarge)]
    assert notice.limit == 4000 and notice.size > 4000 and notice.event_type == "ticket.created"
    assert [e.event_id for e in elements if isinstance(e, EventReceived)] == [after[0]]
    assert [d.event_id for d in rx.received] == [after[0]]
    acked = deliveries(emu, eventId=notice.event_id)
    assert len(acked) == 1 and acked[0]["status"] is None
    assert acked[0]["error"] == f"event_too_large: {notice.size} bytes over the 4000-byte limit"


# --- welcome.lastEventId --------------------------------------------------------------------------


def test_welcome_names_where_the_stream_starts(emulator_session: LocalEmulator) -> None:
    """A client that drops before its first ack resumes after ``lastEventId`` and loses nothing, even
    the events it was replayed but had not acked yet."""
    emu = emulator_session
    with emu.client() as api:
        api.post("/webhooks/trigger-test", json={"event": "ticket.created"}).raise_for_status()
        session = new_session(emu, ["ticket.created"])
        # Created after the session but before the socket: replayed to it, not yet acked.
        later = api.post("/webhooks/trigger-test", json={"event": "ticket.created"}).json()["data"]["eventId"]
    with open_ws(emu, session) as ws:
        start = welcome(ws)["lastEventId"]
        assert recv(ws)["eventId"] == later
    with open_ws(emu, session, last_event_id=start) as ws:
        assert welcome(ws)["resumedAfter"] == start
        assert recv(ws)["eventId"] == later, "resuming from lastEventId replays the unacked event"


# --- deleting a session ---------------------------------------------------------------------------


def test_list_and_delete_sessions(emulator: LocalEmulator) -> None:
    emu = emulator
    device = uuid.uuid4().hex
    session = new_session(emu, ["ticket.*"], device=device)
    with emu.client() as api:
        listed = api.get("/cli/sessions").json()["data"]
    assert [row["id"] for row in listed] == [session["id"]]
    assert listed[0] | {"createdAt": None} == {
        "id": session["id"],
        "object": "cli_session",
        "deviceName": device,
        "events": ["ticket.*"],
        "createdAt": None,
        "expiresAt": session["expiresAt"],
        "connected": False,
    }
    assert "secret" not in listed[0]
    with emu.client("pk_test") as pk:
        assert pk.get("/cli/sessions").status_code == 403
    with emu.client("pk_test") as pk:
        refused = pk.delete(f"/cli/sessions/{session['id']}")
        assert refused.status_code == 403
    with open_ws(emu, session) as ws, emu.client() as api:
        welcome(ws)
        assert api.get("/cli/sessions").json()["data"][0]["connected"] is True
        gone = api.delete(f"/cli/sessions/{session['id']}")
        assert gone.status_code == 200, gone.text
        assert gone.json()["data"] == {"id": session["id"], "object": "cli_session", "deleted": True}
        assert close_code(ws) == 4404, "its open socket is closed as for an unknown session"
        again = api.delete(f"/cli/sessions/{session['id']}")
        assert again.status_code == 404 and again.json()["error"]["code"] == "not_found"
    with emu.client("sk_live") as live:
        other_mode = new_session(emu, device=device, key=emu.keys["sk_live"])
        assert live.delete(f"/cli/sessions/{session['id']}").status_code == 404
        with emu.client() as api:
            assert api.delete(f"/cli/sessions/{other_mode['id']}").status_code == 404
    with open_ws(emu, session) as ws:
        assert close_code(ws) == 4404
    assert session_count(emu) == 0
    assert new_session(emu, device=device)["secret"] == session["secret"], "the device keeps its secret"
