"""Stored first responses for ``Idempotency-Key`` (reference: Code of cStar 04; server contract:
"Conventions").

Keys are scoped to the team and mode. A request matches a stored one when method, path and body are
the same; JSON bodies are compared after canonicalising (key order and whitespace do not matter).

A write's record is part of the write: :func:`atomic` commits the endpoint's rows, the events they
fire and the stored response in one transaction, before the response is sent. So after a crash
either all of them exist (a retry with the key replays the answer) or none does (a retry does the
write once).
"""

from __future__ import annotations

import functools
import hashlib
import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import Response

from cstar_emulator.db import Scope
from cstar_emulator.envelope import ApiError
from cstar_emulator.repositories.idempotency import IdempotencyRecords, Stored
from cstar_emulator.validate import parse_json

__all__ = ["PENDING", "WINDOW", "IdempotencyStore", "Pending", "atomic", "fingerprint"]

#: Where the middleware leaves the :class:`Pending` record of a request with an ``Idempotency-Key``
#: (a key of the ASGI scope's ``state``, i.e. ``request.state``).
PENDING = "idempotency"

#: Seconds a stored response is replayed for.
WINDOW = 24 * 3600


@dataclass
class Pending:
    """The ``Idempotency-Key`` of a request being answered: its partition ``scope``, the ``key``, the
    request's ``fingerprint``, and whether its response was ``saved`` already."""

    scope: Scope
    key: str
    fingerprint: str
    saved: bool = False


def fingerprint(method: str, path: str, body: bytes) -> str:
    """A digest of what makes two requests "the same" for idempotency."""
    try:
        canonical = json.dumps(parse_json(body), sort_keys=True, separators=(",", ":")).encode()
    except (ApiError, ValueError):  # not JSON (form, bytes) or JSON the endpoint will refuse
        canonical = body
    return hashlib.sha256(method.encode() + b" " + path.encode() + b"\n" + canonical).hexdigest()


class IdempotencyStore:
    """Stored first responses (:class:`~cstar_emulator.repositories.idempotency.IdempotencyRecords`)
    plus the keys whose first request is still running."""

    def __init__(self, records: IdempotencyRecords) -> None:
        self.records = records
        self._running: set[tuple[Scope, str]] = set()

    fingerprint = staticmethod(fingerprint)

    def get(self, scope: Scope, key: str, now: float | None = None) -> Stored | None:
        """The response stored for ``key`` within the last :data:`WINDOW` seconds, or None."""
        return self.records.get(scope, key, (time.time() if now is None else now) - WINDOW)

    def begin(self, scope: Scope, key: str) -> bool:
        """Mark ``key`` as running; False when a request with it is already running."""
        if (scope, key) in self._running:
            return False
        self._running.add((scope, key))
        return True

    def end(self, scope: Scope, key: str) -> None:
        """Clear the running mark set by :meth:`begin`."""
        self._running.discard((scope, key))

    def save(self, scope: Scope, key: str, stored: Stored) -> None:
        """Store the first response for ``key`` (replacing an expired one)."""
        self.records.put(scope, key, stored, time.time())

    def prune(self, now: float | None = None) -> None:
        """Drop records older than :data:`WINDOW`."""
        self.records.delete_before((time.time() if now is None else now) - WINDOW)


Endpoint = Callable[[Request], Awaitable[Response]]


def atomic(endpoint: Endpoint) -> Endpoint:
    """``endpoint`` (a write) run in one database transaction together with the events it fires and,
    when the request has an ``Idempotency-Key``, the record of its response; committed before the
    response goes out, rolled back (nothing written, nothing fired) if it raises.

    The body is read first, because reading may wait on the client and a transaction must not span
    an await. The endpoint itself must then finish without suspending; RuntimeError if it does.
    """

    @functools.wraps(endpoint)
    async def wrapped(request: Request) -> Response:
        await request.body()
        emulator = request.app.state.emulator
        with emulator.db.transaction():
            response = _run_to_completion(endpoint(request))
            pending: Pending | None = getattr(request.state, PENDING, None)
            if pending is not None and response.status_code < 500:
                stored = Stored(
                    pending.fingerprint,
                    response.status_code,
                    bytes(response.body),
                    response.headers.get("content-type"),
                    request.state.request_id,
                    None,
                )
                emulator.idempotency.save(pending.scope, pending.key, stored)
                pending.saved = True
        return response

    return wrapped


def _run_to_completion(coro: Awaitable[Response]) -> Response:
    """The result of a coroutine that must not suspend (its body is already read)."""
    step = coro.__await__()
    try:
        step.send(None)
    except StopIteration as done:
        return done.value  # type: ignore[no-any-return]
    step.close()
    raise RuntimeError("a write endpoint awaited inside its transaction")
