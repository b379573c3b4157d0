"""What every ``/api/v1`` request goes through, in order (reference: "Authentication", "Rate limit
headers", "Request IDs"; server contract: "Conventions"):

1. a fresh ``req_…`` id, sent back as ``x-cstar-request-id`` (and ``meta.requestId`` by handlers);
   a trailing slash is dropped from the path, so ``/tickets/`` is ``/tickets``;
2. a ``Content-Length`` over 1 MiB is refused (413 ``payload_too_large``), as is a body that grows
   past it while it is received (chunked);
3. an armed ``/_emulator/fail-next`` fault, if one matches;
4. the bearer key (401 ``invalid_api_key`` / ``key_revoked``);
5. the hourly rate limit (``X-RateLimit-*`` headers; 429 with ``Retry-After``);
6. publishable keys may only read (403), and only their own team (403);
7. query parameters of bounded length (400 ``INVALID_FIELD``);
8. ``Idempotency-Key`` on writes: replay the stored first response, or 409 for a different body;
   a write endpoint stores its response in its own transaction (:func:`~cstar_emulator.idempotency.atomic`),
   anything else answered is stored here;
9. the route itself; any unexpected exception becomes a 500 envelope; a client that leaves before
   its body arrived gets no answer (logged as 499);
10. a request-log entry (except for the log stream's own request).

Other HTTP requests (``/_emulator`` controls) get the body limit and the quiet disconnect only.
"""

from __future__ import annotations

import logging
import re
import time
from typing import Any

from starlette.datastructures import Headers, QueryParams
from starlette.requests import ClientDisconnect
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from cstar_emulator import db as dbmod
from cstar_emulator import validate as v
from cstar_emulator.envelope import ApiError
from cstar_emulator.idempotency import PENDING, Pending
from cstar_emulator.ids import iso, request_id
from cstar_emulator.repositories.idempotency import Stored
from cstar_emulator.services.auth import KeyContext, Lookup
from cstar_emulator.state import Emulator

__all__ = ["API_PREFIX", "ApiMiddleware"]

API_PREFIX = "/api/v1"
WRITE_METHODS = frozenset({"POST", "PATCH", "PUT", "DELETE"})
_TEAM_PATH = re.compile(r"^/api/v1/teams/([^/]+)")
_STREAM_PATH = re.compile(r"^/api/v1/teams/[^/]+/logs/stream/?$")

log = logging.getLogger("cstar.emulator")
request_log = logging.getLogger("cstar.emulator.requests")


class ApiMiddleware:
    """Pure ASGI middleware implementing the pipeline above for HTTP requests under ``/api/v1``."""

    def __init__(self, app: ASGIApp, emulator: Emulator) -> None:
        self.app = app
        self.emulator = emulator

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope.get("path", "")
        limited = _BodyLimit(receive)
        if not (path == API_PREFIX or path.startswith(API_PREFIX + "/")):
            await self._other(scope, limited, send)
            return
        if path.endswith("/") and path != API_PREFIX + "/":
            # Starlette would answer a (non-JSON) redirect; the same route is served instead.
            path = path.rstrip("/")
            scope = {**scope, "path": path}
            if isinstance(scope.get("raw_path"), bytes):
                scope["raw_path"] = scope["raw_path"].rstrip(b"/")
        started = time.perf_counter()
        created = time.time()
        rid = request_id()
        state: dict[str, Any] = scope.setdefault("state", {})
        state["request_id"] = rid
        headers = Headers(scope=scope)
        method = scope["method"]
        lookup = self.emulator.auth.lookup(headers.get("authorization"))
        extra = {"x-cstar-request-id": rid}
        status = 499  # stays so only if the client left before any answer

        async def send_with_headers(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                raw = list(message.get("headers", []))
                raw += [(k.lower().encode("latin-1"), val.encode("latin-1")) for k, val in extra.items()]
                message = {**message, "headers": raw}
            await send(message)

        try:
            try:
                if _declared_length(headers) > v.MAX_BODY_BYTES:
                    raise v.payload_too_large()
                key = self._admit(method, path, lookup, extra)
                state["key"] = key
                v.query_limits(QueryParams(scope.get("query_string", b"")).multi_items())
                idempotency_key = headers.get("idempotency-key")
                if idempotency_key is not None and method in WRITE_METHODS:
                    await self._idempotent(scope, limited, send_with_headers, key, idempotency_key.strip(), extra)
                else:
                    await self.app(scope, limited, send_with_headers)
            except ApiError as err:
                state["error_code"] = err.code
                await err.response(rid)(scope, receive, send_with_headers)
        except ClientDisconnect:
            pass  # nobody to answer; the request log records the 499
        except Exception:
            log.exception("Unexpected error answering %s %s", method, path)
            if status == 499:
                failure = ApiError(500, "internal_error", "The emulator hit an unexpected error; see its log.")
                state["error_code"] = failure.code
                await failure.response(rid)(scope, receive, send_with_headers)
        finally:
            if not _STREAM_PATH.match(path):
                self._record(scope, headers, lookup, state, status, started, created)

    async def _other(self, scope: Scope, receive: _BodyLimit, send: Send) -> None:
        """A request outside ``/api/v1``: only the body limit and the quiet disconnect apply."""
        try:
            if _declared_length(Headers(scope=scope)) > v.MAX_BODY_BYTES:
                await v.payload_too_large().response(request_id())(scope, receive, send)
                return
            await self.app(scope, receive, send)
        except ClientDisconnect:
            request_log.info("%s %s → 499 (the client left before its body arrived)", scope["method"], scope["path"])

    def _admit(self, method: str, path: str, lookup: Lookup, extra: dict[str, str]) -> KeyContext:
        emulator = self.emulator
        fault = emulator.faults.take(method, path)
        if fault is not None:
            raise fault
        if lookup.error is not None:
            raise lookup.error
        key = lookup.key
        assert key is not None
        # A 429 carries its own X-RateLimit-* and Retry-After headers.
        extra.update(emulator.limiter.hit(key))
        if method in WRITE_METHODS and not key.is_secret:
            raise ApiError(
                403,
                "publishable_key_read_only",
                "Publishable keys are read-only; use a secret key (sk_test_… or sk_live_…) for writes.",
            )
        m = _TEAM_PATH.match(path)
        if m and m.group(1) != key.team_id:
            raise ApiError(403, "team_access_denied", "This API key does not belong to that team.")
        return key

    async def _idempotent(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        key: KeyContext,
        idempotency_key: str,
        extra: dict[str, str],
    ) -> None:
        if not idempotency_key or len(idempotency_key) > 255:
            raise ApiError.invalid("Idempotency-Key", "Idempotency-Key must be 1–255 characters.")
        store = self.emulator.idempotency
        state = scope["state"]
        body = await _read_body(receive)
        fp = store.fingerprint(scope["method"], scope["path"], body)
        stored = store.get(key.scope, idempotency_key)
        if stored is not None:
            if stored.fingerprint != fp:
                raise ApiError(
                    409,
                    "idempotency_key_reused",
                    "This Idempotency-Key was already used with a different request; use a new key.",
                )
            extra["Idempotent-Replayed"] = "true"
            extra["Original-Request"] = stored.request_id
            if stored.error_code:
                state["error_code"] = stored.error_code
            await Response(stored.body, status_code=stored.status, media_type=stored.content_type)(scope, receive, send)
            return
        if not store.begin(key.scope, idempotency_key):
            raise ApiError(
                409, "idempotency_key_in_use", "A request with this Idempotency-Key is still being processed."
            )
        status = 0
        content_type: str | None = None
        chunks: list[bytes] = []
        delivered = False
        pending = state[PENDING] = Pending(key.scope, idempotency_key, fp)

        async def replay_body() -> Message:
            nonlocal delivered
            if not delivered:
                delivered = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        async def capture(message: Message) -> None:
            nonlocal status, content_type
            if message["type"] == "http.response.start":
                status = message["status"]
                content_type = Headers(raw=message.get("headers", [])).get("content-type")
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))
            await send(message)

        try:
            await self.app(scope, replay_body, capture)
        finally:
            store.end(key.scope, idempotency_key)
        # Server errors are not stored, so a retry with the same key can still succeed. Answers that
        # change nothing (errors, reads) are stored now; a write stored its own before answering.
        if 0 < status < 500 and not pending.saved:
            stored = Stored(fp, status, b"".join(chunks), content_type, state["request_id"], state.get("error_code"))
            store.save(key.scope, idempotency_key, stored)

    def _record(
        self,
        scope: Scope,
        headers: Headers,
        lookup: Lookup,
        state: dict[str, Any],
        status: int,
        started: float,
        created: float,
    ) -> None:
        emulator = self.emulator
        key: KeyContext | None = state.get("key") or lookup.key
        path = scope["path"]
        if key is not None:
            log_scope: dbmod.Scope | None = key.scope
        else:
            # Filed under the team in the path, so `cstar logs --status 401` shows failed attempts.
            m = _TEAM_PATH.match(path)
            token = (headers.get("authorization") or "").partition(" ")[2].strip()
            log_scope = emulator.logs.scope_without_key(m.group(1) if m else None, token)
        client = scope.get("client")
        entry = {
            "id": state["request_id"],
            "method": scope["method"],
            "path": path,
            "status": status,
            "durationMs": round((time.perf_counter() - started) * 1000, 1),
            "createdAt": iso(created),
            "keyId": key.id if key else None,
            "ip": client[0] if client else None,
            "userAgent": headers.get("user-agent"),
            "errorCode": state.get("error_code") if status >= 400 else None,
        }
        try:
            with emulator.db.transaction():
                emulator.logs.record(log_scope, entry, created)
                if key is not None and lookup.error is None:
                    emulator.auth.touch(key.id, entry["createdAt"])
        except Exception:
            log.exception("Could not record request %s", entry["id"])
        request_log.info(
            "%s %s → %d %.1f ms %s%s",
            entry["method"],
            path,
            status,
            entry["durationMs"],
            entry["id"],
            f" ({entry['errorCode']})" if entry["errorCode"] else "",
        )


class _BodyLimit:
    """``receive``, counting the request body: past :data:`~cstar_emulator.validate.MAX_BODY_BYTES`
    it raises 413 ``payload_too_large``, whoever reads it (this middleware or a handler). A hand-made
    wrapper rather than Starlette's ``max_body_size``, which sits inside this middleware and so would
    not bound the idempotency step's read, and answers in plain text."""

    def __init__(self, receive: Receive) -> None:
        self._receive = receive
        self.received = 0

    async def __call__(self) -> Message:
        message = await self._receive()
        if message["type"] == "http.request":
            self.received += len(message.get("body", b""))
            if self.received > v.MAX_BODY_BYTES:
                raise v.payload_too_large()
        return message


def _declared_length(headers: Headers) -> int:
    """The request's ``Content-Length`` (0 when absent; the HTTP server rejects malformed ones)."""
    try:
        return int(headers.get("content-length") or 0)
    except ValueError:
        return 0


async def _read_body(receive: Receive) -> bytes:
    """The whole request body. Raises ClientDisconnect when the client leaves before it is complete:
    a truncated body must not be taken for the request."""
    chunks = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientDisconnect()
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(chunks)
