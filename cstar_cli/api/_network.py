"""httpcore's synchronous network backend, made to wait on the event loop inside the bridge.

Outside :func:`cstar_cli.api.bridge.run` this is httpcore's own ``SyncBackend``: blocking sockets
with timeouts, exactly as ``httpx.Client`` uses them. Inside (the MCP server's tools, run on its
event loop), a read first waits on the loop until the socket is readable (``loop.add_reader``), so
the loop serves other requests meanwhile and a cancellation lands there; connecting (DNS, TCP, TLS
handshake) goes to a worker thread. Writes stay direct: requests are small and the kernel's send
buffer takes them at once.

Only the sync ``httpx.Client`` path is used: ``httpx.AsyncClient`` costs more per request than a
worker thread does. Nothing here holds a lock while it waits: httpcore takes its locks around
bookkeeping, and each HTTP/1.1 connection serves one request at a time.
"""

from __future__ import annotations

import ssl
import typing
from collections.abc import Callable

import httpcore
import httpx

from cstar_cli.locks import active_bridge

__all__ = ["install"]

_T = typing.TypeVar("_T")


def _off_loop(fn: Callable[[], _T]) -> _T:
    bridge = active_bridge()
    return fn() if bridge is None else typing.cast(_T, bridge.blocking(fn))


async def _readable(fd: int, timeout: float | None) -> bool:
    """Whether ``fd`` became readable within ``timeout`` s (None: no limit)."""
    import asyncio  # only ever inside the bridge, on a running loop: commands never pay for it here

    loop = asyncio.get_running_loop()
    ready: asyncio.Future[bool] = loop.create_future()

    def wake(result: bool) -> None:
        if not ready.done():
            ready.set_result(result)

    loop.add_reader(fd, wake, True)
    timer = loop.call_later(timeout, wake, False) if timeout is not None else None
    try:
        return await ready
    finally:
        loop.remove_reader(fd)
        if timer is not None:
            timer.cancel()


class _Stream(httpcore.NetworkStream):
    """A ``SyncStream`` whose reads wait on the loop inside the bridge."""

    def __init__(self, inner: httpcore.NetworkStream) -> None:
        self._inner = inner

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        bridge = active_bridge()
        if bridge is not None:
            sock = self._inner.get_extra_info("socket")
            buffered = isinstance(sock, ssl.SSLSocket) and sock.pending() > 0
            if sock is not None and not buffered and not bridge.wait(_readable(sock.fileno(), timeout)):
                raise httpcore.ReadTimeout("timed out")
        return self._inner.read(max_bytes, timeout)

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, timeout)

    def close(self) -> None:
        self._inner.close()

    def start_tls(
        self, ssl_context: ssl.SSLContext, server_hostname: str | None = None, timeout: float | None = None
    ) -> httpcore.NetworkStream:
        return _Stream(_off_loop(lambda: self._inner.start_tls(ssl_context, server_hostname, timeout)))

    def get_extra_info(self, info: str) -> typing.Any:
        return self._inner.get_extra_info(info)


class _Backend(httpcore.SyncBackend):
    """``SyncBackend`` returning :class:`_Stream`, connecting in a thread inside the bridge."""

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: typing.Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.NetworkStream:
        parent = super().connect_tcp
        return _Stream(_off_loop(lambda: parent(host, port, timeout, local_address, socket_options)))

    def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: typing.Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.NetworkStream:
        parent = super().connect_unix_socket
        return _Stream(_off_loop(lambda: parent(path, timeout, socket_options)))


def install(client: httpx.Client) -> bool:
    """Give every connection pool of ``client`` (its own and any proxy's) the loop-aware backend.
    Returns False, changing nothing, when this httpx keeps its pools elsewhere than where looked
    for: the caller must then keep blocking calls off the loop itself."""
    transports = [client._transport, *client._mounts.values()]
    pools: list[httpcore.ConnectionPool] = []
    for transport in transports:
        pool = getattr(transport, "_pool", None) if transport is not None else None
        if transport is not None and not (isinstance(pool, httpcore.ConnectionPool) and hasattr(pool, "_network_backend")):
            return False
        if pool is not None:
            pools.append(pool)
    for pool in pools:
        pool._network_backend = _Backend()
    return True
