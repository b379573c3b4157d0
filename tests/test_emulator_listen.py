"""Listen sessions over WebSocket: welcome, live events, replay after Last-Event-ID, acks, close codes,
restarts and burst throughput."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import httpx
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from tests.support.emulator import EmulatorProcess, LocalEmulator


def new_session(
    emu: LocalEmulator, events: Any = ("*",), *, device: str | None = None, key: str | None = None
) -> dict:
    headers = {"Authorization": f"Bearer {key}"} if key else None
    with emu.client(headers=headers or {}) as c:
        resp = c.post("/cli/sessions", json={"events": list(events), "deviceName": device or uuid.uuid4().hex})
    assert resp.status_code == 201, resp.text
    return resp.json()["data"]


def open_ws(
    emu: LocalEmulator, session: dict, *, key: str | None = None, last_event_id: str | None = None
) -> ClientConnection:
    headers = {"Authorization": f"Bearer {key or emu.keys['sk_test']}"}
    if last_event_id:
        headers["Last-Event-ID"] = last_event_id
    return connect(session["websocketUrl"], additional_headers=headers, proxy=None, open_timeout=5)


def recv(ws: ClientConnection, timeout: float = 5) -> dict:
    return json.loads(ws.recv(timeout=timeout))


def sentinel(api: httpx.Client, event: str = "customer.created") -> str:
    """The id of a test event emitted now."""
    return str(api.post("/webhooks/trigger-test", json={"event": event}).json()["data"]["eventId"])


def welcome(ws: ClientConnection) -> dict:
    frame = recv(ws)
    assert frame["type"] == "welcome"
    return frame


def close_code(ws: ClientConnection, timeout: float = 5) -> int:
    try:
        while True:
            ws.recv(timeout=timeout)
    except ConnectionClosed as e:
        return e.rcvd.code if e.rcvd is not None else 1006
    raise AssertionError("unreachable")


def test_session_shape_and_stable_secret(emulator_session: LocalEmulator) -> None:
    device = uuid.uuid4().hex
    first = new_session(emulator_session, ["ticket.*", "customer.created"], device=device)
    assert first["id"].startswith("cls_") and first["object"] == "cli_session"
    assert first["websocketUrl"] == (
        f"ws://127.0.0.1:{emulator_session.port}/api/v1/teams/{emulator_session.team_id}/cli/sessions/{first['id']}/ws"
    )
    assert first["secret"].startswith("whsec_") and first["events"] == ["ticket.*", "customer.created"]
    assert first["expiresAt"].endswith("Z")
    again = new_session(emulator_session, device=device)
    assert again["id"] != first["id"] and again["secret"] == first["secret"] and again["events"] == ["*"]
    assert new_session(emulator_session, device=device + "-other")["secret"] != first["secret"]
    with emulator_session.client() as c:
        bad = c.post("/cli/sessions", json={"events": ["tickets.created"]})
        assert bad.status_code == 400 and bad.json()["error"]["field"] == "events"
        assert c.post("/cli/sessions", json={}).json()["data"]["events"] == ["*"]


def test_welcome_then_matching_live_events(emulator_session: LocalEmulator) -> None:
    session = new_session(emulator_session, ["ticket.*"])
    with open_ws(emulator_session, session) as ws, emulator_session.client() as api:
        hello = welcome(ws)
        assert {k: hello[k] for k in ("type", "sessionId", "resumedAfter")} == {
            "type": "welcome",
            "sessionId": session["id"],
            "resumedAfter": None,
        }
        assert hello["lastEventId"] is None or hello["lastEventId"].startswith("evt_")
        created = api.post("/tickets", json={"title": "Live one", "customerName": "Live Person"})
        ticket = created.json()["data"]
        frame = recv(ws)  # the customer.created that came first is filtered out
        assert frame["type"] == "event" and frame["eventType"] == "ticket.created"
        payload = json.loads(frame["payload"])
        assert payload["id"] == frame["eventId"] and payload["id"].startswith("evt_")
        assert payload["type"] == "ticket.created" and payload["team_id"] == emulator_session.team_id
        assert payload["data"]["ticket"]["id"] == ticket["id"]
        assert payload["data"]["customer"]["name"] == "Live Person"
        assert payload["created_at"].endswith("Z")
        assert frame["headers"] == {
            "X-Event-Type": "ticket.created",
            "X-Event-ID": frame["eventId"],
            "X-Webhook-ID": session["id"],
            "x-cstar-request-id": created.headers["x-cstar-request-id"],
        }

        api.patch(f"/tickets/{ticket['id']}", json={"status": "closed"})
        assert [recv(ws)["eventType"], recv(ws)["eventType"]] == ["ticket.updated", "ticket.closed"]
        api.post(f"/tickets/{ticket['id']}/messages", json={"content": "hi"})
        assert recv(ws)["eventType"] == "ticket.message_added"

        triggered = api.post("/webhooks/trigger-test", json={"event": "ticket.updated"}).json()["data"]
        assert {"target": session["id"], "queued": True} in triggered["deliveries"]
        frame = recv(ws)
        assert frame["eventId"] == triggered["eventId"] and frame["eventType"] == "ticket.updated"
        assert "ticket" in json.loads(frame["payload"])["data"]

        api.delete(f"/tickets/{ticket['id']}")
        assert recv(ws)["eventType"] == "ticket.deleted"


def test_replay_after_last_event_id_then_live(emulator_session: LocalEmulator) -> None:
    session = new_session(emulator_session, ["customer.*"])
    with emulator_session.client() as api:

        def add_customer() -> None:
            api.post("/customers", json={"name": "R", "email": f"{uuid.uuid4().hex}@example.com"})

        with open_ws(emulator_session, session) as ws:
            welcome(ws)
            for _ in range(3):
                add_customer()
            seen = [recv(ws)["eventId"] for _ in range(3)]
        add_customer()  # while nobody listens
        api.post("/tickets", json={"title": "not a customer event"})

        with open_ws(emulator_session, session, last_event_id=seen[0]) as ws:
            assert welcome(ws)["resumedAfter"] == seen[0]
            replayed = [recv(ws) for _ in range(3)]
            assert [f["eventId"] for f in replayed[:2]] == seen[1:]
            assert replayed[2]["eventType"] == "customer.created" and replayed[2]["eventId"] not in seen
            add_customer()
            live = recv(ws)
            assert live["eventId"] not in {f["eventId"] for f in replayed} | set(seen)
            # Frames keep event order, so anything still due (a repeat) would come before a sentinel.
            last = sentinel(api)
            assert recv(ws)["eventId"] == last

        with open_ws(emulator_session, session, last_event_id="evt_unknown") as ws:
            assert welcome(ws)["resumedAfter"] is None
            last = sentinel(api)
            assert recv(ws)["eventId"] == last, "an unknown Last-Event-ID replays nothing"


def test_acks_are_recorded_as_deliveries(emulator_session: LocalEmulator) -> None:
    session = new_session(emulator_session, ["article.*"])
    with open_ws(emulator_session, session) as ws, emulator_session.client() as api:
        welcome(ws)
        api.post("/webhooks/trigger-test", json={"event": "article.published"})
        event_id = recv(ws)["eventId"]
        ack = {"type": "ack", "eventId": event_id, "status": 200, "durationMs": 12.5, "attempts": 1, "error": None}
        ws.send(json.dumps(ack))
        ws.send("not json")  # ignored
        records: list = []
        for _ in range(50):
            records = httpx.get(
                emulator_session.url("/_emulator/deliveries"),
                params={"kind": "cli", "target": session["id"]},
                trust_env=False,
            ).json()["data"]
            if records:
                break
            time.sleep(0.05)
    assert len(records) == 1
    assert records[0] | {"createdAt": None} == {
        "kind": "cli",
        "target": session["id"],
        "teamId": emulator_session.team_id,
        "mode": "test",
        "eventId": event_id,
        "eventType": None,
        "attempt": 1,
        "status": 200,
        "durationMs": 12.5,
        "error": None,
        "createdAt": None,
    }


def test_revoking_the_key_closes_its_sockets_with_4401(emulator_session: LocalEmulator) -> None:
    with emulator_session.client() as api:
        made = api.post("/api-keys", json={"name": "listen key"}).json()["data"]
        session = new_session(emulator_session, key=made["key"])
        other = new_session(emulator_session)
        with open_ws(emulator_session, session, key=made["key"]) as ws, open_ws(emulator_session, other) as keep:
            welcome(ws)
            welcome(keep)
            api.delete(f"/api-keys/{made['id']}")
            assert close_code(ws) == 4401
            api.post("/webhooks/trigger-test", json={"event": "ticket.created"})
            assert recv(keep)["eventType"] == "ticket.created", "other keys' sockets stay open"
    with open_ws(emulator_session, session, key=made["key"]) as ws:
        assert close_code(ws) == 4401
    with open_ws(emulator_session, session, key="sk_test_" + "B" * 32) as ws:
        assert close_code(ws) == 4401
    with open_ws(emulator_session, session, key=emulator_session.keys["sk_live"]) as ws:
        assert close_code(ws) == 4404, "a live key does not see a test session"


def test_expire_sessions_and_drop_websockets(emulator: LocalEmulator) -> None:
    with httpx.Client(base_url=emulator.url("/_emulator"), trust_env=False) as controls:
        session = new_session(emulator)
        for code in (1011, 1001, 1006):
            with open_ws(emulator, session) as ws:
                welcome(ws)
                assert controls.post("/drop-websockets", json={"code": code}).json()["data"]["closed"] == 1
                assert close_code(ws) == code
        with open_ws(emulator, session) as ws:
            welcome(ws)
            assert controls.post("/expire-sessions").json()["data"]["expired"] >= 1
            with open_ws(emulator, session) as again:
                assert close_code(again) == 4404
            fake = dict(session, websocketUrl=session["websocketUrl"].replace(session["id"], "cls_nope"))
            with open_ws(emulator, fake) as unknown:
                assert close_code(unknown) == 4404
            # An already connected session keeps streaming until it reconnects.
            with emulator.client() as api:
                api.post("/webhooks/trigger-test", json={"event": "boss.defeated"})
            assert recv(ws)["eventType"] == "boss.defeated"
        assert controls.get("/health").json()["data"]["ok"] is True


def test_events_survive_a_killed_process(emulator_process: EmulatorProcess) -> None:
    emulator = emulator_process
    session = new_session(emulator, ["ticket.created"])
    with open_ws(emulator, session) as ws, emulator.client() as api:
        welcome(ws)
        for i in range(3):
            api.post("/tickets", json={"title": f"durable {i}"})
        ids = [recv(ws)["eventId"] for _ in range(3)]
    emulator.kill()
    old_port = emulator.port
    emulator.restart()
    assert emulator.port == old_port
    with open_ws(emulator, session, last_event_id=ids[0]) as ws:
        assert welcome(ws)["resumedAfter"] == ids[0]
        assert [recv(ws)["eventId"] for _ in range(2)] == ids[1:]
        with emulator.client() as api:
            api.post("/tickets", json={"title": "after restart"})
        assert recv(ws)["eventId"] not in ids


def test_burst_reaches_a_session_in_order(emulator: LocalEmulator) -> None:
    count = 5000
    session = new_session(emulator, ["ticket.created"])
    with open_ws(emulator, session) as ws:
        welcome(ws)
        started = time.perf_counter()
        burst = httpx.post(
            emulator.url("/_emulator/burst"), json={"count": count, "event": "ticket.created"}, trust_env=False
        ).json()["data"]
        ids = [recv(ws)["eventId"] for _ in range(count)]
        elapsed = time.perf_counter() - started
    assert ids[0] == burst["firstEventId"] and ids[-1] == burst["lastEventId"]
    assert len(set(ids)) == count
    # Generous bound so a slow CI box passes; the target (≥ 2,000/s) is measured by bench scripts.
    assert elapsed < 20, f"{count} events took {elapsed:.1f} s"
