"""Start the emulator: bind the port, open the database, run uvicorn until SIGINT/SIGTERM
(:func:`serve`), or in a background thread of the calling process until stopped (:class:`ServerThread`)."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import signal
import socket
import threading
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from types import TracebackType
from typing import Any

import uvicorn

from cstar_emulator.app import create_app
from cstar_emulator.db import default_db_path
from cstar_emulator.hosts import HostPolicy
from cstar_emulator.state import Emulator, Settings

__all__ = ["AddressInUseError", "ServerThread", "base_url_for", "bind", "serve"]


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


#: The WebSocket keepalive (s): a ping after this long, and how long the pong may take.
WS_PING_INTERVAL = 20.0
WS_PING_TIMEOUT = 20.0


def _websocket_protocol() -> Any:
    """uvicorn's WebSocket protocol class with a keepalive that counts any data from the client as a
    sign of life, or ``"auto"`` when this uvicorn has no such class to extend.

    A client whose receiver is slow holds back reading, so the server's ping waits behind the
    frames already sent and its pong comes late; but such a client keeps sending acks. A late pong
    ends the connection only when nothing at all (acks, pings, pongs) arrived from the client for
    the whole timeout, the rule ``cstar listen`` itself follows (docs/protocol.md, "Listening")."""
    try:
        from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
    except ImportError:  # an older uvicorn: its own keepalive, pong or drop
        return "auto"
    if not hasattr(WebSocketsSansIOProtocol, "keepalive_timeout"):
        return "auto"  # a version without uvicorn's own keepalive timers to build on

    class _Protocol(WebSocketsSansIOProtocol):
        #: Event-loop time of the last bytes from the client (0: none yet).
        last_data = 0.0

        def data_received(self, data: bytes) -> None:
            self.last_data = self.loop.time()
            super().data_received(data)

        def keepalive_timeout(self) -> None:
            timeout = self.ping_timeout or 0.0
            quiet = self.loop.time() - max(self.last_data, self.ping_sent_at)
            if quiet < timeout and not self.transport.is_closing():
                # The client spoke since the ping: alive, its pong is only queued behind a backlog.
                self.pong_timer = self.loop.call_later(timeout - quiet, self.keepalive_timeout)
                return
            super().keepalive_timeout()

    return _Protocol


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
            loop.add_signal_handler(sig, self.request_stop)
        try:
            yield
        finally:
            for sig in handled:
                loop.remove_signal_handler(sig)

    def request_stop(self) -> None:
        """What a stop signal does: a second one forces the exit. Call it in the server's loop."""
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
    ws_ping: tuple[float, float] = (WS_PING_INTERVAL, WS_PING_TIMEOUT),
) -> None:
    """Run the emulator until SIGINT/SIGTERM (then return normally).

    ``port`` 0 picks a free port. ``db_path`` defaults to :func:`~cstar_emulator.db.default_db_path`.
    ``rate_limit``: requests/hour for every key (None: 1000 secret / 100 publishable; 0: unlimited).
    ``webhook_retry_delay``: seconds before the second webhook attempt (doubling after).
    ``ready(info)`` is called once the socket accepts requests, with
    ``{"baseUrl", "teamId", "keys": {...}, "db"}``.
    ``allow_hosts``: Host names answered besides loopback names and ``host`` itself (``*``: any; see
    :class:`~cstar_emulator.hosts.HostPolicy`).
    ``ws_ping``: the WebSockets' keepalive ``(interval, timeout)`` in seconds; a late pong drops a
    client only when it sent nothing else during the timeout either (:func:`_websocket_protocol`).

    Raises ValueError (a malformed ``allow_hosts`` name), :class:`AddressInUseError` (port taken) or
    :class:`cstar_emulator.db.DatabaseError` before anything is served.
    """
    server, sock = _prepare(host, port, db_path, rate_limit, webhook_retry_delay, log_level, allow_hosts, ws_ping)
    asyncio.run(_run(server, sock, ready))


def _prepare(
    host: str,
    port: int,
    db_path: Path | str | None,
    rate_limit: int | None,
    webhook_retry_delay: float,
    log_level: str,
    allow_hosts: Iterable[str],
    ws_ping: tuple[float, float] = (WS_PING_INTERVAL, WS_PING_TIMEOUT),
) -> tuple[_Server, socket.socket]:
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
        ws=_websocket_protocol(),
        ws_ping_interval=ws_ping[0],
        ws_ping_timeout=ws_ping[1],
    )
    return _Server(config, emulator), sock


class ServerThread:
    """The emulator served by uvicorn on its own event loop in a daemon thread of this process, as
    :func:`serve` would (same arguments, default ``port`` 0), until :meth:`stop`. For embedding it,
    tests above all: no process to start, but everything else is the real server on a real socket.

    The constructor returns once the socket accepts requests, or raises what :func:`serve` raises
    before serving (ValueError, :class:`AddressInUseError`, :class:`cstar_emulator.db.DatabaseError`),
    or RuntimeError when the server does not start within ``ready_timeout`` seconds.

    Attributes: ``info`` (the ready line, as :func:`serve` passes it to ``ready``), ``base_url``,
    ``thread`` (the :class:`threading.Thread` the server's loop and log records run in). Use it as
    a context manager, or call :meth:`stop`.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        db_path: Path | str | None = None,
        *,
        rate_limit: int | None = None,
        webhook_retry_delay: float = 0.5,
        log_level: str = "warning",
        allow_hosts: Iterable[str] = (),
        ready_timeout: float = 20.0,
        ws_ping: tuple[float, float] = (WS_PING_INTERVAL, WS_PING_TIMEOUT),
    ) -> None:
        server, sock = _prepare(host, port, db_path, rate_limit, webhook_retry_delay, log_level, allow_hosts, ws_ping)
        self._server = server
        self._loop: asyncio.AbstractEventLoop | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self.info: dict[str, Any] = {}
        self.thread = threading.Thread(target=self._main, args=(sock,), name=f"cstar-emulator-{port}", daemon=True)
        self.thread.start()
        if not self._ready.wait(ready_timeout) or not self.info:
            self.stop()
            raise RuntimeError(f"the emulator did not start: {self._error!r}") from self._error
        self.base_url: str = self.info["baseUrl"]

    def _main(self, sock: socket.socket) -> None:
        try:
            asyncio.run(_run(self._server, sock, self._started))
        except BaseException as e:  # handed to the starting thread, or to stop()
            self._error = e
        finally:
            sock.close()
            self._ready.set()

    def _started(self, info: dict[str, Any]) -> None:
        self._loop = asyncio.get_running_loop()
        self.info = info
        self._ready.set()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop as a SIGTERM stops :func:`serve` (streams end, requests in flight finish, the database
        closes) and wait for the thread, up to ``timeout`` s and then as long as a forced exit takes.
        Idempotent. Raises what the server raised while running, if anything."""
        loop = self._loop
        if loop is not None and self.thread.is_alive():
            # uvicorn's stop flags and the emulator's streams belong to the server's loop.
            with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
                loop.call_soon_threadsafe(self._server.request_stop)
        self.thread.join(timeout)
        if self.thread.is_alive():
            self._server.force_exit = True
            self.thread.join()
        if self._error is not None and self.info:
            error, self._error = self._error, None
            raise error

    def __enter__(self) -> ServerThread:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, value: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.stop()


async def _run(
    server: _Server,
    sock: socket.socket,
    ready: Callable[[dict[str, Any]], None] | None,
) -> None:
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started and not task.done():
        await asyncio.sleep(0.005)
    if server.started and ready is not None:
        ready(server.emulator.info())
    await task
