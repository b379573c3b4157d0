"""The emulator under hostile input, over loopback: body and field limits, the event-size bound,
strict JSON, nesting depth, query lengths, trailing slashes and clients that leave mid-upload."""

from __future__ import annotations

import json
import socket
import time
import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from websockets.sync.client import connect

from cstar_emulator import validate as v
from tests.support.emulator import LocalEmulator

pytestmark = pytest.mark.e2e

MiB = 1024 * 1024
#: The server contract's bound on one event frame, and what the CLI's relay accepts.
MAX_FRAME = 4 * MiB
RELAY_MAX_FRAME = 16 * MiB
#: The character with the longest JSON spelling: "\u0001" in a payload, "\\u0001" in a frame.
WORST = "\x01"


@pytest.fixture
def api(emulator_session: LocalEmulator) -> Iterator[httpx.Client]:
    with emulator_session.client() as c:
        yield c


def error_of(resp: httpx.Response, status: int) -> dict[str, Any]:
    assert resp.status_code == status, resp.text
    assert resp.headers["content-type"].startswith("application/json")
    body = resp.json()
    assert body["success"] is False
    assert body["meta"]["requestId"] == resp.headers["x-cstar-request-id"]
    return dict(body["error"])


def raw_request(emu: LocalEmulator, head: str, body: bytes = b"") -> bytes:
    """Send one hand-written HTTP/1.1 request and return everything the server answers."""
    with socket.create_connection(("127.0.0.1", emu.port), timeout=10) as s:
        s.sendall(head.replace("\n", "\r\n").encode() + b"\r\n" + body)
        s.shutdown(socket.SHUT_WR) if not body else None
        answer = b""
        while b"\r\n\r\n" not in answer or not _complete(answer):
            chunk = s.recv(65536)
            if not chunk:
                break
            answer += chunk
    return answer


def _complete(answer: bytes) -> bool:
    head, _, body = answer.partition(b"\r\n\r\n")
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            return len(body) >= int(line.split(b":")[1])
    return False


def post_head(emu: LocalEmulator, path: str, extra: str) -> str:
    return (
        f"POST /api/v1/teams/{emu.team_id}{path} HTTP/1.1\nHost: 127.0.0.1:{emu.port}\n"
        f"Authorization: Bearer {emu.keys['sk_test']}\nContent-Type: application/json\n{extra}\n"
    )


# -- 1. body size -------------------------------------------------------------------------------


def test_declared_oversized_body_is_refused_before_it_is_read(emulator_session: LocalEmulator) -> None:
    # Five gigabytes announced and none sent: the answer can only come from the header.
    answer = raw_request(emulator_session, post_head(emulator_session, "/tickets", "Content-Length: 5000000000\n"))
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 413")
    error = json.loads(body)["error"]
    assert (error["type"], error["code"]) == ("validation_error", "payload_too_large")


def test_streamed_body_is_cut_off_past_one_mebibyte(api: httpx.Client) -> None:
    def chunks() -> Iterator[bytes]:  # no Content-Length: sent chunked
        yield b'{"title": "big", "notes": "'
        for _ in range(17):
            yield b"x" * 65536
        yield b'"}'

    error = error_of(api.post("/tickets", content=chunks(), headers={"content-type": "application/json"}), 413)
    assert error["code"] == "payload_too_large"


def test_seventeen_megabytes_of_metadata_is_a_413_and_nothing_is_stored(api: httpx.Client) -> None:
    title = f"huge-{uuid.uuid4().hex}"
    resp = api.post("/tickets", json={"title": title, "metadata": {"blob": "x" * 17_000_000}})
    assert error_of(resp, 413)["code"] == "payload_too_large"
    assert api.get("/tickets", params={"search": title}).json()["meta"]["pagination"]["total"] == 0


def test_a_body_of_exactly_the_limit_is_read(api: httpx.Client) -> None:
    prefix, suffix = b'{"title": "t", "notes": "', b'"}'
    body = prefix + b"n" * (v.MAX_BODY_BYTES - len(prefix) - len(suffix)) + suffix
    assert len(body) == v.MAX_BODY_BYTES
    # Read and validated (notes is too long), not refused for its size.
    assert error_of(api.post("/tickets", content=body), 400)["field"] == "notes"


# -- field limits -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/tickets", {"title": "t" * 501}, "title"),
        ("/tickets", {"title": "t", "notes": "n" * 10_001}, "notes"),
        ("/tickets", {"title": "t", "tags": [f"tag{i}" for i in range(51)]}, "tags"),
        ("/tickets", {"title": "t", "tags": ["x" * 101]}, "tags"),
        ("/tickets", {"title": "t", "tags": ",".join(f"tag{i}" for i in range(51))}, "tags"),
        ("/tickets", {"title": "t", "metadata": {f"k{i}": i for i in range(51)}}, "metadata"),
        ("/tickets", {"title": "t", "metadata": {"k" * 101: 1}}, "metadata"),
        ("/tickets", {"title": "t", "metadata": {"k": "v" * 16_380}}, "metadata"),
        ("/tickets", {"title": "t", "customerName": "c" * 201}, "customerName"),
        ("/customers", {"name": "n", "email": "a@b.co", "notes": "n" * 10_001}, "notes"),
        ("/customers", {"name": "n", "email": "a@b.co", "metadata": {"k": ["v" * 100] * 200}}, "metadata"),
        ("/articles", {"title": "t", "content": "c" * (v.MAX_ARTICLE_CONTENT + 1)}, "content"),
    ],
)
def test_every_unbounded_field_is_capped(api: httpx.Client, path: str, body: dict[str, Any], field: str) -> None:
    assert error_of(api.post(path, json=body), 400)["field"] == field


def test_metadata_is_capped_after_merging(api: httpx.Client) -> None:
    ticket = api.post("/tickets", json={"title": "merge", "metadata": {"a": "x" * 10_000}}).json()["data"]
    error = error_of(api.patch(f"/tickets/{ticket['id']}", json={"metadata": {"b": "y" * 10_000}}), 400)
    assert error["field"] == "metadata"
    # Dropping a key makes room again.
    resp = api.patch(f"/tickets/{ticket['id']}", json={"metadata": {"a": None, "b": "y" * 10_000}})
    assert resp.status_code == 200 and set(resp.json()["data"]["metadata"]) == {"b"}


def test_message_content_is_capped(api: httpx.Client) -> None:
    ticket = api.post("/tickets", json={"title": "messages"}).json()["data"]
    resp = api.post(f"/tickets/{ticket['id']}/messages", json={"content": "m" * 100_001})
    assert error_of(resp, 400)["field"] == "content"


# -- the largest event --------------------------------------------------------------------------


def _worst(n: int, tag: str = "") -> str:
    """``n`` characters, each with the longest JSON spelling (``tag`` first, to tell them apart)."""
    return tag + WORST * (n - len(tag))


def _worst_tags() -> list[str]:
    return [_worst(v.MAX_TAG_LENGTH, f"{i:02d}") for i in range(v.MAX_TAGS)]


def _worst_metadata() -> dict[str, str]:
    # A quote doubles again inside a frame ("\"" -> "\\\""), the most any metadata byte grows.
    overhead = len(json.dumps({"m": ""}, separators=(",", ":")))
    return {"m": '"' * ((v.MAX_METADATA_BYTES - overhead) // 2)}


def test_the_largest_event_frame_fits_the_contract_bound(emulator: LocalEmulator) -> None:
    """Every field at its limit, in the characters JSON spells longest; every frame a listen session
    gets must stay within 4 MiB (the contract), far from the relay's 16 MiB."""
    with emulator.client() as api:
        resp = api.post("/cli/sessions", json={"events": ["*"], "deviceName": "limits"})
        session = resp.json()["data"]
        headers = {"Authorization": f"Bearer {emulator.keys['sk_test']}"}
        with connect(
            session["websocketUrl"], additional_headers=headers, proxy=None, open_timeout=5, max_size=RELAY_MAX_FRAME
        ) as ws:
            assert json.loads(ws.recv(timeout=5))["type"] == "welcome"
            shared = {"notes": _worst(v.MAX_TEXT["notes"]), "tags": _worst_tags(), "metadata": _worst_metadata()}
            customer = api.post(
                "/customers",
                json={
                    "name": _worst(v.MAX_TEXT["name"]),
                    "email": _worst(v.MAX_TEXT["email"] - 5) + "@x.io",
                    **shared,
                },
            )
            assert customer.status_code == 201, customer.text
            ticket = api.post(
                "/tickets",
                json={"title": _worst(v.MAX_TEXT["title"]), "customerId": customer.json()["data"]["id"], **shared},
            )
            assert ticket.status_code == 201, ticket.text
            tid = ticket.json()["data"]["id"]
            patched = api.patch(f"/tickets/{tid}", json={"assignedTo": _worst(v.MAX_TEXT["assignedTo"])})
            assert patched.status_code == 200, patched.text
            message = api.post(
                f"/tickets/{tid}/messages",
                json={"content": _worst(v.MAX_TEXT["content"]), "senderName": _worst(v.MAX_TEXT["senderName"])},
            )
            assert message.status_code == 201, message.text
            # The longest article only fits a 1 MiB body as a form ("%01" is 3 bytes, "\u0001" 6).
            form = {
                "title": _worst(v.MAX_TEXT["title"]),
                "content": _worst(v.MAX_ARTICLE_CONTENT),
                "category": _worst(v.MAX_TEXT["category"]),
                "tags": ",".join(_worst_tags()),
            }
            body = "&".join(f"{k}={quote(val, safe='')}" for k, val in form.items())
            article = api.post("/articles", content=body, headers={"content-type": "application/x-www-form-urlencoded"})
            assert article.status_code == 201, article.text
            aid = article.json()["data"]["id"]
            patched = api.patch(f"/articles/{aid}", json={"metadata": _worst_metadata(), "status": "published"})
            assert patched.status_code == 200, patched.text

            expected = [
                "customer.created",
                "ticket.created",
                "ticket.updated",
                "ticket.assigned",
                "ticket.message_added",
                "article.created",
                "article.updated",
                "article.published",
            ]
            sizes: dict[str, int] = {}
            deadline = time.monotonic() + 20
            while len(sizes) < len(expected) and time.monotonic() < deadline:
                raw = ws.recv(timeout=10)
                frame = json.loads(raw)
                assert frame["type"] == "event"
                json.loads(frame["payload"])  # still JSON all the way down
                sizes[frame["eventType"]] = len(raw.encode("utf-8") if isinstance(raw, str) else raw)
    assert sorted(sizes) == sorted(expected)
    largest = max(sizes.values())
    assert largest <= MAX_FRAME, sizes
    # The bound docs/emulator.md derives for the two largest kinds of event.
    assert sizes["ticket.message_added"] <= 1.2 * MiB and sizes["article.published"] <= 1.5 * MiB, sizes


# -- 2. bad JSON and odd requests ---------------------------------------------------------------


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity", "1e400", "-1e999"])
def test_non_finite_numbers_are_invalid_json(api: httpx.Client, literal: str) -> None:
    body = b'{"title": "nan", "metadata": {"n": ' + literal.encode() + b"}}"
    error = error_of(api.post("/tickets", content=body, headers={"content-type": "application/json"}), 400)
    assert error["code"] == "invalid_json"


def test_idempotent_non_finite_body_is_refused_too(api: httpx.Client) -> None:
    resp = api.post(
        "/customers",
        content=b'{"name": "n", "email": "nan@x.io", "metadata": {"n": NaN}}',
        headers={"Idempotency-Key": uuid.uuid4().hex, "content-type": "application/json"},
    )
    assert error_of(resp, 400)["code"] == "invalid_json"


@pytest.mark.parametrize("depth", [v.MAX_DEPTH + 1, 5000, 100_000])
def test_deep_nesting_is_invalid_json(api: httpx.Client, depth: int) -> None:
    inner = depth - 2  # the body object and the metadata object
    body = b'{"title": "deep", "metadata": {"a": ' + b"[" * inner + b"]" * inner + b"}}"
    for headers in ({}, {"Idempotency-Key": uuid.uuid4().hex}):
        error = error_of(api.post("/tickets", content=body, headers=headers), 400)
        assert error["code"] == "invalid_json" and str(v.MAX_DEPTH) in error["message"]


def test_nesting_at_the_limit_is_accepted(api: httpx.Client) -> None:
    inner = v.MAX_DEPTH - 2
    body = b'{"title": "deep enough", "metadata": {"a": ' + b"[" * inner + b"]" * inner + b"}}"
    resp = api.post("/tickets", content=body)
    assert resp.status_code == 201, resp.text


def test_a_very_long_search_is_a_field_error(api: httpx.Client) -> None:
    error = error_of(api.get("/tickets", params={"search": "x" * 50_000}), 400)
    assert (error["code"], error["field"]) == ("INVALID_FIELD", "search")
    assert api.get("/tickets", params={"search": "x" * v.MAX_QUERY_VALUE_LENGTH}).status_code == 200


@pytest.mark.parametrize("name", ["customerId", "path", "category"])
def test_every_query_parameter_is_bounded(api: httpx.Client, name: str) -> None:
    resource = "/logs" if name == "path" else "/articles" if name == "category" else "/tickets"
    value = "/" + "p" * 5000 if name == "path" else "p" * 5000
    assert error_of(api.get(resource, params={name: value}), 400)["field"] == name


def test_trailing_slash_serves_the_same_route(emulator_session: LocalEmulator, api: httpx.Client) -> None:
    resp = api.get("/tickets/", follow_redirects=False)
    assert resp.status_code == 200 and resp.json()["success"] is True
    created = api.post("/tickets/", json={"title": "slash"}, follow_redirects=False)
    assert created.status_code == 201
    got = api.get(f"/tickets/{created.json()['data']['id']}/", follow_redirects=False)
    assert got.status_code == 200 and got.json()["data"]["title"] == "slash"
    # Outside /api/v1 there is no redirect either: a JSON 404.
    control = httpx.get(emulator_session.url("/_emulator/health/"), follow_redirects=False, trust_env=False)
    assert control.status_code == 404 and control.json()["error"]["code"] == "not_found"


def test_client_leaving_mid_upload_is_logged_quietly(emulator: LocalEmulator) -> None:
    for extra in ("", f"Idempotency-Key: {uuid.uuid4().hex}\n"):
        with socket.create_connection(("127.0.0.1", emulator.port), timeout=10) as s:
            head = post_head(emulator, "/tickets", f"Content-Length: 1000\n{extra}")
            s.sendall(head.replace("\n", "\r\n").encode() + b"\r\n" + b'{"title": "half')
    with emulator.client() as api:
        deadline = time.monotonic() + 10
        entries: list[dict[str, Any]] = []
        while time.monotonic() < deadline:
            entries = [e for e in api.get("/logs").json()["data"] if e["status"] == 499]
            if len(entries) == 2:
                break
            time.sleep(0.05)
        assert len(entries) == 2
        assert api.get("/tickets", params={"search": "half"}).json()["meta"]["pagination"]["total"] == 0
    emulator.stop()
    assert "Traceback" not in emulator.stderr_text()
