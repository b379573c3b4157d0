"""Stored first responses for ``Idempotency-Key`` (reference: Code of cStar 04; server contract:
"Conventions").

Keys are scoped to the team and mode. A request matches a stored one when method, path and body are
the same; JSON bodies are compared after canonicalising (key order and whitespace do not matter).
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass

from cstar_cli.emulator.db import Database, Scope

__all__ = ["WINDOW", "IdempotencyStore", "Stored"]

#: Seconds a stored response is replayed for.
WINDOW = 24 * 3600


@dataclass(frozen=True)
class Stored:
    """A stored first response: request ``fingerprint``, ``status``, raw ``body``, ``content_type``,
    the first request's ``request_id`` and its ``error_code`` (for the log of a replay)."""

    fingerprint: str
    status: int
    body: bytes
    content_type: str | None
    request_id: str
    error_code: str | None


def fingerprint(method: str, path: str, body: bytes) -> str:
    """A digest of what makes two requests "the same" for idempotency."""
    try:
        canonical = json.dumps(json.loads(body), sort_keys=True, separators=(",", ":")).encode()
    except ValueError:
        canonical = body
    return hashlib.sha256(method.encode() + b" " + path.encode() + b"\n" + canonical).hexdigest()


class IdempotencyStore:
    """The ``idempotency`` table plus the keys whose first request is still running."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self._running: set[tuple[Scope, str]] = set()

    fingerprint = staticmethod(fingerprint)

    def get(self, scope: Scope, key: str, now: float | None = None) -> Stored | None:
        """The response stored for ``key`` within the last :data:`WINDOW` seconds, or None."""
        since = (time.time() if now is None else now) - WINDOW
        row = self.db.one(
            "SELECT fingerprint, status, body, content_type, request_id, error_code FROM idempotency "
            "WHERE team_id = ? AND mode = ? AND key = ? AND created > ?",
            *scope,
            key,
            since,
        )
        if row is None:
            return None
        return Stored(
            row["fingerprint"],
            row["status"],
            bytes(row["body"]),
            row["content_type"],
            row["request_id"],
            row["error_code"],
        )

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
        self.db.run(
            "INSERT OR REPLACE INTO idempotency (team_id, mode, key, fingerprint, status, body, content_type, "
            "request_id, error_code, created) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            *scope,
            key,
            stored.fingerprint,
            stored.status,
            stored.body,
            stored.content_type,
            stored.request_id,
            stored.error_code,
            time.time(),
        )

    def prune(self, now: float | None = None) -> None:
        """Drop records older than :data:`WINDOW`."""
        self.db.run("DELETE FROM idempotency WHERE created < ?", (time.time() if now is None else now) - WINDOW)
