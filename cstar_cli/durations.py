"""Durations on the command line: ``30s``, ``5m``, ``1h30m``, ``250ms`` or a bare number of seconds.

Used by ``cstar listen --retry-for`` / ``--max-wait`` and ``cstar replay --pace``. Parsing is strict:
anything else (``5 minutes``, ``-1s``, ``1e3s``, ``inf``, ``1m1h``, a unit twice) is refused with a
:class:`~cstar_cli.errors.CStarUsageError` (exit 2), never guessed at.
"""

from __future__ import annotations

import math
import re

from cstar_cli.errors import CStarUsageError

__all__ = ["MAX_DURATION", "parse_duration"]

#: The longest duration accepted (s): one week.
MAX_DURATION = 7 * 24 * 3600.0

_UNITS = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001}
# Units in decreasing order, each at most once, each with a plain decimal number (no sign, no exponent).
_DURATION = re.compile(r"(?:(\d+(?:\.\d+)?)h)?(?:(\d+(?:\.\d+)?)m(?!s))?(?:(\d+(?:\.\d+)?)s)?(?:(\d+(?:\.\d+)?)ms)?")
_SECONDS = re.compile(r"\d+(?:\.\d+)?")


def parse_duration(text: str, flag: str, *, allow_zero: bool = False) -> float:
    """``text`` (``30s``, ``5m``, ``1h``, ``1h30m``, ``250ms``, ``90`` = 90 s) → seconds (float).

    Raises :class:`CStarUsageError` (exit 2, ``field`` = ``flag`` without dashes) naming ``flag`` when
    ``text`` is not such a duration, is 0 (unless ``allow_zero``) or exceeds :data:`MAX_DURATION`.
    """
    value = text.strip().lower()
    seconds: float | None = None
    if _SECONDS.fullmatch(value):
        seconds = float(value)
    elif value:
        m = _DURATION.fullmatch(value)
        if m is not None and any(m.groups()):
            seconds = sum(float(g) * _UNITS[u] for g, u in zip(m.groups(), ("h", "m", "s", "ms"), strict=True) if g)
    if seconds is None or not math.isfinite(seconds) or seconds > MAX_DURATION or (seconds == 0 and not allow_zero):
        least = "0 or more" if allow_zero else "more than 0"
        raise CStarUsageError(
            f"Invalid {flag} {text!r}.",
            code="invalid_duration",
            field=flag.lstrip("-").replace("-", "_"),
            hint=f"Use a duration {least}, up to 7 days: 30s, 5m, 1h, 1h30m, 250ms or a number of seconds.",
        )
    return seconds
