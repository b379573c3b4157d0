"""A stored key goes only to the API it was stored for; base URLs with a password are refused without
echoing it; `login` says when it takes the key from CSTAR_API_KEY."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from cstar_cli import credentials
from cstar_cli.errors import CStarAuthenticationError, CStarUsageError
from cstar_cli.profiles import Config
from cstar_cli.settings import DEFAULT_BASE_URL, check_base_url, resolve, same_api
from tests.support.cli import cstar

KEY = "sk_test_" + "b1Nd" * 7


class Recorder:
    """A loopback HTTP server that answers 404 to everything and records each request's headers."""

    def __init__(self) -> None:
        seen: list[dict[str, str]] = []
        self.requests = seen

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                seen.append(dict(self.headers))
                self.send_response(404)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(10)


@pytest.fixture
def other_server() -> Iterator[Recorder]:
    r = Recorder()
    try:
        yield r
    finally:
        r.close()


def login(emu: Any, *extra: str) -> None:
    r = cstar("login", "--api-key", emu.keys["sk_test"], "--base-url", emu.base_url, "--json", *extra)
    assert r.code == 0, r.stderr


# the stored key stays with its API ------------------------------------------------------------------


@pytest.mark.parametrize("how", ["flag", "env"])
def test_the_stored_key_is_not_sent_to_another_base_url(
    emulator_session: Any, other_server: Recorder, how: str
) -> None:
    emu = emulator_session
    login(emu)
    args = ["--base-url", other_server.url] if how == "flag" else []
    env = {"CSTAR_BASE_URL": other_server.url} if how == "env" else {}
    for command in (["status"], ["keys", "list"], ["trigger", "ticket.created"]):
        r = cstar(*args, *command, env=env)
        assert r.code == 3, (command, r.output)
        assert f"Not logged in to {other_server.url} (profile 'default' is logged in to {emu.base_url})" in r.stderr
        assert f"cstar login --base-url {other_server.url}" in r.stderr and "--api-key" in r.stderr
    assert other_server.requests == []

    r = cstar(*args, "status", "--json", env=env)
    assert r.code == 3 and r.stdout == ""
    assert json.loads(r.stderr)["error"]["code"] == "not_logged_in"

    # The profile's own API still works, and so does an explicit key for the other one.
    assert cstar("status").code == 0
    explicit = cstar(*args, "status", "--api-key", emu.keys["sk_live"], env=env)
    assert explicit.code == 9  # the recorder is not a cStar API...
    assert other_server.requests and all(
        h.get("Authorization") == f"Bearer {emu.keys['sk_live']}" for h in other_server.requests
    )  # ...and it got the explicit key only


def test_the_keychain_is_not_even_read_for_another_api(monkeypatch: pytest.MonkeyPatch) -> None:
    credentials.store_key("default", KEY)
    Config().set_profile("default", {"base_url": "http://127.0.0.1:8787", "key_storage": "file", "team_id": "t"})

    def forbidden(*args: Any) -> Any:
        raise AssertionError("the stored key was loaded")

    monkeypatch.setattr(credentials, "load_key", forbidden)
    s = resolve(base_url="http://127.0.0.1:8788")
    assert (s.api_key, s.key_source, s.team_id, s.withheld_for) == (None, None, None, "http://127.0.0.1:8787")
    err = s.not_logged_in()
    assert isinstance(err, CStarAuthenticationError) and err.exit_code == 3
    assert "cstar login --base-url http://127.0.0.1:8788" in (err.hint or "")


def test_a_profile_without_base_url_belongs_to_the_default_api(monkeypatch: pytest.MonkeyPatch) -> None:
    credentials.store_key("default", KEY)
    Config().set_profile("default", {"key_storage": "file"})
    assert resolve().api_key == KEY
    assert resolve(base_url="HTTPS://WWW.CSTAR.HELP:443/api/v1").api_key == KEY
    s = resolve(base_url="https://eu.cstar.help")
    assert s.api_key is None and s.withheld_for == DEFAULT_BASE_URL
    monkeypatch.setenv("CSTAR_API_KEY", "sk_live_" + "e" * 28)
    s = resolve(base_url="https://eu.cstar.help")
    assert (s.key_source, s.withheld_for) == ("env", None)  # an explicit key goes where it is told


@pytest.mark.parametrize(
    ("a", "b", "same"),
    [
        ("https://www.cstar.help", "HTTPS://www.CSTAR.help/", True),
        ("https://www.cstar.help:443", "https://www.cstar.help", True),
        ("http://127.0.0.1:80", "http://127.0.0.1", True),
        ("http://127.0.0.1:8787/api/v1", "http://127.0.0.1:8787", True),
        ("http://[::1]:9", "http://[::1]:9/", True),
        ("http://127.0.0.1:8787", "http://127.0.0.1:8788", False),
        ("http://127.0.0.1:8787", "http://localhost:8787", False),
        ("https://www.cstar.help", "http://localhost:443", False),
        ("https://x.example/a", "https://x.example/b", False),
        ("https://www.cstar.help", "https://www.cstar.help.evil.example", False),
        ("https://www.cstar.help", "not a url", False),
    ],
)
def test_same_api(a: str, b: str, same: bool) -> None:
    assert same_api(a, b) is same and same_api(b, a) is same


@pytest.mark.anyio
async def test_mcp_tools_refuse_the_stored_key_for_another_api(emulator_session: Any, other_server: Recorder) -> None:
    from mcp import Client

    from cstar_cli.mcp.access import ApiAccess
    from cstar_cli.mcp.server import build_server
    from cstar_cli.mcp.toolset import TOOL_NAMES

    login(emulator_session)
    server = build_server(ApiAccess(lambda: resolve(base_url=other_server.url)), TOOL_NAMES)
    async with Client(server) as client:
        result = await client.call_tool("cstar_list_tickets", {})
    text = "\n".join(c.text for c in result.content if hasattr(c, "text"))
    assert result.is_error and f"is logged in to {emulator_session.base_url}" in text
    assert other_server.requests == []


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


# passwords in base URLs -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    ["https://user:hunter2secret@www.cstar.help", "https://:hunter2secret@x.io", "http://hunter2secret@127.0.0.1:8787"],
)
def test_a_base_url_with_credentials_is_refused_without_echoing_them(url: str) -> None:
    with pytest.raises(CStarUsageError) as e:
        check_base_url(url)
    assert e.value.exit_code == 2 and e.value.code == "credentials_in_base_url"
    assert "hunter2secret" not in e.value.message + (e.value.hint or "")
    r = cstar("status", "--base-url", url, "--api-key", KEY)
    assert r.code == 2 and "hunter2secret" not in r.output and len(r.stderr.splitlines()) == 2


def test_other_invalid_urls_do_not_echo_a_password_either() -> None:
    with pytest.raises(CStarUsageError) as e:
        check_base_url("ftp://u:hunter2secret@x")
    assert "hunter2secret" not in e.value.message


# the key from CSTAR_API_KEY -------------------------------------------------------------------------


def test_login_says_when_it_stores_the_key_from_the_environment(emulator_session: Any) -> None:
    key = emulator_session.keys["sk_test"]
    r = cstar("login", "--json", env={"CSTAR_API_KEY": key, "CSTAR_BASE_URL": emulator_session.base_url})
    assert r.code == 0, r.stderr
    assert f"Using the key from CSTAR_API_KEY (sk_test_…{key[-4:]})." in r.stderr
    assert key not in r.output
    flagged = cstar("login", "--api-key", key, env={"CSTAR_BASE_URL": emulator_session.base_url})
    assert flagged.code == 0 and "CSTAR_API_KEY" not in flagged.stderr
