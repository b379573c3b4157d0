"""The transport under every cStar API call: httpx, the envelope, request IDs, rate-limit headers,
timeouts, retries, idempotency keys, and errors as :mod:`cstar_cli.errors` classes.

Implements the reference's "Authentication", "Response shape", "Error shape", "Request IDs" and
"Idempotency is yours" (Code of cStar 04), plus the server contract's conventions.

Each call returns a :class:`Result`: the envelope's ``data`` and that call's :class:`ResponseMeta`
together, so concurrent calls on one transport never read each other's metadata. The transport
raises :mod:`cstar_cli.errors` classes and never prints, prompts or exits.

Retries (at most ``max_retries`` more attempts, exponential backoff with jitter, capped at 8 s):

- 429: after ``Retry-After`` seconds when that is at most ``max_retry_wait``, else raised at once;
- 5xx and connection errors (timeouts: one retry only): for GET always; for POST/PATCH/DELETE only with an
  ``Idempotency-Key``, which the transport generates once per logical call (unless the caller gives
  one) and sends unchanged on every retry, so the server applies the mutation once;
- never a TLS failure (a certificate that cannot be verified, a failed handshake): retrying cannot fix
  it, so it is raised at once (:class:`CStarConnectionError`, ``tls_verify_failed`` / ``tls_failed``).

Network errors are described in words (``connection refused``, ``timed out after 15 s``), never by
exception class (:func:`connection_error`). Streams (:meth:`Transport.stream`) share the connection
pool, headers, TLS settings and error decoding.
"""

from __future__ import annotations

import contextlib
import platform
import socket
import ssl
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, TypedDict, TypeVar

import httpx

from cstar_cli import __version__
from cstar_cli.api._network import install as install_loop_backend
from cstar_cli.backoff import backoff_delay
from cstar_cli.errors import (
    CStarConnectionError,
    CStarError,
    CStarRateLimitError,
    CStarServerError,
    CStarUsageError,
    CStarValidationError,
    error_from_response,
)
from cstar_cli.locks import active_bridge
from cstar_cli.settings import check_base_url, validate_key

__all__ = [
    "USER_AGENT",
    "RateLimit",
    "ResponseMeta",
    "Result",
    "Transport",
    "TransportOptions",
    "NotCStarAPIError",
    "connection_error",
    "not_cstar_api",
    "error_for",
    "is_tls_failure",
]

T = TypeVar("T")

USER_AGENT = f"cstar-cli/{__version__} python/{platform.python_version()}"
_MUTATIONS = {"POST", "PATCH", "PUT", "DELETE"}
_SYSTEM_SLEEP = time.sleep  # the default ``sleep``: replaced by an asyncio sleep inside the bridge


@dataclass(frozen=True)
class RateLimit:
    """The ``X-RateLimit-*`` headers: ``limit``/``remaining`` requests, ``reset`` (unix s),
    ``window`` (s); each None when the server did not send it."""

    limit: int | None = None
    remaining: int | None = None
    reset: int | None = None
    window: int | None = None

    @classmethod
    def from_headers(cls, headers: httpx.Headers) -> RateLimit:
        """The four headers of a response (a missing or non-numeric one is None)."""

        def num(name: str) -> int | None:
            try:
                return int(float(headers[name]))
            except (KeyError, ValueError):
                return None

        return cls(
            num("x-ratelimit-limit"),
            num("x-ratelimit-remaining"),
            num("x-ratelimit-reset"),
            num("x-ratelimit-window"),
        )

    def to_dict(self) -> dict[str, int | None]:
        """``{"limit", "remaining", "reset", "window"}``."""
        return {"limit": self.limit, "remaining": self.remaining, "reset": self.reset, "window": self.window}


@dataclass(frozen=True)
class ResponseMeta:
    """Metadata of one call: ``request_id`` (``req_…``), ``timestamp`` (ISO 8601), ``pagination``
    (list calls), ``rate_limit``, ``status_code``, ``elapsed_ms`` (all attempts and the waits between
    them, ms), ``round_trip_ms`` (the last attempt alone, request sent to response read, ms),
    ``attempts`` and ``idempotent_replayed`` (the server returned a stored response)."""

    request_id: str | None = None
    timestamp: str | None = None
    pagination: dict[str, Any] | None = None
    rate_limit: RateLimit = field(default_factory=RateLimit)
    status_code: int | None = None
    elapsed_ms: float = 0.0
    round_trip_ms: float = 0.0
    attempts: int = 1
    idempotent_replayed: bool = False

    @property
    def has_more(self) -> bool:
        """Whether a list call has a next page: ``hasMore`` (cursor paging, the logs) or ``page`` <
        ``totalPages`` (the reference's page paging); False without pagination."""
        pag = self.pagination or {}
        if "hasMore" in pag:
            return bool(pag["hasMore"])
        try:
            return int(pag.get("page") or 1) < int(pag.get("totalPages") or 0)
        except (TypeError, ValueError):
            return False


@dataclass(frozen=True)
class Result(Generic[T]):
    """One call's answer: ``data`` (the envelope's, typed by the endpoint method) and ``meta``."""

    data: T
    meta: ResponseMeta


class TransportOptions(TypedDict, total=False):
    """The knobs of a :class:`Transport` besides its key and base URL (see there)."""

    timeout: float
    max_retries: int
    max_retry_wait: float
    transport: httpx.BaseTransport | None
    sleep: Callable[[float], None]


class Transport:
    """Synchronous HTTP for ``<base_url>/api/v1`` with one key.

    ``timeout`` (s) applies to connect (at most 10 s), read and write of every attempt. ``transport``
    lets tests inject ``httpx.MockTransport`` for what a real server cannot produce. Raises
    :class:`CStarUsageError` for a missing or malformed key and for a plain-http, non-loopback base URL.
    """

    def __init__(
        self,
        api_key: str,
        base_url: str,
        *,
        timeout: float = 15.0,
        max_retries: int = 2,
        max_retry_wait: float = 10.0,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if not api_key:
            raise CStarUsageError("No API key given.")
        # A malformed key (pasted with a newline, say) is a usage error, not a network failure later.
        self.api_key = validate_key(api_key)
        self.base_url = check_base_url(base_url)
        self.max_retries = max_retries
        self.max_retry_wait = max_retry_wait
        self.sleep = sleep
        self.timeout = httpx.Timeout(timeout, connect=min(timeout, 10.0))
        self._http = httpx.Client(
            base_url=self.base_url + "/api/v1",
            timeout=self.timeout,
            headers={
                "Authorization": f"Bearer {self.api_key}",
                "User-Agent": USER_AGENT,
                "Accept": "application/json",
            },
            transport=transport,
            follow_redirects=False,
            # No cap on connections: a request waiting for a free one would block its thread, and
            # inside cstar_cli.api.bridge.run that thread is the event loop the others run on.
            limits=httpx.Limits(max_connections=None, max_keepalive_connections=20),
        )
        # Inside cstar_cli.api.bridge.run (the MCP server's tools), socket reads wait on the event
        # loop instead of blocking it (cstar_cli.api._network); a test's transport has no sockets.
        self._loop_aware = transport is None and install_loop_backend(self._http)

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()

    def _send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """One HTTP exchange through ``httpx.Client``. Inside :func:`cstar_cli.api.bridge.run` it
        never blocks the event loop: its reads wait on the loop, or, when the loop-aware backend
        could not be installed, the whole exchange runs in a worker thread."""
        bridge = active_bridge()
        if self._loop_aware or bridge is None:
            return self._http.request(method, path, **kwargs)
        return bridge.blocking(lambda: self._http.request(method, path, **kwargs))  # type: ignore[no-any-return]

    def _pause(self, seconds: float) -> None:
        """Wait ``seconds`` between attempts: ``sleep``, or an asyncio sleep inside the bridge."""
        bridge = active_bridge()
        if bridge is None or self.sleep is not _SYSTEM_SLEEP:
            self.sleep(seconds)
            return
        import asyncio

        bridge.wait(asyncio.sleep(seconds))

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        idempotency_key: str | None = None,
        retries: int | None = None,
        content: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        on_response: Callable[[httpx.Response], None] | None = None,
    ) -> Result[Any]:
        """Send one logical call; return the envelope's ``data`` with the call's metadata.

        ``path`` is relative to ``/api/v1`` (``/me``, ``/teams/…``). ``params`` with None values are
        dropped. ``retries`` overrides ``max_retries`` for this call. ``content`` is a raw body sent
        instead of ``json``; ``headers`` add to (or replace) the defaults, except that the
        ``Idempotency-Key`` of a mutation is ``idempotency_key``'s. ``on_response`` is called with
        every response received (each attempt, errors too) before it is decoded. Raises a :class:`CStarError`
        subclass for error responses, :class:`CStarValidationError` (``invalid_request_url``) for a
        URL that cannot be sent, :class:`CStarConnectionError` when the server cannot be reached after
        the retries (at once for a TLS failure).
        """
        method = method.upper()
        sent: dict[str, str] = dict(headers or {})
        if method in _MUTATIONS:
            sent["Idempotency-Key"] = idempotency_key or f"cstar_{uuid.uuid4().hex}"
        clean = {k: v for k, v in (params or {}).items() if v is not None}
        retry_budget = self.max_retries if retries is None else retries
        started = time.monotonic()
        attempt = 0
        while True:
            attempt += 1
            attempt_started = time.monotonic()
            try:
                resp = self._send(method, path, params=clean or None, json=json, content=content, headers=sent)
            except (httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError) as e:
                # A server that accepts but never answers gets one more try, not the full budget:
                # the user would otherwise wait minutes before hearing anything.
                budget = min(retry_budget, 1) if isinstance(e, httpx.TimeoutException) else retry_budget
                if attempt <= budget and not is_tls_failure(e):
                    self._pause(self._backoff(attempt))
                    continue
                raise connection_error(self.base_url, e, self.timeout) from None
            except httpx.HTTPError as e:
                raise connection_error(self.base_url, e, self.timeout) from None
            except httpx.InvalidURL as e:
                # Not an HTTPError: a path or query too long (over 64 KiB) or not encodable as a URL.
                raise CStarValidationError(
                    f"The request URL is invalid: {e}.",
                    code="invalid_request_url",
                    hint="Shorten the values given (IDs, search terms, filters).",
                ) from None
            if on_response is not None:
                on_response(resp)
            try:
                return self._handle(resp, started, attempt, attempt_started)
            except CStarRateLimitError as e:
                if attempt <= retry_budget and e.retry_after <= self.max_retry_wait:
                    self._pause(e.retry_after)
                    continue
                raise
            except (CStarServerError, NotCStarAPIError) as e:
                if isinstance(e, NotCStarAPIError) and (e.status_code or 0) < 500:
                    raise
                if attempt <= retry_budget:
                    self._pause(self._backoff(attempt))
                    continue
                raise

    @contextlib.contextmanager
    def stream(
        self,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        timeout: httpx.Timeout | None = None,
    ) -> Iterator[httpx.Response]:
        """``GET path`` with the body left unread, on the same pool, key and TLS settings. ``headers``
        add to (or replace) the defaults; ``timeout`` replaces the transport's for this request.
        The response is yielded whatever its status (:func:`error_for` decodes an error); httpx
        errors propagate."""
        clean = {k: v for k, v in (params or {}).items() if v is not None}
        with self._http.stream(
            "GET", path, params=clean or None, headers=dict(headers or {}), timeout=timeout or self.timeout
        ) as resp:
            yield resp

    def _backoff(self, attempt: int) -> float:
        return backoff_delay(attempt, base=0.25, cap=8.0, low=0.5, high=1.0)

    def _handle(self, resp: httpx.Response, started: float, attempt: int, attempt_started: float) -> Result[Any]:
        try:
            body = resp.json()
        except ValueError:
            body = None
        now = time.monotonic()
        envelope_meta = body.get("meta") if isinstance(body, dict) else None
        envelope_meta = envelope_meta if isinstance(envelope_meta, dict) else {}
        meta = ResponseMeta(
            request_id=resp.headers.get("x-cstar-request-id") or envelope_meta.get("requestId"),
            timestamp=envelope_meta.get("timestamp"),
            pagination=envelope_meta.get("pagination"),
            rate_limit=RateLimit.from_headers(resp.headers),
            status_code=resp.status_code,
            elapsed_ms=(now - started) * 1000,
            round_trip_ms=(now - attempt_started) * 1000,
            attempts=attempt,
            idempotent_replayed=resp.headers.get("idempotent-replayed", "").lower() == "true",
        )
        if resp.is_success and _is_success_envelope(body):
            return Result(body.get("data"), meta)
        if resp.status_code == 429 or (not resp.is_success and _is_error_envelope(body)):
            raise error_for(resp, body, request_id=meta.request_id)
        # Any other answer comes from a server that is not the cStar API (a web page, another API, a
        # proxy's error page): its status says nothing cStar-specific, so it is never read as "not
        # found", "unauthorized" and so on, but as a base URL problem. A plain 429 is the exception
        # above: a proxy's rate limit still means "wait", not "wrong URL".
        raise not_cstar_api(self.base_url, resp.status_code)


class NotCStarAPIError(CStarConnectionError):
    """An answer without the cStar envelope, or a success whose ``data`` is not the route's shape
    (exit 9, ``not_cstar_api``). One with a 5xx status (a proxy between cstar and the API, say) is
    retried as a server error would be."""


def not_cstar_api(base_url: str, status_code: int | None, detail: str = "") -> NotCStarAPIError:
    """The exit-9 error for an answer from ``base_url`` that is not the cStar API's: the message names
    the HTTP status and ``detail`` (what was wrong with it, when more than the envelope), the hint
    the base URL to check. Never raises."""
    what = f"HTTP {status_code}" + (f": {detail}" if detail else "")
    return NotCStarAPIError(
        f"{base_url} did not answer like the cStar API ({what}).",
        code="not_cstar_api",
        status_code=status_code,
        hint="Check --base-url / CSTAR_BASE_URL: https://www.cstar.help, or a running `cstar emulator start`.",
    )


def _is_success_envelope(body: Any) -> bool:
    # {"success": true, "data": …, "meta": …}; "success" is optional for servers older than the
    # reference's shape, but "data" is what every success carries.
    return isinstance(body, dict) and "data" in body and body.get("success", True) is not False


def _is_error_envelope(body: Any) -> bool:
    # {"success": false, "error": {"type", "code", "message", …}}: another API's {"error": {"code": 404}}
    # or {"error": "Not Found"} is not it.
    if not isinstance(body, dict) or body.get("success", False) is not False:
        return False
    err = body.get("error")
    return (
        isinstance(err, dict)
        and isinstance(err.get("message"), str)
        and (isinstance(err.get("code"), str) or isinstance(err.get("type"), str))
    )


def error_for(resp: httpx.Response, body: Any, *, request_id: str | None = None) -> CStarError:
    """The :class:`CStarError` subclass for an error response whose decoded body is ``body`` (None when
    it was not JSON), with its ``Retry-After`` (s) and request ID (``request_id``, else the
    ``x-cstar-request-id`` header). Never raises."""
    retry_after: float | None = None
    with contextlib.suppress(KeyError, ValueError):
        retry_after = max(0.0, float(resp.headers["retry-after"]))
    return error_from_response(
        resp.status_code,
        body,
        request_id=request_id or resp.headers.get("x-cstar-request-id"),
        retry_after=retry_after,
    )


# network failures in words -----------------------------------------------------------------------

_TLS_HINT = "Check --base-url; behind a TLS-inspecting (corporate) proxy, point SSL_CERT_FILE at its CA bundle."


def _causes(e: BaseException) -> list[BaseException]:
    """``e`` and what caused it (httpx wraps httpcore's error, which wraps the socket or ssl error)."""
    chain: list[BaseException] = []
    cur: BaseException | None = e
    while cur is not None and cur not in chain and len(chain) < 10:
        chain.append(cur)
        cur = cur.__cause__ or cur.__context__
    return chain


def _tls_error(e: BaseException) -> ssl.SSLError | None:
    return next((c for c in _causes(e) if isinstance(c, ssl.SSLError)), None)


def is_tls_failure(e: BaseException) -> bool:
    """True when ``e`` (an httpx error) comes from TLS: an unverifiable certificate or a failed handshake.
    Not transient, so never worth a retry."""
    return _tls_error(e) is not None or "CERTIFICATE_VERIFY_FAILED" in str(e)


def _seconds(value: float | None) -> str:
    return f"{value:g} s" if value is not None else "the time limit"


def connection_error(base_url: str, e: BaseException, timeout: httpx.Timeout | None = None) -> CStarConnectionError:
    """The exit-9 error for a request that got no HTTP response, in words a user understands.

    ``code`` is ``tls_verify_failed`` (certificate not trusted, expired, or for another host),
    ``tls_failed`` (other TLS handshake failure), ``timeout`` or ``connection_failed``; ``timeout`` gives
    the limits to quote (s). The message names ``base_url`` and never an exception class."""
    tls = _tls_error(e)
    if isinstance(tls, ssl.SSLCertVerificationError) or (tls is None and "CERTIFICATE_VERIFY_FAILED" in str(e)):
        detail = getattr(tls, "verify_message", None) or ""
        return CStarConnectionError(
            f"The server's certificate could not be verified for {base_url}" + (f" ({detail})." if detail else "."),
            code="tls_verify_failed",
            hint=_TLS_HINT,
        )
    if tls is not None:
        reason = (tls.reason or "").replace("_", " ").lower() or "handshake failed"
        return CStarConnectionError(
            f"The secure connection to {base_url} failed ({reason}).",
            code="tls_failed",
            hint="Check --base-url: is the server speaking https on that port? A local emulator uses http://.",
        )
    if isinstance(e, httpx.TimeoutException):
        t = timeout or httpx.Timeout(None)
        if isinstance(e, httpx.ConnectTimeout):
            what = f"timed out after {_seconds(t.connect)} while connecting"
        elif isinstance(e, httpx.WriteTimeout):
            what = f"timed out after {_seconds(t.write)} while sending the request"
        elif isinstance(e, httpx.PoolTimeout):
            what = f"timed out after {_seconds(t.pool)} waiting for a free connection"
        else:
            what = f"timed out after {_seconds(t.read)} waiting for an answer"
        return CStarConnectionError(f"The cStar API at {base_url} {what}.", code="timeout")
    return CStarConnectionError(
        f"The cStar API at {base_url} could not be reached ({_network_reason(e)}).", code="connection_failed"
    )


def _network_reason(e: BaseException) -> str:
    for c in _causes(e):
        if isinstance(c, socket.gaierror):
            return f"the host name could not be resolved: {(c.strerror or str(c)).lower()}"
        if isinstance(c, OSError) and c.strerror:
            return c.strerror.lower()
    if isinstance(e, httpx.RemoteProtocolError):
        return "the server closed the connection without a complete answer"
    if isinstance(e, httpx.HTTPError) and not isinstance(e, httpx.TransportError):
        return "the request could not be sent"
    # httpx keeps the OS text (``[Errno 111] Connection refused``) even when the cause is not chained.
    text = str(e).strip()
    text = text.split("] ", 1)[-1] if text.startswith("[Errno") else text
    return text.rstrip(".").lower() or "the connection failed"
