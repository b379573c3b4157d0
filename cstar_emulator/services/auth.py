"""API keys as credentials, and rate limits (reference: "Authentication", "Key types", "Rate limit
headers"; server contract: "API keys").

A key's prefix fixes its type and mode; :class:`KeyContext` carries both plus the team, and its
:attr:`~KeyContext.scope` is the only partition its requests can touch.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from cstar_cli.protocol.keys import redact
from cstar_emulator.db import Scope
from cstar_emulator.envelope import ApiError
from cstar_emulator.repositories.keys import ApiKeys

__all__ = ["DEFAULT_LIMITS", "Authenticator", "KeyContext", "Lookup", "RateLimiter", "require_secret"]

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


class Authenticator:
    """Resolves bearer keys and records their use."""

    def __init__(self, keys: ApiKeys) -> None:
        self.keys = keys

    def lookup(self, authorization: str | None) -> Lookup:
        """Resolve ``Authorization: Bearer <key>``. Errors: 401 ``invalid_api_key`` (missing, malformed
        or unknown) and 401 ``key_revoked``."""
        scheme, _, token = (authorization or "").strip().partition(" ")
        token = token.strip()
        if not authorization:
            return Lookup(
                None, ApiError(401, "invalid_api_key", "No API key provided. Send Authorization: Bearer <key>.")
            )
        if scheme.lower() != "bearer" or not token:
            return Lookup(None, ApiError(401, "invalid_api_key", "Authorization must be 'Bearer <key>'."))
        row = self.keys.by_secret(token)
        if row is None:
            return Lookup(None, ApiError(401, "invalid_api_key", f"Invalid API key provided: {redact(token)}."))
        key = KeyContext(row["id"], row["team_id"], row["type"], row["mode"])
        if row["revoked_at"]:
            return Lookup(key, ApiError(401, "key_revoked", f"This API key was revoked at {row['revoked_at']}."))
        return Lookup(key, None)

    def touch(self, key_id: str, when: str) -> None:
        """Record ``when`` (ISO 8601) as the key's ``lastUsedAt``."""
        self.keys.touch(key_id, when)


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
