"""Start the emulator: bind the port, open the database, run uvicorn until SIGINT/SIGTERM."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import signal
import socket
import threading
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import uvicorn

from cstar_emulator.app import create_app
from cstar_emulator.db import default_db_path
from cstar_emulator.hosts import HostPolicy
from cstar_emulator.state import Emulator, Settings

__all__ = ["AddressInUseError", "base_url_for", "bind", "serve"]


class AddressInUseError(OSError):
    """The host/port is taken (or cannot be bound); ``str()`` says which."""


def bind(host: str, port: int) -> socket.socket:
    """A listening TCP socket on ``host``:``port`` (0 picks a free port). Raises
    :class:`AddressInUseError` when it cannot be bound."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    except socket.gaierror as e:
        raise AddressInUseError(errno.EADDRNOTAVAIL, f"cannot resolve host {host!r}: {e.strerror}") from e
    sock = socket.socket(family, kind, proto)
    # Lets a restarted emulator take its port back while old connections sit in TIME_WAIT; a port
    # some process is still listening on stays unavailable.
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
        sock.listen(2048)
    except OSError as e:
        sock.close()
        if e.errno == errno.EADDRINUSE:
            raise AddressInUseError(e.errno, f"port {port} on {host} is already in use") from e
        raise AddressInUseError(e.errno or 0, f"cannot listen on {host}:{port}: {e.strerror or e}") from e
    return sock


def base_url_for(sock: socket.socket, host: str) -> str:
    """``http://host:port`` clients should use; a wildcard bind address is reported as loopback."""
    port = sock.getsockname()[1]
    if host in ("0.0.0.0", ""):
        host = "127.0.0.1"
    elif host == "::":
        host = "::1"
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{port}"


class _Server(uvicorn.Server):
    """uvicorn, except that a stop signal ends :func:`serve` normally (uvicorn re-raises it after
    shutdown, which would end the process by that signal) and first ends the emulator's streams so
    the graceful shutdown does not wait on them."""

    def __init__(self, config: uvicorn.Config, emulator: Emulator) -> None:
        super().__init__(config)
        self.emulator = emulator

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        loop = asyncio.get_running_loop()
        handled = (signal.SIGINT, signal.SIGTERM)
        for sig in handled:
            loop.add_signal_handler(sig, self._stop)
        try:
            yield
        finally:
            for sig in handled:
                loop.remove_signal_handler(sig)

    def _stop(self) -> None:
        if self.should_exit:
            self.force_exit = True
        self.should_exit = True
        self.emulator.begin_shutdown()


def serve(
    host: str = "127.0.0.1",
    port: int = 8787,
    db_path: Path | str | None = None,
    *,
    rate_limit: int | None = None,
    webhook_retry_delay: float = 0.5,
    ready: Callable[[dict[str, Any]], None] | None = None,
    log_level: str = "warning",
    allow_hosts: Iterable[str] = (),
) -> None:
    """Run the emulator until SIGINT/SIGTERM (then return normally).

    ``port`` 0 picks a free port. ``db_path`` defaults to :func:`~cstar_emulator.db.default_db_path`.
    ``rate_limit``: requests/hour for every key (None: 1000 secret / 100 publishable; 0: unlimited).
    ``webhook_retry_delay``: seconds before the second webhook attempt (doubling after).
    ``ready(info)`` is called once the socket accepts requests, with
    ``{"baseUrl", "teamId", "keys": {...}, "db"}``.
    ``allow_hosts``: Host names answered besides loopback names and ``host`` itself (``*``: any; see
    :class:`~cstar_emulator.hosts.HostPolicy`).

    Raises ValueError (a malformed ``allow_hosts`` name), :class:`AddressInUseError` (port taken) or
    :class:`cstar_emulator.db.DatabaseError` before anything is served.
    """
    hosts = HostPolicy(host, allow_hosts)
    sock = bind(host, port)
    try:
        emulator = Emulator(
            db_path or default_db_path(),
            Settings(rate_limit=rate_limit, webhook_retry_delay=webhook_retry_delay),
        )
    except BaseException:
        sock.close()
        raise
    emulator.base_url = base_url_for(sock, host)
    config = uvicorn.Config(
        create_app(emulator, hosts),
        log_level=log_level,
        log_config=None,
        access_log=False,
        lifespan="on",
        timeout_graceful_shutdown=3,
        ws_ping_interval=20.0,
        ws_ping_timeout=20.0,
    )
    server = _Server(config, emulator)
    asyncio.run(_run(server, sock, emulator, ready))


async def _run(
    server: _Server,
    sock: socket.socket,
    emulator: Emulator,
    ready: Callable[[dict[str, Any]], None] | None,
) -> None:
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started and not task.done():
        await asyncio.sleep(0.005)
    if server.started and ready is not None:
        ready(emulator.info())
    await task
