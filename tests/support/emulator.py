"""The real emulator for tests: in a thread of the test process, or as a subprocess.

``start_emulator_thread(db_path)`` serves it with uvicorn in a thread (:class:`EmulatorThread`,
cheap to start); ``start_emulator(db_path)`` runs ``python -m cstar_cli emulator start --json`` and
returns once the ready line was read (:class:`EmulatorProcess`, for tests that kill or restart it,
or test the command itself). Both have the :class:`LocalEmulator` interface and use
``--rate-limit 0``. Fixtures: ``emulator`` (a fresh thread-served emulator per test),
``emulator_session`` (one shared by a test process's whole run, for tests that only add data of their
own) and ``emulator_process`` (a fresh subprocess per test).
"""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import httpx
import pytest

if TYPE_CHECKING:
    from cstar_emulator.server import ServerThread

__all__ = [
    "EmulatorProcess",
    "EmulatorThread",
    "LocalEmulator",
    "emulator",
    "emulator_process",
    "emulator_session",
    "start_emulator",
    "start_emulator_thread",
    "trigger",
]

ROOT = Path(__file__).resolve().parents[2]
READY_TIMEOUT = 20.0
# What ``cstar emulator start`` logs to stderr.
_LOGGERS = ("cstar.emulator", "uvicorn")


class LocalEmulator:
    """A running emulator on 127.0.0.1.

    Attributes: ``base_url`` (``http://127.0.0.1:PORT``), ``team_id``, ``keys`` (``sk_test`` →
    key, …), ``port``, ``db`` (Path), ``ready`` (the ready line as a dict).
    """

    db: Path
    port: int
    ready: dict[str, Any]
    base_url: str
    team_id: str
    keys: dict[str, str]

    def _set_ready(self, ready: dict[str, Any]) -> None:
        self.ready = ready
        self.base_url = ready["baseUrl"]
        self.team_id = ready["teamId"]
        self.keys = ready["keys"]
        self.port = int(self.base_url.rsplit(":", 1)[1])

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

    def stderr_text(self) -> str:
        """Everything the emulator wrote to stderr so far (its warnings and errors)."""
        raise NotImplementedError

    def stop(self, timeout: float = 10.0) -> int:
        """Stop as SIGTERM does and wait; returns the exit code (0: a clean stop)."""
        raise NotImplementedError

    def __enter__(self) -> LocalEmulator:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


class _ThreadRecords(logging.Handler):
    """Keeps, formatted as ``cstar emulator start`` prints them, the records one thread logs."""

    def __init__(self, thread: threading.Thread) -> None:
        super().__init__()
        self.setFormatter(logging.Formatter("%(message)s"))
        self.addFilter(lambda record: record.thread == thread.ident)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


class EmulatorThread(LocalEmulator):
    """The emulator served in a thread of this process (:class:`cstar_emulator.server.ServerThread`)
    on its own database. ``stderr_text()`` is what its logs would have printed; records also reach
    pytest's log capture. Raises what ``ServerThread`` raises when it cannot start."""

    def __init__(self, db_path: Path, *, webhook_retry_delay: float = 0.5, allow_hosts: Sequence[str] = ()) -> None:
        # Imported here: the fast lane, which starts no emulator, need not load the server.
        from cstar_emulator.server import ServerThread

        self.db = Path(db_path)
        self._server: ServerThread = ServerThread(
            db_path=self.db, rate_limit=0, webhook_retry_delay=webhook_retry_delay, allow_hosts=allow_hosts
        )
        # Attached after the start, so the (quiet) startup is not recorded; removed by stop(), so no
        # handler outlives its emulator.
        self._records = _ThreadRecords(self._server.thread)
        for name in _LOGGERS:
            logging.getLogger(name).addHandler(self._records)
        self._set_ready(self._server.info)
        self._code: int | None = None

    def stderr_text(self) -> str:
        return "".join(line + "\n" for line in self._records.lines)

    def stop(self, timeout: float = 10.0) -> int:
        if self._code is None:
            try:
                self._server.stop(timeout)
                self._code = 0
            finally:
                for name in _LOGGERS:
                    logging.getLogger(name).removeHandler(self._records)
        return self._code

    def __enter__(self) -> EmulatorThread:
        return self


def start_emulator_thread(
    db_path: Path | str, *, webhook_retry_delay: float = 0.5, allow_hosts: Sequence[str] = ()
) -> EmulatorThread:
    """Serve the emulator on ``db_path`` in a thread (port 0, ``--rate-limit 0``) and return once it
    accepts requests; ``webhook_retry_delay`` and ``allow_hosts`` as the command's options."""
    return EmulatorThread(Path(db_path), webhook_retry_delay=webhook_retry_delay, allow_hosts=allow_hosts)


class EmulatorProcess(LocalEmulator):
    """A running ``cstar emulator start --json`` subprocess; ``process`` is its Popen."""

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
        self._stderr: IO[bytes] | None = None
        self._stderr_done = ""  # what runs before the current one wrote
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
        self._stderr = tempfile.TemporaryFile()  # noqa: SIM115
        self.process = subprocess.Popen(
            args,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            env=env,
            cwd=ROOT,
        )
        self._set_ready(json.loads(self._read_ready_line()))

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
        """Everything the emulator wrote to stderr so far, over all its runs (restarts)."""
        text = self._stderr_done
        if self._stderr is not None:
            self._stderr.seek(0)
            text += self._stderr.read().decode(errors="replace")
        return text

    def stop(self, timeout: float = 10.0) -> int:
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
        if self._stderr is not None:
            self._stderr_done = self.stderr_text()
            self._stderr.close()
            self._stderr = None

    def __enter__(self) -> EmulatorProcess:
        return self


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
def emulator(tmp_path: Path) -> Iterator[EmulatorThread]:
    """A fresh emulator with its own database, served in a thread, stopped after the test."""
    with start_emulator_thread(tmp_path / "emulator.db") as emu:
        yield emu


@pytest.fixture(scope="session")
def emulator_session(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmulatorThread]:
    """One emulator shared by the whole run of a test process (each xdist worker has its own):
    only for tests that do not depend on global state."""
    with start_emulator_thread(tmp_path_factory.mktemp("emulator") / "emulator.db") as emu:
        yield emu


@pytest.fixture
def emulator_process(tmp_path: Path) -> Iterator[EmulatorProcess]:
    """A fresh ``cstar emulator start`` subprocess with its own database, stopped after the test:
    for tests that kill or restart it."""
    with start_emulator(tmp_path / "emulator.db") as emu:
        yield emu


def trigger(emu: LocalEmulator, event: str = "ticket.created") -> str:
    """Have ``emu`` emit a test ``event`` as its ``sk_test`` key (``POST …/webhooks/trigger-test``); returns the event id."""
    resp = httpx.post(
        f"{emu.base_url}/api/v1/teams/{emu.team_id}/webhooks/trigger-test",
        json={"event": event},
        headers={"Authorization": f"Bearer {emu.keys['sk_test']}"},
        timeout=10,
    )
    resp.raise_for_status()
    return str(resp.json()["data"]["eventId"])
