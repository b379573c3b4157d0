"""``cstar listen`` input handling, offline: --forward-to shorthands, -H headers, --events filters,
--timeout (plus one loopback POST to an encoded --forward-to URL)."""

from __future__ import annotations

import asyncio
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from urllib.parse import unquote

import pytest

from cstar_cli.commands.listen import check_timeout, parse_events
from cstar_cli.errors import CStarUsageError
from cstar_cli.relay import merge_headers, parse_forward_url, parse_header
from cstar_cli.relay._http import HttpClient
from tests.support.cli import cstar


@pytest.mark.parametrize(
    ("value", "url"),
    [
        ("3000", "http://localhost:3000/"),
        (":3000", "http://localhost:3000/"),
        ("3000/hooks", "http://localhost:3000/hooks"),
        ("localhost:3000/hooks", "http://localhost:3000/hooks"),
        ("localhost:3000/hooks?team=a&x=1", "http://localhost:3000/hooks?team=a&x=1"),
        ("127.0.0.1:8000", "http://127.0.0.1:8000/"),
        ("localhost", "http://localhost/"),
        ("app.test/webhooks", "http://app.test/webhooks"),
        ("web:8080/hooks", "http://web:8080/hooks"),
        ("http://localhost:3000/webhooks", "http://localhost:3000/webhooks"),
        ("HTTPS://example.com/hooks?a=1#frag", "https://example.com/hooks?a=1"),
        ("http://[::1]:3000", "http://[::1]:3000/"),
        ("http://nonsense/", "http://nonsense/"),
        ("  3000  ", "http://localhost:3000/"),
        ("127.0.0.1:3109/pâth", "http://127.0.0.1:3109/p%C3%A2th"),
        ("localhost:3000/hooks?x=ü", "http://localhost:3000/hooks?x=%C3%BC"),
        ("http://localhost:3000/a%20b/%C3%A2?q=%C3%BC&r=é", "http://localhost:3000/a%20b/%C3%A2?q=%C3%BC&r=%C3%A9"),
        (
            "http://localhost:3000/a;v=1/b:c@d!$'()*+,?k=[1]&s=/?",
            "http://localhost:3000/a;v=1/b:c@d!$'()*+,?k=[1]&s=/?",
        ),
        ("3000/~user/a-b_c.d", "http://localhost:3000/~user/a-b_c.d"),
    ],
)
def test_forward_to_shorthands(value: str, url: str) -> None:
    assert parse_forward_url(value) == url


@pytest.mark.e2e
def test_non_ascii_forward_to_is_delivered_percent_encoded() -> None:
    """The encoded URL is one the forwarder can send: the receiver sees the UTF-8 escapes."""
    seen: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length", "0")))
            seen.append(self.path)
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = parse_forward_url(f"127.0.0.1:{server.server_address[1]}/pâth?x=ü")

        async def post() -> int:
            client = HttpClient(url, timeout=5)
            try:
                return await client.post({"Content-Type": "application/json"}, b"{}")
            finally:
                await client.aclose()

        assert asyncio.run(post()) == 204
    finally:
        server.shutdown()
        server.server_close()
    assert seen == ["/p%C3%A2th?x=%C3%BC"]
    assert unquote(seen[0]) == "/pâth?x=ü"


@pytest.mark.parametrize(
    "value",
    [
        "",
        "nonsense",
        "ftp://localhost/x",
        "localhost:99999",
        "localhost:0",
        "local host:3000",
        "http:///hooks",
        "-_-:3000",
        "localhost:3000/a b",
        "localhost:3000/hooks?x=a\u00a0b",
    ],
)
def test_forward_to_rejects_nonsense(value: str) -> None:
    with pytest.raises(CStarUsageError) as e:
        parse_forward_url(value)
    assert e.value.exit_code == 2
    assert "localhost:3000" in (e.value.hint or "")


def test_parse_header() -> None:
    assert parse_header("Authorization: Bearer abc:def") == ("Authorization", "Bearer abc:def")
    assert parse_header("X-Empty:") == ("X-Empty", "")
    assert parse_header("  X-Trim  :   v  ") == ("X-Trim", "v")


@pytest.mark.parametrize("value", ["novalue", ": v", "Bad Name: v", "X-A: line\r\nInjected: 1"])
def test_parse_header_rejects(value: str) -> None:
    with pytest.raises(CStarUsageError) as e:
        parse_header(value)
    assert e.value.exit_code == 2 and "-H" in (e.value.hint or "")


def test_merge_headers_replaces_case_insensitively_never_duplicates() -> None:
    ours = {"Content-Type": "application/json", "X-Signature": "t=1,v1=a", "X-Event-ID": "evt_1"}
    merged = merge_headers(
        ours, [("x-signature", "custom"), ("Authorization", "Bearer t"), ("AUTHORIZATION", "Bearer u")]
    )
    assert merged == {
        "Content-Type": "application/json",
        "X-Event-ID": "evt_1",
        "x-signature": "custom",
        "AUTHORIZATION": "Bearer u",
    }
    assert merge_headers(ours, []) == ours and merge_headers(ours, []) is not ours


def test_parse_events() -> None:
    assert parse_events([]) == ["*"]
    assert parse_events(["ticket.*,customer.created", "ticket.*", " Ticket.Closed "]) == [
        "ticket.*",
        "customer.created",
        "ticket.closed",
    ]
    with pytest.raises(CStarUsageError) as e:
        parse_events(["tickets.created"])
    assert "ticket.created" in (e.value.hint or "")
    with pytest.raises(CStarUsageError) as e:
        parse_events(["tickets.*"])
    assert "ticket.*" in (e.value.hint or "")
    assert parse_events([",ticket.created,,"]) == ["ticket.created"]


@pytest.mark.parametrize("values", [[""], [",,,"], [" , "], ["", ","]])
def test_parse_events_refuses_no_type_at_all(values: list[str]) -> None:
    with pytest.raises(CStarUsageError) as e:
        parse_events(values)
    assert e.value.exit_code == 2 and e.value.field == "events"
    assert "at least one event type" in e.value.message
    assert "`cstar events`" in (e.value.hint or "") and "*" in (e.value.hint or "")


@pytest.mark.parametrize("value", [0.5, 1, 30, 3600])
def test_check_timeout_accepts(value: float) -> None:
    assert check_timeout(value) == value


@pytest.mark.parametrize("value", [0, -1, 3600.5, 1e300, float("inf"), float("-inf"), float("nan")])
def test_check_timeout_refuses(value: float) -> None:
    with pytest.raises(CStarUsageError) as e:
        check_timeout(value)
    assert e.value.exit_code == 2 and e.value.field == "timeout" and "3600" in (e.value.hint or "")


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--forward-to", "nonsense"], "--forward-to"),
        (["--forward-to", "3000", "-H", "novalue"], "Invalid header"),
        (["--events", "tickets.created"], "Did you mean ticket.created"),
        (["--format", "yaml"], "--format"),
        (["--events", ""], "at least one event type"),
        (["--events", ",,,"], "at least one event type"),
        (["-f", "3000", "--timeout", "inf"], "--timeout"),
        (["--timeout", "nan"], "--timeout"),
        (["--timeout", "1e300"], "3600"),
        (["--timeout", "0"], "greater than 0"),
        (["--timeout=-1"], "--timeout"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(args: list[str], needle: str) -> None:
    r = cstar("listen", *args, env={"CSTAR_API_KEY": "sk_test_" + "a" * 24, "CSTAR_BASE_URL": "http://127.0.0.1:9"})
    assert r.code == 2, r.output
    assert r.stdout == ""
    lines = r.stderr.strip().splitlines()
    assert lines[0].startswith("Error: ") and len(lines) == 2 and lines[1].startswith("Hint: ")
    assert needle in r.stderr
    assert "Traceback" not in r.output


def test_no_key_is_exit_3() -> None:
    r = cstar("listen", "--forward-to", "3000")
    assert r.code == 3
    assert "Not logged in" in r.stderr and "cstar login" in r.stderr
