"""Run the real emulator (``python -m cstar_cli emulator start --json``) as a subprocess for tests.

``start_emulator(db_path)`` returns once the ready line was read; fixtures ``emulator`` (fresh
database per test) and ``emulator_session`` (one shared emulator, for tests that only add data of
their own) wrap it. Both use ``--rate-limit 0``.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import IO, Any

import httpx
import pytest

__all__ = ["EmulatorProcess", "emulator", "emulator_session", "start_emulator"]

ROOT = Path(__file__).resolve().parents[2]
READY_TIMEOUT = 20.0


class EmulatorProcess:
    """A running emulator subprocess.

    Attributes: ``base_url`` (``http://127.0.0.1:PORT``), ``team_id``, ``keys`` (``sk_test`` →
    key, …), ``port``, ``db`` (Path), ``ready`` (the whole ready line), ``process`` (Popen).
    """

    def __init__(
        self,
        db_path: Path,
        port: int = 0,
        extra_args: Sequence[str] = (),
        env: Mapping[str, str] | None = None,
    ) -> None:
        self.db = Path(db_path)
        self._extra_args = tuple(extra_args)
        self._env = dict(env or {})
        self.port = port
        self._launch()

    def _launch(self) -> None:
        args = [
            sys.executable,
            "-m",
            "cstar_cli",
            "emulator",
            "start",
            "--json",
            "--port",
            str(self.port),
            "--db",
            str(self.db),
            "--rate-limit",
            "0",
            *self._extra_args,
        ]
        env = dict(os.environ)
        env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
        env.update(self._env)
        # Kept open for the life of the process, so stderr_text() can read it at any time.
        self._stderr: IO[bytes] = tempfile.TemporaryFile()  # noqa: SIM115
        self.process = subprocess.Popen(
            args,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            env=env,
            cwd=ROOT,
        )
        line = self._read_ready_line()
        self.ready: dict[str, Any] = json.loads(line)
        self.base_url: str = self.ready["baseUrl"]
        self.team_id: str = self.ready["teamId"]
        self.keys: dict[str, str] = self.ready["keys"]
        self.port = int(self.base_url.rsplit(":", 1)[1])

    def _read_ready_line(self) -> str:
        box: list[bytes] = []
        assert self.process.stdout is not None
        reader = threading.Thread(target=lambda: box.append(self.process.stdout.readline()), daemon=True)  # type: ignore[union-attr]
        reader.start()
        reader.join(READY_TIMEOUT)
        if not box or not box[0].strip():
            self.kill()
            raise RuntimeError(f"emulator did not become ready:\n{self.stderr_text()}")
        return box[0].decode()

    def stderr_text(self) -> str:
        """Everything the emulator wrote to stderr so far."""
        self._stderr.seek(0)
        return self._stderr.read().decode(errors="replace")

    def url(self, path: str = "") -> str:
        """An absolute URL on the emulator (``path`` starting with ``/``)."""
        return self.base_url + path

    def team_url(self, path: str = "") -> str:
        """``{base_url}/api/v1/teams/{team_id}{path}``."""
        return f"{self.base_url}/api/v1/teams/{self.team_id}{path}"

    def auth(self, kind: str = "sk_test") -> dict[str, str]:
        """``{"Authorization": "Bearer <key>"}`` for one of the seeded keys."""
        return {"Authorization": f"Bearer {self.keys[kind]}"}

    def client(self, kind: str | None = "sk_test", **kwargs: Any) -> httpx.Client:
        """An ``httpx.Client`` on ``team_url()`` authenticated with a seeded key (``kind`` None: no
        key); environment proxies are ignored. Close it (or use ``with``)."""
        headers = self.auth(kind) if kind else {}
        headers.update(kwargs.pop("headers", {}))
        kwargs.setdefault("timeout", 10.0)
        return httpx.Client(base_url=self.team_url(), headers=headers, trust_env=False, **kwargs)

    def stop(self, timeout: float = 10.0) -> int:
        """SIGTERM and wait; returns the exit code."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._close_pipes()
        return self.process.returncode

    def kill(self) -> None:
        """SIGKILL (no clean shutdown) and wait."""
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()
        self._close_pipes()

    def restart(self) -> None:
        """Stop if running, then start again on the same database and port."""
        if self.process.poll() is None:
            self.stop()
        self._launch()

    def _close_pipes(self) -> None:
        if self.process.stdout is not None and not self.process.stdout.closed:
            self.process.stdout.close()

    def __enter__(self) -> EmulatorProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start_emulator(
    db_path: Path | str,
    port: int = 0,
    extra_args: Sequence[str] = (),
    env: Mapping[str, str] | None = None,
) -> EmulatorProcess:
    """Start ``cstar emulator start --json --port PORT --db DB --rate-limit 0 *extra_args`` and wait
    (up to 20 s) for its ready line; raises RuntimeError with its stderr if it does not come."""
    return EmulatorProcess(Path(db_path), port, extra_args, env)


@pytest.fixture
def emulator(tmp_path: Path) -> Iterator[EmulatorProcess]:
    """A fresh emulator with its own database, stopped after the test."""
    proc = start_emulator(tmp_path / "emulator.db")
    try:
        yield proc
    finally:
        proc.stop()


@pytest.fixture(scope="session")
def emulator_session(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmulatorProcess]:
    """One emulator shared by the whole run: only for tests that do not depend on global state."""
    proc = start_emulator(tmp_path_factory.mktemp("emulator") / "emulator.db")
    try:
        yield proc
    finally:
        proc.stop()
