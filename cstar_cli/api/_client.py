"""The cStar REST client: envelope, request IDs, rate-limit headers, timeouts, retries, idempotency.

Implements the reference's "Authentication", "Response shape", "Error shape", "Request IDs" and
"Idempotency is yours" (Code of cStar 04), plus the server contract's conventions.

The client returns bare resources (``data``) and keeps the last call's metadata on
:attr:`CStarClient.last_meta`; it raises :mod:`cstar_cli.errors` classes and never prints,
prompts or exits.

Retries (at most ``max_retries`` more attempts, exponential backoff with jitter, capped at 8 s):

- 429: after ``Retry-After`` seconds when that is at most ``max_retry_wait``, else raised at once;
- 5xx and connection errors (timeouts: one retry only): for GET always; for POST/PATCH/DELETE only with an
  ``Idempotency-Key``, which the client generates once per logical call (unless the caller gives
  one) and sends unchanged on every retry, so the server applies the mutation once;
- never a TLS failure (a certificate that cannot be verified, a failed handshake): retrying cannot fix
  it, so it is raised at once (:class:`CStarConnectionError`, ``tls_verify_failed`` / ``tls_failed``).

Network errors are described in words (``connection refused``, ``timed out after 15 s``), never by
exception class (:func:`connection_error`, shared with the log stream).
"""

from __future__ import annotations

import platform
import socket
import ssl
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from cstar_cli import __version__
from cstar_cli.backoff import backoff_delay
from cstar_cli.config import check_base_url, validate_key
from cstar_cli.errors import (
    CStarConnectionError,
    CStarError,
    CStarRateLimitError,
    CStarServerError,
    CStarUsageError,
    CStarValidationError,
    error_from_response,
)

__all__ = ["USER_AGENT", "CStarClient", "Page", "RateLimit", "ResponseMeta", "connection_error", "is_tls_failure"]

USER_AGENT = f"cstar-cli/{__version__} python/{platform.python_version()}"
_MUTATIONS = {"POST", "PATCH", "PUT", "DELETE"}


@dataclass
class RateLimit:
    """The ``X-RateLimit-*`` headers: ``limit``/``remaining`` requests, ``reset`` (unix s),
    ``window`` (s)."""

    limit: int | None = None
    remaining: int | None = None
    reset: int | None = None
    window: int | None = None

    @classmethod
    def from_headers(cls, headers: httpx.Headers) -> RateLimit:
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
        return {"limit": self.limit, "remaining": self.remaining, "reset": self.reset, "window": self.window}


@dataclass
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


@dataclass
class Page:
    """A list call's answer: ``data`` (list), ``pagination`` (``page``, ``pageSize``, ``total``,
    ``totalPages``, or ``limit``/``hasMore``/``nextCursor`` for logs) and ``has_more``."""

    data: list[Any]
    pagination: dict[str, Any]
    has_more: bool


class CStarClient:
    """Synchronous client for ``<base_url>/api/v1``.

    ``team_id`` is learned from ``GET /me`` on first need when not given. ``timeout`` (s) applies to
    connect, read and write of every attempt. ``transport`` lets tests inject ``httpx.MockTransport``
    for what a real server cannot produce. Raises :class:`CStarUsageError` for a plain-http,
    non-loopback base URL.
    """

    def __init__(
        self,
        api_key: str,
        base_url: str,
        *,
        team_id: str | None = None,
        timeout: float = 15.0,
        max_retries: int = 2,
        max_retry_wait: float = 10.0,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if not api_key:
            raise CStarUsageError("No API key given.")
        # A malformed key (pasted with a newline, say) is a usage error, not a network failure later.
        api_key = validate_key(api_key)
        self.base_url = check_base_url(base_url)
        self._key = api_key
        self._team_id = team_id
        self.max_retries = max_retries
        self.max_retry_wait = max_retry_wait
        self._sleep = sleep
        self.last_meta = ResponseMeta()
        self._timeout = httpx.Timeout(timeout, connect=min(timeout, 10.0))
        self._http = httpx.Client(
            base_url=self.base_url + "/api/v1",
            timeout=self._timeout,
            headers={
                "Authorization": f"Bearer {api_key}",
                "User-Agent": USER_AGENT,
                "Accept": "application/json",
            },
            transport=transport,
            follow_redirects=False,
        )

    # lifecycle --------------------------------------------------------------------------------

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> CStarClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def api_key(self) -> str:
        return self._key

    @property
    def is_test_mode(self) -> bool:
        return self._key.startswith(("sk_test_", "pk_test_"))

    @property
    def team_id(self) -> str:
        """The team's UUID (``GET /me`` once if not given)."""
        if not self._team_id:
            self._team_id = self.me()["team"]["id"]
        return self._team_id

    def team_path(self, suffix: str) -> str:
        """``/teams/{teamId}/<suffix>``."""
        return f"/teams/{self.team_id}/{suffix.lstrip('/')}"

    # core -------------------------------------------------------------------------------------

    def request(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        json: Any = None,
        idempotency_key: str | None = None,
        retries: int | None = None,
    ) -> Any:
        """Send one logical call and return the envelope's ``data``.

        ``path`` is relative to ``/api/v1`` (``/me``, ``/teams/…``). ``params`` with None values are
        dropped. Raises a :class:`CStarError` subclass for error responses,
        :class:`CStarConnectionError` when the server cannot be reached after the retries (at once for
        a TLS failure).
        """
        method = method.upper()
        headers: dict[str, str] = {}
        if method in _MUTATIONS:
            headers["Idempotency-Key"] = idempotency_key or f"cstar_{uuid.uuid4().hex}"
        clean = {k: v for k, v in (params or {}).items() if v is not None}
        retry_budget = self.max_retries if retries is None else retries
        started = time.monotonic()
        attempt = 0
        while True:
            attempt += 1
            attempt_started = time.monotonic()
            try:
                resp = self._http.request(method, path, params=clean or None, json=json, headers=headers)
            except (httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError) as e:
                # A server that accepts but never answers gets one more try, not the full budget:
                # the user would otherwise wait minutes before hearing anything.
                budget = min(retry_budget, 1) if isinstance(e, httpx.TimeoutException) else retry_budget
                if attempt <= budget and not is_tls_failure(e):
                    self._sleep(self._backoff(attempt))
                    continue
                raise connection_error(self.base_url, e, self._timeout) from None
            except httpx.HTTPError as e:
                raise connection_error(self.base_url, e, self._timeout) from None
            except httpx.InvalidURL as e:
                # Not an HTTPError: a path or query too long (over 64 KiB) or not encodable as a URL.
                raise CStarValidationError(
                    f"The request URL is invalid: {e}.",
                    code="invalid_request_url",
                    hint="Shorten the values given (IDs, search terms, filters).",
                ) from None
            try:
                return self._handle(resp, started, attempt, attempt_started)
            except CStarRateLimitError as e:
                if attempt <= retry_budget and e.retry_after <= self.max_retry_wait:
                    self._sleep(e.retry_after)
                    continue
                raise
            except CStarServerError:
                if attempt <= retry_budget:
                    self._sleep(self._backoff(attempt))
                    continue
                raise

    def _backoff(self, attempt: int) -> float:
        return backoff_delay(attempt, base=0.25, cap=8.0, low=0.5, high=1.0)

    def _handle(self, resp: httpx.Response, started: float, attempt: int, attempt_started: float) -> Any:
        try:
            body = resp.json()
        except ValueError:
            body = None
        now = time.monotonic()
        request_id = resp.headers.get("x-cstar-request-id")
        meta = body.get("meta") if isinstance(body, dict) else None
        meta = meta if isinstance(meta, dict) else {}
        self.last_meta = ResponseMeta(
            request_id=request_id or meta.get("requestId"),
            timestamp=meta.get("timestamp"),
            pagination=meta.get("pagination"),
            rate_limit=RateLimit.from_headers(resp.headers),
            status_code=resp.status_code,
            elapsed_ms=(now - started) * 1000,
            round_trip_ms=(now - attempt_started) * 1000,
            attempts=attempt,
            idempotent_replayed=resp.headers.get("idempotent-replayed", "").lower() == "true",
        )
        if resp.is_success and isinstance(body, dict) and body.get("success", True) is not False:
            return body.get("data")
        if not (isinstance(body, dict) and isinstance(body.get("error"), dict)) and resp.status_code != 429:
            # Not the cStar envelope: a proxy's 5xx page is worth retrying; anything else means the base
            # URL points at some other server.
            if resp.status_code >= 500:
                raise CStarServerError(
                    f"HTTP {resp.status_code} from {self.base_url} (not a cStar API response).",
                    status_code=resp.status_code,
                    hint="Try again; check --base-url / CSTAR_BASE_URL if it persists.",
                )
            raise CStarConnectionError(
                f"{self.base_url} did not answer like the cStar API (HTTP {resp.status_code}).",
                code="not_cstar_api",
                status_code=resp.status_code,
                hint="Check --base-url / CSTAR_BASE_URL: https://www.cstar.help, or a running `cstar emulator start`.",
            )
        retry_after: float | None = None
        if "retry-after" in resp.headers:
            try:
                retry_after = max(0.0, float(resp.headers["retry-after"]))
            except ValueError:
                retry_after = None
        raise error_from_response(resp.status_code, body, request_id=self.last_meta.request_id, retry_after=retry_after)

    # conveniences -----------------------------------------------------------------------------

    def get(self, path: str, **params: Any) -> Any:
        return self.request("GET", path, params=params)

    def post(self, path: str, body: Any = None, *, idempotency_key: str | None = None) -> Any:
        return self.request("POST", path, json=body if body is not None else {}, idempotency_key=idempotency_key)

    def patch(self, path: str, body: Any, *, idempotency_key: str | None = None) -> Any:
        return self.request("PATCH", path, json=body, idempotency_key=idempotency_key)

    def delete(self, path: str, *, idempotency_key: str | None = None) -> Any:
        return self.request("DELETE", path, idempotency_key=idempotency_key)

    def list(self, path: str, **params: Any) -> Page:
        """A list call: ``Page(data, pagination, has_more)``."""
        data = self.get(path, **params)
        pag = dict(self.last_meta.pagination or {})
        if "hasMore" in pag:
            more = bool(pag["hasMore"])
        else:
            more = int(pag.get("page") or 1) < int(pag.get("totalPages") or 0)
        return Page(list(data or []), pag, more)

    # the contract's endpoints -----------------------------------------------------------------

    def me(self) -> dict[str, Any]:
        """``GET /me`` → ``{"object": "api_key_context", "keyId", "keyType", "mode", "team": {"id",
        "name", "slug", "plan", "memberCount"}}`` (server contract, Key introspection)."""
        data = self.get("/me")
        if not isinstance(data, dict) or not isinstance(data.get("team"), dict):
            raise CStarError("Unexpected /me response.", code="bad_response")
        self._team_id = self._team_id or data["team"].get("id")
        return data

    def trigger(self, event: str) -> dict[str, Any]:
        """``POST /teams/{teamId}/webhooks/trigger-test`` → ``{"event", "eventId", "test",
        "deliveries": [{"target", "queued"}]}`` (reference, Webhooks → trigger-test)."""
        return self.post(self.team_path("webhooks/trigger-test"), {"event": event})

    def create_cli_session(self, events: list[str], device_name: str) -> dict[str, Any]:
        """``POST /teams/{teamId}/cli/sessions`` → ``{"id": "cls_…", "websocketUrl", "secret",
        "events", "expiresAt"}`` (server contract, Listening §1)."""
        return self.post(self.team_path("cli/sessions"), {"events": events, "deviceName": device_name})


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
