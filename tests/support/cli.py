"""Drive the real ``cstar``: in-process through Typer's runner, or as a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from cstar_cli.cli import app

__all__ = ["ROOT", "Run", "close_pipes", "cstar", "cstar_env", "cstar_subprocess"]

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Run:
    """What one ``cstar`` run left behind: ``code``, ``stdout``, ``stderr``."""

    code: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


def cstar(*args: str, input: str | None = None, env: Mapping[str, str | None] | None = None) -> Run:
    """Run ``cstar ARGS`` in-process (the real root app, real option parsing, real exit codes)."""
    result = CliRunner().invoke(app, list(args), input=input, env=dict(env or {}), prog_name="cstar")
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return Run(result.exit_code, result.stdout, result.stderr)


def cstar_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The test process's environment (already isolated by conftest) plus ``extra``, for subprocesses."""
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    env.setdefault("PYTHONUNBUFFERED", "1")
    env.update(extra or {})
    return env


def close_pipes(proc: subprocess.Popen[Any]) -> None:
    """Close a finished process's stdin/stdout/stderr pipes (those not closed yet), once whatever
    reads them is done: an unclosed pipe is a ResourceWarning, an error in this suite."""
    for pipe in (proc.stdin, proc.stdout, proc.stderr):
        if pipe is not None:
            pipe.close()


def cstar_subprocess(
    *args: str, input: str | None = None, env: Mapping[str, str] | None = None, timeout: float = 60
) -> Run:
    """Run ``python -m cstar_cli ARGS`` as a real subprocess and wait for it."""
    proc = subprocess.run(
        [sys.executable, "-m", "cstar_cli", *args],
        input=input,
        capture_output=True,
        text=True,
        env=cstar_env(env),
        timeout=timeout,
        stdin=None if input is not None else subprocess.DEVNULL,
    )
    return Run(proc.returncode, proc.stdout, proc.stderr)
