"""A small HTTP/1.1 client for the forwarder: one kept-alive connection, one request at a time.

The protocol itself (request framing, status line, headers, Content-Length / chunked / close-delimited
bodies, interim 1xx answers, keep-alive rules) is ``h11``, the sans-IO HTTP/1.1 library that httpx is
built on. This module only adds the I/O around it: an asyncio stream, connection reuse, a timeout
per attempt, TLS, and short user-facing reasons for failures.

Why not ``httpx`` itself: forwarding is strictly one request in flight, so its cost per request *is*
the relay's throughput. ``httpx.AsyncClient`` spent about 1 ms of CPU per POST here (request and
response models, anyio cancel scopes, separate writes for head and body), three times the rest of the
relay together, which kept ``cstar listen`` under 600 events/s. Driving ``h11`` directly over asyncio
streams keeps its parsing and drops the rest: each request goes out in one write, and the response
is read in as few reads as the receiver allows.

Not supported, because a webhook receiver has no use for them: redirects (a 3xx is reported as the
receiver's answer), proxies, HTTP/2, request streaming, cookies. HTTP/1.0 answers close the
connection after each response (``h11`` does not keep HTTP/1.0 connections alive).
"""

from __future__ import annotations

import asyncio
import socket
import ssl
import sys
from collections.abc import Mapping
from urllib.parse import urlsplit

import h11

from cstar_cli.relay._target import basic_auth

__all__ = ["HttpClient", "HttpError"]

_MAX_HEAD = 64 * 1024
_READ_SIZE = 64 * 1024
_HOP_BY_HOP = {"content-length", "transfer-encoding", "connection"}


class HttpError(Exception):
    """An attempt that got no HTTP answer; ``reason`` is short and user-facing (``connection
    refused``, ``timed out after 30 s``, ``TLS: certificate verify failed …``)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class _ClosedEarly(Exception):
    """The receiver closed the connection before a complete response."""


def _reason(exc: BaseException) -> str:
    if isinstance(exc, ssl.SSLCertVerificationError):
        return f"TLS: {exc.verify_message or 'certificate verify failed'} (--skip-verify accepts it)"
    if isinstance(exc, ssl.SSLError):
        return f"TLS: {exc.reason or exc}"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, socket.gaierror):
        return "host not found"
    if isinstance(exc, _ClosedEarly | ConnectionResetError | BrokenPipeError):
        return "connection closed without a response"
    if isinstance(exc, h11.RemoteProtocolError):
        return "invalid HTTP response"
    if isinstance(exc, h11.LocalProtocolError):
        return f"invalid request: {exc}"
    if isinstance(exc, OSError):
        # A host with several addresses (localhost → ::1, 127.0.0.1) that all refuse raises one
        # OSError("Multiple exceptions: [Errno 111] …") without an errno of its own.
        if exc.errno in (111, 61, 10061) or "[Errno 111]" in str(exc) or "[Errno 61]" in str(exc):
            return "connection refused"
        return (exc.strerror or str(exc) or type(exc).__name__).lower()
    return f"{type(exc).__name__}: {exc}"


class HttpClient:
    """POSTs to one URL (``http://`` or ``https://``) over a reused connection.

    A ``user:password@`` in the URL is sent as ``Authorization: Basic …`` (unless the request's own
    headers name ``Authorization``); the ``Host`` header never carries it. ``timeout`` bounds a whole attempt (connect, send, response) in seconds; ``verify`` checks TLS
    certificates. Raises :class:`HttpError` for anything but an HTTP answer. Not safe for concurrent
    requests: the relay sends one at a time by design.
    """

    def __init__(self, url: str, *, timeout: float, verify: bool = True, user_agent: str = "") -> None:
        parts = urlsplit(url)
        self.url = url
        self.timeout = timeout
        self._host = parts.hostname or "localhost"
        self._port = parts.port or (443 if parts.scheme == "https" else 80)
        self._target = ((parts.path or "/") + (f"?{parts.query}" if parts.query else "")).encode("utf-8")
        default_port = self._port == (443 if parts.scheme == "https" else 80)
        host = f"[{self._host}]" if ":" in self._host else self._host
        self._defaults = {"Host": host if default_port else f"{host}:{self._port}", "User-Agent": user_agent}
        auth = basic_auth(url)
        if auth is not None:
            self._defaults["Authorization"] = auth
        self._ssl: ssl.SSLContext | None = None
        if parts.scheme == "https":
            self._ssl = ssl.create_default_context()
            if not verify:
                self._ssl.check_hostname = False
                self._ssl.verify_mode = ssl.CERT_NONE
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._conn: h11.Connection | None = None

    async def aclose(self) -> None:
        self._drop()

    def _drop(self) -> None:
        writer, self._reader, self._writer, self._conn = self._writer, None, None, None
        if writer is not None:
            writer.transport.abort()

    def _headers(self, headers: Mapping[str, str], length: int) -> list[tuple[bytes, bytes]]:
        given = {k.lower() for k in headers}
        fields = [(k.encode(), v.encode()) for k, v in self._defaults.items() if k.lower() not in given and v]
        fields += [(k.encode(), v.encode()) for k, v in headers.items() if k.lower() not in _HOP_BY_HOP]
        fields.append((b"Content-Length", str(length).encode()))
        return fields

    async def post(self, headers: Mapping[str, str], body: bytes) -> int:
        """Send one POST with exactly ``body``; return the response status. The response body is
        read and discarded so the connection can be reused."""
        try:
            if sys.version_info >= (3, 11):
                async with asyncio.timeout(self.timeout):
                    return await self._exchange(headers, body)
            return await asyncio.wait_for(self._exchange(headers, body), self.timeout)
        except asyncio.TimeoutError:
            self._drop()
            raise HttpError(f"timed out after {self.timeout:g} s") from None
        except (OSError, _ClosedEarly, h11.ProtocolError) as e:
            self._drop()
            raise HttpError(_reason(e)) from None

    async def _exchange(self, headers: Mapping[str, str], body: bytes) -> int:
        reader, writer, conn = self._reader, self._writer, self._conn
        if (
            reader is None
            or writer is None
            or conn is None
            or conn.our_state is not h11.IDLE
            or reader.at_eof()
            or writer.is_closing()
        ):
            # A kept-alive connection the receiver has since closed shows up as EOF: open a new one.
            self._drop()
            reader, writer = await asyncio.open_connection(
                self._host,
                self._port,
                ssl=self._ssl,
                server_hostname=self._host if self._ssl else None,
            )
            conn = h11.Connection(h11.CLIENT, max_incomplete_event_size=_MAX_HEAD)
            self._reader, self._writer, self._conn = reader, writer, conn
        request = h11.Request(method=b"POST", target=self._target, headers=self._headers(headers, len(body)))
        writer.write(conn.send(request) + conn.send(h11.Data(data=body)) + conn.send(h11.EndOfMessage()))
        status = await self._read_response(reader, conn)
        if conn.our_state is h11.DONE and conn.their_state is h11.DONE:
            conn.start_next_cycle()
        else:
            self._drop()  # the receiver asked to close, or the body ran until close
        return status

    @staticmethod
    async def _read_response(reader: asyncio.StreamReader, conn: h11.Connection) -> int:
        status = 0
        eof = False
        while True:
            try:
                event = conn.next_event()
            except h11.RemoteProtocolError:
                if eof:
                    raise _ClosedEarly from None
                raise
            if event is h11.NEED_DATA:
                data = await reader.read(_READ_SIZE)
                eof = not data
                conn.receive_data(data)
            elif type(event) is h11.Response:
                status = event.status_code
            elif type(event) is h11.EndOfMessage:
                return status
            elif type(event) is h11.ConnectionClosed or event is h11.PAUSED:
                raise _ClosedEarly
            # InformationalResponse (100 Continue, 103 Early Hints) and Data: nothing to keep.
