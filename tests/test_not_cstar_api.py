"""A server that answers with the cStar envelope but not the route's shape (``{"success": true,
"data": null}`` from /me, say) is not the cStar API: exit 9 with the --base-url hint, for every
command that asks it, as for an answer without the envelope. A plain-text 429 stays a rate limit."""

from __future__ import annotations

import http.server
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from cstar_cli.api import CStarClient
from cstar_cli.api._transport import NotCStarAPIError
from tests.support.cli import cstar, cstar_env
from tests.support.http_stub import serve_handler

pytestmark = pytest.mark.e2e

CSTAR = str(Path(sys.executable).with_name("cstar"))
KEY = "sk_test_" + "k" * 32
ME = {"keyId": "key_1", "keyType": "secret", "mode": "test", "team": {"id": "team_1", "name": "Acme"}}
Answer = tuple[int, dict[str, str], bytes]


def _json(data: object, status: int = 200) -> Answer:
    return status, {"Content-Type": "application/json"}, json.dumps(data).encode()


class _Stub(http.server.BaseHTTPRequestHandler):
    """Answers ``/api/v1/me`` with ``me`` and every other path with ``other``."""

    me: Answer = _json({"success": True, "data": ME})
    other: Answer = _json({"success": True, "data": []})
    hits: list[str]

    def do_GET(self) -> None:
        self.hits.append(self.path)
        status, headers, body = self.me if self.path.split("?")[0] == "/api/v1/me" else self.other
        self.send_response(status)
        for name, value in {**headers, "Content-Length": str(len(body))}.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def stub() -> Iterator[tuple[str, type[_Stub]]]:
    handler = type("Handler", (_Stub,), {"hits": []})
    with serve_handler(handler) as url:
        yield url, handler


NOT_ME = {
    "null": None,
    "string": "x",
    "number": 1,
    "list": [ME],
    "no-team": {"keyId": "key_1"},
    "team-not-an-object": {"team": "team_1"},
}


@pytest.mark.parametrize("data", list(NOT_ME.values()), ids=list(NOT_ME))
def test_a_me_answer_not_shaped_like_the_route_is_a_base_url_problem(
    stub: tuple[str, type[_Stub]], data: object
) -> None:
    url, handler = stub
    handler.me = _json({"success": True, "data": data})
    env = {"CSTAR_API_KEY": KEY, "CSTAR_BASE_URL": url}

    fast = subprocess.run([CSTAR, "status", "--json"], capture_output=True, text=True, env=cstar_env(env), timeout=60)
    assert fast.returncode == 9 and json.loads(fast.stdout)["api"]["reachable"] is False, fast.stderr
    err = json.loads(fast.stderr)["error"]
    assert err["code"] == "not_cstar_api" and "--base-url" in err["hint"] and "HTTP 200" in err["message"]

    for args in (["status"], ["keys", "list"], ["login", "--api-key", KEY]):
        run = cstar(*args, env=env)
        assert run.code == 9, (args, run.stderr)
        assert "did not answer like the cStar API (HTTP 200" in run.stderr and "--base-url" in run.stderr, args
        assert "Unexpected" not in run.stderr and "Traceback" not in run.stderr
    assert "Logged in" not in cstar("login", "--api-key", KEY, env=env).stdout
    assert handler.hits.count("/api/v1/me") >= 5  # each run asked, and none retried a 200


@pytest.mark.parametrize("data", [None, "x", {"id": "key_1"}], ids=["null", "string", "object"])
def test_a_list_answer_that_is_not_a_list_is_a_base_url_problem(stub: tuple[str, type[_Stub]], data: object) -> None:
    url, handler = stub
    handler.other = _json({"success": True, "data": data, "meta": {"pagination": {"hasMore": False}}})
    run = cstar("keys", "list", env={"CSTAR_API_KEY": KEY, "CSTAR_BASE_URL": url})
    assert run.code == 9 and "data is not a list" in run.stderr and "--base-url" in run.stderr, run.stderr
    assert any(hit.startswith("/api/v1/teams/team_1/api-keys") for hit in handler.hits)


def test_an_object_route_answering_a_list_raises_with_the_request_id(stub: tuple[str, type[_Stub]]) -> None:
    url, handler = stub
    handler.other = (200, {"Content-Type": "application/json", "X-Cstar-Request-Id": "req_1"}, b'{"data": ["x"]}')
    with CStarClient(KEY, url, team_id="team_1") as client, pytest.raises(NotCStarAPIError) as e:
        client.get_ticket("tkt_1")
    assert e.value.exit_code == 9 and e.value.request_id == "req_1" and "data is not an object" in e.value.message


def test_a_well_shaped_answer_still_works(stub: tuple[str, type[_Stub]]) -> None:
    url, _ = stub
    run = cstar("keys", "list", env={"CSTAR_API_KEY": KEY, "CSTAR_BASE_URL": url})
    assert run.code == 0, run.stderr


def test_a_plain_text_429_is_still_a_rate_limit(stub: tuple[str, type[_Stub]]) -> None:
    url, handler = stub
    handler.me = (429, {"Content-Type": "text/plain", "Retry-After": "60"}, b"Too Many Requests")
    env = {"CSTAR_API_KEY": KEY, "CSTAR_BASE_URL": url}
    for args in (["status"], ["keys", "list"]):
        run = cstar(*args, env=env)
        assert run.code == 7 and "did not answer like the cStar API" not in run.stderr, (args, run.stderr)
