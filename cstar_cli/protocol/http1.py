"""A small HTTP/1.1 client for webhook delivery: one kept-alive connection, one POST at a time.

Used by ``cstar listen``'s forwarder and the emulator's webhook delivery, where the cost of each
request *is* the throughput. Each request is serialised here as bytes and goes out in one write; the
response is parsed by ``httptools`` (the llhttp binding uvicorn uses): status line, headers,
Content-Length, chunked and close-delimited bodies, interim 1xx answers and keep-alive rules (an
HTTP/1.0 answer or ``Connection: close`` closes the connection after the response). ``h11`` and
``httpx`` spent several times more CPU per POST on request and response objects and per-event state
machines.

What is checked on the way out: header names are RFC 9110 tokens and values hold no CR, LF, NUL or
other control characters (a value that could split or smuggle a header is refused before anything is
sent, as :class:`HttpError` ``invalid request: …``, without echoing the value, which may be a
secret). On the way in: a response's headers (and trailers) are at most :data:`MAX_HEAD` bytes; a
connection closed before a complete response is ``connection closed without a response`` (except
that a request on a kept-alive connection closed before any byte of answer is written once more on
a new connection: the receiver had closed it after its last answer); anything
llhttp rejects is ``invalid HTTP response``; bytes after a complete response keep that response but
close the connection.

The I/O is an :class:`asyncio.Protocol` feeding received bytes straight into the parser (no stream
buffer), with one timer per attempt for the timeout.

Not supported, because a webhook receiver has no use for them: redirects (a 3xx is reported as the
receiver's answer), proxies, HTTP/2, request streaming, cookies, protocol upgrades (a 101 is an
invalid response to a POST that asked for none).

This module imports nothing else of ``cstar_cli``: Basic auth (from a URL's ``user:password@``) is
computed by the caller (with :func:`basic_auth`) and passed in as ``authorization``.
"""

from __future__ import annotations

import asyncio
import base64
import re
import socket
import ssl
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from urllib.parse import unquote_to_bytes, urlsplit

import httptools

__all__ = ["MAX_HEAD", "HttpClient", "HttpError", "Sent", "basic_auth", "check_header"]

#: The largest response head (status line and headers) accepted, in bytes.
MAX_HEAD = 64 * 1024
_READ_SIZE = 64 * 1024
#: Framing headers this client writes itself: a caller's copies are dropped, never sent twice.
_HOP_BY_HOP = frozenset({"content-length", "transfer-encoding", "connection"})
# RFC 9110 §5.1 token, and a field value as h11 accepts it (visible characters and obs-text, single
# spaces or tabs between them, no leading or trailing whitespace) minus the other C0 controls and DEL.
_TOKEN_RE = r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+"
_VALUE_RE = r"(?:[^\x00-\x20\x7f]+(?:[ \t]+[^\x00-\x20\x7f]+)*)?"
_TOKEN = re.compile(_TOKEN_RE)
_VALUE = re.compile(_VALUE_RE)
# All of a request's names (or values) joined by LF, which neither may hold, checked in one match.
_TOKENS = re.compile(f"{_TOKEN_RE}(?:\n{_TOKEN_RE})*")
_VALUES = re.compile(f"{_VALUE_RE}(?:\n{_VALUE_RE})*")


class HttpError(Exception):
    """An attempt that got no HTTP answer; ``reason`` is short and user-facing (``connection
    refused``, ``timed out after 30 s``, ``TLS: certificate verify failed …``, ``invalid request:
    …``)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class _ClosedEarly(Exception):
    """The receiver closed the connection before a complete response."""


class _Stale(Exception):
    """A kept-alive connection found closed before any byte of the answer: write the request again."""


class _TimedOut(Exception):
    """No complete response before the attempt's deadline."""


class _Invalid(Exception):
    """The receiver's bytes are not an HTTP/1.x response (or its head is over :data:`MAX_HEAD`)."""


def check_header(name: str, value: str) -> str | None:
    """Why the header ``name: value`` cannot be sent (a phrase naming the header, never its value),
    or None when it can."""
    if _TOKEN.fullmatch(name) is None:
        return f"header name {name[:40]!r} is not an HTTP token"
    if _VALUE.fullmatch(value) is None:
        return f"header {name!r} has a value with characters HTTP does not allow (CR, LF, NUL, controls)"
    return None


def basic_auth(url: str) -> str | None:
    """The ``Authorization: Basic …`` value for the ``user:password@`` of ``url`` (percent-decoded,
    as curl sends it; an absent password is empty), or None when the URL names no user."""
    parts = urlsplit(url)
    if parts.username is None:
        return None
    raw = unquote_to_bytes(parts.username) + b":" + unquote_to_bytes(parts.password or "")
    return "Basic " + base64.b64encode(raw).decode("ascii")


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
    if isinstance(exc, _Invalid):
        return "invalid HTTP response"
    if isinstance(exc, OSError):
        # A host with several addresses (localhost → ::1, 127.0.0.1) that all refuse raises one
        # OSError("Multiple exceptions: [Errno 111] …") without an errno of its own.
        if exc.errno in (111, 61, 10061) or "[Errno 111]" in str(exc) or "[Errno 61]" in str(exc):
            return "connection refused"
        return (exc.strerror or str(exc) or type(exc).__name__).lower()
    return f"{type(exc).__name__}: {exc}"


class _Response:
    """httptools callbacks for one response: its final status, whether it is complete, and what
    framing the body uses (for a close-delimited one, the end of the connection completes it)."""

    __slots__ = ("complete", "extra", "framed", "head_bytes", "head_done", "keep_alive", "parser", "seen", "status")

    def __init__(self) -> None:
        self.parser = httptools.HttpResponseParser(self)
        # Any byte of the answer received: a connection lost before that never answered at all.
        self.seen = False
        self.status = 0
        self.complete = False
        self.head_done = False
        # Content-Length or chunked seen: EOF before the end is then a truncated response.
        self.framed = False
        # Bytes after the response (a second answer to one request): the connection is not reused.
        self.extra = False
        self.keep_alive = False
        self.head_bytes = 0

    def on_message_begin(self) -> None:
        if self.complete:
            self.extra = True
        self.head_done = False
        self.framed = False
        self.head_bytes = 0

    def on_header(self, name: bytes, value: bytes) -> None:
        # Headers and trailers both count; raising here makes httptools fail the parse.
        self.head_bytes += len(name) + len(value) + 4
        if self.head_bytes > MAX_HEAD:
            raise _Invalid
        lowered = name.lower()
        if lowered == b"content-length" or (lowered == b"transfer-encoding" and b"chunked" in value.lower()):
            self.framed = True

    def on_headers_complete(self) -> None:
        self.head_done = True

    def on_message_complete(self) -> None:
        status = self.parser.get_status_code()
        if 100 <= status < 200:
            return  # an interim answer (100 Continue, 103 Early Hints): the final one follows
        if not self.complete:
            self.status = status
            self.complete = True
            # Read now: llhttp resets its flags once the message is complete.
            self.keep_alive = self.parser.should_keep_alive()

    def body_ends_at_close(self) -> bool:
        """Whether the end of the connection now completes the response (a close-delimited body)."""
        status = self.parser.get_status_code()
        return self.head_done and not self.framed and status >= 200 and status not in (204, 304)


class _Connection(asyncio.Protocol):
    """One kept-alive connection: received bytes go straight into the current :class:`_Response`'s
    parser (no stream buffer in between), and :meth:`exchange` waits on one future per request.
    ``at_eof()`` says the receiver closed it (or it was lost), so it cannot be reused."""

    def __init__(self) -> None:
        # Made by loop.create_connection, on the loop it lives on: looked up once (a getpid() each).
        self.loop = asyncio.get_running_loop()
        self.transport: asyncio.Transport | None = None
        self.response: _Response | None = None
        self.waiter: asyncio.Future[_Response] | None = None
        self.eof = False
        self.unsolicited = False
        self.pending = 0  # bytes fed while a head is incomplete
        self.served = 0  # complete answers received on this connection
        # A request to write the moment the current one gets a complete 2xx (see HttpClient.chain),
        # and what to call with its response's future once written.
        self.chained: tuple[bytes, Callable[[asyncio.Future[_Response]], None]] | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def at_eof(self) -> bool:
        return self.eof

    def _finish(self, error: BaseException | None = None) -> None:
        waiter, self.waiter = self.waiter, None
        response, self.response = self.response, None
        chained, self.chained = self.chained, None
        if error is None:
            self.served += 1
        if (
            chained is not None
            and error is None
            and response is not None
            and 200 <= response.status < 300
            and response.keep_alive
            and not (response.extra or self.eof or self.unsolicited)
            and waiter is not None
            and not waiter.done()
        ):
            # Written here, in the callback that completed the answer before it: the receiver gets
            # the next request without waiting for the sender's task to be scheduled.
            request, written = chained
            written(self.begin(request))
        if waiter is not None and not waiter.done():
            if error is None:
                assert response is not None
                waiter.set_result(response)
            else:
                waiter.set_exception(error)

    def data_received(self, data: bytes) -> None:
        response = self.response
        if response is None or self.waiter is None:
            self.unsolicited = True  # bytes nobody asked for: never reuse this connection
            return
        response.seen = True
        try:
            response.parser.feed_data(data)
        except (httptools.HttpParserError, httptools.HttpParserUpgrade):
            if not response.complete:
                self._finish(_Invalid())
                return
            response.extra = True  # garbage after a complete answer: that answer stands, the connection goes
        if response.complete:
            self._finish()
            return
        # on_header bounds complete headers; this bounds one that never ends (or a status line).
        if response.head_done:
            self.pending = 0
        else:
            self.pending += len(data)
            if self.pending > 2 * MAX_HEAD:
                self._finish(_Invalid())

    def eof_received(self) -> bool | None:
        self.eof = True
        response = self.response
        if response is not None and self.waiter is not None:
            if response.body_ends_at_close():
                response.status, response.complete = response.parser.get_status_code(), True
                self._finish()
            else:
                self._finish(_ClosedEarly())
        return None  # close the transport

    def connection_lost(self, exc: Exception | None) -> None:
        self.eof = True
        self._finish(exc if isinstance(exc, OSError) and not isinstance(exc, ConnectionResetError) else _ClosedEarly())

    def usable(self) -> bool:
        """Whether a request can be written now: open, not closed by the receiver, nothing unasked."""
        transport = self.transport
        return not (self.eof or self.unsolicited or transport is None or transport.is_closing())

    def begin(self, request: bytes) -> asyncio.Future[_Response]:
        """Write ``request`` and return the future of its complete response (its exception:
        :class:`_Invalid`, :class:`_ClosedEarly`, :class:`_TimedOut` or the connection's ``OSError``)."""
        assert self.transport is not None and self.waiter is None
        self.response = _Response()
        self.pending = 0
        waiter = self.waiter = self.loop.create_future()
        self.transport.write(request)
        return waiter

    def time_out(self) -> None:
        """Fail the request in flight (if any) with :class:`_TimedOut`."""
        self._finish(_TimedOut())


class Sent:
    """One POST written and not answered yet (from :meth:`HttpClient.send`): pass it to
    :meth:`HttpClient.answer`. Until then the client sends nothing else."""

    __slots__ = ("conn", "deadline", "request", "resent", "response", "reused", "task", "timed_out", "waiter", "written_at")

    def __init__(self, deadline: float, task: asyncio.Task[object] | None = None) -> None:
        self.deadline = deadline
        #: While connecting: the task to cancel when ``deadline`` (loop time) passes first.
        self.task = task
        self.timed_out = False
        self.conn: _Connection | None = None
        self.waiter: asyncio.Future[_Response] | None = None
        #: ``time.perf_counter()`` when the request was written (None: not yet, or never).
        self.written_at: float | None = None
        self.request = b""
        self.response: _Response | None = None
        #: Written on a connection that had answered before (a kept-alive one).
        self.reused = False
        #: The second writing of a request whose kept-alive connection was found closed.
        self.resent = False

    def start(self, conn: _Connection, request: bytes, waiter: asyncio.Future[_Response]) -> None:
        """Record that ``request`` went out on ``conn`` (its answer: ``waiter``)."""
        self.conn, self.waiter, self.written_at = conn, waiter, time.perf_counter()
        self.request, self.response, self.reused = request, conn.response, conn.served > 0

    @property
    def written(self) -> bool:
        """Whether the request went out (a :meth:`HttpClient.chain` one only after the answer before it)."""
        return self.waiter is not None


@dataclass(frozen=True, slots=True)
class _Plan:
    """For one tuple of request header names: the default fields sent with them (and as text), the
    names sent (framing headers dropped), and whether any of those is not a valid name."""

    defaults: tuple[tuple[str, str], ...]
    defaults_text: str
    names: tuple[str, ...]
    bad_name: bool


class HttpClient:
    """POSTs to one URL (``http://`` or ``https://``) over a reused connection.

    ``authorization`` (e.g. ``Basic …`` for the URL's ``user:password@``, which the caller decodes)
    is sent unless the request's own headers name ``Authorization``; the ``Host`` header never
    carries userinfo. ``timeout`` bounds a whole attempt (connect, send, response) in seconds;
    ``verify`` checks TLS certificates; ``user_agent`` (when not empty) is the default
    ``User-Agent``. :meth:`post` raises :class:`HttpError` for anything but an HTTP answer. Not safe
    for concurrent requests: one POST at a time by design.
    """

    def __init__(
        self,
        url: str,
        *,
        timeout: float,
        verify: bool = True,
        user_agent: str = "",
        authorization: str | None = None,
    ) -> None:
        parts = urlsplit(url)
        self.url = url
        self.timeout = timeout
        self._host = parts.hostname or "localhost"
        self._port = parts.port or (443 if parts.scheme == "https" else 80)
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        default_port = self._port == (443 if parts.scheme == "https" else 80)
        host = f"[{self._host}]" if ":" in self._host else self._host
        defaults = {"Host": host if default_port else f"{host}:{self._port}", "User-Agent": user_agent}
        if authorization:
            defaults["Authorization"] = authorization
        self._defaults = {k: v for k, v in defaults.items() if v}
        # Checked once here rather than on every request (a user agent or authorization with a CR/LF).
        self._bad_default = next(filter(None, (check_header(k, v) for k, v in self._defaults.items())), None)
        self._target = target.encode("utf-8")
        self._request_line = b"POST " + self._target + b" HTTP/1.1\r\n"
        self._plans: dict[tuple[str, ...], _Plan] = {}
        self._ssl: ssl.SSLContext | None = None
        if parts.scheme == "https":
            self._ssl = ssl.create_default_context()
            if not verify:
                self._ssl.check_hostname = False
                self._ssl.verify_mode = ssl.CERT_NONE
        # The open connection, if any (named for what tells whether it is still readable: at_eof()).
        self._reader: _Connection | None = None
        # The attempt in flight and the timer that bounds it (see _arm), on the loop it runs in.
        self._attempt: Sent | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._timer_loop: asyncio.AbstractEventLoop | None = None

    async def aclose(self) -> None:
        """Close the connection (if open); the client may still be used, and reconnects."""
        self._drop()
        timer, self._timer = self._timer, None
        if timer is not None:
            timer.cancel()

    def _drop(self) -> None:
        conn, self._reader = self._reader, None
        if conn is not None and conn.transport is not None:
            conn.transport.abort()

    def _headers(self, headers: Mapping[str, str], length: int) -> list[tuple[bytes, bytes]]:
        """The header fields as sent, in order: the defaults the request does not name, the request's
        own (framing headers dropped) and ``Content-Length``. Raises :class:`HttpError` for a header
        that cannot be sent."""
        try:
            return [(k.encode(), v.encode()) for k, v in self._fields(headers, length)]
        except UnicodeEncodeError:
            raise HttpError("invalid request: a header is not valid Unicode text") from None

    def _fields(self, headers: Mapping[str, str], length: int) -> list[tuple[str, str]]:
        plan = self._plan(tuple(headers))
        fields = list(plan.defaults)
        own = [(k, headers[k]) for k in plan.names]
        self._check(plan, own)
        fields += own
        fields.append(("Content-Length", str(length)))
        return fields

    def _plan(self, names: tuple[str, ...]) -> _Plan:
        """What a request with header ``names`` (in order) sends besides their values; cached, as a
        sender uses the same few sets of names for every request."""
        plan = self._plans.get(names)
        if plan is None:
            if self._bad_default is not None:
                raise HttpError(f"invalid request: {self._bad_default}")
            given = {k.lower() for k in names}
            defaults = tuple((k, v) for k, v in self._defaults.items() if k.lower() not in given)
            kept = tuple(k for k in names if k.lower() not in _HOP_BY_HOP)
            bad_name = None if not kept or _TOKENS.fullmatch("\n".join(kept)) else "name"
            plan = _Plan(defaults, "".join(f"{k}: {v}\r\n" for k, v in defaults), kept, bad_name is not None)
            if len(self._plans) >= 32:
                self._plans.clear()
            self._plans[names] = plan
        return plan

    @staticmethod
    def _check(plan: _Plan, own: list[tuple[str, str]]) -> None:
        """Raise :class:`HttpError` naming the first of ``own`` that cannot be sent, if any does."""
        if own and (plan.bad_name or _VALUES.fullmatch("\n".join([v for _, v in own])) is None):
            for name, value in own:
                why = check_header(name, value)
                if why is not None:
                    raise HttpError(f"invalid request: {why}")

    def _head(self, headers: Mapping[str, str], length: int) -> bytes:
        """The request head as bytes (request line, :meth:`_headers`, blank line); raises
        :class:`HttpError` for a header that cannot be sent."""
        plan = self._plan(tuple(headers))
        own = [(k, headers[k]) for k in plan.names]
        self._check(plan, own)
        text = plan.defaults_text + "".join([f"{k}: {v}\r\n" for k, v in own])
        try:
            return b"".join(
                (self._request_line, text.encode(), b"Content-Length: ", str(length).encode(), b"\r\n\r\n")
            )
        except UnicodeEncodeError:
            raise HttpError("invalid request: a header is not valid Unicode text") from None

    async def post(self, headers: Mapping[str, str], body: bytes) -> int:
        """Send one POST with exactly ``body`` and ``headers`` (plus ``Host``, ``User-Agent``,
        ``Authorization`` defaults and ``Content-Length``); return the final response status. The
        response body is read and discarded so the connection can be reused. Raises
        :class:`HttpError` (nothing is sent for an ``invalid request``)."""
        sent = self.send(headers, body)
        if sent is None:
            sent = await self._connect_and_send(self._head(headers, len(body)) + body)
        return await self.answer(sent)

    def send(self, headers: Mapping[str, str], body: bytes) -> Sent | None:
        """Write the POST of :meth:`post` now on the open kept-alive connection, without waiting, and
        return it for :meth:`answer` (the timeout runs from here); None, having sent nothing, when
        no connection is open (then use :meth:`post`, which connects). Raises :class:`HttpError`
        for an ``invalid request`` (nothing sent). Lets a caller do other work while the receiver
        answers."""
        conn = self._reader
        if conn is None or not conn.usable():
            return None
        request = self._head(headers, len(body)) + body
        loop = conn.loop
        sent = self._attempt = Sent(loop.time() + self.timeout)
        self._arm(loop, sent.deadline)
        sent.start(conn, request, conn.begin(request))
        return sent

    def chain(self, sent: Sent, headers: Mapping[str, str], body: bytes) -> Sent:
        """Have the POST of :meth:`post` written the moment ``sent`` gets a complete 2xx answer on a
        connection that stays open, from the callback that parsed that answer (no task switch in
        between, so the receiver is never kept waiting on the sender), and return it for
        :meth:`answer` after ``sent``'s. When ``sent`` ends any other way (or has ended already),
        nothing is written: the result's :attr:`Sent.written` stays False. Raises
        :class:`HttpError` for an ``invalid request``. One chained request at a time."""
        request = self._head(headers, len(body)) + body
        later = Sent(0.0)
        conn = sent.conn
        if conn is None or sent.waiter is None or sent.waiter.done() or conn.waiter is not sent.waiter:
            return later

        def written(waiter: asyncio.Future[_Response]) -> None:
            loop = conn.loop
            later.deadline = loop.time() + self.timeout
            later.start(conn, request, waiter)
            self._attempt = later
            self._arm(loop, later.deadline)

        conn.chained = (request, written)
        return later

    def unchain(self) -> None:
        """Forget a request :meth:`chain` has not written yet (it then never is)."""
        conn = self._reader
        if conn is not None:
            conn.chained = None

    async def _connect_and_send(self, request: bytes) -> Sent:
        """Open a new connection (within the timeout) and write ``request`` on it."""
        loop = asyncio.get_running_loop()
        task = asyncio.current_task()
        assert task is not None
        sent = self._attempt = Sent(loop.time() + self.timeout, task)
        self._arm(loop, sent.deadline)
        self._drop()
        try:
            _, conn = await loop.create_connection(
                _Connection,
                self._host,
                self._port,
                ssl=self._ssl,
                server_hostname=self._host if self._ssl else None,
            )
        except asyncio.CancelledError:
            self._attempt = None
            if not sent.timed_out:
                raise
            uncancel = getattr(task, "uncancel", None)
            if uncancel is not None and uncancel() > 0:
                raise  # cancelled from outside as well: that wins
            raise HttpError(f"timed out after {self.timeout:g} s") from None
        except OSError as e:
            self._attempt = None
            raise HttpError(_reason(e)) from None
        self._reader = conn
        sent.task = None
        sent.start(conn, request, conn.begin(request))
        return sent

    async def answer(self, sent: Sent) -> int:
        """Wait for the answer to ``sent`` (from :meth:`send`) and return its final status. Raises
        :class:`HttpError` (``timed out after 30 s``, ``connection refused``…); a cancellation
        propagates and leaves the connection closed.

        A request written on a kept-alive connection that turns out closed before a single byte of
        answer (the receiver closed it after its last answer without ``Connection: close``) is
        written once more on a new connection, as part of the same attempt: it never got an answer
        to count, and its retry pause would otherwise hit every request to such a receiver."""
        try:
            return await self._answer(sent)
        except _Stale:
            again = await self._connect_and_send(sent.request)
            again.resent = True
            return await self._answer(again)

    async def _answer(self, sent: Sent) -> int:
        assert sent.waiter is not None and sent.conn is not None
        done = False
        try:
            response = await sent.waiter
            done = True
        except _TimedOut:
            raise HttpError(f"timed out after {self.timeout:g} s") from None
        except (OSError, _ClosedEarly, _Invalid) as e:
            stale = isinstance(e, (_ClosedEarly, ConnectionResetError, BrokenPipeError))
            if stale and sent.reused and not sent.resent and sent.response is not None and not sent.response.seen:
                raise _Stale from None
            raise HttpError(_reason(e)) from None
        finally:
            if self._attempt is sent:
                self._attempt = None
            if not done:
                self._drop()  # whatever is left of a failed or cancelled exchange is unusable
        if response.extra or not response.keep_alive or sent.conn.at_eof():
            self._drop()  # the receiver asked to close, answered twice, or the body ran until close
        return response.status

    def _arm(self, loop: asyncio.AbstractEventLoop, deadline: float) -> None:
        """Make sure a timer fires by ``deadline`` (loop time). One timer serves many attempts: it
        is left running after an attempt ends, and when it fires early for the current one it is
        set again for that one's deadline, so a POST costs no timer of its own (a burst would
        otherwise fill the loop's timer heap with cancelled 30-second handles)."""
        timer = self._timer
        if timer is not None and self._timer_loop is loop and timer.when() <= deadline:
            return
        if timer is not None:
            timer.cancel()
        self._timer, self._timer_loop = loop.call_at(deadline, self._expire), loop

    def _expire(self) -> None:
        """The timer: fail the attempt in flight once its deadline passed (set again otherwise)."""
        self._timer = None
        attempt, loop = self._attempt, self._timer_loop
        if attempt is None or loop is None:
            return
        if loop.time() < attempt.deadline:
            self._arm(loop, attempt.deadline)
            return
        attempt.timed_out = True
        if attempt.task is not None:
            attempt.task.cancel()  # still connecting
        elif attempt.conn is not None:
            attempt.conn.time_out()
