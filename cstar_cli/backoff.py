"""Capped exponential backoff with jitter: one formula for API retries, listen reconnects and the
``logs --tail`` stream."""

from __future__ import annotations

import random

__all__ = ["backoff_delay"]


def backoff_delay(attempt: int, *, base: float, cap: float, low: float = 0.5, high: float = 1.0) -> float:
    """Seconds to wait before retry ``attempt`` (1-based): ``base`` doubling per attempt, capped at
    ``cap``, times a random factor in ``[low, high)`` so many clients do not retry in step."""
    delay = min(cap, base * 2.0 ** max(0, attempt - 1))
    return delay * (low + random.random() * (high - low))
