"""Write the shell completion scripts in ``completions/`` from the app itself.

Each script is what ``cstar completion <shell>`` prints, the same text as Typer's completion protocol
(``_CSTAR_COMPLETE=source_<shell> cstar``); the zsh one also works when autoloaded from ``$fpath``
(cstar_cli/completion.py). The committed files cannot drift from the installed
Typer or the app without tests/test_completions.py failing. The scripts only name the program; the
candidates themselves come from the running ``cstar`` at each TAB, so new commands and options need no
regeneration.

Usage::

    python scripts/gen_completions.py           # rewrite completions/cstar.{bash,zsh,fish,ps1}
    python scripts/gen_completions.py --check   # exit 1 and name the stale files, write nothing
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

__all__ = ["OUT_DIR", "SHELLS", "generate", "main"]

ROOT = Path(__file__).resolve().parents[1]
OUT_DIR = ROOT / "completions"

#: ``cstar completion`` shell → file name in completions/.
SHELLS: dict[str, str] = {
    "bash": "cstar.bash",
    "zsh": "cstar.zsh",
    "fish": "cstar.fish",
    "powershell": "cstar.ps1",
}


def generate(shell: str) -> str:
    """The completion script for ``shell`` (a key of :data:`SHELLS`), as the app prints it.

    Runs ``python -m cstar_cli completion <shell>`` from this checkout; raises ``RuntimeError`` with
    the app's stderr when it fails.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith(("_CSTAR_", "COMP_", "_TYPER_"))}
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    proc = subprocess.run(
        [sys.executable, "-m", "cstar_cli", "completion", shell],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )
    if proc.returncode != 0 or not proc.stdout.strip():
        raise RuntimeError(f"cstar could not print its {shell} completion (exit {proc.returncode}): {proc.stderr}")
    # Exactly what the app prints, so `cstar completion bash > completions/cstar.bash` agrees.
    return proc.stdout


def main(argv: list[str] | None = None) -> int:
    """Write (or with ``--check`` compare) every script; return the process exit code."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only report stale files (exit 1 if any)")
    args = parser.parse_args(argv)
    stale = []
    for shell, name in SHELLS.items():
        path = OUT_DIR / name
        text = generate(shell)
        current = path.read_text(encoding="utf-8") if path.exists() else None
        if current == text:
            continue
        stale.append(name)
        if not args.check:
            OUT_DIR.mkdir(exist_ok=True)
            path.write_text(text, encoding="utf-8")
    if args.check:
        for name in stale:
            print(f"stale: completions/{name} (run python scripts/gen_completions.py)", file=sys.stderr)
        return 1 if stale else 0
    for name in stale:
        print(f"wrote completions/{name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
