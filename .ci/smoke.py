"""A smoke of the main commands against a real emulator, using only the installed package.

Run by `.ci/floors` in a virtualenv where every direct dependency is at its lowest allowed version, so
the floors in pyproject.toml are known to work: `python .ci/smoke.py`. Exits non-zero on the first
failure, naming the step. Only loopback traffic.
"""

from __future__ import annotations

import http.server
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

STEP_TIMEOUT = 60.0


def fail(step: str, detail: str) -> None:
    print(f"smoke: FAILED at {step}: {detail}", file=sys.stderr)
    sys.exit(1)


def cstar(env: dict[str, str], *args: str, step: str, input: str | None = None) -> subprocess.CompletedProcess[str]:
    r = subprocess.run(
        [sys.executable, "-m", "cstar_cli", *args],
        env=env,
        capture_output=True,
        text=True,
        input=input,
        timeout=STEP_TIMEOUT,
        stdin=None if input is not None else subprocess.DEVNULL,
    )
    if r.returncode != 0:
        fail(step, f"exit {r.returncode}\n{r.stdout}\n{r.stderr}")
    print(f"smoke: ok   {step}")
    return r


class Receiver(http.server.BaseHTTPRequestHandler):
    received: list[tuple[bytes, str]] = []

    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        Receiver.received.append((body, self.headers.get("X-Signature") or ""))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


def main() -> int:
    work = Path(tempfile.mkdtemp(prefix="cstar-smoke-"))
    env = dict(os.environ)
    env.update(
        CSTAR_CONFIG_DIR=str(work / "config"),
        CSTAR_DATA_DIR=str(work / "data"),
        CSTAR_CREDENTIAL_STORE="file",
        NO_COLOR="1",
        PYTHONUNBUFFERED="1",
    )
    for name in ("CSTAR_API_KEY", "CSTAR_BASE_URL", "CSTAR_PROFILE"):
        env.pop(name, None)

    cstar(env, "--version", step="--version")
    cstar(env, "--help", step="--help")
    events = json.loads(cstar(env, "events", "--json", step="events --json").stdout)
    if not any(e["type"] == "ticket.created" for e in events):
        fail("events --json", "ticket.created missing")

    emu_log = (work / "emulator.log").open("w")
    emu = subprocess.Popen(
        [sys.executable, "-m", "cstar_cli", "emulator", "start", "--json", "--port", "0", "--db", str(work / "e.db"),
         "--rate-limit", "0"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=emu_log,
        stdin=subprocess.DEVNULL,
        text=True,
    )
    listener: subprocess.Popen[str] | None = None
    try:
        assert emu.stdout is not None
        ready = json.loads(emu.stdout.readline() or "{}")
        if "baseUrl" not in ready:
            emu_log.flush()
            fail("emulator start", "no ready line\n" + (work / "emulator.log").read_text())
        print("smoke: ok   emulator start")
        env["CSTAR_BASE_URL"] = ready["baseUrl"]
        key = ready["keys"]["sk_test"]

        cstar(env, "login", "--api-key", "-", step="login", input=key + "\n")
        status = json.loads(cstar(env, "status", "--json", step="status --json").stdout)
        if status["team"]["id"] != ready["teamId"] or not status["api"]["reachable"]:
            fail("status --json", json.dumps(status))
        cstar(env, "keys", "list", "--json", step="keys list")
        secret = cstar(env, "listen", "--print-secret", step="listen --print-secret").stdout.strip()

        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        port = server.server_address[1]
        listener = subprocess.Popen(
            [sys.executable, "-m", "cstar_cli", "listen", "--forward-to", f"http://127.0.0.1:{port}/hook",
             "--format", "json"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            text=True,
        )
        assert listener.stderr is not None
        deadline = time.monotonic() + STEP_TIMEOUT
        while time.monotonic() < deadline:
            line = listener.stderr.readline()
            if not line or line.startswith("Ready"):
                break
        else:
            fail("listen", "no Ready line")
        print("smoke: ok   listen (ready)")
        cstar(env, "trigger", "ticket.created", "--json", step="trigger ticket.created")
        deadline = time.monotonic() + STEP_TIMEOUT
        while not Receiver.received and time.monotonic() < deadline:
            time.sleep(0.05)
        if not Receiver.received:
            fail("listen", "no delivery reached the receiver")
        from cstar_cli.protocol.webhook import verify_signature

        body, signature = Receiver.received[0]
        if not verify_signature(body, signature, secret):
            fail("listen", "the delivery's signature does not verify")
        print("smoke: ok   listen (delivery verified)")
        server.shutdown()

        cstar(env, "logs", "--json", "--limit", "5", step="logs --json")

        mcp = subprocess.run(
            [sys.executable, "-m", "cstar_cli", "mcp-server"],
            env=env,
            capture_output=True,
            text=True,
            timeout=STEP_TIMEOUT,
            input="\n".join(
                json.dumps(m)
                for m in (
                    {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
                        "protocolVersion": "2025-06-18", "capabilities": {},
                        "clientInfo": {"name": "smoke", "version": "0"}}},
                    {"jsonrpc": "2.0", "method": "notifications/initialized"},
                    {"jsonrpc": "2.0", "id": 2, "method": "tools/list"},
                    {"jsonrpc": "2.0", "id": 3, "method": "tools/call",
                     "params": {"name": "cstar_get_status", "arguments": {}}},
                )
            )
            + "\n",
        )
        answers = {m.get("id"): m for m in map(json.loads, filter(None, mcp.stdout.splitlines()))}
        if 2 not in answers or not answers[2].get("result", {}).get("tools"):
            fail("mcp-server", f"no tools/list answer\n{mcp.stdout}\n{mcp.stderr}")
        if 3 not in answers or answers[3].get("result", {}).get("isError"):
            fail("mcp-server", f"cstar_get_status failed\n{mcp.stdout}\n{mcp.stderr}")
        print("smoke: ok   mcp-server (initialize, tools/list, cstar_get_status)")
        cstar(env, "logout", step="logout")
    finally:
        if listener is not None:
            listener.terminate()
            listener.wait(10)
        emu.terminate()
        emu.wait(10)
    print("smoke: all steps passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
