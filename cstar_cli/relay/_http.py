"""A small HTTP/1.1 client for the forwarder: one kept-alive connection, one request at a time.

Why not ``httpx``: forwarding is strictly one request in flight, so its cost per request *is* the
relay's throughput. ``httpx.AsyncClient`` spent about 1 ms of CPU per POST here (request and response
models, anyio cancel scopes, separate writes for head and body), three times the rest of the relay
together, which kept ``cstar listen`` under 600 events/s. This client writes each request in one
``send``, reads the status line, headers and body (Content-Length, chunked or until close), and
keeps the connection for the next event. http and https (with or without certificate checks).

Not supported, because a webhook receiver has no use for them: redirects (a 3xx is reported as the
receiver's answer), proxies, HTTP/2, request streaming, cookies.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
import sys
from collections.abc import Mapping
from urllib.parse import urlsplit

__all__ = ["HttpClient", "HttpError"]

_MAX_HEAD = 64 * 1024
_DISCARD_CHUNK = 64 * 1024
_HOP_BY_HOP = {"content-length", "transfer-encoding", "connection"}


class HttpError(Exception):
    """An attempt that got no HTTP answer; ``reason`` is short and user-facing (``connection
    refused``, ``timed out after 30 s``, ``TLS: certificate verify failed …``)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _reason(exc: BaseException) -> str:
    if isinstance(exc, ssl.SSLCertVerificationError):
        return f"TLS: {exc.verify_message or 'certificate verify failed'} (--skip-verify accepts it)"
    if isinstance(exc, ssl.SSLError):
        return f"TLS: {exc.reason or exc}"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, socket.gaierror):
        return "host not found"
    if isinstance(exc, asyncio.IncompleteReadError | ConnectionResetError | BrokenPipeError):
        return "connection closed without a response"
    if isinstance(exc, asyncio.LimitOverrunError | ValueError):
        return "invalid HTTP response"
    if isinstance(exc, OSError):
        # A host with several addresses (localhost → ::1, 127.0.0.1) that all refuse raises one
        # OSError("Multiple exceptions: [Errno 111] …") without an errno of its own.
        if exc.errno in (111, 61, 10061) or "[Errno 111]" in str(exc) or "[Errno 61]" in str(exc):
            return "connection refused"
        return (exc.strerror or str(exc) or type(exc).__name__).lower()
    return f"{type(exc).__name__}: {exc}"


class HttpClient:
    """POSTs to one URL (``http://`` or ``https://``) over a reused connection.

    ``timeout`` bounds a whole attempt (connect, send, response) in seconds; ``verify`` checks TLS
    certificates. Raises :class:`HttpError` for anything but an HTTP answer. Not safe for concurrent
    requests: the relay sends one at a time by design.
    """

    def __init__(self, url: str, *, timeout: float, verify: bool = True, user_agent: str = "") -> None:
        parts = urlsplit(url)
        self.url = url
        self.timeout = timeout
        self._host = parts.hostname or "localhost"
        self._port = parts.port or (443 if parts.scheme == "https" else 80)
        self._target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        default_port = self._port == (443 if parts.scheme == "https" else 80)
        host = f"[{self._host}]" if ":" in self._host else self._host
        self._defaults = {"Host": host if default_port else f"{host}:{self._port}", "User-Agent": user_agent}
        self._ssl: ssl.SSLContext | None = None
        if parts.scheme == "https":
            self._ssl = ssl.create_default_context()
            if not verify:
                self._ssl.check_hostname = False
                self._ssl.verify_mode = ssl.CERT_NONE
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def aclose(self) -> None:
        self._drop()

    def _drop(self) -> None:
        writer, self._reader, self._writer = self._writer, None, None
        if writer is not None:
            writer.transport.abort()

    def _head(self, headers: Mapping[str, str], length: int) -> bytes:
        given = {k.lower() for k in headers}
        lines = [f"POST {self._target} HTTP/1.1"]
        lines += [f"{k}: {v}" for k, v in self._defaults.items() if k.lower() not in given and v]
        lines += [f"{k}: {v}" for k, v in headers.items() if k.lower() not in _HOP_BY_HOP]
        lines.append(f"Content-Length: {length}")
        return ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8")

    async def post(self, headers: Mapping[str, str], body: bytes) -> int:
        """Send one POST with exactly ``body``; return the response status. The response body is
        read and discarded so the connection can be reused."""
        try:
            if sys.version_info >= (3, 11):
                async with asyncio.timeout(self.timeout):
                    return await self._exchange(self._head(headers, len(body)) + body)
            return await asyncio.wait_for(self._exchange(self._head(headers, len(body)) + body), self.timeout)
        except asyncio.TimeoutError:
            self._drop()
            raise HttpError(f"timed out after {self.timeout:g} s") from None
        except (OSError, EOFError, ValueError, asyncio.LimitOverrunError) as e:
            self._drop()
            raise HttpError(_reason(e)) from None

    async def _exchange(self, request: bytes) -> int:
        reader, writer = self._reader, self._writer
        if reader is None or writer is None or reader.at_eof() or writer.is_closing():
            # A kept-alive connection the receiver has since closed shows up as EOF: open a new one.
            self._drop()
            reader, writer = await asyncio.open_connection(
                self._host,
                self._port,
                ssl=self._ssl,
                server_hostname=self._host if self._ssl else None,
                limit=_MAX_HEAD,
            )
            self._reader, self._writer = reader, writer
        writer.write(request)
        status, keep_alive = await self._read_response(reader)
        if not keep_alive:
            self._drop()
        return status

    async def _read_response(self, reader: asyncio.StreamReader) -> tuple[int, bool]:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            lines = head[:-4].split(b"\r\n")
            version, _, rest = lines[0].partition(b" ")
            if not version.startswith(b"HTTP/1."):
                raise ValueError("not an HTTP/1.x response")
            status = int(rest[:3])
            fields: dict[bytes, bytes] = {}
            for line in lines[1:]:
                name, _, value = line.partition(b":")
                fields[name.strip().lower()] = value.strip()
            if 100 <= status < 200 and status != 101:
                continue  # an interim answer (100 Continue, 103 Early Hints): the real one follows
            break
        connection = fields.get(b"connection", b"").lower()
        keep_alive = b"close" not in connection if version == b"HTTP/1.1" else b"keep-alive" in connection
        if status in (204, 304):
            return status, keep_alive
        if b"chunked" in fields.get(b"transfer-encoding", b"").lower():
            while True:
                size_line = await reader.readuntil(b"\r\n")
                size = int(size_line.split(b";", 1)[0].strip() or b"0", 16)
                if size == 0:
                    while (await reader.readuntil(b"\r\n")) != b"\r\n":
                        pass  # trailers
                    return status, keep_alive
                await self._discard(reader, size + 2)
        length = fields.get(b"content-length")
        if length is not None:
            await self._discard(reader, int(length))
            return status, keep_alive
        while await reader.read(_DISCARD_CHUNK):
            pass  # no length: the body ends when the receiver closes the connection
        return status, False

    @staticmethod
    async def _discard(reader: asyncio.StreamReader, n: int) -> None:
        while n > 0:
            chunk = await reader.readexactly(min(n, _DISCARD_CHUNK))
            n -= len(chunk)
