"""The root command: global options anywhere, lazy loading, usage errors, exit codes."""

from __future__ import annotations

import json
import os
import sys
import time

import pytest

from cstar_cli._compat_typer import UsageError
from cstar_cli.cli import hoist_global_options
from tests.support.cli import cstar, cstar_env, cstar_subprocess


def test_hoists_global_options() -> None:
    assert hoist_global_options(["events", "--json", "-c", "tickets"]) == ["--json", "events", "-c", "tickets"]
    assert hoist_global_options(["status", "--api-key", "k", "--base-url=http://x"]) == [
        "--api-key",
        "k",
        "--base-url=http://x",
        "status",
    ]
    assert hoist_global_options(["listen", "--", "--json"]) == ["listen", "--", "--json"]
    with pytest.raises(UsageError):
        hoist_global_options(["status", "--profile"])


def test_missing_value_of_a_global_option_after_the_subcommand() -> None:
    r = cstar("status", "--base-url")
    assert r.code == 2 and "requires an argument" in r.stderr


@pytest.mark.parametrize("args", [["--json", "events"], ["events", "--json"]])
def test_json_before_or_after(args: list[str]) -> None:
    r = cstar(*args)
    assert r.code == 0
    data = json.loads(r.stdout)
    assert {"type", "category", "description", "triggerable"} <= set(data[0])
    assert len(data) == 35


@pytest.mark.e2e
def test_version() -> None:
    r = cstar_subprocess("--version")
    assert r.code == 0 and r.stdout.startswith("cstar ")


def test_unknown_command_suggests() -> None:
    r = cstar("statsu")
    assert r.code == 2
    assert "Did you mean 'status'" in r.stderr and "Traceback" not in r.output


def test_bad_option_is_usage_error_as_json() -> None:
    r = cstar("events", "--bogus", "--json")
    assert r.code == 2 and r.stdout == ""
    err = json.loads(r.stderr)["error"]
    assert err["type"] == "usage_error" and "--bogus" in err["message"]


def test_events_category_filter_and_errors() -> None:
    r = cstar("events", "--category", "ticket", "--json")
    assert {e["type"] for e in json.loads(r.stdout)} >= {"ticket.created", "ticket.deleted"}
    r = cstar("events", "--triggerable", "--json")
    assert len(json.loads(r.stdout)) == 12
    r = cstar("events", "-c", "nope")
    assert r.code == 2 and "Valid categories" in r.stderr


def test_piped_events_are_tab_separated_without_colour() -> None:
    r = cstar("events", "-c", "csat")
    assert r.stdout == "survey.submitted\tcsat\t-\tFired when a customer submits a CSAT survey response\n"
    assert "\x1b[" not in r.output


@pytest.mark.parametrize(
    ("event", "expected"),
    [
        ("ticket.craeted", "Did you mean ticket.created"),
        ("ticket.deleted", "cannot be triggered"),
        ("nope", "Unknown event type"),
    ],
)
def test_trigger_refuses_bad_types_offline(event: str, expected: str) -> None:
    r = cstar("trigger", event)
    assert r.code == 2 and expected in r.stderr


def test_not_logged_in() -> None:
    r = cstar("status")
    assert r.code == 3 and "cstar login" in r.stderr


def test_no_args_shows_help() -> None:
    r = cstar()
    assert r.code == 0 and "Usage" in r.output


@pytest.mark.e2e
@pytest.mark.skipif(sys.platform == "win32", reason="needs a pseudo-terminal")
def test_ctrl_d_at_the_login_prompt_is_a_usage_error() -> None:
    import pty

    pid, fd = pty.fork()
    if pid == 0:  # the child: `cstar login` on a terminal, as a person would run it
        os.execvpe(sys.executable, [sys.executable, "-m", "cstar_cli", "login"], cstar_env())
    seen = b""
    deadline = time.monotonic() + 20
    while b"input hidden" not in seen and time.monotonic() < deadline:
        seen += os.read(fd, 1024)
    os.write(fd, b"\x04")  # Ctrl-D
    while True:
        try:
            chunk = os.read(fd, 1024)
        except OSError:
            break
        if not chunk:
            break
        seen += chunk
    _, status = os.waitpid(pid, 0)
    text = seen.decode(errors="replace")
    assert os.waitstatus_to_exitcode(status) == 2, text
    assert "No API key entered" in text and "Traceback" not in text
