"""The API client at the network edge: what a healthy server rarely produces (flaky 5xx, dropped
connections, non-JSON bodies) through httpx.MockTransport. Behaviour against a real server is covered
end to end in the command tests."""

from __future__ import annotations

import json
from collections.abc import Callable

import httpx
import pytest

from cstar_cli.api import USER_AGENT, CStarClient
from cstar_cli.errors import (
    CStarAuthenticationError,
    CStarConnectionError,
    CStarNotFoundError,
    CStarRateLimitError,
    CStarServerError,
    CStarUsageError,
    CStarValidationError,
)

KEY = "sk_test_" + "k" * 28
TEAM = "11111111-2222-3333-4444-555555555555"


def envelope(data: object, request_id: str = "req_1", **meta: object) -> dict[str, object]:
    return {
        "success": True,
        "data": data,
        "meta": {"requestId": request_id, "timestamp": "2026-01-01T00:00:00Z", **meta},
    }


def error(status: int, type_: str, code: str, message: str, field: str | None = None) -> httpx.Response:
    body = {"success": False, "error": {"type": type_, "code": code, "message": message, "doc_url": "https://d"}}
    if field:
        body["error"]["field"] = field
    return httpx.Response(status, json=body, headers={"x-cstar-request-id": f"req_{status}"})


def client(handler: Callable[[httpx.Request], httpx.Response], **kw: object) -> tuple[CStarClient, list[float]]:
    sleeps: list[float] = []
    c = CStarClient(
        KEY, "https://api.example", team_id=TEAM, transport=httpx.MockTransport(handler), sleep=sleeps.append, **kw
    )
    return c, sleeps


def test_unwraps_envelope_and_keeps_metadata() -> None:
    seen: list[httpx.Request] = []

    def handler(req: httpx.Request) -> httpx.Response:
        seen.append(req)
        return httpx.Response(
            200,
            json=envelope([{"id": "tkt_1"}], pagination={"page": 1, "pageSize": 20, "total": 41, "totalPages": 3}),
            headers={
                "x-cstar-request-id": "req_abc",
                "X-RateLimit-Limit": "1000",
                "X-RateLimit-Remaining": "998",
                "X-RateLimit-Reset": "1700000000",
                "X-RateLimit-Window": "3600",
            },
        )

    c, _ = client(handler)
    page = c.list_tickets(status="open", search=None)
    assert page.data == [{"id": "tkt_1"}] and page.meta.has_more
    req = seen[0]
    assert req.url.path == f"/api/v1/teams/{TEAM}/tickets"
    assert dict(req.url.params) == {"status": "open", "page": "1", "pageSize": "20"}
    assert req.headers["authorization"] == f"Bearer {KEY}"
    assert req.headers["user-agent"] == USER_AGENT and USER_AGENT.startswith("cstar-cli/")
    assert page.meta.request_id == "req_abc"
    assert page.meta.rate_limit.to_dict() == {"limit": 1000, "remaining": 998, "reset": 1700000000, "window": 3600}


@pytest.mark.parametrize(
    ("status", "type_", "cls"),
    [
        (400, "validation_error", CStarValidationError),
        (401, "authentication_error", CStarAuthenticationError),
        (404, "not_found_error", CStarNotFoundError),
    ],
)
def test_errors_become_reference_classes(status: int, type_: str, cls: type) -> None:
    c, _ = client(lambda req: error(status, type_, "INVALID_FIELD", "Title is required", "title"))
    with pytest.raises(cls) as e:
        c.transport.request("POST", f"/teams/{TEAM}/tickets", json={})
    err = e.value
    assert (err.status_code, err.request_id, err.doc_url, err.message) == (
        status,
        f"req_{status}",
        "https://d",
        "Title is required",
    )
    assert err.field == "title" and err.param == "title"


def test_get_retries_5xx_then_succeeds() -> None:
    calls = iter(
        [
            error(503, "server_error", "unavailable", "busy"),
            error(500, "server_error", "x", "boom"),
            httpx.Response(200, json=envelope({"ok": True})),
        ]
    )
    c, sleeps = client(lambda req: next(calls))
    result = c.transport.request("GET", "/me")
    assert result.data == {"ok": True}
    assert len(sleeps) == 2 and result.meta.attempts == 3


def test_gives_up_after_retries() -> None:
    c, sleeps = client(lambda req: error(500, "server_error", "x", "boom"))
    with pytest.raises(CStarServerError) as e:
        c.transport.request("GET", "/me")
    assert e.value.request_id == "req_500" and len(sleeps) == 2


def test_mutation_retries_reuse_one_idempotency_key() -> None:
    keys: list[str] = []

    def handler(req: httpx.Request) -> httpx.Response:
        keys.append(req.headers["idempotency-key"])
        if len(keys) == 1:
            raise httpx.ConnectError("reset")
        return httpx.Response(201, json=envelope({"id": "tkt_9"}))

    c, _ = client(handler)
    assert c.create_ticket(title="x").data == {"id": "tkt_9"}
    assert len(keys) == 2 and keys[0] == keys[1]
    c.create_ticket(title="y")
    assert keys[2] != keys[0]  # a new logical call gets a new key
    c.create_ticket(title="z", idempotency_key="form_42")
    assert keys[3] == "form_42"


def test_rate_limit_honours_retry_after_or_raises() -> None:
    responses = iter(
        [
            httpx.Response(
                429,
                json={
                    "success": False,
                    "error": {"type": "rate_limit_error", "code": "rate_limit_exceeded", "message": "Slow down"},
                },
                headers={"Retry-After": "2"},
            ),
            httpx.Response(200, json=envelope({"ok": 1})),
        ]
    )
    c, sleeps = client(lambda req: next(responses))
    assert c.transport.request("GET", "/me").data == {"ok": 1} and sleeps == [2.0]

    c, sleeps = client(lambda req: httpx.Response(429, json={}, headers={"Retry-After": "120"}))
    with pytest.raises(CStarRateLimitError) as e:
        c.transport.request("GET", "/me")
    assert e.value.retry_after == 120.0 and sleeps == [] and e.value.exit_code == 7


def test_connection_failure_is_a_network_error() -> None:
    def handler(req: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused")

    c, sleeps = client(handler)
    with pytest.raises(CStarConnectionError) as e:
        c.transport.request("GET", "/me")
    assert e.value.exit_code == 9 and len(sleeps) == 2 and KEY not in str(e.value)


def test_non_json_error_body() -> None:
    # Not the cStar envelope: a base URL problem (exit 9), whatever the status, after the retries.
    c, sleeps = client(lambda req: httpx.Response(502, text="<html>Bad gateway</html>"), max_retries=1)
    with pytest.raises(CStarConnectionError) as e:
        c.transport.request("GET", "/me")
    assert "502" in e.value.message and e.value.code == "not_cstar_api" and len(sleeps) == 1


@pytest.mark.parametrize(
    "response",
    [
        httpx.Response(200, text="hello"),
        httpx.Response(405, text="no"),
        httpx.Response(404, json={"detail": "Not Found"}),
    ],
)
def test_a_server_that_is_not_the_cstar_api_is_a_base_url_problem(response: httpx.Response) -> None:
    c, sleeps = client(lambda req: response)
    with pytest.raises(CStarConnectionError) as e:
        c.transport.request("GET", "/me")
    assert e.value.code == "not_cstar_api" and "--base-url" in (e.value.hint or "") and sleeps == []


def test_timeouts_are_retried_once() -> None:
    calls: list[int] = []

    def handler(req: httpx.Request) -> httpx.Response:
        calls.append(1)
        raise httpx.ReadTimeout("slow")

    c, _ = client(handler)
    with pytest.raises(CStarConnectionError) as e:
        c.transport.request("GET", "/me")
    assert len(calls) == 2 and e.value.code == "timeout"


def test_malformed_key_is_a_usage_error() -> None:
    with pytest.raises(CStarUsageError):
        CStarClient("sk_test_abc\r\nX-Evil: 1", "https://api.example")


def test_plain_http_to_remote_host_is_refused() -> None:
    with pytest.raises(CStarUsageError):
        CStarClient(KEY, "http://api.example")


def test_team_id_from_me() -> None:
    def handler(req: httpx.Request) -> httpx.Response:
        assert req.url.path == "/api/v1/me"
        return httpx.Response(200, content=json.dumps(envelope({"team": {"id": TEAM}})).encode())

    c = CStarClient(KEY, "https://api.example", transport=httpx.MockTransport(handler))
    assert c.team_id is None
    learned = c.resolve_team()
    assert learned is not None and learned.data["team"]["id"] == TEAM
    assert c.team_id == TEAM and c.resolve_team() is None  # learned once
