"""Running cstar two ways, to compare them: through the console script's entry point
(:mod:`cstar_cli._entry`, fast paths included) and through the full Typer CLI alone."""

from __future__ import annotations

import re
import subprocess
import sys

from tests.support.cli import cstar_env

__all__ = ["FULL_CLI", "entry", "full", "imported_modules", "run_python"]

#: ``python -c`` code that runs the full CLI, as the console script would without its fast paths.
FULL_CLI = "import sys; from cstar_cli.cli import main; sys.argv[0] = 'cstar'; main()"
# PYTHONPROFILEIMPORTTIME: one "import time: self | cumulative | name" line per module imported.
_IMPORT_LINE = re.compile(r"^import time:[^|]*\|[^|]*\|\s*(\S+)\s*$", re.M)


def run_python(code: list[str], args: list[str], env: dict[str, str] | None = None) -> tuple[int, str, str]:
    """``python CODE… ARGS…`` with :func:`~tests.support.cli.cstar_env` (``env`` on top), stdin
    closed: (exit code, stdout, stderr)."""
    proc = subprocess.run(
        [sys.executable, *code, *args],
        capture_output=True,
        text=True,
        env=cstar_env(env),
        stdin=subprocess.DEVNULL,
        timeout=120,
    )
    return proc.returncode, proc.stdout, proc.stderr


def entry(args: list[str], env: dict[str, str] | None = None) -> tuple[int, str, str]:
    """``cstar ARGS`` through the console script's entry point (fast paths included)."""
    return run_python(["-m", "cstar_cli"], args, env)


def full(args: list[str], env: dict[str, str] | None = None) -> tuple[int, str, str]:
    """``cstar ARGS`` through the full Typer CLI alone."""
    return run_python(["-c", FULL_CLI], args, env)


def imported_modules(stderr: str) -> set[str]:
    """The dotted names of the modules a run with ``PYTHONPROFILEIMPORTTIME=1`` imported."""
    return {m.group(1).strip() for m in _IMPORT_LINE.finditer(stderr)}
