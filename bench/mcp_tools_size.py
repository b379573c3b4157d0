"""`cstar mcp-server`: how many bytes its `tools/list` result takes, per tool and in all, against the
budget of 1,500 bytes a tool on average. A script, not a test (tests/test_mcp_size.py holds the
budget).

    .venv/bin/python bench/mcp_tools_size.py [--read-only]

Starts the real server (``python -m cstar_cli mcp-server``, no key, no network), sends
`initialize`, `notifications/initialized` and `tools/list`, and measures the response's ``result``
as sent: compact JSON, UTF-8. A tool's size is its own object in ``tools`` (name, title,
description, input and output schema, annotations); the total is the whole ``result``. Also prints
the room left for more tools under the same average (the budget is set for 14 tools).

Last figures: 18,036 bytes for the 13 tools (1,387 a tool); ``--read-only`` 13,656 for 10 (1,366).

Exits 1 when the server does not answer as MCP promises.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import PY, ROOT, cli_env  # noqa: E402

BUDGET = 1500  # bytes a tool, on average
PLANNED_TOOLS = 14


def _line(message: dict[str, Any]) -> bytes:
    return (json.dumps(message) + "\n").encode()


def _size(value: Any) -> int:
    return len(json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode())


def tools_list(extra_args: list[str]) -> dict[str, Any]:
    """The ``result`` of ``tools/list`` from a freshly started server."""
    messages = [
        {
            "jsonrpc": "2.0",
            "id": 1,
            "method": "initialize",
            "params": {
                "protocolVersion": "2025-06-18",
                "capabilities": {},
                "clientInfo": {"name": "cstar-bench", "version": "1"},
            },
        },
        {"jsonrpc": "2.0", "method": "notifications/initialized"},
        {"jsonrpc": "2.0", "id": 2, "method": "tools/list"},
    ]
    with tempfile.TemporaryDirectory() as config_dir:
        proc = subprocess.run(
            [PY, "-m", "cstar_cli", "mcp-server", *extra_args],
            input=b"".join(_line(m) for m in messages),
            capture_output=True,
            env=cli_env(Path(config_dir)),
            cwd=ROOT,
            timeout=60,
        )
    for raw in proc.stdout.splitlines():
        reply = json.loads(raw)
        if reply.get("id") == 2 and "result" in reply:
            return dict(reply["result"])
    sys.exit(f"CHECK FAILED: no tools/list result (exit {proc.returncode}): {proc.stderr.decode()[-500:]}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--read-only", action="store_true", help="measure the --read-only tool list")
    args = parser.parse_args()
    result = tools_list(["--read-only"] if args.read_only else [])
    tools = result.get("tools") or []
    if not tools:
        sys.exit("CHECK FAILED: the server lists no tools")
    total = _size(result)
    width = max(len(t["name"]) for t in tools)
    print(f"{'tool':<{width}}  bytes  description  input  output")
    for t in tools:
        parts = [_size(t.get(k, "")) for k in ("description", "inputSchema", "outputSchema")]
        print(f"{t['name']:<{width}}  {_size(t):>5}  {parts[0]:>11}  {parts[1]:>5}  {parts[2]:>6}")
    average = total / len(tools)
    verdict = "ok" if average <= BUDGET else "MISS"
    print(f"\ntotal {total:,} bytes for {len(tools)} tools: {average:,.0f} bytes a tool (budget {BUDGET:,}: {verdict})")
    room = PLANNED_TOOLS * BUDGET - total
    more = PLANNED_TOOLS - len(tools)
    if more > 0:
        print(f"room for {more} more tools at the same budget: {room:,} bytes ({room / more:,.0f} each)")


if __name__ == "__main__":
    main()
