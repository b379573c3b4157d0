"""``cstar mcp-server`` answers ``initialize`` without building its tools: the tool bodies, output
models, views and library load on the first list or call (cstar_cli.mcp.server.CStarMCPServer)."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest

from tests.support.cli import cstar_env

pytestmark = pytest.mark.e2e

INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 0,
    "method": "initialize",
    "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}},
}
DEFERRED = {"cstar_cli.mcp.tools", "cstar_cli.mcp.outputs", "cstar_cli.mcp.library", "cstar_cli.mcp.views"}


def _serve(messages: list[dict[str, object]]) -> tuple[list[dict[str, object]], set[str]]:
    """Replies and the modules imported when ``messages`` are sent, then stdin is closed."""
    proc = subprocess.run(
        [sys.executable, "-m", "cstar_cli", "mcp-server"],
        input="".join(json.dumps(m) + "\n" for m in messages),
        capture_output=True,
        text=True,
        env=cstar_env({"CSTAR_API_KEY": "sk_test_0000000000000000abcd", "PYTHONPROFILEIMPORTTIME": "1"}),
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    modules = {m.group(1) for m in re.finditer(r"^import time:[^|]*\|[^|]*\|\s*(\S+)\s*$", proc.stderr, re.M)}
    return [json.loads(line) for line in proc.stdout.splitlines()], modules


def test_initialize_builds_no_tools() -> None:
    replies, modules = _serve([INITIALIZE])
    assert replies[0]["id"] == 0 and "tools" in replies[0]["result"]["capabilities"]  # type: ignore[index,operator]
    assert not modules & DEFERRED


def test_tools_list_builds_them() -> None:
    listed = {"jsonrpc": "2.0", "id": 1, "method": "tools/list"}
    initialized = {"jsonrpc": "2.0", "method": "notifications/initialized"}
    replies, modules = _serve([INITIALIZE, initialized, listed])
    tools = next(r for r in replies if r.get("id") == 1)["result"]["tools"]  # type: ignore[index]
    assert "cstar_list_tickets" in {t["name"] for t in tools}  # type: ignore[union-attr,index]
    assert modules >= DEFERRED
