"""The entry point's fast paths (cstar_cli.commands.fast, cstar_cli._entry): the same bytes and exit
codes as the full CLI for the same arguments, the heavy modules they keep out, the cached help, and
Typer's coercion without Pydantic (cstar_cli._compat_typer.DeferredCoercion)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from typer._click.exceptions import BadParameter
from typer._coercion import build_runtime_param

from cstar_cli import _compat_typer as compat
from cstar_cli.commands import fast
from tests.support.cli import cstar_env, reap_at_teardown
from tests.support.emulator import EmulatorThread
from tests.support.entry import entry, full, run_python
from tests.support.entry import imported_modules as _imported

pytestmark = pytest.mark.e2e

@pytest.fixture(autouse=True)
def cache_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("CSTAR_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache"


MCP_ARGVS = [
    # served (stdin is closed at once, so the server ends with 0)
    ["mcp-server"],
    ["mcp-server", "--read-only"],
    ["--debug", "mcp-server", "--tools", "list_tickets,cstar_get_ticket"],
    ["mcp-server", "--tools=list_tickets", "--tools", "get_ticket", "--json"],
    ["--profile", "work", "mcp-server", "--no-color"],
    # left to the full CLI
    ["mcp-server", "--tools", "nope"],
    ["--json", "mcp-server", "--tools", "nope"],
    ["mcp-server", "--read-only", "--tools", "create_ticket"],
    ["mcp-server", "--tools="],
    ["mcp-server", "--tools"],
    ["mcp-server", "--tools", "--read-only"],
    ["mcp-server", "--bogus"],
    ["mcp-server", "extra"],
    ["mcp-server", "--help"],
    ["mcp-server", "-h"],
    ["mcp-server", "--print-config", "cursor"],
    ["mcp-server", "--print-config", "nope"],
    ["--profile", "Bad Name!", "mcp-server"],
    ["--profile=", "mcp-server"],
    ["--base-url", "ftp://example.com", "mcp-server"],
    ["--api-key", "mcp-server"],
    ["mcp-server", "--", "--read-only"],
    ["--bogus", "mcp-server"],
]


@pytest.mark.parametrize("args", MCP_ARGVS, ids=" ".join)
def test_mcp_server_fast_path_answers_as_the_full_cli(args: list[str]) -> None:
    assert entry(args) == full(args)


@pytest.mark.parametrize("args", [["--version"], ["--help"], ["-h"]], ids=" ".join)
def test_version_and_help_are_the_full_clis(args: list[str]) -> None:
    fresh = full(args)
    assert entry(args) == fresh
    assert entry(args) == fresh  # the second --help comes from the cache


def test_help_cache_entries_match_a_fresh_render_per_width(cache_dir: Path) -> None:
    for columns in ("60", "100", "60"):
        env = {"COLUMNS": columns}
        assert entry(["--help"], env) == full(["--help"], env)
    entries = sorted(cache_dir.glob("help-*.txt"))
    assert len(entries) == 2
    assert {len(max(p.read_text().splitlines()[1:], key=len)) for p in entries} == {60, 100}  # after the header


def test_help_cache_key_follows_what_the_rendering_reads(monkeypatch: pytest.MonkeyPatch) -> None:
    base = fast.help_cache_key(["--help"])
    assert fast.help_cache_key(["--help"]) == base
    assert fast.help_cache_key(["-h"]) != base
    for name, value in (("COLUMNS", "61"), ("NO_COLOR", "1"), ("FORCE_COLOR", "1"), ("TERM", "xterm"), ("LC_ALL", "C")):
        with monkeypatch.context() as m:
            m.setenv(name, value)
            assert fast.help_cache_key(["--help"]) != base, name
    monkeypatch.setattr("cstar_cli.__version__", "99.0")
    assert fast.help_cache_key(["--help"]) != base


def test_a_failed_render_is_not_cached(cache_dir: Path) -> None:
    def render() -> None:
        print("partial")
        raise SystemExit(1)

    assert fast.cached_help(["--help"], render) == 1
    assert not list(cache_dir.glob("help-*")) if cache_dir.exists() else True


# httpx._main shows up with ~0 µs when blocked (the failed import is logged too), so click and pygments,
# which it would load, stand for it.
HEAVY = {"typer", "rich", "pydantic", "httpx", "click", "pygments", "keyring", "websockets", "mcp"}


@pytest.mark.parametrize(
    ("args", "allowed"),
    [
        (["--version"], set()),
        (["--help"], set()),  # once cached
        (["events", "--json"], {"typer"}),
        (["status", "--json"], {"httpx"}),
        (["mcp-server"], {"mcp", "pydantic", "httpx", "click"}),  # what `import mcp.server` loads itself
    ],
    ids=lambda v: " ".join(v) if isinstance(v, list) else "",
)
def test_heavy_modules_stay_out(args: list[str], allowed: set[str], emulator_session: EmulatorThread) -> None:
    env = {"CSTAR_API_KEY": emulator_session.keys["sk_test"], "CSTAR_BASE_URL": emulator_session.base_url}
    env["PYTHONPROFILEIMPORTTIME"] = "1"
    if args == ["--help"]:
        entry(args, env)
    code, _, stderr = entry(args, env)
    assert code == 0, stderr[-2000:]
    loaded = {m.split(".")[0] for m in _imported(stderr)}
    assert not loaded & (HEAVY - allowed)


def test_httpx_cli_module_is_blocked_and_httpx_still_works() -> None:
    code = (
        "import sys, cstar_cli._entry, httpx; "
        "print(sys.modules['httpx._main'] is None, httpx.main.__module__, 'click' in sys.modules, httpx.Client)"
    )
    rc, out, err = run_python(["-c", code], [])
    assert rc == 0, err
    assert out.split()[:3] == ["True", "httpx", "False"]


def _line(message: dict[str, Any]) -> bytes:
    return (json.dumps(message) + "\n").encode()


def _reply(proc: subprocess.Popen[bytes], want: int) -> dict[str, Any]:
    assert proc.stdout is not None
    while True:  # bounded: the server answers or exits (pytest-timeout backs this up)
        line = proc.stdout.readline()
        assert line, "the server exited"
        message = json.loads(line)
        if message.get("id") == want:
            return message  # type: ignore[no-any-return]


def test_fast_path_server_answers_initialize_and_a_tool_call(emulator_session: EmulatorThread) -> None:
    env = cstar_env(
        {
            "CSTAR_API_KEY": emulator_session.keys["sk_test"],
            "CSTAR_BASE_URL": emulator_session.base_url,
            "PYTHONPROFILEIMPORTTIME": "1",
        }
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "cstar_cli", "--json", "mcp-server", "--read-only"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )
    reap_at_teardown(proc)
    assert proc.stdin is not None and proc.stderr is not None
    init = {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}
    proc.stdin.write(_line({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": init}))
    proc.stdin.flush()
    assert _reply(proc, 0)["result"]["serverInfo"]["name"] == "cstar"
    proc.stdin.write(_line({"jsonrpc": "2.0", "method": "notifications/initialized"}))
    call = {"name": "cstar_list_tickets", "arguments": {}}
    proc.stdin.write(_line({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": call}))
    proc.stdin.flush()
    result = _reply(proc, 1)["result"]
    assert not result.get("isError"), result
    assert "tickets" in result["structuredContent"]
    proc.stdin.close()
    assert proc.wait(30) == 0
    loaded = _imported(proc.stderr.read().decode())
    assert "typer" not in loaded and "rich" not in loaded and "keyring" not in loaded


# Typer's coercion without Pydantic ------------------------------------------------------------


def _params() -> list[Any]:
    import typer

    from cstar_cli.cli import app
    from cstar_cli.commands.events import app as events_app

    root = typer.main.get_command(app)
    events = typer.main.get_command(events_app)
    subs = list(getattr(events, "commands", {}).values())
    return [p for cmd in (root, events, *subs) for p in cmd.params]


def _outcome(runtime: Any, value: Any, param: Any) -> Any:
    try:
        return ("ok", runtime.coerce(value, param=param, ctx=None))
    except BadParameter as e:
        return ("error", e.format_message())


@pytest.mark.parametrize("value", [None, "x", "5", "-3", "abc", "", 7, 0, True, ("a",)])
def test_deferred_coercion_gives_typers_own_result(value: Any) -> None:
    for p in _params():
        desc = p.type_descriptor
        if desc.file_annotation is not None:
            continue
        deferred = compat.DeferredCoercion(parameter_info=desc.parameter_info, annotation=desc.annotation)
        assert _outcome(deferred, value, p) == _outcome(build_runtime_param(desc), value, p), (p.name, value)


def test_defaults_and_plain_values_need_no_pydantic() -> None:
    code = (
        "import sys; from cstar_cli.cli import main; "
        "sys.argv = ['cstar', '--profile', 'default', 'events', '--category', 'tickets', '--json']\n"
        "try:\n    main()\nexcept SystemExit as e:\n    print(e.code, 'pydantic' in sys.modules, file=sys.stderr)"
    )
    rc, out, err = run_python(["-c", code], [])
    assert err.split()[-2:] == ["0", "False"], err
    assert json.loads(out)[0]["category"] == "tickets"
