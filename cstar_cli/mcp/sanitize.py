"""Make text written by outsiders safe to hand to a model: no control codes, no invisible characters.

Tickets, customers, messages and articles are written by people outside the team (customers, anyone
who can reach the widget or an inbound email address). Their text goes into an AI agent's context,
where an invisible character can hide an instruction (zero-width and Unicode "tag" characters),
reorder what a reader sees (bidi overrides such as U+202E), or drive a terminal (ANSI escapes).
Every string a tool returns passes through :func:`clean`.

Removed: ANSI escape sequences (whole), C0/C1 control characters except ``\\n`` and ``\\t``
(Unicode category Cc), format characters (category Cf: U+00AD, U+200B–U+200F, U+202A–U+202E,
U+2060–U+2064, U+2066–U+2069, U+FEFF, the tag block U+E0000–U+E007F, …) and lone surrogates (Cs,
which a JSON body can carry but UTF-8 cannot). U+2028/U+2029 become ``\\n``.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from typing import Any

__all__ = ["ELLIPSIS", "clean", "clean_text", "trim"]

ELLIPSIS = "…"

# CSI (ESC [ … final byte), OSC (ESC ] … BEL or ESC \) and two-character escapes (ESC + one byte).
_ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?|\x1b[@-Z\\-_]|\x9b[0-?]*[ -/]*[@-~]")
_ASCII_CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
_DROPPED_CATEGORIES = frozenset({"Cc", "Cf", "Cs"})
_LINE_SEPARATORS = {"\u2028": "\n", "\u2029": "\n"}


def clean_text(text: str) -> str:
    """``text`` without escape sequences, control characters (but ``\\n``/``\\t``) and invisible format
    characters. Pure; ASCII-only input takes a fast path."""
    if "\x1b" in text or "\x9b" in text:
        text = _ANSI.sub("", text)
    if text.isascii():
        return _ASCII_CONTROLS.sub("", text)
    out = []
    for ch in text:
        if ch < "\x80":
            if " " <= ch < "\x7f" or ch in "\n\t":
                out.append(ch)
        elif ch in _LINE_SEPARATORS:
            out.append("\n")
        elif unicodedata.category(ch) not in _DROPPED_CATEGORIES:
            out.append(ch)
    return "".join(out)


def clean(value: Any, scrub: Callable[[str], str] | None = None) -> Any:
    """A copy of a JSON-like ``value`` (dicts, lists, scalars) with :func:`clean_text` applied to every
    string, keys included; ``scrub`` (e.g. a secret redactor) runs on each string afterwards."""
    if isinstance(value, str):
        text = clean_text(value)
        return scrub(text) if scrub else text
    if isinstance(value, dict):
        return {clean(k, scrub): clean(v, scrub) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [clean(v, scrub) for v in value]
    return value


def trim(text: str | None, limit: int) -> tuple[str | None, bool]:
    """``(text, trimmed)``: ``text`` cut to at most ``limit`` characters, the cut marked with ``…``.

    Trailing whitespace before the cut is dropped, so the ellipsis follows a word or punctuation.
    None stays None.
    """
    if text is None or len(text) <= limit:
        return text, False
    return text[: max(0, limit - 1)].rstrip() + ELLIPSIS, True
