"""The CLI's edges as a stranger finds them: streams that go away before the run ends, ``--version``
after a subcommand, a base URL that is some other server, server text with newlines and control
characters, usage hints, and nonsensical terminal widths. Real ``cstar`` processes (through the
console script, so the fast paths answer what they answer) and the emulator in a thread."""

from __future__ import annotations

import http.server
import json
import os
import subprocess
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path

import httpx
import pytest

from cstar_cli.output import Output, printable, printable_json
from tests.support.cli import cstar, cstar_env
from tests.support.emulator import EmulatorThread
from tests.support.http_stub import serve_handler

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]

CSTAR = str(Path(sys.executable).with_name("cstar"))
UNREACHABLE = "http://127.0.0.1:1"


def env_for(emu: EmulatorThread) -> dict[str, str]:
    return {"CSTAR_API_KEY": emu.keys["sk_test"], "CSTAR_BASE_URL": emu.base_url}


def run_closed(args: Sequence[str], env: dict[str, str], *, stdout: bool, stderr: bool) -> tuple[int, str]:
    """Run the console script with stdout and/or stderr a pipe whose reader is already gone (every
    write fails with EPIPE); give the exit code and what reached the stream left open."""
    closed_r, closed_w = os.pipe()
    os.close(closed_r)
    try:
        proc = subprocess.run(
            [CSTAR, *args],
            stdin=subprocess.DEVNULL,
            stdout=closed_w if stdout else subprocess.PIPE,
            stderr=closed_w if stderr else subprocess.PIPE,
            env=cstar_env(env),
            timeout=60,
        )
    finally:
        os.close(closed_w)
    kept = proc.stderr if stdout and not stderr else proc.stdout if stderr and not stdout else b""
    return proc.returncode, (kept or b"").decode()


# 1. a stream that went away does not change the outcome -------------------------------------------


@pytest.mark.parametrize(
    ("args", "code"),
    [
        (["status", "--json"], 9),  # the fast path
        (["status"], 9),  # the full CLI
        (["--json", "keys", "list"], 9),
        (["no-such-command"], 2),  # a usage error, reported by the root's main
        (["mcp-server", "--tools", "nope"], 2),  # left to the full CLI by the fast path
    ],
)
def test_a_closed_stderr_keeps_the_errors_exit_code(args: list[str], code: int) -> None:
    env = {"CSTAR_API_KEY": "sk_test_" + "a" * 32, "CSTAR_BASE_URL": UNREACHABLE}
    seen = subprocess.run([CSTAR, *args], capture_output=True, text=True, env=cstar_env(env), timeout=60)
    assert seen.returncode == code and seen.stderr, seen.stderr
    # Stderr gone: the same code and the same data on stdout.
    assert run_closed(args, env, stdout=False, stderr=True) == (code, seen.stdout)
    if not seen.stdout:
        # Both closed (`2>&1 | head -0`): the same code. (A command that writes data first ends 0
        # there: its reader went away, as with `cstar logs | head -1`.)
        assert run_closed(args, env, stdout=True, stderr=True)[0] == code


def test_a_closed_stderr_keeps_an_api_errors_exit_code(emulator: EmulatorThread) -> None:
    rc, stdout = run_closed(["events", "get", "evt_nope"], env_for(emulator), stdout=False, stderr=True)
    assert (rc, stdout) == (5, "")


def test_listen_max_wait_with_its_output_gone_ends_with_13(emulator: EmulatorThread) -> None:
    # What `cstar listen … --max-wait 1s 2>&1 | head -3` did: its final error went to a closed pipe.
    args = ["listen", "-f", "127.0.0.1:9/h", "--events", "customer.deleted", "--max-wait", "0.5s"]
    assert run_closed(args, env_for(emulator), stdout=False, stderr=True)[0] == 13
    assert run_closed(args, env_for(emulator), stdout=True, stderr=True)[0] == 13


def test_a_closed_stdout_still_ends_quietly_and_a_closed_stderr_changes_nothing(emulator: EmulatorThread) -> None:
    env = env_for(emulator)
    for args in (["status", "--json"], ["status"], ["--help"], ["--version"], ["events", "recent"]):
        rc, stderr = run_closed(args, env, stdout=True, stderr=False)
        assert rc == 0 and "Error" not in stderr and "Traceback" not in stderr, (args, stderr)
        assert run_closed(args, env, stdout=False, stderr=True)[0] == 0, args


def test_output_drops_what_a_failing_stderr_cannot_take() -> None:
    class Gone:
        def write(self, text: str) -> int:
            raise BrokenPipeError(32, "Broken pipe")

        def flush(self) -> None:
            raise BrokenPipeError(32, "Broken pipe")

        def isatty(self) -> bool:
            return False

    out = Output(stderr=Gone())  # type: ignore[arg-type]
    out.info("Stopped: 0 forwarded, 0 failed.")
    out.warn("careful")
    from cstar_cli.errors import CStarMaxWaitError

    out.error(CStarMaxWaitError("--max-wait 2 s passed."))
    Output(json=True, stderr=Gone()).error(CStarMaxWaitError("x"))  # type: ignore[arg-type]


# 2. --version after a subcommand --------------------------------------------------------------------


@pytest.mark.parametrize("args", [["mcp-server", "--version"], ["status", "--version"], ["events", "--version"]])
def test_version_after_a_subcommand_says_where_it_goes(args: list[str]) -> None:
    proc = subprocess.run([CSTAR, *args], capture_output=True, text=True, env=cstar_env(), timeout=60)
    assert proc.returncode == 2 and proc.stdout == ""
    assert "No such option: --version" in proc.stderr
    assert "`cstar --version`" in proc.stderr and "Traceback" not in proc.stderr


def test_version_before_the_subcommand_still_works() -> None:
    r = cstar("--version")
    assert r.code == 0 and r.stdout.startswith("cstar ")


# 3. a base URL that is not the cStar API ------------------------------------------------------------


class _Plain(http.server.BaseHTTPRequestHandler):
    answer: tuple[int, str, bytes] = (404, "text/html", b"")
    hits: list[str] = []

    def do_GET(self) -> None:
        status, ctype, body = self.answer
        self.hits.append(self.path)
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def plain_server() -> Iterator[tuple[str, type[_Plain]]]:
    handler = type("Handler", (_Plain,), {"hits": []})
    with serve_handler(handler) as url:
        yield url, handler


@pytest.mark.parametrize(
    "answer",
    [
        (404, "text/html", b"<h1>Not Found</h1>"),
        (404, "application/json", b'{"detail": "Not Found"}'),
        (404, "application/json", b'{"error": {"code": 404, "message": "Not Found"}}'),
        (500, "text/html", b"<h1>Internal Server Error</h1>"),
        (200, "text/html", b"<html>Welcome</html>"),
        (200, "application/json", b'{"hello": "world"}'),
        (401, "application/json", b'{"error": "unauthorized"}'),
    ],
)
def test_any_answer_without_the_envelope_is_a_base_url_problem(
    plain_server: tuple[str, type[_Plain]], answer: tuple[int, str, bytes]
) -> None:
    url, handler = plain_server
    handler.answer = answer
    env = {"CSTAR_API_KEY": "sk_test_" + "k" * 32, "CSTAR_BASE_URL": url}
    fast = subprocess.run([CSTAR, "status", "--json"], capture_output=True, text=True, env=cstar_env(env), timeout=60)
    assert fast.returncode == 9 and json.loads(fast.stdout)["api"]["reachable"] is False, fast.stderr
    err = json.loads(fast.stderr)["error"]
    assert err["code"] == "not_cstar_api" and "--base-url" in err["hint"] and f"HTTP {answer[0]}" in err["message"]
    full = cstar("keys", "list", env=env)
    assert full.code == 9 and "did not answer like the cStar API" in full.stderr and "--base-url" in full.stderr
    if answer[0] >= 500:  # a proxy's error page in front of the API may pass: retried first
        assert len(handler.hits) > 2
    else:
        assert len(handler.hits) == 2  # one call per run: never retried


# 4 + 5. server text in `events get` ------------------------------------------------------------------


def test_events_get_prints_the_payload_as_readable_valid_json(emulator: EmulatorThread) -> None:
    title = "Line one\nline\ttwo \x1b[31mred\x1b[0m \u202eevil \x9b2J"
    with emulator.client() as api:
        r = api.post("/tickets", json={"title": title})
        assert r.status_code == 201, r.text
        rid = r.json()["meta"]["requestId"]
        events = api.get("/events", params={"type": "ticket.created", "limit": 100}).json()["data"]
    event_id = next(e["id"] for e in events if e["requestId"] == rid)
    shown = cstar("events", "get", event_id, env=env_for(emulator))
    assert shown.code == 0, shown.stderr
    assert "\\x0a" not in shown.stdout and "\x1b" not in shown.stdout and "\u202e" not in shown.stdout
    assert "\x9b" not in shown.stdout
    # What follows the fields is the payload, indented over several lines, and it parses.
    head, _, payload = shown.stdout.partition("\n{\n")
    assert "No delivery attempt recorded yet (it may still be queued)." in head
    document = json.loads("{\n" + payload)
    assert document["id"] == event_id and document["data"]["ticket"]["title"] == title
    assert len(payload.splitlines()) > 5


def test_text_kept_as_a_document_keeps_its_lines() -> None:
    assert printable("a\nb\tc\x1b[2J") == "a\\x0ab\\x09c\\x1b[2J"  # a field or a cell: one line
    assert printable("a\nb\tc\x1b[2J\r", lines=True) == "a\nb\tc\\x1b[2J\\x0d"
    text = json.dumps({"t": "x\u202e\x9b\U000e0001\ud800", "n": [1]}, indent=2, ensure_ascii=False)
    safe = printable_json(text)
    assert json.loads(safe) == json.loads(text)
    assert all(ch not in safe for ch in "\u202e\x9b\U000e0001\ud800") and "\n" in safe


# 6. usage hints name the subcommand's help -------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "where"),
    [
        (["events", "--json", "--category"], "cstar events"),
        (["mcp-server", "--base-url"], "cstar mcp-server"),
        (["mcp-server", "--print-config"], "cstar mcp-server"),
        (["mcp-server", "--read-only=yes"], "cstar mcp-server"),
        (["events", "get", "--profile"], "cstar events"),
        (["events", "recent", "--limit"], "cstar events recent"),
        (["--base-url"], "cstar"),
    ],
)
def test_usage_hints_name_the_subcommands_help(args: list[str], where: str) -> None:
    r = cstar(*args)
    assert r.code == 2 and f"See `{where} --help`." in r.stderr, r.stderr


# 7. nonsensical terminal widths ----------------------------------------------------------------------


def _help(extra: dict[str, str], cache: Path) -> subprocess.CompletedProcess[str]:
    env = cstar_env({"CSTAR_CACHE_DIR": str(cache), **extra})
    for name in ("COLUMNS", "TERMINAL_WIDTH"):
        if name not in extra:
            env.pop(name, None)
    return subprocess.run([CSTAR, "--help"], capture_output=True, text=True, env=env, timeout=60)


@pytest.mark.parametrize(
    "extra",
    [
        {"COLUMNS": "0"},
        {"COLUMNS": "1"},
        {"COLUMNS": "19"},
        {"COLUMNS": "abc"},
        {"TERMINAL_WIDTH": "abc"},
        {"TERMINAL_WIDTH": "0"},
    ],
)
def test_a_nonsensical_width_draws_help_at_the_default_width(extra: dict[str, str], tmp_path: Path) -> None:
    default = _help({}, tmp_path / "a")
    assert default.returncode == 0 and len(default.stdout.splitlines()) > 20
    for _ in range(2):  # rendered, then from the help cache
        got = _help(extra, tmp_path / "b")
        assert (got.returncode, got.stdout, got.stderr) == (0, default.stdout, "")
    # The full CLI (not the cached root help) too.
    sub = cstar("events", "--help", env=extra)
    assert sub.code == 0 and sub.stdout == cstar("events", "--help").stdout


def test_a_sane_width_is_kept(tmp_path: Path) -> None:
    narrow, wide = _help({"COLUMNS": "40"}, tmp_path), _help({"COLUMNS": "200"}, tmp_path)
    assert len(narrow.stdout.splitlines()) > len(wide.stdout.splitlines())


def test_client_envelope_check_keeps_real_errors() -> None:
    # The emulator's envelope is still read as the API's own error, not as another server.
    from cstar_cli.api.client import CStarClient
    from cstar_cli.errors import CStarNotFoundError

    body = {"success": False, "error": {"type": "not_found", "code": "event_not_found", "message": "No such event"}}
    c = CStarClient(
        "sk_test_" + "z" * 32,
        "https://api.example",
        transport=httpx.MockTransport(lambda r: httpx.Response(404, json=body)),
    )
    with pytest.raises(CStarNotFoundError):
        c.transport.request("GET", "/me")
