"""API key formats (reference: "Authentication", "Key types"): ``sk_test_``, ``sk_live_`` (secret),
``pk_test_``, ``pk_live_`` (publishable), then 24 or more base62 characters. The prefix sets the mode.

Also the one form a secret is ever shown in (:func:`redact`), and :func:`scrub_secrets`, which
redacts anything shaped like an API key or a ``whsec_`` signing secret wherever it sits in a text.
Pure functions; never raise.
"""

from __future__ import annotations

import re

__all__ = ["KEY_PATTERN", "SECRET_SHAPE", "is_api_key", "key_mode", "key_type", "redact", "scrub_secrets"]

#: A whole API key: group 1 ``sk``/``pk``, group 2 ``test``/``live``.
KEY_PATTERN = re.compile(r"^(sk|pk)_(test|live)_[A-Za-z0-9]{24,}$")
_SHOWN_PREFIX = re.compile(r"^((?:sk|pk|whsec)_(?:(?:test|live)_)?)")

#: Text shaped like a key or a signing secret, anywhere: no word boundary is required on either side,
#: so a key glued to other text, after an escape (``\\nsk_…`` in a repr or JSON) or inside a longer
#: token is still found. Group 1 is the prefix, group 2 the body.
SECRET_SHAPE = re.compile(r"([sp]k_(?:test|live)_|whsec_)([A-Za-z0-9]+)")
# A body this long may be a whole secret, whose last four characters are the part that may be shown;
# a shorter one may be the head of a secret cut short elsewhere, and its end is no tail to show.
_WHOLE_BODY = 24


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


def _redact_match(m: re.Match[str]) -> str:
    body = m.group(2)
    return f"{m.group(1)}…{body[-4:] if len(body) >= _WHOLE_BODY else ''}"


def scrub_secrets(text: str) -> str:
    """``text`` with everything shaped like an API key (``sk_``/``pk_``, ``test``/``live``) or a
    ``whsec_`` signing secret replaced by its redacted form (``sk_test_…a1b2``; a body shorter than a
    whole key shows no tail). Idempotent: a redacted form is left as it is."""
    # Every match holds one of these; looking for them first is ~10x faster on text without any.
    if "_test_" not in text and "_live_" not in text and "whsec_" not in text:
        return text
    return SECRET_SHAPE.sub(_redact_match, text)


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
