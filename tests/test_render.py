"""Renderers are pure functions of (model, output): each is drawn into a StringIO declared a terminal
or a pipe, without a process or a server."""

from __future__ import annotations

import io
import json

import pytest

from cstar_cli.api.streams import LogStreamEntry, LogStreamOpened, LogStreamReconnecting
from cstar_cli.commands.events import render_events
from cstar_cli.commands.keys import KeySummary, render_keys
from cstar_cli.commands.logs import LogsPage, render_logs, render_tail
from cstar_cli.commands.status import render_status
from cstar_cli.commands.trigger import TriggerOutput, render_trigger
from cstar_cli.commands.version import render_version
from cstar_cli.output import Output
from cstar_cli.views.events import event_types
from cstar_cli.views.status import StatusOutput


@pytest.fixture(autouse=True)
def _plain_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("FORCE_COLOR", "CLICOLOR_FORCE", "NO_COLOR", "CLICOLOR"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("TERM", "xterm")


def output(*, tty: bool, json_mode: bool = False) -> tuple[Output, io.StringIO, io.StringIO]:
    stdout, stderr = io.StringIO(), io.StringIO()
    out = Output(json=json_mode, no_color=True, stdout=stdout, stderr=stderr, stdout_tty=tty, stderr_tty=tty)
    return out, stdout, stderr


KEY: KeySummary = {
    "id": "key_1",
    "name": "CI",
    "type": "secret",
    "mode": "test",
    "redacted": "sk_test_…a1b2",
    "createdAt": "2026-05-07T21:29:46.233Z",
    "lastUsedAt": None,
    "revokedAt": None,
}

STATUS: StatusOutput = {
    "profile": "default",
    "team": {"id": "t-1", "name": "Acme", "slug": "acme", "plan": "pro"},
    "mode": "test",
    "keyType": "secret",
    "keyId": "key_1",
    "key": "sk_test_…a1b2",
    "keySource": "env",
    "baseUrl": "http://127.0.0.1:8787",
    "baseUrlSource": "env",
    "api": {"reachable": True, "roundTripMs": 3.2, "requestId": "req_1"},
    "rateLimit": {"limit": 1000, "remaining": 999, "reset": None, "window": 3600},
    "version": "0.1.0",
}


def test_keys_piped_are_tsv_with_exact_times_and_on_a_terminal_a_table() -> None:
    out, stdout, _ = output(tty=False)
    render_keys([KEY], out)
    assert stdout.getvalue() == "key_1\tCI\tsecret\ttest\tsk_test_…a1b2\t2026-05-07T21:29:46.233Z\t-\t-\n"
    out, stdout, _ = output(tty=True)
    render_keys([KEY], out)
    header, row = stdout.getvalue().splitlines()
    assert header.split() == ["ID", "NAME", "TYPE", "MODE", "KEY", "CREATED", "LAST", "USED", "REVOKED"]
    assert row.split()[:5] == ["key_1", "CI", "secret", "test", "sk_test_…a1b2"] and row.split()[-2:] == ["never", "-"]


def test_no_keys_is_a_notice_on_stderr_not_data() -> None:
    out, stdout, stderr = output(tty=False)
    render_keys([], out)
    assert stdout.getvalue() == "" and stderr.getvalue() == "No API keys.\n"


def test_status_is_aligned_fields() -> None:
    out, stdout, _ = output(tty=True)
    render_status(STATUS, out)
    lines = stdout.getvalue().splitlines()
    assert lines[0] == "Team:       Acme (t-1)"
    assert "Key:        sk_test_…a1b2 (secret, from CSTAR_API_KEY)" in lines
    assert "API:        reachable, 3.2 ms" in lines
    assert "Rate limit: 999/1000 left, resets None" in lines


def test_an_unreachable_status_still_shows_the_local_part() -> None:
    down: StatusOutput = {
        **STATUS,
        "team": None,
        "keyId": None,
        "api": {"reachable": False, "roundTripMs": None, "requestId": None},
        "rateLimit": None,
    }
    out, stdout, _ = output(tty=False)
    render_status(down, out)
    text = stdout.getvalue()
    assert "Team:       -" in text and "API:        unreachable" in text and "Rate limit: -" in text


def test_json_mode_prints_the_model_itself() -> None:
    out, stdout, stderr = output(tty=True, json_mode=True)
    out.show(STATUS, render_status)
    assert json.loads(stdout.getvalue()) == STATUS and stderr.getvalue() == ""


def test_logs_piped_keep_full_iso_times_and_the_next_page_goes_to_stderr() -> None:
    entry = {"id": "req_1", "method": "GET", "path": "/api/v1/teams/t/tickets", "status": 200, "durationMs": 1.5,
             "createdAt": "2026-05-07T21:29:46.233Z", "errorCode": None}  # fmt: skip
    out, stdout, stderr = output(tty=False)
    render_logs(LogsPage([entry], "test", "cstar logs --before req_1"), out)  # type: ignore[list-item]
    assert stdout.getvalue() == "2026-05-07T21:29:46.233Z\t200\tGET\t/tickets\t1.5 ms\treq_1\t-\n"
    assert stderr.getvalue() == "More entries: cstar logs --before req_1\n"
    out, stdout, stderr = output(tty=False)
    render_logs(LogsPage([], "live", None), out)
    assert stdout.getvalue() == "" and stderr.getvalue() == "No matching API requests in live mode.\n"


def test_a_tail_prints_entries_as_data_and_connection_news_as_notices() -> None:
    entry = {"id": "req_2", "method": "POST", "path": "/api/v1/me", "status": 401, "durationMs": 2}
    elements = [
        LogStreamOpened(None),
        LogStreamEntry("req_2", entry),  # type: ignore[arg-type]
        LogStreamReconnecting(1, 0.5, "the connection broke"),
        LogStreamOpened("req_2"),
    ]
    out, stdout, stderr = output(tty=False, json_mode=True)
    render_tail(elements, out, "test")
    assert [json.loads(line) for line in stdout.getvalue().splitlines()] == [entry]
    assert stderr.getvalue().splitlines() == [
        "Tailing API requests (test mode). Press Ctrl-C to stop.",
        "Log stream interrupted (the connection broke); reconnecting in 0.5 s (attempt 1).",
        "Reconnected; resuming after req_2.",
    ]
    out, stdout, _ = output(tty=True)
    render_tail(elements, out, "test")
    assert stdout.getvalue().split()[1:5] == ["401", "POST", "/me", "2"]


def test_events_and_trigger_and_version() -> None:
    out, stdout, _ = output(tty=False)
    render_events(event_types("csat"), out)
    rows = [line.split("\t") for line in stdout.getvalue().splitlines()]
    assert rows and all(r[1] == "csat" for r in rows)
    sent: TriggerOutput = {"event": "ticket.created", "eventId": "evt_1", "test": True, "deliveries": [], "requestId": "req_9"}
    out, stdout, _ = output(tty=True)
    render_trigger(sent, out)
    assert stdout.getvalue().splitlines() == [
        "Triggered ticket.created evt_1",
        "Request ID: req_9",
        "No active webhook or `cstar listen` session matches this event.",
    ]
    out, stdout, _ = output(tty=False)
    render_version({"version": "1.2.3"}, out)
    assert stdout.getvalue() == "cstar 1.2.3\n"
