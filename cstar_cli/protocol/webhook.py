"""Webhook signatures: the Python twin of ``@cstar.help/js/webhook``.

Implements the reference's "Webhooks → Headers sent with each delivery" and "Signature verification"
and the server contract's "Event payloads and signatures":

- ``X-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>``
- legacy ``sha256=<hex HMAC-SHA256(secret, body)>``, accepted by :func:`verify_signature` only.

Used by the emulator (webhook deliveries), the ``listen`` relay and the example receiver; importable by
users::

    from cstar_cli.protocol.webhook import verify_signature
    if not verify_signature(raw_body, request.headers["X-Signature"], secret):
        return 401
"""

from __future__ import annotations

import hmac
import math
import time
from datetime import datetime, timezone

__all__ = ["DEFAULT_TOLERANCE", "compute_signature", "delivery_headers", "iso_millis", "sign", "verify_signature"]

#: Seconds a signature's timestamp may differ from now (the reference's default, 5 minutes).
DEFAULT_TOLERANCE = 300


def _bytes(value: bytes | str) -> bytes:
    return value if isinstance(value, bytes) else value.encode("utf-8")


def compute_signature(payload: bytes | str, secret: str, timestamp: int) -> str:
    """Hex HMAC-SHA256 of ``"<timestamp>.<payload>"`` keyed with ``secret``."""
    # hmac.digest: OpenSSL's one-shot HMAC, without the Python-level HMAC object per call.
    return hmac.digest(_bytes(secret), str(timestamp).encode() + b"." + _bytes(payload), "sha256").hex()


def sign(payload: bytes | str, secret: str, timestamp: int | None = None) -> str:
    """The ``X-Signature`` header value for ``payload`` (the exact bytes sent), signed now or at
    ``timestamp`` (unix seconds)."""
    ts = int(time.time()) if timestamp is None else int(timestamp)
    return f"t={ts},v1={compute_signature(payload, secret, ts)}"


def verify_signature(
    payload: bytes | str,
    header: str | None,
    secret: str,
    tolerance: int = DEFAULT_TOLERANCE,
    *,
    now: float | None = None,
) -> bool:
    """True when ``header`` is a valid signature of ``payload`` (the raw body, not re-serialised JSON).

    Accepts ``t=…,v1=…`` (any of several ``v1`` values may match, for secret rotation) within
    ``tolerance`` seconds of ``now``, and the legacy ``sha256=<hex>`` form (no timestamp). Never raises:
    a missing or malformed header is simply False.
    """
    if not header or not secret:
        return False
    header = header.strip()
    body = _bytes(payload)
    if header.startswith("sha256="):
        expected = hmac.digest(_bytes(secret), body, "sha256").hex()
        return hmac.compare_digest(header[len("sha256=") :].lower(), expected)
    ts_text: str | None = None
    candidates: list[str] = []
    for part in header.split(","):
        key, sep, value = part.strip().partition("=")
        if not sep:
            continue
        if key == "t":
            ts_text = value
        elif key == "v1":
            candidates.append(value.lower())
    try:
        ts = int(ts_text) if ts_text is not None else 0
    except ValueError:
        return False
    if not ts or not candidates:
        return False
    current = time.time() if now is None else now
    if abs(current - ts) > tolerance:
        return False
    expected = compute_signature(body, secret, ts)
    return any(hmac.compare_digest(c, expected) for c in candidates)


# The last second formatted by iso_millis (``YYYY-MM-DDTHH:MM:SS.``): a burst signs thousands of
# deliveries within the same second.
_second: list[tuple[float, str]] = [(math.nan, "")]


def iso_millis(when: float) -> str:
    """``when`` (unix seconds) as ISO 8601 UTC to the millisecond, ``2026-12-01T14:02:11.123Z``:
    exactly ``datetime.fromtimestamp(when, timezone.utc).isoformat(timespec="milliseconds")`` with
    ``Z`` for ``+00:00``, the date and time formatted once per second."""
    frac, whole = math.modf(when)
    # datetime.fromtimestamp's own rounding: the fraction to microseconds, half to even.
    micros = round(frac * 1e6)
    if micros >= 1_000_000:
        whole, micros = whole + 1.0, micros - 1_000_000
    elif micros < 0:
        whole, micros = whole - 1.0, micros + 1_000_000
    cached_second, prefix = _second[0]
    if whole != cached_second:
        prefix = datetime.fromtimestamp(whole, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.")
        _second[0] = (whole, prefix)
    return f"{prefix}{micros // 1000:03d}Z"


def delivery_headers(
    payload: bytes | str,
    secret: str,
    *,
    event_id: str,
    event_type: str,
    webhook_id: str,
    request_id: str | None,
    attempt: int = 1,
    now: float | None = None,
) -> dict[str, str]:
    """Every header of one delivery attempt, signed at the moment of the call over ``payload``.

    Shape (server contract, "Event payloads and signatures"): ``Content-Type``, ``X-Signature``,
    ``X-Event-Type``, ``X-Event-ID``, ``X-Webhook-ID``, ``X-Timestamp`` (ISO 8601, UTC),
    ``X-Delivery-Attempt`` (from 1) and ``x-cstar-request-id`` (omitted when unknown).
    """
    current = time.time() if now is None else now
    ts = int(current)
    headers = {
        "Content-Type": "application/json",
        "X-Signature": f"t={ts},v1={compute_signature(payload, secret, ts)}",
        "X-Event-Type": event_type,
        "X-Event-ID": event_id,
        "X-Webhook-ID": webhook_id,
        "X-Timestamp": iso_millis(current),
        "X-Delivery-Attempt": str(attempt),
    }
    if request_id:
        headers["x-cstar-request-id"] = request_id
    return headers
