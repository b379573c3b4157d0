"""The one output contract (docs/json.md): ``--json`` anywhere on the line, data alone on stdout as
one JSON document (streams: one object per line), errors as JSON on stderr, and the colour and
animation rules."""

from __future__ import annotations

import io
import json
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from typing import Any

import pytest

from cstar_cli.output import Output, use_color
from tests.support.cli import ROOT, close_pipes, cstar, cstar_env
from tests.test_logs import TailProcess

ANSI = re.compile(r"\x1b\[")
CLOSED_PORT_URL = "http://127.0.0.1:9"

STATUS_FIELDS = {
    "profile",
    "team",
    "mode",
    "keyType",
    "keyId",
    "key",
    "keySource",
    "baseUrl",
    "baseUrlSource",
    "api",
    "rateLimit",
    "version",
}
KEY_FIELDS = {"id", "name", "type", "mode", "redacted", "createdAt", "lastUsedAt", "revokedAt"}
LOG_FIELDS = {"id", "method", "path", "status", "durationMs", "createdAt", "keyId", "ip", "userAgent", "errorCode"}


def env_for(emu: Any, key: str = "sk_test") -> dict[str, str]:
    return {"CSTAR_BASE_URL": emu.base_url, "CSTAR_API_KEY": emu.keys[key]}


def one_document(stdout: str) -> Any:
    """stdout is exactly one JSON document on one line."""
    assert stdout.endswith("\n") and stdout.count("\n") == 1, stdout
    assert not ANSI.search(stdout)
    return json.loads(stdout)


def _fresh_key(emu: Any) -> str:
    r = cstar("keys", "create", "--name", "for revoke", "--json", env=env_for(emu))
    return json.loads(r.stdout)["id"]


# Command line (without --json) → a check of the parsed document. `setup` may return extra arguments.
CASES: list[tuple[str, list[str], Callable[[Any], bool], Callable[[Any], list[str]] | None]] = [
    (
        "events",
        ["events"],
        lambda d: isinstance(d, list) and {"type", "category", "description", "triggerable"} == set(d[0]),
        None,
    ),
    ("status", ["status"], lambda d: set(d) == STATUS_FIELDS, None),
    (
        "trigger",
        ["trigger", "ticket.created"],
        lambda d: {"event", "eventId", "test", "deliveries", "requestId"} <= set(d),
        None,
    ),
    ("keys list", ["keys", "list"], lambda d: isinstance(d, list) and all(set(k) == KEY_FIELDS for k in d), None),
    ("keys create", ["keys", "create", "--name", "json"], lambda d: set(d) == KEY_FIELDS | {"key"}, None),
    (
        "keys revoke",
        ["keys", "revoke"],
        lambda d: set(d) == {"id", "revoked", "inUse"},
        lambda emu: [_fresh_key(emu), "--yes"],
    ),
    ("logs", ["logs"], lambda d: isinstance(d, list) and all(set(e) == LOG_FIELDS for e in d), None),
    ("login", ["login"], lambda d: set(d) == {"profile", "team", "mode", "keyType", "key", "storage", "baseUrl"}, None),
    ("logout", ["logout"], lambda d: set(d) == {"loggedOut"}, None),
]


@pytest.mark.parametrize(("name", "args", "ok", "setup"), CASES, ids=[c[0] for c in CASES])
@pytest.mark.parametrize("where", ["before", "after"])
def test_every_command_prints_one_json_document(
    emulator_session: Any, name: str, args: list[str], ok: Callable[[Any], bool], setup: Any, where: str
) -> None:
    extra = setup(emulator_session) if setup else []
    argv = ["--json", *args, *extra] if where == "before" else [*args, *extra, "--json"]
    # FORCE_COLOR must not colour JSON; it may colour stderr notices.
    r = cstar(*argv, env={**env_for(emulator_session), "FORCE_COLOR": "1"})
    assert r.code == 0, r.output
    assert ok(one_document(r.stdout)), r.stdout


def test_notices_go_to_stderr_not_into_the_json(emulator_session: Any) -> None:
    cstar("login", "--api-key", emulator_session.keys["sk_test"], "--base-url", emulator_session.base_url)
    r = cstar("keys", "create", "--name", "notice", "--json", env={"CSTAR_API_KEY": emulator_session.keys["sk_test"]})
    assert r.code == 0
    one_document(r.stdout)
    assert "overrides the key stored" in r.stderr and "only time" in r.stderr


def test_errors_are_one_json_object_on_stderr(emulator_session: Any) -> None:
    r = cstar("keys", "revoke", "key_ffffffffffffffffffffffff", "--yes", "--json", env=env_for(emulator_session))
    assert r.code == 5 and r.stdout == ""
    doc = json.loads(r.stderr)
    assert list(doc) == ["error"]
    assert set(doc["error"]) == {"type", "code", "message", "requestId", "docUrl", "hint"}
    assert doc["error"]["docUrl"].startswith("https://")


def test_logs_tail_json_is_one_object_per_line(emulator_session: Any) -> None:
    tail = TailProcess("--json", env=env_for(emulator_session))
    try:
        tail.wait_stderr("Tailing")
        cstar("keys", "list", env=env_for(emulator_session))
        for line in tail.lines(2):
            assert set(json.loads(line)) == LOG_FIELDS and line.endswith("\n")
        assert tail.interrupt() == 130
    finally:
        tail.close()


def test_listen_json_is_one_object_per_line(emulator_session: Any) -> None:
    # The shape itself is the listen command's (docs/listen.md); here: stdout is JSON lines only.
    listen = TailProcess("--json", "--events", "customer.created", env=env_for(emulator_session), command=("listen",))
    try:
        listen.wait_stderr("Ready!")
        assert cstar("trigger", "customer.created", env=env_for(emulator_session)).code == 0
        (line,) = listen.lines(1)
        event = json.loads(line)
        assert event["type"] == "event" and event["eventType"] == "customer.created"
        listen.interrupt()
        assert "Traceback" not in listen.stderr
        assert listen.rest() == []
    finally:
        listen.close()


@pytest.mark.e2e
def test_emulator_start_prints_one_ready_line(tmp_path: Any) -> None:
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "cstar_cli",
            "emulator",
            "start",
            "--json",
            "--port",
            "0",
            "--db",
            str(tmp_path / "e.db"),
            "--rate-limit",
            "0",
        ],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=cstar_env(),
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert isinstance(json.loads(line), dict), line
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        close_pipes(proc)


# Nothing but data on stdout, no colour when piped ------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [
        ["events"],
        ["status"],
        ["keys", "list"],
        ["logs"],
        ["trigger", "ticket.created"],
        ["keys", "create", "--name", "p"],
    ],
)
def test_piped_human_output_has_no_ansi(emulator_session: Any, args: list[str]) -> None:
    r = cstar(*args, env=env_for(emulator_session))
    assert r.code == 0, r.output
    assert not ANSI.search(r.output)


def test_piped_errors_have_no_ansi() -> None:
    r = cstar("keys", "list", env={"CSTAR_BASE_URL": CLOSED_PORT_URL, "CSTAR_API_KEY": "sk_test_" + "a" * 32})
    assert r.code == 9 and not ANSI.search(r.output) and r.stdout == ""


@pytest.mark.parametrize("force", [{"FORCE_COLOR": "1"}, {"CLICOLOR_FORCE": "1"}])
def test_forced_colour_reaches_a_pipe(emulator_session: Any, force: dict[str, str]) -> None:
    r = cstar("trigger", "ticket.created", env={**env_for(emulator_session), **force, "TERM": "dumb"})
    assert r.code == 0 and ANSI.search(r.stdout)
    err = cstar("keys", "revoke", "bad", "--yes", env=force)
    assert ANSI.search(err.stderr)


def test_no_color_beats_force(emulator_session: Any) -> None:
    r = cstar("trigger", "ticket.created", "--no-color", env={**env_for(emulator_session), "FORCE_COLOR": "1"})
    assert r.code == 0 and not ANSI.search(r.output)


def test_no_spinner_when_stderr_is_a_pipe_even_with_forced_colour() -> None:
    # Unreachable API with retries: a wait well over the spinner's 0.3 s delay.
    r = cstar(
        "keys",
        "list",
        env={"CSTAR_BASE_URL": CLOSED_PORT_URL, "CSTAR_API_KEY": "sk_test_" + "a" * 32, "FORCE_COLOR": "1"},
    )
    assert r.code == 9
    assert "Fetching" not in r.stderr and "\x1b[?25l" not in r.stderr


# use_color rules ---------------------------------------------------------------------------------


class _Stream(io.StringIO):
    def __init__(self, tty: bool) -> None:
        super().__init__()
        self._tty = tty

    def isatty(self) -> bool:
        return self._tty


@pytest.mark.parametrize(
    ("tty", "flag", "env", "expected"),
    [
        (True, False, {}, True),
        (False, False, {}, False),
        (True, True, {}, False),
        (True, False, {"NO_COLOR": "1"}, False),
        (True, False, {"CLICOLOR": "0"}, False),
        (True, False, {"TERM": "dumb"}, False),
        (False, False, {"CLICOLOR_FORCE": "1"}, True),
        (False, False, {"FORCE_COLOR": "1"}, True),
        (False, False, {"FORCE_COLOR": "0"}, False),
        (True, False, {"TERM": "dumb", "FORCE_COLOR": "1"}, True),
        (False, True, {"FORCE_COLOR": "1"}, False),
        (False, False, {"NO_COLOR": "1", "FORCE_COLOR": "1"}, False),
    ],
)
def test_use_color_rules(
    monkeypatch: pytest.MonkeyPatch, tty: bool, flag: bool, env: dict[str, str], expected: bool
) -> None:
    monkeypatch.setenv("TERM", "xterm-256color")
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    assert use_color(_Stream(tty), flag) is expected


def test_table_on_a_terminal_and_tsv_when_piped(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TERM", "xterm-256color")
    piped, tty = _Stream(False), _Stream(True)
    for stream in (piped, tty):
        monkeypatch.setattr(sys, "stdout", stream)
        Output().table(["A", "B"], [("x", None)], styles={0: "green"})
    assert piped.getvalue() == "x\t-\n"
    assert "A" in tty.getvalue() and ANSI.search(tty.getvalue())


def test_spinner_only_on_a_colour_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TERM", "xterm-256color")
    monkeypatch.setenv("FORCE_COLOR", "1")
    piped = _Stream(False)
    monkeypatch.setattr(sys, "stderr", piped)
    import threading

    before = set(threading.enumerate())
    with Output().spinner("waiting", delay=0.0):
        # A spinner starts its timer thread on entry: none means nothing can ever be drawn.
        assert set(threading.enumerate()) <= before
    assert piped.getvalue() == ""


@pytest.mark.e2e
@pytest.mark.skipif(shutil.which("jq") is None, reason="needs jq")
def test_jq_parses_the_output() -> None:
    proc = subprocess.run(
        f"{sys.executable} -m cstar_cli events --json | jq -e 'length > 0'",
        shell=True,
        env=cstar_env(),
        capture_output=True,
        text=True,
        timeout=30,
        cwd=ROOT,
    )
    assert proc.returncode == 0, proc.stderr
