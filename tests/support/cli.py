"""Drive the real ``cstar``: in-process through Typer's runner, or as a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from cstar_cli.cli import app

__all__ = ["ROOT", "Run", "close_pipes", "cstar", "cstar_env", "cstar_subprocess", "reap_all", "reap_at_teardown"]

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


_STARTED: list[tuple[subprocess.Popen[Any], tuple[threading.Thread, ...]]] = []


def reap_at_teardown(proc: subprocess.Popen[Any], *readers: threading.Thread) -> None:
    """Have the running test's teardown (:func:`reap_all`, called by conftest) end ``proc``: killed if
    it still runs, waited for, its ``readers`` (threads reading its pipes) finished, its pipes closed."""
    _STARTED.append((proc, readers))


def reap_all() -> None:
    """End every process given to :func:`reap_at_teardown` (newest first)."""
    while _STARTED:
        proc, readers = _STARTED.pop()
        if proc.poll() is None:
            proc.kill()
        proc.wait(10)
        for reader in readers:
            reader.join(10)
        close_pipes(proc)


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
