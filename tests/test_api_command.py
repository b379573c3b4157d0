"""``cstar api PATH``: the field parser, paths, headers and output offline (with hypothesis for the
``a[b][]=c`` forms), then every feature against the emulator."""

from __future__ import annotations

import io
import json
import math
import subprocess
import sys
import unicodedata
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cstar_cli.commands.api import (
    _render,
    build_request,
    flatten_query,
    parse_fields,
    parse_header,
    resolve_path,
    suggest_paths,
    typed_value,
)
from cstar_cli.completion import api_paths
from cstar_cli.errors import CStarUsageError
from tests.support.cli import cstar, cstar_env

BASE = "http://127.0.0.1:9"
CLOSED = {"CSTAR_BASE_URL": BASE, "CSTAR_API_KEY": "sk_test_" + "A" * 24}


def no_files(name: str) -> str:
    raise AssertionError(f"read {name}")


# the field parser --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "typed", "expected"),
    [
        (["a=b"], [], {"a": "b"}),
        (["a=b=c"], [], {"a": "b=c"}),
        (["a="], [], {"a": ""}),
        (["a[]=1", "a[]=2"], [], {"a": ["1", "2"]}),
        (["a[]"], [], {"a": []}),
        (["a[b]=c", "a[d]=e"], [], {"a": {"b": "c", "d": "e"}}),
        (["a[b][]=c", "a[b][]=d"], [], {"a": {"b": ["c", "d"]}}),
        (["a[b][c]=d"], [], {"a": {"b": {"c": "d"}}}),
        (["a[][x]=1", "a[][y]=2"], [], {"a": [{"x": "1", "y": "2"}]}),
        (["a[][x]=1", "a[][x]=2"], [], {"a": [{"x": "1"}, {"x": "2"}]}),
        (["a[][x][]=1", "a[][x][]=2"], [], {"a": [{"x": ["1", "2"]}]}),
        (
            [],
            ["n=12", "f=1.5", "e=1e3", "t=true", "no=false", "z=null", "s=007", "x=nan"],
            {"n": 12, "f": 1.5, "e": 1000.0, "t": True, "no": False, "z": None, "s": "007", "x": "nan"},
        ),
        (["n=12"], ["m=-3"], {"n": "12", "m": -3}),
        ([], ["tags[]=1", "tags[]=x"], {"tags": [1, "x"]}),
        (["k[with space]=v"], [], {"k": {"with space": "v"}}),
    ],
)
def test_fields(raw: list[str], typed: list[str], expected: dict[str, Any]) -> None:
    assert parse_fields(raw, typed, read=no_files) == expected


@pytest.mark.parametrize(
    "fields",
    [
        ["a"],
        ["=v"],
        ["[b]=c"],
        ["a]=1"],
        ["a[b=1"],
        ["a[b]c=1"],
        ["a=1", "a=2"],
        ["a=1", "a[]=2"],
        ["a=1", "a[b]=2"],
        ["a[b]=1", "a=2"],
        ["a[]=1", "a[b]=2"],
        ["a[b]"],
    ],
)
def test_bad_fields_are_usage_errors(fields: list[str]) -> None:
    with pytest.raises(CStarUsageError) as info:
        parse_fields(fields, read=no_files)
    assert info.value.exit_code == 2 and info.value.hint


def test_typed_file_values_use_the_reader() -> None:
    assert typed_value("@notes.txt", lambda name: f"<{name}>") == "<notes.txt>"
    assert parse_fields([], ["body=@-"], read=lambda name: "from stdin") == {"body": "from stdin"}
    # -f never reads a file.
    assert parse_fields(["body=@-"], read=no_files) == {"body": "@-"}


def test_query_flattening() -> None:
    params = parse_fields(["a[b]=c", "t[]=1", "t[]=2", "s=x"], ["z=null", "ok=true"], read=no_files)
    assert flatten_query(params) == [("a[b]", "c"), ("t[]", "1"), ("t[]", "2"), ("s", "x"), ("z", ""), ("ok", "true")]


# property tests: what a structure flattens to parses back to it -----------------------------------

names = st.text(st.characters(blacklist_characters="[]=", blacklist_categories=("Cs",)), min_size=1, max_size=8)
scalars = st.text(max_size=10)
records = st.lists(names, min_size=1, max_size=3, unique=True).flatmap(
    lambda keys: st.lists(st.fixed_dictionaries({k: scalars for k in keys}), min_size=1, max_size=3)
)


def _values(depth: int) -> st.SearchStrategy[Any]:
    leaf = st.one_of(scalars, st.lists(scalars, max_size=3), records)
    if depth == 0:
        return leaf
    return st.one_of(leaf, st.dictionaries(names, _values(depth - 1), min_size=1, max_size=3))


structures = st.dictionaries(names, _values(2), max_size=4)


def to_fields(params: dict[str, Any], prefix: str = "") -> list[str]:
    """The ``-f`` fields that describe ``params`` (the inverse of parse_fields)."""
    out: list[str] = []
    for k, v in params.items():
        key = f"{prefix}[{k}]" if prefix else k
        if isinstance(v, dict):
            out += to_fields(v, key)
        elif isinstance(v, list) and not v:
            out.append(f"{key}[]")
        elif isinstance(v, list) and isinstance(v[0], dict):
            for record in v:
                out += [f"{key}[][{rk}]={rv}" for rk, rv in record.items()]
        elif isinstance(v, list):
            out += [f"{key}[]={item}" for item in v]
        else:
            out.append(f"{key}={v}")
    return out


@settings(max_examples=300, deadline=None)
@given(structures)
def test_fields_round_trip(params: dict[str, Any]) -> None:
    assert parse_fields(to_fields(params), read=no_files) == params


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.text(alphabet="ab[]=@1-. ", max_size=12), max_size=5),
    st.lists(st.text(alphabet="ab[]=1.e-tru", max_size=10), max_size=3),
)
def test_any_field_text_parses_or_is_a_usage_error(raw: list[str], typed: list[str]) -> None:
    try:
        parse_fields(raw, typed, read=lambda name: "file")
    except CStarUsageError as e:
        assert e.exit_code == 2


@settings(max_examples=200, deadline=None)
@given(st.integers() | st.floats(allow_nan=False, allow_infinity=False))
def test_typed_numbers_come_back_as_numbers(n: float) -> None:
    text = json.dumps(n)
    value = typed_value(text, no_files)
    assert value == n and type(value) is type(n)


# headers, paths, requests ------------------------------------------------------------------------


def test_headers() -> None:
    assert parse_header("Accept-Language:  de ") == ("Accept-Language", "de")
    assert parse_header("X-Empty:") == ("X-Empty", "")
    for bad in ["NoColon", "Bad Name: x", "X-A: one\r\nX-B: two", "X-A: a\nb", "X-A: \x00", ": v"]:
        with pytest.raises(CStarUsageError):
            parse_header(bad)
    for reserved in ["Authorization: Bearer sk_test_x", "authorization: x", "Host: evil", "Content-Length: 3"]:
        with pytest.raises(CStarUsageError) as info:
            parse_header(reserved)
        assert "cannot set" in info.value.message


@pytest.mark.parametrize(
    ("path", "expected", "query"),
    [
        ("/tickets", "/teams/{teamId}/tickets", []),
        ("tickets", "/teams/{teamId}/tickets", []),
        ("/tickets/", "/teams/{teamId}/tickets", []),
        ("/tickets?status=open&x=", "/teams/{teamId}/tickets", [("status", "open"), ("x", "")]),
        ("/api/v1/me", "/me", []),
        ("/api/v1/teams/{teamId}/api-keys", "/teams/{teamId}/api-keys", []),
        (f"{BASE}/api/v1/me?a=1", "/me", [("a", "1")]),
        ("HTTP://127.0.0.1:9/api/v1/me", "/me", []),
    ],
)
def test_paths(path: str, expected: str, query: list[tuple[str, str]]) -> None:
    target = resolve_path(path, BASE)
    assert (target.path, target.query) == (expected, query)


@pytest.mark.parametrize(
    "path",
    [
        "",
        "https://127.0.0.1:9/api/v1/me",
        "http://127.0.0.1:10/api/v1/me",
        "http://evil.example/api/v1/me",
        "http://127.0.0.1.evil.example:9/api/v1/me",
        "/api/v2/me",
        "/api",
        "/tickets/../../me",
        "/tickets/./x",
        "/tickets//x",
        "/tickets/{ticketId}",
        "/tickets/\x1b[31m",
    ],
)
def test_bad_paths_are_usage_errors(path: str) -> None:
    with pytest.raises(CStarUsageError) as info:
        resolve_path(path, BASE)
    assert info.value.exit_code == 2


def test_methods_and_bodies() -> None:
    assert build_request("/tickets", BASE).method == "GET"
    post = build_request("/tickets", BASE, raw_fields=["title=x"])
    assert (post.method, post.json, post.query) == ("POST", {"title": "x"}, [])
    get = build_request("/tickets", BASE, method="get", raw_fields=["status=open"])
    assert (get.method, get.json, get.query) == ("GET", None, [("status", "open")])
    paged = build_request("/tickets", BASE, raw_fields=["status=open"], paginate=True)
    assert (paged.method, paged.query) == ("GET", [("status", "open")])
    raw = build_request("/tickets", BASE, input_file="-", raw_fields=["a=1"], stdin=io.BytesIO(b'{"title": "t"}'))
    assert (raw.method, raw.content, raw.query, raw.headers) == (
        "POST",
        b'{"title": "t"}',
        [("a", "1")],
        {"Content-Type": "application/json"},
    )
    keyed = build_request("/tickets", BASE, raw_fields=["title=x"], headers=["Idempotency-Key: k1", "X-Trace: 7"])
    assert (keyed.idempotency_key, keyed.headers) == ("k1", {"X-Trace": "7"})


@pytest.mark.parametrize(
    "kwargs",
    [
        {"method": "TRACE"},
        {"method": "POST", "paginate": True},
        {"input_file": "-", "paginate": True},
        {"input_file": "-", "stdin": io.BytesIO(b"{not json")},
        {"input_file": "-", "typed_fields": ["notes=@-"], "stdin": io.BytesIO(b"{}")},
        {"input_file": "/nonexistent/body.json"},
        {"typed_fields": ["notes=@/nonexistent/notes.txt"]},
        {"headers": ["Idempotency-Key: a"], "idempotency_key": "b"},
        {"idempotency_key": "bad\nkey"},
    ],
)
def test_bad_requests_are_usage_errors(kwargs: dict[str, Any]) -> None:
    with pytest.raises(CStarUsageError):
        build_request("/tickets", BASE, **kwargs)


def test_input_with_another_content_type_is_sent_as_is() -> None:
    req = build_request(
        "/tickets", BASE, input_file="-", headers=["Content-Type: text/plain"], stdin=io.BytesIO(b"not json")
    )
    assert req.content == b"not json" and req.headers == {"Content-Type": "text/plain"}


def test_suggestions_and_completion_come_from_the_document() -> None:
    assert suggest_paths("/api/v1/teams/{teamId}/tickts") == ["/tickets"]
    assert suggest_paths("/api/v1/teams/{teamId}/tickets/tkt_1/mesages") == ["/tickets/tkt_1/messages"]
    assert suggest_paths("/api/v1/mee") == ["/api/v1/me"]
    assert suggest_paths("/api/v1/teams/{teamId}/zzzzzzzzzzzzzzzz") == []
    assert api_paths("/tick") == ["/tickets", "/tickets/{ticketId}", "/tickets/{ticketId}/messages"]
    assert api_paths("tick") == api_paths("/tick")
    assert api_paths("/api/v1/m") == ["/api/v1/me"]
    assert "/api/v1/teams/{teamId}/tickets" in api_paths("/api/v1/teams/{teamId}/t")


def test_terminal_output_escapes_what_would_drive_the_terminal() -> None:
    value = {"t": "a\x1bb\u202ec\x85d\u2028e\U000e0001", "n": [1, None, "é"]}
    shown = _render(value, tty=True)
    assert json.loads(shown) == value
    assert not any(unicodedata.category(c) in ("Cc", "Cf", "Zl") for c in shown.replace("\n", ""))
    assert "é" in shown
    assert _render(value, tty=False) == json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    assert _render("a\nb", tty=False, raw_strings=True) == "a\nb"


# offline refusals through the command ------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "code"),
    [
        (["api", "/tickets", "-H", "Authorization: Bearer sk_test_other"], "invalid_header"),
        (["api", "/tickets", "-H", "X-A: a\r\nX-B: b"], "invalid_header"),
        (["api", "http://evil.example/api/v1/me"], "foreign_host"),
        (["api", "/logs/stream"], "streaming_endpoint"),
        (["api", "/tickets", "--jq", ".["], "invalid_jq"),
        (["api", "/tickets/{ticketId}"], "invalid_path"),
    ],
)
def test_refused_before_any_request(args: list[str], code: str) -> None:
    r = cstar("--json", *args, env=CLOSED)
    assert r.code == 2, r.stderr
    err = json.loads(r.stderr.strip().splitlines()[-1])["error"]
    assert err["code"] == code and err["hint"]
    assert "sk_test_other" not in r.output and r.stdout == ""


@pytest.mark.e2e
def test_importing_the_command_does_not_import_jq() -> None:
    code = "import sys, cstar_cli.commands.api; print('jq' in sys.modules)"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=cstar_env(), timeout=60)
    assert proc.stdout.strip() == "False", proc.stderr


# against the emulator ----------------------------------------------------------------------------


def env_for(emu: Any, key: str = "sk_test") -> dict[str, str]:
    return {"CSTAR_BASE_URL": emu.base_url, "CSTAR_API_KEY": emu.keys[key]}


def api(emu: Any, *args: str, key: str = "sk_test", input: str | None = None) -> Any:
    r = cstar("api", *args, env=env_for(emu, key), input=input)
    assert r.code == 0, r.stderr
    return json.loads(r.stdout)


def test_get_with_query_fields(emulator_session: Any) -> None:
    emu = emulator_session
    tickets = api(emu, "/tickets", "-X", "GET", "-f", "status=open", "-F", "pageSize=3")
    with emu.client() as c:
        direct = c.get("/tickets", params={"status": "open", "pageSize": 3}).json()["data"]
    assert tickets == direct and 0 < len(tickets) <= 3
    assert {t["status"] for t in tickets} == {"open"}
    assert api(emu, "/tickets?status=open&pageSize=3") == direct


def test_paginate_follows_every_page(emulator: Any) -> None:
    with emulator.client() as c:
        for i in range(7):
            assert c.post("/tickets", json={"title": f"paged {i}"}).status_code == 201
        total = c.get("/tickets", params={"pageSize": 1}).json()["meta"]["pagination"]["total"]
        every = [
            t["id"]
            for p in range(1, total + 1)
            for t in c.get("/tickets", params={"page": p, "pageSize": 1}).json()["data"]
        ]
    r = cstar("api", "/tickets", "--paginate", "-F", "pageSize=2", "-i", env=env_for(emulator))
    assert r.code == 0, r.stderr
    items = json.loads(r.stdout)
    assert [t["id"] for t in items] == every and len(items) == total >= 7
    assert r.stderr.count("HTTP/1.1 200 OK") == math.ceil(total / 2)
    # Without a page size, the largest the endpoint allows: one request.
    r = cstar("api", "/tickets", "--paginate", "-i", "--jq", "length", env=env_for(emulator))
    assert (r.code, r.stdout.strip(), r.stderr.count("HTTP/1.1 200")) == (0, str(total), 1)
    envelopes = api(emulator, "/tickets", "--paginate", "-F", "pageSize=4", "--envelope")
    assert [e["meta"]["pagination"]["page"] for e in envelopes] == list(range(1, math.ceil(total / 4) + 1))


def test_paginate_follows_a_cursor(emulator: Any) -> None:
    for _ in range(3):
        api(emulator, "/api/v1/me")
    with emulator.client() as c:
        newest = c.get("/logs", params={"limit": 100}).json()["data"]
    r = cstar("api", "/logs", "--paginate", "-F", "limit=2", "-i", env=env_for(emulator))
    assert r.code == 0, r.stderr
    ids = [e["id"] for e in json.loads(r.stdout)]
    # The listing itself is logged too, so the paged result has the earlier entries and then some.
    assert {e["id"] for e in newest} <= set(ids) and len(ids) == len(set(ids))
    assert r.stderr.count("HTTP/1.1 200 OK") >= 2


def test_post_with_string_and_typed_fields(emulator_session: Any, tmp_path: Path) -> None:
    emu = emulator_session
    notes = tmp_path / "notes.txt"
    notes.write_text("line one\nline two\n", encoding="utf-8")
    created = api(
        emu,
        "/tickets",
        "-f",
        "title=From cstar api",
        "-f",
        "priority=high",
        "-F",
        "tags[]=billing",
        "-F",
        "tags[]=vip",
        "-F",
        "metadata[seats]=12",
        "-F",
        "metadata[trial]=true",
        "-F",
        f"notes=@{notes}",
    )
    assert created["id"].startswith("tkt_") and created["title"] == "From cstar api"
    assert created["tags"] == ["billing", "vip"] and created["notes"].rstrip() == "line one\nline two"
    assert created["metadata"] == {"seats": 12, "trial": True}
    assert api(emu, f"/tickets/{created['id']}")["id"] == created["id"]
    patched = api(emu, f"/tickets/{created['id']}", "-X", "PATCH", "-f", "status=pending")
    assert patched["status"] == "pending"


def test_stdin_input_and_stdin_field(emulator_session: Any) -> None:
    emu = emulator_session
    created = api(emu, "/tickets", "--input", "-", input='{"title": "Body from stdin", "tags": ["raw"]}')
    assert (created["title"], created["tags"]) == ("Body from stdin", ["raw"])
    noted = api(emu, "/tickets", "-f", "title=Notes from stdin", "-F", "notes=@-", input="piped notes")
    assert noted["notes"] == "piped notes"


def test_idempotency_key_replays(emulator_session: Any) -> None:
    emu = emulator_session
    first = cstar("api", "/tickets", "-f", "title=Once", "--idempotency-key", "api-test-once", "-i", env=env_for(emu))
    again = cstar("api", "/tickets", "-f", "title=Once", "--idempotency-key", "api-test-once", "-i", env=env_for(emu))
    assert first.code == again.code == 0, first.stderr + again.stderr
    assert json.loads(first.stdout)["id"] == json.loads(again.stdout)["id"]
    assert "idempotent-replayed: true" in again.stderr.lower()


def test_jq_envelope_and_include(emulator_session: Any) -> None:
    emu = emulator_session
    r = cstar("api", "/tickets", "--jq", ".[].id", env=env_for(emu))
    assert r.code == 0 and r.stdout.splitlines() and all(line.startswith("tkt_") for line in r.stdout.splitlines())
    r = cstar("api", "/api/v1/me", "--jq", ".team", env=env_for(emu))
    assert json.loads(r.stdout)["id"] == emu.team_id
    r = cstar("api", "/api/v1/me", "--jq", ".nope[0]", env=env_for(emu))
    assert r.code == 0 and r.stdout == "null\n"
    r = cstar("--json", "api", "/tickets", "--jq", ".title", env=env_for(emu))
    assert r.code == 2 and json.loads(r.stderr)["error"]["code"] == "jq_failed"
    body = api(emu, "/api/v1/me", "--envelope")
    assert body["success"] is True and body["data"]["team"]["id"] == emu.team_id
    assert body["meta"]["requestId"].startswith("req_")
    r = cstar("api", "/api/v1/me", "-i", env=env_for(emu))
    head = r.stderr.splitlines()
    assert head[0] == "HTTP/1.1 200 OK" and any(h.startswith("x-cstar-request-id: req_") for h in head)
    assert json.loads(r.stdout)["keyType"] == "secret"
    assert emu.keys["sk_test"] not in r.output


def test_endpoints_beyond_the_core_resources(emulator_session: Any) -> None:
    emu = emulator_session
    assert api(emu, "/api/v1/me")["team"]["id"] == emu.team_id
    assert api(emu, f"{emu.base_url}/api/v1/teams/{{teamId}}/tickets?pageSize=1")
    keys = api(emu, "/api-keys")
    assert keys and all("key" not in k and k["redacted"] for k in keys)
    assert all(e["id"].startswith("req_") for e in api(emu, "/logs", "-X", "GET", "-F", "limit=5"))


@pytest.mark.parametrize(
    ("args", "key", "exit_code", "error_type"),
    [
        (["/api/v1/me"], "bad", 3, "authentication_error"),
        (["/tickets", "-f", "title=Nope"], "pk_test", 4, "permission_error"),
        (["/tickets/tkt_doesnotexist"], "sk_test", 5, "not_found_error"),
        (["/tickets", "-F", "priority=extreme"], "sk_test", 2, "validation_error"),
    ],
)
def test_error_exit_codes(emulator_session: Any, args: list[str], key: str, exit_code: int, error_type: str) -> None:
    emu = emulator_session
    env = env_for(emu) | {"CSTAR_API_KEY": "sk_test_" + "Z" * 24} if key == "bad" else env_for(emu, key)
    r = cstar("--json", "api", *args, env=env)
    assert r.code == exit_code, r.stderr
    err = json.loads(r.stderr.strip().splitlines()[-1])["error"]
    assert err["type"] == error_type and err["requestId"].startswith("req_")
    assert r.stdout == ""
    human = cstar("api", *args, env=env)
    assert human.code == exit_code and "Error: " in human.stderr and "(request req_" in human.stderr


def test_unknown_path_suggests_close_ones(emulator_session: Any) -> None:
    r = cstar("api", "/tickts", env=env_for(emulator_session))
    assert r.code == 5
    assert "Did you mean /tickets?" in r.stderr and "(request req_" in r.stderr
    r = cstar("api", "/tickets", "-X", "DELETE", env=env_for(emulator_session))
    assert r.code == 1 and "/tickets takes GET, POST" in r.stderr


def test_the_key_only_goes_to_the_configured_api(emulator_session: Any) -> None:
    emu = emulator_session
    other = emu.base_url.replace("127.0.0.1", "localhost")
    r = cstar("api", f"{other}/api/v1/me", env=env_for(emu))
    assert r.code == 2 and "Refusing to send the API key" in r.stderr


@pytest.mark.e2e
def test_paths_complete_in_the_shell() -> None:
    env = cstar_env({"_CSTAR_COMPLETE": "complete_bash", "COMP_WORDS": "cstar api /tickets/", "COMP_CWORD": "2"})
    proc = subprocess.run(
        [sys.executable, "-m", "cstar_cli"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["/tickets/{ticketId}", "/tickets/{ticketId}/messages"]
