"""API keys and rate limits (reference: "Authentication", "Key types", "Rate limit headers"; server
contract: "API keys").

A key's prefix fixes its type and mode; :class:`KeyContext` carries both plus the team, and its
:attr:`~KeyContext.scope` is the only partition its requests can touch.
"""

from __future__ import annotations

import sqlite3
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from starlette.requests import Request

from cstar_cli.protocol.keys import redact
from cstar_emulator.db import Database, Scope
from cstar_emulator.envelope import ApiError
from cstar_emulator.ids import api_key, iso_now, new_id

if TYPE_CHECKING:
    from cstar_emulator.state import Emulator

__all__ = ["DEFAULT_LIMITS", "KeyContext", "Keys", "Lookup", "RateLimiter", "key_object", "request_context"]

#: Requests per hour by key type (reference: "Key types").
DEFAULT_LIMITS = {"secret": 1000, "publishable": 100}
WINDOW = 3600


@dataclass(frozen=True)
class KeyContext:
    """The key a request authenticated with: ``id`` (``key_…``), ``team_id``, ``type``
    (``secret``/``publishable``), ``mode`` (``test``/``live``)."""

    id: str
    team_id: str
    type: str
    mode: str

    @property
    def scope(self) -> Scope:
        return Scope(self.team_id, self.mode)

    @property
    def is_secret(self) -> bool:
        return self.type == "secret"


def request_context(request: Request) -> tuple[Emulator, KeyContext]:
    """The emulator and the authenticated key of an ``/api/v1`` request (set by the middleware)."""
    return request.app.state.emulator, request.state.key


def require_secret(key: KeyContext, what: str) -> None:
    """403 ``secret_key_required`` unless ``key`` is a secret key. ``what`` completes "… needs a
    secret key" (e.g. "Managing API keys")."""
    if not key.is_secret:
        raise ApiError(403, "secret_key_required", f"{what} needs a secret key (sk_test_… or sk_live_…).")


@dataclass(frozen=True)
class Lookup:
    """What an ``Authorization`` header resolved to: a usable ``key``, or an ``error`` (401). A revoked
    key comes back as both, so its requests are still logged against it."""

    key: KeyContext | None
    error: ApiError | None


def key_object(row: sqlite3.Row, *, with_secret: bool = False) -> dict[str, Any]:
    """The contract's API key object; the full ``key`` only when ``with_secret`` (at creation)."""
    obj: dict[str, Any] = {
        "id": row["id"],
        "name": row["name"],
        "type": row["type"],
        "mode": row["mode"],
        "redacted": redact(row["secret"]),
        "createdAt": row["created_at"],
        "lastUsedAt": row["last_used_at"],
        "revokedAt": row["revoked_at"],
    }
    if with_secret:
        obj["key"] = row["secret"]
    return obj


class Keys:
    """Key lookup, creation and revocation over the ``api_keys`` table."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def lookup(self, authorization: str | None) -> Lookup:
        """Resolve ``Authorization: Bearer <key>``. Errors: 401 ``invalid_api_key`` (missing, malformed
        or unknown) and 401 ``key_revoked``."""
        scheme, _, token = (authorization or "").strip().partition(" ")
        token = token.strip()
        if not authorization:
            return Lookup(
                None, _unauthorized("invalid_api_key", "No API key provided. Send Authorization: Bearer <key>.")
            )
        if scheme.lower() != "bearer" or not token:
            return Lookup(None, _unauthorized("invalid_api_key", "Authorization must be 'Bearer <key>'."))
        row = self.db.one("SELECT id, team_id, type, mode, revoked_at FROM api_keys WHERE secret = ?", token)
        if row is None:
            return Lookup(None, _unauthorized("invalid_api_key", f"Invalid API key provided: {redact(token)}."))
        key = KeyContext(row["id"], row["team_id"], row["type"], row["mode"])
        if row["revoked_at"]:
            return Lookup(key, _unauthorized("key_revoked", f"This API key was revoked at {row['revoked_at']}."))
        return Lookup(key, None)

    def touch(self, key_id: str, when: str) -> None:
        """Record ``when`` (ISO 8601) as the key's ``lastUsedAt``."""
        self.db.run("UPDATE api_keys SET last_used_at = ? WHERE id = ?", when, key_id)

    def list(self, team_id: str, page: int, page_size: int) -> tuple[list[dict[str, Any]], int]:
        """One page of the team's keys (both modes), newest first, and the total count."""
        total = self.db.scalar("SELECT COUNT(*) FROM api_keys WHERE team_id = ?", team_id)
        rows = self.db.all(
            "SELECT * FROM api_keys WHERE team_id = ? ORDER BY rowid DESC LIMIT ? OFFSET ?",
            team_id,
            page_size,
            (page - 1) * page_size,
        )
        return [key_object(r) for r in rows], total

    def create(self, team_id: str, name: str, key_type: str, mode: str) -> dict[str, Any]:
        """A new key; the returned object includes the full ``key``."""
        prefix = ("sk" if key_type == "secret" else "pk") + "_" + mode
        key_id = new_id("key_")
        self.db.run(
            "INSERT INTO api_keys (id, team_id, name, type, mode, secret, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
            key_id,
            team_id,
            name,
            key_type,
            mode,
            api_key(prefix),
            iso_now(),
        )
        row = self.db.one("SELECT * FROM api_keys WHERE id = ?", key_id)
        assert row is not None
        return key_object(row, with_secret=True)

    def revoke(self, team_id: str, key_id: str) -> bool:
        """Mark the key revoked (first revocation time kept). False when the team has no such key."""
        row = self.db.one("SELECT revoked_at FROM api_keys WHERE id = ? AND team_id = ?", key_id, team_id)
        if row is None:
            return False
        if not row["revoked_at"]:
            self.db.run("UPDATE api_keys SET revoked_at = ? WHERE id = ?", iso_now(), key_id)
        return True


def _unauthorized(code: str, message: str) -> ApiError:
    return ApiError(401, code, message)


class RateLimiter:
    """Fixed hourly windows per key (aligned to the clock hour). ``limit`` overrides the per-type
    defaults for every key; 0 means unlimited, and then no ``X-RateLimit-*`` headers are sent."""

    def __init__(self, limit: int | None = None) -> None:
        self.limit = limit
        self._counts: dict[str, tuple[int, int]] = {}

    def limit_for(self, key: KeyContext) -> int:
        """Requests per hour allowed for ``key`` (0: unlimited)."""
        return DEFAULT_LIMITS[key.type] if self.limit is None else self.limit

    def hit(self, key: KeyContext, now: float | None = None) -> dict[str, str]:
        """Count one request. Returns the ``X-RateLimit-*`` headers; raises 429 ``rate_limit_exceeded``
        (with those headers and ``Retry-After`` in seconds) once the window's budget is spent."""
        limit = self.limit_for(key)
        if limit <= 0:
            return {}
        now = time.time() if now is None else now
        window = int(now // WINDOW) * WINDOW
        start, count = self._counts.get(key.id, (window, 0))
        if start != window:
            count = 0
        count += 1
        self._counts[key.id] = (window, count)
        reset = window + WINDOW
        headers = {
            "X-RateLimit-Limit": str(limit),
            "X-RateLimit-Remaining": str(max(limit - count, 0)),
            "X-RateLimit-Reset": str(reset),
            "X-RateLimit-Window": str(WINDOW),
        }
        if count > limit:
            retry = max(int(reset - now), 1)
            raise ApiError(
                429,
                "rate_limit_exceeded",
                f"Rate limit of {limit} requests per hour exceeded; retry in {retry} s.",
                headers={**headers, "Retry-After": str(retry)},
            )
        return headers
