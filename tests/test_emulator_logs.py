"""Request logs: the list endpoint with filters and cursor, and the SSE stream with Last-Event-ID."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx

from tests.support.emulator import LocalEmulator
from tests.support.logs import LOG_ENTRY_FIELDS


def test_logs_list_filters_and_cursor(emulator: LocalEmulator) -> None:
    with emulator.client() as api, emulator.client("pk_test") as pk, emulator.client(None) as anon:
        ok = api.get("/tickets")
        missing = api.get("/tickets/tkt_missing")
        forbidden = pk.post("/tickets", json={"title": "x"})
        unauthenticated = anon.get("/tickets", headers={"Authorization": "Bearer sk_test_" + "C" * 32})
        api.post("/customers", json={"name": "L", "email": "logs@example.com"})

        entries = api.get("/logs").json()
        assert entries["meta"]["pagination"] == {"limit": 50, "hasMore": False, "nextCursor": None}
        data = entries["data"]
        by_id = {e["id"]: e for e in data}
        first = by_id[ok.headers["x-cstar-request-id"]]
        assert set(first) == LOG_ENTRY_FIELDS
        assert first["method"] == "GET" and first["status"] == 200 and first["errorCode"] is None
        assert first["path"] == f"/api/v1/teams/{emulator.team_id}/tickets"
        assert first["ip"] == "127.0.0.1" and first["userAgent"].startswith("python-httpx")
        assert first["keyId"].startswith("key_")
        assert by_id[missing.headers["x-cstar-request-id"]]["errorCode"] == "not_found"
        assert by_id[forbidden.headers["x-cstar-request-id"]]["status"] == 403
        failed_auth = by_id[unauthenticated.headers["x-cstar-request-id"]]
        assert (failed_auth["status"], failed_auth["keyId"], failed_auth["errorCode"]) == (401, None, "invalid_api_key")
        ids = [e["id"] for e in data]
        assert ids.index(missing.headers["x-cstar-request-id"]) < ids.index(ok.headers["x-cstar-request-id"])

        def ids_for(**params: str) -> list[str]:
            return [e["id"] for e in api.get("/logs", params=params).json()["data"]]

        four = api.get("/logs", params={"status": "4xx"}).json()["data"]
        assert {e["status"] for e in four} == {401, 403, 404}
        assert ids_for(status="404") == [missing.headers["x-cstar-request-id"]]
        assert {e["method"] for e in api.get("/logs", params={"method": "post"}).json()["data"]} == {"POST"}
        customers = api.get("/logs", params={"path": "/customers"}).json()["data"]
        assert [e["status"] for e in customers] == [201]
        assert ids_for(path="/tickets/tkt_") == [missing.headers["x-cstar-request-id"]]

        page1 = api.get("/logs", params={"limit": 2}).json()
        assert page1["meta"]["pagination"]["hasMore"] is True
        cursor = page1["meta"]["pagination"]["nextCursor"]
        assert cursor == page1["data"][-1]["id"]
        page2 = api.get("/logs", params={"limit": 2, "before": cursor}).json()["data"]
        assert not {e["id"] for e in page2} & {e["id"] for e in page1["data"]}
        everything = ids_for(limit="100")
        at = everything.index(cursor)
        assert [e["id"] for e in page2] == everything[at + 1 : at + 3]

        assert api.get("/logs", params={"status": "4x"}).json()["error"]["field"] == "status"
        assert api.get("/logs", params={"limit": 101}).json()["error"]["field"] == "limit"
        assert api.get("/logs", params={"before": "req_nope"}).json()["error"]["field"] == "before"

    with emulator.client("sk_live") as live:
        live_ids = {e["id"] for e in live.get("/logs").json()["data"]}
    assert ok.headers["x-cstar-request-id"] not in live_ids


def sse_events(lines: Iterator[str]) -> Iterator[dict[str, Any]]:
    """Parse ``text/event-stream`` lines into ``{"id", "event", "data"}`` dicts, skipping comments."""
    event: dict[str, Any] = {}
    for line in lines:
        if line.startswith(":"):
            continue
        if not line:
            if event:
                yield event
                event = {}
            continue
        name, _, value = line.partition(": ")
        event[name] = json.loads(value) if name == "data" else value


def test_log_stream_resumes_without_gap_or_duplicate(emulator: LocalEmulator) -> None:
    timeout = httpx.Timeout(5.0)
    with emulator.client() as api, emulator.client(timeout=timeout) as streamer:
        with streamer.stream("GET", "/logs/stream") as stream:
            assert stream.status_code == 200
            assert stream.headers["content-type"].startswith("text/event-stream")
            lines = stream.iter_lines()
            assert next(lines) == ": connected"
            first = api.get("/tickets")
            event = next(sse_events(lines))
        assert event["event"] == "request" and event["id"] == first.headers["x-cstar-request-id"]
        assert event["data"]["id"] == event["id"] and event["data"]["status"] == 200

        later = [api.get("/customers"), api.get("/articles/art_missing")]
        with streamer.stream("GET", "/logs/stream", headers={"Last-Event-ID": event["id"]}) as stream:
            events = sse_events(stream.iter_lines())
            replayed = [next(events)["id"], next(events)["id"]]
            assert replayed == [r.headers["x-cstar-request-id"] for r in later]
            live = api.get("/webhooks")
            assert next(events)["id"] == live.headers["x-cstar-request-id"]

        with streamer.stream(
            "GET", "/logs/stream", params={"status": "4xx"}, headers={"Last-Event-ID": event["id"]}
        ) as stream:
            events = sse_events(stream.iter_lines())
            assert next(events)["data"]["status"] == 404
            api.get("/tickets")
            bad = api.get("/tickets", params={"priority": "nope"})
            assert next(events)["id"] == bad.headers["x-cstar-request-id"]

        logged_paths = {e["path"] for e in api.get("/logs", params={"limit": 100}).json()["data"]}
        assert not any(p.endswith("/logs/stream") for p in logged_paths)


def test_revoking_a_key_ends_its_log_stream(emulator_session: LocalEmulator) -> None:
    with emulator_session.client() as api:
        made = api.post("/api-keys", json={"name": "stream key"}).json()["data"]
        headers = {"Authorization": f"Bearer {made['key']}"}
        with (
            emulator_session.client(headers=headers, timeout=httpx.Timeout(5.0)) as c,
            c.stream("GET", "/logs/stream") as stream,
        ):
            lines = stream.iter_lines()
            assert next(lines) == ": connected"
            api.delete(f"/api-keys/{made['id']}")
            assert [line for line in lines if line] == [], "the stream ends instead of waiting for pings"


def test_logs_need_a_secret_key(emulator_session: LocalEmulator) -> None:
    # Entries carry every caller's IP and user agent: a publishable (browser) key may not read them.
    with emulator_session.client("pk_test") as pk:
        for path in ("/logs", "/logs/stream"):
            r = pk.get(path)
            assert r.status_code == 403 and r.json()["error"]["code"] == "secret_key_required"
