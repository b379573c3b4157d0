"""API key formats (reference: "Authentication", "Key types"): ``sk_test_``, ``sk_live_`` (secret),
``pk_test_``, ``pk_live_`` (publishable), then 24 or more base62 characters. The prefix sets the mode.

Also the one form a secret is ever shown in (:func:`redact`), and :func:`scrub_secrets`, which
redacts anything shaped like an API key or a ``whsec_`` signing secret wherever it sits in a text.
Pure functions; never raise.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Collection

__all__ = ["KEY_PATTERN", "SECRET_SHAPE", "is_api_key", "key_mode", "key_type", "redact", "scrub_secrets"]

#: A whole API key: group 1 ``sk``/``pk``, group 2 ``test``/``live``.
KEY_PATTERN = re.compile(r"^(sk|pk)_(test|live)_[A-Za-z0-9]{24,}$")
_SHOWN_PREFIX = re.compile(r"^((?:sk|pk|whsec)_(?:(?:test|live)_)?)")

#: Text shaped like a key or a signing secret, anywhere: no word boundary is required on either side,
#: so a key glued to other text, after an escape (``\\nsk_…`` in a repr or JSON) or inside a longer
#: token is still found. Group 1 is the prefix, group 2 the body. The canonical, lower-case shape;
#: :func:`scrub_secrets` also finds other letter cases and ``%XX``-encoded characters.
SECRET_SHAPE = re.compile(r"([sp]k_(?:test|live)_|whsec_)([A-Za-z0-9]+)")
# A body this long may be a whole secret, whose last four characters are the part that may be shown;
# a shorter one may be the head of a secret cut short elsewhere, and its end is no tail to show.
_WHOLE_BODY = 24


def _either(ch: str) -> str:
    # One character of a prefix, as itself or %XX-encoded (either letter case: the patterns are
    # case-insensitive, which also covers the hex digits).
    codes = sorted({f"{ord(ch.lower()):02x}", f"{ord(ch.upper()):02x}"})
    return "(?:" + re.escape(ch) + "".join(f"|%{c}" for c in codes) + ")"


def _word(word: str) -> str:
    return "".join(_either(ch) for ch in word)


# A body character, as itself or %XX-encoded: 0-9 (30-39), A-Z (41-5a), a-z (61-7a).
_BODY_CHAR = r"(?:[A-Za-z0-9]|%(?:3[0-9]|[46][1-9a-f]|[57][0-9a]))"
# What may split a secret in two when it is wrapped, quoted or pasted: up to three characters that
# are not body characters (space, newline, an escape's backslash, %20), never "…", which ends a
# redacted form, so that scrubbing stays idempotent.
_SEPARATOR = r"(?:[^A-Za-z0-9%…]|%[0-2][0-9a-f]){1,3}"
_PREFIX = (
    f"(?:{_either('s')}|{_either('p')}){_word('k_')}(?:{_word('test')}|{_word('live')}){_word('_')}|{_word('whsec_')}"
)


@functools.cache
def _shapes() -> tuple[re.Pattern[str], re.Pattern[str], re.Pattern[str], re.Pattern[str]]:
    # Compiled on first use (milliseconds: case-insensitive classes), as most runs never scrub: a
    # secret, a piece of one, an escaped letter/digit/underscore, an escaped prefix character.
    return (
        re.compile(r"([sp]k_(?:test|live)_|whsec_)([A-Za-z0-9]*)", re.IGNORECASE),
        re.compile(f"{_SEPARATOR}([A-Za-z0-9]+)", re.IGNORECASE),
        re.compile(r"%(?:3[0-9]|[46][1-9a-f]|[57][0-9a]|5f)", re.IGNORECASE),
        # An escaped character of a prefix: c e h i k l p s t v w (either case) or _.
        re.compile(r"%(?:[46][3589bc]|[57][03467]|5f)", re.IGNORECASE),
    )


@functools.cache
def _encoded() -> tuple[re.Pattern[str], re.Pattern[str]]:
    # With %XX escapes allowed: slow (every character is an alternation), so used only on a text
    # holding an escaped letter, digit or underscore.
    return re.compile(f"({_PREFIX})({_BODY_CHAR}*)", re.IGNORECASE), re.compile(
        f"{_SEPARATOR}({_BODY_CHAR}+)", re.IGNORECASE
    )


# A secret split this many times (a wrapped line, a pasted space) is still one secret.
_MAX_PIECES = 3


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


def _decoded(text: str) -> str:
    if "%" not in text:
        return text
    from urllib.parse import unquote

    return unquote(text)


def scrub_secrets(text: str, keep: Collection[str] = ()) -> str:
    """``text`` with everything shaped like an API key (``sk_``/``pk_``, ``test``/``live``) or a
    ``whsec_`` signing secret replaced by its redacted form (``sk_test_…a1b2``; a body shorter than a
    whole key shows no tail). Idempotent: a redacted form is left as it is.

    Found in any letter case (``SK_TEST_…``), with any of its characters ``%XX``-encoded (the encoded
    text is replaced where it stands, by the decoded redacted form), and split: a prefix followed by a
    body too short to be whole, a separator of up to three characters (space, newline, ``\\``, ``%20``)
    and more body characters, up to three pieces, is one secret when the pieces make a whole body.
    ``keep`` holds secrets (as they appear in ``text``) this text is meant to show, left whole."""
    # Every match holds one of these markers once decoded; looking for them first keeps text without
    # secrets at the cost of a lower() and a few substring searches (and an unquote() when it holds
    # an escaped character of a prefix, which text without secrets rarely does).
    percent = "%" in text
    plain, plain_piece, escaped_word_char, escaped_prefix_char = _shapes()
    low = (_decoded(text) if percent and escaped_prefix_char.search(text) else text).lower()
    if "_test_" not in low and "_live_" not in low and "whsec_" not in low:
        return text
    escaped = percent and escaped_word_char.search(text) is not None
    found, piece = _encoded() if escaped else (plain, plain_piece)
    out: list[str] = []
    done = 0
    for m in found.finditer(text):
        if m.start() < done:  # inside the pieces of the previous secret
            continue
        end, body = m.end(), _decoded(m.group(2))
        if len(body) < _WHOLE_BODY:
            rest, at = body, end
            for _ in range(_MAX_PIECES - 1):
                more = piece.match(text, at)
                if more is None:
                    break
                rest, at = rest + _decoded(more.group(1)), more.end()
                if len(rest) >= _WHOLE_BODY:
                    end, body = at, rest
                    break
        if not body or text[m.start() : end] in keep:
            continue
        tail = body[-4:] if len(body) >= _WHOLE_BODY else ""
        out.append(text[done : m.start()])
        out.append(f"{_decoded(m.group(1))}…{tail}")
        done = end
    if not out:
        return text
    out.append(text[done:])
    return "".join(out)


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
