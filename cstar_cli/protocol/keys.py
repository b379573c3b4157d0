"""API key formats (reference: "Authentication", "Key types"): ``sk_test_``, ``sk_live_`` (secret),
``pk_test_``, ``pk_live_`` (publishable), then 24 or more base62 characters. The prefix sets the mode.

Also the one form a secret is ever shown in (:func:`redact`). Pure functions; never raise.
"""

from __future__ import annotations

import re

__all__ = ["KEY_PATTERN", "is_api_key", "key_mode", "key_type", "redact"]

#: A whole API key: group 1 ``sk``/``pk``, group 2 ``test``/``live``.
KEY_PATTERN = re.compile(r"^(sk|pk)_(test|live)_[A-Za-z0-9]{24,}$")
_SHOWN_PREFIX = re.compile(r"^((?:sk|pk|whsec)_(?:(?:test|live)_)?)")


def is_api_key(key: str) -> bool:
    """Whether ``key`` has the shape of a cStar API key."""
    return KEY_PATTERN.match(key) is not None


def redact(key: str | None) -> str:
    """``sk_test_…a1b2``: the prefix and last four characters; the only form a key is ever shown in."""
    if not key:
        return "-"
    m = _SHOWN_PREFIX.match(key)
    prefix = m.group(1) if m else ""
    tail = key[-4:] if len(key) >= len(prefix) + 8 else ""
    return f"{prefix}…{tail}"


def key_mode(key: str) -> str | None:
    """``"test"`` or ``"live"`` from the key's prefix, or None for an unrecognised key."""
    m = KEY_PATTERN.match(key)
    return m.group(2) if m else None


def key_type(key: str) -> str | None:
    """``"secret"`` or ``"publishable"`` from the key's prefix, or None."""
    m = KEY_PATTERN.match(key)
    if not m:
        return None
    return "secret" if m.group(1) == "sk" else "publishable"
