"""Property tests for the parsers of ``cstar listen``'s outside input: ``--forward-to``, ``-H`` and
``--events``. Whatever is typed, the result is a valid parse or a :class:`CStarUsageError`, never a
traceback; a parsed header or URL can always be put on the wire, and never splits a header line."""

from __future__ import annotations

from urllib.parse import urlsplit

import h11
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from cstar_cli.commands.listen import parse_events
from cstar_cli.errors import CStarUsageError
from cstar_cli.protocol import events as catalog
from cstar_cli.relay import display_url, parse_forward_url, parse_header
from cstar_cli.relay._http import HttpClient

SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# Mostly URL-ish characters, so examples get past the first checks, plus anything at all.
_URLISH = st.sampled_from(list("abc019:/@?#[]%.-_~!$&'()*+,;= \t\r\n\x00é"))
url_text = st.one_of(
    st.text(),
    st.text(_URLISH, max_size=40),
    st.builds(
        lambda scheme, user, pw, host, port, path: f"{scheme}{user}{pw}{host}{port}{path}",
        st.sampled_from(["", "http://", "https://", "HTTP://", "ftp://", "://"]),
        st.sampled_from(["", "user", "us%40er", "ü", ":"]),
        st.sampled_from(["", ":", ":pw@", ":p%40ss@", "@", ":a:b@"]),
        st.sampled_from(["localhost", "127.0.0.1", "[::1]", "[::1", "app.test", "", "bad_host", "x"]),
        st.sampled_from(["", ":3000", ":0", ":65536", ":abc", ":"]),
        st.text(_URLISH, max_size=12),
    ),
)


def _request_head(url: str, headers: list[tuple[str, str]]) -> bytes:
    """The request head the forwarder would send (built with h11, which refuses anything invalid)."""
    client = HttpClient(url, timeout=1, user_agent="cstar-test")
    fields = client._headers(dict(headers), 2)
    request = h11.Request(method=b"POST", target=client._target, headers=fields)
    return h11.Connection(h11.CLIENT).send(request)


@SETTINGS
@given(url_text)
@example("http://[::1")
@example("http://user:pw@localhost:3000/x")
@example("3000/\x00")
def test_forward_to_is_a_usable_url_or_a_usage_error(value: str) -> None:
    try:
        url = parse_forward_url(value)
    except CStarUsageError as e:
        assert e.exit_code == 2 and e.hint and "\n" not in e.message
        return
    parts = urlsplit(url)
    assert parts.scheme in ("http", "https") and parts.hostname
    assert url.isascii() or parts.username is not None  # path and query are percent-encoded
    head = _request_head(url, [])
    # Request line, Host, User-Agent, (Authorization,) Content-Length, blank line.
    assert head.count(b"\r\n") == 5 + (parts.username is not None)
    assert head.count(b"\r\nAuthorization: Basic ") == (parts.username is not None)
    assert urlsplit(display_url(url)).password in (None, "***")


@SETTINGS
@given(
    st.sampled_from(["", "http://", "https://", "ftp://"]),
    st.sampled_from(["ops", "", "o%40ps"]),
    st.sampled_from(["localhost", "[::1", "bad_host", "", "127.0.0.1:99999", "app.test:abc"]),
    st.text(_URLISH, max_size=12),
)
def test_a_password_never_appears_in_output(scheme: str, user: str, host: str, rest: str) -> None:
    value = f"{scheme}{user}:s3cr3t@{host}/{rest}"
    try:
        url = parse_forward_url(value)
    except CStarUsageError as e:
        assert "s3cr3t" not in e.message and "s3cr3t" not in (e.hint or "")
        return
    assert "s3cr3t" not in display_url(url)


@SETTINGS
@given(st.text(), st.text())
@example("X-A", "ok\r\nInjected: yes")
@example("X-A", "ok\nInjected: yes")
@example("X-A\r\nInjected", "yes")
@example("X-A", "\x0bvalue\x0c")
def test_headers_parse_or_refuse_and_never_split_a_line(name: str, value: str) -> None:
    raw = f"{name}:{value}"
    try:
        parsed = parse_header(raw)
    except CStarUsageError as e:
        assert e.exit_code == 2 and e.hint
        return
    head = _request_head("http://localhost:3000/", [parsed])
    assert head.endswith(b"\r\n\r\n")
    fields = head[:-4].split(b"\r\n")[1:]
    # Only the fields we put there: nothing the value could have smuggled in as a line of its own.
    allowed = {b"host", b"user-agent", b"content-length", parsed[0].lower().encode()}
    assert {line.split(b":", 1)[0].lower() for line in fields} <= allowed
    assert len(fields) <= 4
    assert b"\n" not in parsed[1].encode() and b"\r" not in parsed[1].encode()


@SETTINGS
@given(st.text(max_size=30))
@example("ticket.*")
@example("x")
@example("Ticket.Created, ,")
def test_events_parse_or_refuse(raw: str) -> None:
    try:
        patterns = parse_events([raw])
    except CStarUsageError as e:
        assert e.exit_code == 2 and e.hint and e.field == "events"
        return
    assert patterns and all(catalog.is_valid_pattern(p) for p in patterns)
    assert len(set(patterns)) == len(patterns)


@SETTINGS
@given(st.lists(st.sampled_from(["*", "ticket.*", "customer.*", *list(catalog.CATALOG)]), min_size=1, max_size=6))
def test_valid_event_lists_always_parse(names: list[str]) -> None:
    assert parse_events([",".join(names)]) == list(dict.fromkeys(n.lower() for n in names))
