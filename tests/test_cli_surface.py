"""The command surface: every subcommand's help lists the inherited global flags, usage lines name
arguments in upper case, `cstar help`, `cstar completion`, `cstar version` and `--debug`."""

from __future__ import annotations

import json
import os
import re

import pytest

from cstar_cli import __version__
from cstar_cli.cli import COMMANDS
from cstar_cli.protocol import events as catalog
from tests.support.cli import ROOT, cstar, cstar_subprocess

GLOBAL_FLAGS = ("--json", "--no-color", "--api-key", "--base-url", "--profile", "--debug")
SUBCOMMANDS = [
    *([c] for c in COMMANDS),
    ["keys", "list"],
    ["keys", "create"],
    ["keys", "revoke"],
    ["emulator", "start"],
]


def usage_line(text: str) -> str:
    return next(line for line in text.splitlines() if "Usage:" in line)


def panel(text: str, title: str) -> str:
    """The rows of the help panel called ``title`` (empty if there is none)."""
    match = re.search(rf"╭─ {title} ─.*?\n(.*?)╰", text, re.S)
    return match.group(1) if match else ""


@pytest.mark.parametrize("words", SUBCOMMANDS, ids=" ".join)
def test_subcommand_help_lists_inherited_flags_after_its_own(words: list[str]) -> None:
    r = cstar(*words, "--help")
    assert r.code == 0, r.output
    inherited = panel(r.stdout, "Inherited flags")
    assert all(flag in inherited for flag in GLOBAL_FLAGS), r.stdout
    assert "--version" not in inherited
    assert r.stdout.index("╭─ Options") < r.stdout.index("╭─ Inherited flags")
    assert "-h" in panel(r.stdout, "Options")


@pytest.mark.parametrize("words", [[], *SUBCOMMANDS], ids=lambda w: " ".join(w) or "root")
def test_no_bool_metavar_and_upper_case_arguments(words: list[str]) -> None:
    r = cstar(*words, "--help")
    assert "<bool>" not in r.stdout and "--install-completion" not in r.stdout
    assert "{" not in usage_line(r.stdout) and "<str>" not in panel(r.stdout, "Arguments")


@pytest.mark.parametrize(
    ("words", "usage"),
    [
        (["trigger"], "cstar trigger [OPTIONS] EVENT"),
        (["keys", "revoke"], "cstar keys revoke [OPTIONS] KEY_ID"),
        (["completion"], "cstar completion [OPTIONS] SHELL"),
        (["help"], "cstar help [OPTIONS] [COMMAND]..."),
    ],
)
def test_usage_lines_name_arguments_in_upper_case(words: list[str], usage: str) -> None:
    assert usage in usage_line(cstar(*words, "--help").stdout)


def test_missing_argument_error_uses_the_metavar() -> None:
    r = cstar("trigger")
    assert r.code == 2 and "EVENT" in r.stderr


def test_root_help_has_no_inherited_panel_but_lists_debug() -> None:
    r = cstar("--help")
    assert "Inherited flags" not in r.stdout and "--debug" in panel(r.stdout, "Options")


def test_trigger_help_lists_the_triggerable_types() -> None:
    text = cstar("trigger", "--help").stdout
    assert all(name in text for name in catalog.TRIGGERABLE)
    assert "ticket.deleted" not in text  # a real type, but not triggerable


def test_global_flags_still_work_after_the_subcommand() -> None:
    r = cstar("events", "--json", "--no-color", "-c", "csat")
    assert r.code == 0 and json.loads(r.stdout)[0]["type"] == "survey.submitted"


# cstar help ------------------------------------------------------------------------------------


@pytest.mark.parametrize("words", [[], ["trigger"], ["keys"], ["keys", "revoke"], ["emulator", "start"]])
def test_help_command_prints_the_same_as_dash_dash_help(words: list[str]) -> None:
    via_help = cstar("help", *words)
    via_flag = cstar(*words, "--help")
    assert via_help.code == via_flag.code == 0
    assert via_help.stdout == via_flag.stdout and via_help.stdout


@pytest.mark.parametrize(
    ("words", "expected"),
    [
        (["statsu"], "No such command 'statsu'. Did you mean 'status'?"),
        (["keys", "revok"], "No such command 'revok' in `cstar keys`. Did you mean 'revoke'?"),
        (["trigger", "x"], "`cstar trigger` has no subcommands"),
        (["zzzz"], "No such command 'zzzz'."),
    ],
)
def test_help_for_an_unknown_command_is_a_usage_error(words: list[str], expected: str) -> None:
    r = cstar("help", *words)
    assert r.code == 2 and r.stdout == "" and expected in r.stderr and "Hint:" in r.stderr


def test_help_unknown_command_as_json() -> None:
    r = cstar("help", "statsu", "--json")
    assert r.code == 2
    err = json.loads(r.stderr)["error"]
    assert err["type"] == "usage_error" and "status" in err["message"]


# cstar completion ------------------------------------------------------------------------------


@pytest.mark.e2e  # bash's script checks the installed bash's version
@pytest.mark.parametrize(
    ("shell", "name"),
    [("bash", "cstar.bash"), ("zsh", "cstar.zsh"), ("fish", "cstar.fish"), ("powershell", "cstar.ps1")],
)
def test_completion_prints_the_committed_script(shell: str, name: str) -> None:
    r = cstar("completion", shell)
    assert r.code == 0, r.stderr
    assert r.stdout == (ROOT / "completions" / name).read_text(encoding="utf-8")


@pytest.mark.e2e
def test_completion_matches_the_protocol() -> None:
    protocol = cstar_subprocess(env={"_CSTAR_COMPLETE": "source_fish"})
    assert protocol.code == 0 and protocol.stdout == cstar("completion", "fish").stdout


def test_completion_of_an_unknown_shell_is_a_usage_error() -> None:
    r = cstar("completion", "tcsh")
    assert r.code == 2 and "tcsh" in r.stderr and r.stdout == ""


# cstar version ---------------------------------------------------------------------------------


@pytest.mark.e2e
def test_version_command_matches_the_flag() -> None:
    flag = cstar_subprocess("--version")
    assert flag.code == 0 and flag.stdout == f"cstar {__version__}\n"
    assert cstar("version").stdout == flag.stdout
    assert cstar_subprocess("version").stdout == flag.stdout


@pytest.mark.parametrize("args", [["version", "--json"], ["--json", "version"]])
def test_version_as_json(args: list[str]) -> None:
    r = cstar(*args)
    assert r.code == 0 and json.loads(r.stdout) == {"version": __version__}


# --debug ---------------------------------------------------------------------------------------


@pytest.fixture
def broken_events(monkeypatch: pytest.MonkeyPatch) -> None:
    # A bug no layer turns into a CStarError.
    def boom(category: str | None = None) -> list[catalog.EventType]:
        raise RuntimeError("boom")

    monkeypatch.setattr(catalog, "by_category", boom)


@pytest.mark.usefixtures("broken_events")
def test_unexpected_error_without_debug_is_one_line_and_names_debug() -> None:
    r = cstar("events")
    assert r.code == 1 and "Unexpected RuntimeError: boom" in r.stderr
    assert "--debug" in r.stderr and "Traceback" not in r.output


@pytest.mark.usefixtures("broken_events")
@pytest.mark.parametrize("args", [["--debug", "events"], ["events", "--debug"]])
def test_debug_lets_the_traceback_through(args: list[str]) -> None:
    with pytest.raises(RuntimeError, match="boom"):
        cstar(*args)
    assert "CSTAR_DEBUG" not in os.environ  # the flag lasts for its run only


@pytest.mark.usefixtures("broken_events")
def test_debug_is_the_same_as_the_variable() -> None:
    with pytest.raises(RuntimeError, match="boom"):
        cstar("events", env={"CSTAR_DEBUG": "1"})


def test_debug_changes_nothing_on_success() -> None:
    assert cstar("--debug", "events", "-c", "csat").stdout == cstar("events", "-c", "csat").stdout
