"""``cstar listen`` input handling, offline: --forward-to shorthands, -H headers, --events filters."""

from __future__ import annotations

import pytest

from cstar_cli.commands.listen import parse_events
from cstar_cli.errors import CStarUsageError
from cstar_cli.relay import merge_headers, parse_forward_url, parse_header
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
    ],
)
def test_forward_to_shorthands(value: str, url: str) -> None:
    assert parse_forward_url(value) == url


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


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--forward-to", "nonsense"], "--forward-to"),
        (["--forward-to", "3000", "-H", "novalue"], "Invalid header"),
        (["--events", "tickets.created"], "Did you mean ticket.created"),
        (["--format", "yaml"], "--format"),
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
