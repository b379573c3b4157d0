"""`cstar mcp-server`: time to answer `initialize` from spawn, and the cost of a tool call, each
against a baseline measured interleaved in the same run. A script, not a test.

    .venv/bin/python bench/mcp_startup.py [--runs 15] [--calls 50]

(a) Start, ``--runs`` rounds after a warm-up, each: ``python -c "print(1)"`` (the bare interpreter),
    ``python -c "import mcp.server; print(1)"`` (the SDK's import: the baseline) and ``python -m
    cstar_cli mcp-server`` with `initialize` written to its stdin at once. A sample is the time from
    spawn to the first line on stdout (the `initialize` response for the server), so the
    interpreter's teardown is left out alike.
(b) Tool call, ``--calls`` rounds after 3 warm-up rounds, against a local emulator: a
    `cstar_list_tickets` ``tools/call`` on one running, initialized server (request line written →
    response line read), and the same ``GET /tickets?page=1&pageSize=20`` straight to the API with
    a kept-alive ``httpx.Client`` (response parsed as JSON).

Prints medians [p10–p90], the per-round ratios against the baseline with a verdict against the
targets, and the machine's load. Exits 1 when a reply is not what MCP promises.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import IO, Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import PY, ROOT, Machine, emulator, emulator_env, interleave, paired_ratios, run, spread, verdict  # noqa: E402

START_TARGET = 1.05  # × import mcp.server
CALL_TARGET = 2.0  # × the direct GET


def _line(message: dict[str, Any]) -> bytes:
    return (json.dumps(message) + "\n").encode()


INITIALIZE = _line(
    {
        "jsonrpc": "2.0",
        "id": 0,
        "method": "initialize",
        "params": {
            "protocolVersion": "2025-06-18",
            "capabilities": {},
            "clientInfo": {"name": "cstar-bench", "version": "1"},
        },
    }
)


def first_line(args: list[str], env: dict[str, str], stdin: bytes | None = None) -> tuple[float, bytes]:
    """(seconds from spawning ``python ARGS`` to its first stdout line, that line); ``stdin`` is
    written at once. The process is then closed (stdin EOF) and waited for, outside the timing."""
    started = time.perf_counter()
    proc = subprocess.Popen(
        [PY, *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env=env,
        cwd=ROOT,
    )
    assert proc.stdin is not None and proc.stdout is not None
    if stdin:
        proc.stdin.write(stdin)
        proc.stdin.flush()
    line = proc.stdout.readline()
    elapsed = time.perf_counter() - started
    proc.stdin.close()
    try:
        proc.wait(20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    proc.stdout.close()
    if not line:
        raise SystemExit(f"no output from python {' '.join(args)}")
    return elapsed, line


def initialize(env: dict[str, str]) -> float:
    elapsed, line = first_line(["-m", "cstar_cli", "mcp-server"], env, INITIALIZE)
    reply = json.loads(line)
    if reply.get("id") != 0 or "result" not in reply:
        raise SystemExit(f"unexpected initialize reply: {line[:200]!r}")
    return elapsed


class Server:
    """One running, initialized ``cstar mcp-server``; :meth:`call` times one tool call."""

    def __init__(self, env: dict[str, str]) -> None:
        self.proc = subprocess.Popen(
            [PY, "-m", "cstar_cli", "mcp-server"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env=env,
            cwd=ROOT,
        )
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.stdin: IO[bytes] = self.proc.stdin
        self.stdout: IO[bytes] = self.proc.stdout
        self.next_id = 1
        self.stdin.write(INITIALIZE)
        self.stdin.flush()
        self._reply(0)
        self.stdin.write(_line({"jsonrpc": "2.0", "method": "notifications/initialized"}))
        self.stdin.flush()

    def _reply(self, want: int) -> dict[str, Any]:
        while True:  # skips notifications; each read is bounded by the server answering or exiting
            line = self.stdout.readline()
            if not line:
                raise SystemExit("cstar mcp-server exited")
            message = json.loads(line)
            if message.get("id") == want:
                return message  # type: ignore[no-any-return]

    def call(self, name: str, arguments: dict[str, Any]) -> float:
        request_id, self.next_id = self.next_id, self.next_id + 1
        message: dict[str, Any] = {"jsonrpc": "2.0", "id": request_id, "method": "tools/call"}
        message["params"] = {"name": name, "arguments": arguments}
        started = time.perf_counter()
        self.stdin.write(_line(message))
        self.stdin.flush()
        reply = self._reply(request_id)
        elapsed = time.perf_counter() - started
        result = reply.get("result") or {}
        if result.get("isError") or "tickets" not in (result.get("structuredContent") or {}):
            raise SystemExit(f"unexpected {name} reply: {json.dumps(reply)[:300]}")
        return elapsed

    def close(self) -> None:
        self.stdin.close()
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.stdout.close()


def direct_get(http: httpx.Client) -> float:
    started = time.perf_counter()
    r = http.get("/tickets", params={"page": 1, "pageSize": 20})
    data = r.json()
    elapsed = time.perf_counter() - started
    if r.status_code != 200 or not data.get("success"):
        raise SystemExit(f"GET /tickets answered {r.status_code}")
    return elapsed


def _table(title: str, samples: dict[str, list[float]], base: str, targets: dict[str, float]) -> None:
    print(title)
    print(f"{'':<40}{'ms':>22}{'× ' + base:>26}  verdict")
    for name, values in samples.items():
        if name == base:
            ratio, mark = "1 (baseline)", ""
        else:
            r = spread(paired_ratios(values, samples[base]))
            ratio = r.fmt(digits=2)
            mark = verdict(r.median, targets[name]) if name in targets else "(for scale)"
        print(f"{name:<40}{spread(values).fmt(1000):>22}{ratio:>26}  {mark}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15, help="start-up rounds kept (default 15)")
    parser.add_argument("--calls", type=int, default=50, help="tool-call rounds kept (default 50)")
    args = parser.parse_args()
    if args.runs < 1 or args.calls < 1:
        parser.error("--runs and --calls must be at least 1")
    machine = Machine()
    with tempfile.TemporaryDirectory(prefix="cstar-bench-") as tmp:
        emu = emulator(Path(tmp) / "emulator.db")
        try:
            env = emulator_env(Path(tmp) / "config", emu)
            sdk = "import mcp.server"
            start = interleave(
                [
                    ('python -c "print(1)"', lambda warm: first_line(["-c", "print(1)"], env)[0]),
                    (sdk, lambda warm: first_line(["-c", "import mcp.server; print(1)"], env)[0]),
                    ("cstar mcp-server → initialize", lambda warm: initialize(env)),
                ],
                args.runs,
                label="start-up round",
            )
            server = Server(env)
            try:
                with emu.client(timeout=30.0) as http:
                    calls = interleave(
                        [
                            ("GET /tickets with httpx", lambda warm: direct_get(http)),
                            ("tools/call cstar_list_tickets", lambda warm: server.call("cstar_list_tickets", {})),
                        ],
                        args.calls,
                        warmup=3,
                        label="tool-call round",
                    )
            finally:
                server.close()
        finally:
            emu.stop()

    _table(
        f"MCP start: spawn → first stdout line, {args.runs} interleaved rounds after a warm-up; [p10–p90]",
        start,
        sdk,
        {"cstar mcp-server → initialize": START_TARGET},
    )
    print()
    _table(
        f"MCP tool call against the local emulator, {args.calls} interleaved rounds after 3 warm-up; [p10–p90]",
        calls,
        "GET /tickets with httpx",
        {"tools/call cstar_list_tickets": CALL_TARGET},
    )
    machine.print_report()
    return 0


if __name__ == "__main__":
    sys.exit(run(main))
