"""Identifiers and timestamps in the reference's formats."""

from __future__ import annotations

import secrets
import string
import time
from datetime import datetime, timezone

__all__ = ["BASE62", "api_key", "iso", "iso_now", "new_id", "request_id"]

BASE62 = string.digits + string.ascii_letters


def new_id(prefix: str, hex_chars: int = 24) -> str:
    """``prefix`` followed by ``hex_chars`` random lowercase hex digits (``tkt_3f9a…``)."""
    return prefix + secrets.token_hex((hex_chars + 1) // 2)[:hex_chars]


def request_id() -> str:
    """A fresh ``req_…`` request ID (24 hex digits)."""
    return new_id("req_")


def api_key(kind: str) -> str:
    """A new API key: ``kind`` (``sk_test``, ``sk_live``, ``pk_test``, ``pk_live``) + ``_`` + 32 base62."""
    return f"{kind}_" + "".join(secrets.choice(BASE62) for _ in range(32))


def iso(ts: float) -> str:
    """Unix seconds → ISO 8601 UTC with milliseconds (``2026-04-27T18:42:11.000Z``)."""
    return datetime.fromtimestamp(ts, timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def iso_now() -> str:
    """Now as :func:`iso` text."""
    return iso(time.time())
