"""How long `cstar mcp-server` takes to answer `initialize`, measured from process start.

An agent starts the server as a subprocess and sends `initialize` at once; until the answer comes
the user waits. This spawns the real command (``python -m cstar_cli mcp-server``, no API key, so no
network) ``--runs`` times, writes `initialize` to its stdin immediately, and times until the response
line arrives on stdout. For scale it also times ``python -c pass`` (interpreter start-up alone) and
``python -c "import mcp"`` (the SDK's full import) and prints the ratios.

    python bench/mcp_startup.py [--runs 10] [--budget 1.0]

Exits 1 when the median exceeds ``--budget`` seconds. Not part of the test suite.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

INITIALIZE = (
    json.dumps(
        {
            "jsonrpc": "2.0",
            "id": 1,
            "method": "initialize",
            "params": {
                "protocolVersion": "2025-06-18",
                "capabilities": {},
                "clientInfo": {"name": "mcp-startup-bench", "version": "1"},
            },
        }
    )
    + "\n"
)


def _env(config_dir: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CSTAR_")}
    env.update(
        {
            "CSTAR_CONFIG_DIR": config_dir,
            "CSTAR_CREDENTIAL_STORE": "file",
            "PYTHONPATH": str(ROOT) + os.pathsep + env.get("PYTHONPATH", ""),
        }
    )
    return env


def time_first_line(args: list[str], env: dict[str, str]) -> float:
    """Seconds from spawning ``python ARGS`` to its first line on stdout; timing the first line, not
    the exit, leaves the interpreter's teardown out, as for the server."""
    started = time.perf_counter()
    proc = subprocess.Popen([sys.executable, *args], stdout=subprocess.PIPE, stdin=subprocess.DEVNULL, env=env)
    assert proc.stdout is not None
    line = proc.stdout.readline()
    elapsed = time.perf_counter() - started
    proc.wait(timeout=10)
    if not line:
        raise SystemExit(f"no output from python {' '.join(args)}")
    return elapsed


def time_command(args: list[str], env: dict[str, str]) -> float:
    """Seconds for ``python ARGS`` to run and exit."""
    started = time.perf_counter()
    subprocess.run([sys.executable, *args], env=env, check=True, stdin=subprocess.DEVNULL)
    return time.perf_counter() - started


def time_initialize(env: dict[str, str]) -> float:
    """Seconds from spawning the server to reading its `initialize` response."""
    started = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "cstar_cli", "mcp-server"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env=env,
    )
    assert proc.stdin is not None and proc.stdout is not None
    proc.stdin.write(INITIALIZE.encode())
    proc.stdin.flush()
    line = proc.stdout.readline()
    elapsed = time.perf_counter() - started
    proc.stdin.close()
    proc.wait(timeout=10)
    reply = json.loads(line)
    if reply.get("id") != 1 or "result" not in reply:
        raise SystemExit(f"unexpected reply: {line[:200]!r}")
    return elapsed


def _summary(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    p90 = ordered[min(len(ordered) - 1, round(0.9 * (len(ordered) - 1)))]
    return statistics.median(ordered), p90


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--budget", type=float, default=1.0, help="median budget in seconds (default 1.0)")
    opts = parser.parse_args()

    with tempfile.TemporaryDirectory() as config_dir:
        env = _env(config_dir)
        time_initialize(env)  # warm the bytecode and file caches, like any run after the first
        server: list[float] = []
        bare: list[float] = []
        sdk: list[float] = []
        # Interleaved, so that a busy moment on the machine weighs on all three alike.
        for _ in range(opts.runs):
            server.append(time_initialize(env))
            bare.append(time_command(["-c", "pass"], env))
            sdk.append(time_first_line(["-c", "import mcp; print(1)"], env))

    s_med, s_p90 = _summary(server)
    b_med, b_p90 = _summary(bare)
    m_med, m_p90 = _summary(sdk)
    print(f"runs: {opts.runs}, cpus: {os.cpu_count()}, python {sys.version.split()[0]}")
    print(f"{'':34}{'median':>9}{'p90':>9}")
    for label, (med, p90) in (
        ("cstar mcp-server → initialize", (s_med, s_p90)),
        ("python -c pass", (b_med, b_p90)),
        ('python -c "import mcp"', (m_med, m_p90)),
    ):
        print(f"{label:34}{med:8.3f}s{p90:8.3f}s")
    print(f"ratio to `python -c pass`: {s_med / b_med:.1f}x; to `import mcp`: {s_med / m_med:.2f}x")
    verdict = "within" if s_med <= opts.budget else "OVER"
    print(f"median {s_med:.3f}s is {verdict} the {opts.budget:g}s budget")
    return 0 if s_med <= opts.budget else 1


if __name__ == "__main__":
    raise SystemExit(main())
