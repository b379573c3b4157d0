"""``cstar mcp-server --print-config CLIENT``: each client's snippet on stdout in its own format,
never a key, ``cstar`` from PATH or else this interpreter's; exit 2 for an unknown client; and the
printed snippet, run as the client would run it, serves the stored login."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest
from mcp import Client, StdioServerParameters
from mcp.client.stdio import stdio_client

from cstar_cli.mcp import client_config
from cstar_cli.mcp.client_config import CLIENTS, render, server_command
from tests.support.cli import ROOT, cstar, cstar_env
from tests.support.emulator import LocalEmulator


def entry(stdout: str, root: str = "mcpServers") -> dict[str, object]:
    return json.loads(stdout)[root]["cstar"]


def test_each_client_gets_its_own_format_without_a_key() -> None:
    key = "sk_test_" + "k" * 32
    outputs = {c: cstar("--api-key", key, "mcp-server", "--print-config", c) for c in CLIENTS}
    for run in outputs.values():
        assert run.code == 0, run.output
        assert key not in run.output and "sk_test" not in run.stdout
        assert "holds no key" in run.stderr
    assert entry(outputs["cursor"].stdout)["args"] == ["mcp-server"]
    assert "env" not in entry(outputs["cursor"].stdout)  # the default API and profile need none
    assert entry(outputs["claude-code"].stdout)["type"] == "stdio"
    assert entry(outputs["vscode"].stdout, "servers")["type"] == "stdio"
    yaml = outputs["continue"].stdout
    assert yaml.startswith("name: cStar\n") and "  - name: cstar\n" in yaml and '      - "mcp-server"\n' in yaml


def test_profile_base_url_and_server_flags_are_carried() -> None:
    run = cstar(
        "--profile", "work", "--base-url", "http://127.0.0.1:8787", "mcp-server", "--read-only",
        "--tools", "list_tickets,get_ticket", "--print-config", "cursor",
    )  # fmt: skip
    assert run.code == 0, run.output
    got = entry(run.stdout)
    assert got["args"][-4:] == ["mcp-server", "--read-only", "--tools", "cstar_list_tickets,cstar_get_ticket"]
    assert got["env"] == {"CSTAR_PROFILE": "work", "CSTAR_BASE_URL": "http://127.0.0.1:8787"}
    # Not logged in there: said on stderr, with the command that fixes it.
    assert "cstar login --base-url http://127.0.0.1:8787 --profile work" in run.stderr


@pytest.mark.parametrize("given", ["emacs", "", "cursor-ide"])
def test_unknown_client_is_exit_2_listing_the_valid_ones(given: str) -> None:
    run = cstar("mcp-server", "--print-config", given)
    assert run.code == 2 and run.stdout == ""
    assert "Unknown MCP client" in run.stderr and "claude-code, cursor, continue, vscode" in run.stderr
    assert "Traceback" not in run.output


def test_a_bad_tools_list_still_fails_first() -> None:
    run = cstar("mcp-server", "--tools", "list_tikets", "--print-config", "cursor")
    assert run.code == 2 and "Did you mean cstar_list_tickets" in run.stderr and run.stdout == ""


def test_command_is_cstar_on_path_else_this_interpreters(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    bindir = tmp_path / "bin"
    bindir.mkdir()
    script = bindir / "cstar"
    script.write_text("#!/bin/sh\n")
    script.chmod(0o755)
    monkeypatch.setenv("PATH", str(bindir))
    assert server_command() == ("cstar", [])

    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    monkeypatch.setattr(client_config.sys, "executable", str(bindir / "python"))
    assert server_command() == (str(script), [])

    monkeypatch.setattr(client_config.sys, "executable", str(tmp_path / "elsewhere" / "python"))
    assert server_command() == (str(tmp_path / "elsewhere" / "python"), ["-m", "cstar_cli"])


def test_yaml_quotes_what_needs_quoting() -> None:
    text = render("continue", 'C:\\Program Files\\cstar "x".exe', ["mcp-server"], {"CSTAR_BASE_URL": "http://h:1/#x"})
    assert '    command: "C:\\\\Program Files\\\\cstar \\"x\\".exe"\n' in text
    assert '      CSTAR_BASE_URL: "http://h:1/#x"\n' in text


@pytest.mark.e2e
@pytest.mark.anyio
@pytest.mark.timeout(90)
async def test_the_printed_snippet_starts_a_server_on_the_stored_login(
    emulator_session: LocalEmulator, tmp_path: Path
) -> None:
    key = emulator_session.keys["sk_test"]
    login = cstar("login", "--api-key", key, "--base-url", emulator_session.base_url)
    assert login.code == 0, login.output
    run = cstar("--base-url", emulator_session.base_url, "mcp-server", "--print-config", "claude-code")
    assert run.code == 0 and key not in run.output and "not logged in" not in run.stderr
    server = entry(run.stdout)
    assert server["env"] == {"CSTAR_BASE_URL": emulator_session.base_url}
    command, args = str(server["command"]), [str(a) for a in server["args"]]  # type: ignore[attr-defined]
    if command == "cstar":  # found on PATH when the test ran; start this checkout's instead
        command, args = sys.executable, ["-m", "cstar_cli", *args]
    # The client's environment: no key in it, only what the snippet says.
    env = {k: v for k, v in cstar_env().items() if not k.startswith("CSTAR_API_KEY")}
    env.update(server["env"])  # type: ignore[arg-type]
    params = StdioServerParameters(command=command, args=args, env=env, cwd=str(ROOT))
    with (tmp_path / "stderr.txt").open("w") as errlog:
        async with Client(stdio_client(params, errlog=errlog), mode="legacy", read_timeout_seconds=30) as client:
            status = await client.call_tool("cstar_get_status", {})
    assert not status.is_error and status.structured_content["keySource"] == "file"
    assert status.structured_content["team"]["id"] == emulator_session.team_id
    assert key not in (tmp_path / "stderr.txt").read_text()
    assert os.environ.get("CSTAR_API_KEY") is None


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"
