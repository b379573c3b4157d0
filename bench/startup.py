"""Start-up time of `cstar` commands next to the bare interpreter (`python -c pass`), interleaved.
A script, not a test.

    .venv/bin/python bench/startup.py [--runs 20]

Each round runs, one after the other: ``python -c pass``, ``cstar --version``, ``cstar --help``,
``cstar events --json`` and ``cstar status --json`` (logged in with ``cstar login`` against a local
emulator, file credential store), after one warm-up round that fills the OS file and bytecode
caches. A sample is the wall time from spawn to exit, output captured. Prints each command's
median [p10–p90] in ms and its ratio to ``python -c pass`` of the same round (median [p10–p90] of
the per-round ratios), with a verdict against the targets, and the machine's load.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import PY, Machine, cli_env, emulator, interleave, paired_ratios, run, spread, verdict  # noqa: E402

TARGETS = {"cstar --version": 1.1, "cstar --help": 6.0, "cstar events --json": 5.0, "cstar status --json": 8.0}
BASELINE = "python -c pass"


def timed(cmd: list[str], env: dict[str, str], expect_ok: bool = True) -> float:
    """Seconds from spawning ``cmd`` to its exit; raises SystemExit when it fails."""
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, env=env, capture_output=True, stdin=subprocess.DEVNULL, check=False, timeout=60)
    elapsed = time.perf_counter() - t0
    if expect_ok and proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} exited {proc.returncode}: {proc.stderr.decode(errors='replace')[-300:]}")
    return elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20, help="interleaved rounds kept (default 20)")
    args = parser.parse_args()
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    exe = shutil.which("cstar", path=os.path.dirname(PY)) or shutil.which("cstar")
    if not exe:
        sys.exit("cstar is not installed next to this interpreter: pip install -e . first")
    machine = Machine()
    with tempfile.TemporaryDirectory(prefix="cstar-bench-") as tmp:
        emu = emulator(Path(tmp) / "emulator.db")
        try:
            env = cli_env(Path(tmp) / "config")
            login = subprocess.run(
                [exe, "login", "--api-key", "-", "--base-url", emu.base_url],
                input=emu.keys["sk_test"].encode(),
                env=env,
                capture_output=True,
                timeout=60,
            )
            if login.returncode != 0:
                sys.exit(f"cstar login failed: {login.stderr.decode(errors='replace')[-300:]}")
            commands = {
                BASELINE: [PY, "-c", "pass"],
                "cstar --version": [exe, "--version"],
                "cstar --help": [exe, "--help"],
                "cstar events --json": [exe, "events", "--json"],
                "cstar status --json": [exe, "status", "--json"],
            }
            cases = [(name, lambda warm, cmd=cmd: timed(cmd, env)) for name, cmd in commands.items()]
            samples = interleave(cases, args.runs)
        finally:
            emu.stop()

    print(f"start-up, wall time spawn → exit, {args.runs} interleaved rounds after a warm-up; [p10–p90]")
    print(f"{'command':<22}{'ms':>22}{'× python -c pass':>24}  verdict")
    base = samples[BASELINE]
    for name, times in samples.items():
        s = spread(times)
        if name == BASELINE:
            ratio, mark = "1 (baseline)", ""
        else:
            r = spread(paired_ratios(times, base))
            ratio, mark = r.fmt(digits=2), verdict(r.median, TARGETS[name])
        print(f"{name:<22}{s.fmt(1000):>22}{ratio:>24}  {mark}")
    print("cstar status --json: against a local emulator, key from the file credential store")
    machine.print_report()
    return 0


if __name__ == "__main__":
    sys.exit(run(main))
