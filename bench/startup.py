"""Start-up time of `cstar --version`, `cstar --help` and `cstar events --json`, next to the bare
interpreter (`python -c pass`). Prints medians, p90s and ratios; not a test.

    .venv/bin/python bench/startup.py [--runs 20]

Targets: `cstar --version` ≤ 3× and `cstar events --json` ≤ 12× the bare interpreter's start.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

TARGETS = {"cstar --version": 3.0, "cstar events --json": 12.0}


def measure(cmd: list[str], runs: int, env: dict[str, str]) -> list[float]:
    subprocess.run(cmd, env=env, capture_output=True, check=False)  # warm the OS file cache
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        subprocess.run(cmd, env=env, capture_output=True, check=False)
        times.append((time.perf_counter() - t0) * 1000)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    exe = shutil.which("cstar", path=os.path.dirname(sys.executable)) or shutil.which("cstar")
    if not exe:
        sys.exit("cstar is not installed next to this interpreter: pip install -e . first")
    env = dict(os.environ, CSTAR_CONFIG_DIR=tempfile.mkdtemp(), NO_COLOR="1")
    cases = {
        "python -c pass": [sys.executable, "-c", "pass"],
        "cstar --version": [exe, "--version"],
        "cstar --help": [exe, "--help"],
        "cstar events --json": [exe, "events", "--json"],
    }
    results = {name: measure(cmd, args.runs, env) for name, cmd in cases.items()}
    base = statistics.median(results["python -c pass"])
    print(f"{'command':<22} {'median ms':>10} {'p90 ms':>8} {'× python':>9} {'target':>8}")
    for name, times in results.items():
        med = statistics.median(times)
        p90 = sorted(times)[int(len(times) * 0.9) - 1]
        target = TARGETS.get(name)
        verdict = "" if target is None else (f"≤{target:g}× " + ("ok" if med / base <= target else "MISS"))
        print(f"{name:<22} {med:>10.1f} {p90:>8.1f} {med / base:>8.1f}× {verdict:>8}")


if __name__ == "__main__":
    main()
