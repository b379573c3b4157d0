"""Why a webhook signature does not verify: the logic of ``cstar webhooks verify`` and the MCP tool
``cstar_verify_signature``.

:func:`diagnose` checks one delivery (the body bytes, the ``X-Signature`` header, the signing secret
or secrets) the way :func:`~cstar_cli.protocol.webhook.verify_signature` does, and when it fails
names the cause, as a :class:`Diagnosis` ``(valid, reason, detail)``. ``reason`` is one of
:data:`REASONS`:

- ``valid`` / ``valid_legacy``: the signature verifies (``t=…,v1=…``, or the legacy ``sha256=``).
- ``malformed_header``: the header cannot be a signature (``detail`` says what is wrong).
- ``timestamp_outside_tolerance``: the signature matches but ``t`` is too old or in the future.
- ``body_reserialised``: the body's JSON, serialised another way (compact, indented, keys sorted,
  ASCII-escaped), matches: the receiver verified parsed-then-dumped JSON instead of the raw bytes.
- ``body_modified``: the body with its line endings or trailing newline changed matches.
- ``signature_mismatch``: nothing matches: another secret signed it, or the bytes differ otherwise.

Secrets appear only as their tail (``whsec_…a1b2``): a malformed header's detail never quotes the
given secrets, nor anything shaped like a key or a signing secret. Like the rest of :mod:`cstar_cli.protocol`,
this module imports nothing else of ``cstar_cli`` but its siblings.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from cstar_cli.protocol.keys import scrub_secrets
from cstar_cli.protocol.webhook import DEFAULT_TOLERANCE, compute_signature

__all__ = [
    "REASONS",
    "Diagnosis",
    "MalformedHeader",
    "ParsedHeader",
    "diagnose",
    "parse_signature_header",
    "secret_tail",
]

#: Every ``reason`` :func:`diagnose` gives, valid ones first.
REASONS = (
    "valid",
    "valid_legacy",
    "malformed_header",
    "timestamp_outside_tolerance",
    "body_reserialised",
    "body_modified",
    "signature_mismatch",
)

_HEX64 = re.compile(r"^[0-9a-fA-F]{64}$")
_NAMED = re.compile(r"^([A-Za-z][A-Za-z0-9-]*)(?:\s*:\s*|\s+)(.*)$", re.S)
_SECRET_PREFIX = re.compile(r"^([a-z]+_)")


@dataclass(frozen=True)
class Diagnosis:
    """The verdict on one delivery: ``valid``, a ``reason`` from :data:`REASONS`, a one-line ``detail``."""

    valid: bool
    reason: str
    detail: str

    def as_dict(self) -> dict[str, object]:
        """``{"valid", "reason", "detail"}`` (the ``--json`` shape)."""
        return {"valid": self.valid, "reason": self.reason, "detail": self.detail}


class MalformedHeader(ValueError):
    """The header is not a signature; the message says what is wrong."""


@dataclass(frozen=True)
class ParsedHeader:
    """A signature header: ``legacy`` (``sha256=``, no timestamp) or ``timestamp`` (unix seconds) and
    the lower-case hex ``signatures`` (several ``v1`` values during a secret rotation)."""

    legacy: bool
    timestamp: int | None
    signatures: tuple[str, ...]


def secret_tail(secret: str) -> str:
    """``whsec_…a1b2``: the secret's prefix and last four characters, the only form it is shown in
    (surrounding whitespace, such as a pasted newline, is not part of what is shown)."""
    secret = secret.strip()
    m = _SECRET_PREFIX.match(secret)
    prefix = m.group(1) if m else ""
    tail = secret[-4:] if len(secret) >= len(prefix) + 8 else ""
    return f"{prefix}…{tail}"


def _quote(text: str, limit: int = 40) -> str:
    """A piece of the header for a message: secret-shaped text redacted whole, then cut to ``limit``."""
    text = scrub_secrets(text)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _hex(value: str, what: str) -> str:
    if _HEX64.match(value):
        return value.lower()
    if not value:
        raise MalformedHeader(f"{what} is empty")
    truncated = len(value) < 64 and all(c in "0123456789abcdefABCDEF" for c in value)
    shape = "it looks truncated" if truncated else "a SHA-256 HMAC is 64 hex characters (not base64)"
    raise MalformedHeader(f"{what} is {len(value)} characters, not 64 hex digits: {shape}")


def parse_signature_header(text: str) -> ParsedHeader:
    """``t=<unix seconds>,v1=<hex>[,v1=…]`` or ``sha256=<hex>``, optionally after its name
    (``X-Signature: …`` or ``X-Signature …``). Raises :class:`MalformedHeader` saying what is wrong:
    another header's name, an empty value, a part without ``=``, a missing, repeated or non-numeric
    ``t`` (milliseconds are named as such), no ``v1``, a signature that is not 64 hex digits."""
    value = text.strip()
    m = _NAMED.match(value)
    if m and m.group(1).lower() not in ("t", "v1", "sha256"):
        name, value = m.group(1), m.group(2).strip()
        if name.lower() != "x-signature":
            raise MalformedHeader(f"this is the {_quote(name)} header; the signature is in X-Signature")
    if not value:
        raise MalformedHeader("the header is empty")
    if value.lower().startswith("sha256="):
        return ParsedHeader(True, None, (_hex(value[len("sha256=") :].strip(), "the sha256= signature"),))
    timestamps: list[str] = []
    signatures: list[str] = []
    others: list[str] = []
    for part in value.split(","):
        key, eq, item = part.strip().partition("=")
        if not eq:
            raise MalformedHeader(f"{_quote(part.strip())!r} is not key=value (expected t=<unix seconds>,v1=<hex>)")
        if key == "t":
            timestamps.append(item.strip())
        elif key == "v1":
            signatures.append(_hex(item.strip(), "the v1= signature"))
        else:
            others.append(key)
    if len(timestamps) > 1:
        raise MalformedHeader("t= is given more than once")
    if not timestamps:
        raise MalformedHeader("there is no t= timestamp (expected t=<unix seconds>,v1=<hex>)")
    ts = timestamps[0]
    if any(sep in ts for sep in (" ", ";", "\t")):
        raise MalformedHeader("the parts are separated by commas: t=<unix seconds>,v1=<hex>")
    if not ts.isdigit() or not ts.isascii():
        raise MalformedHeader(f"t={_quote(ts)} is not a unix timestamp in seconds")
    if len(ts) >= 13:
        raise MalformedHeader(f"t={ts} looks like milliseconds; cStar signs with unix seconds")
    if not signatures:
        found = f" (found {', '.join(_quote(k) + '=' for k in others)})" if others else ""
        raise MalformedHeader(f"there is no v1= signature{found}")
    return ParsedHeader(False, int(ts), tuple(signatures))


def _duration(seconds: float) -> str:
    s = int(round(abs(seconds)))
    if s < 120:
        return f"{s} s"
    minutes, s = divmod(s, 60)
    if minutes < 120:
        return f"{minutes} min {s} s" if s else f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    days, hours = divmod(hours, 24)
    return f"{days} days {hours} h" if hours else f"{days} days"


def _age(ts: int, now: float) -> str:
    age = now - ts
    return f"{_duration(age)} old" if age >= 0 else f"{_duration(age)} in the future"


def _json_forms(body: bytes) -> Iterator[tuple[str, bytes]]:
    # The ways a JSON library writes a parsed body back out: compact (JavaScript's JSON.stringify),
    # Python's default spacing, indented, keys sorted, non-ASCII escaped.
    try:
        parsed = json.loads(body)
    except ValueError:
        return
    for indent, spacing, how in (
        (None, (",", ":"), "compact JSON"),
        (None, (", ", ": "), "JSON with spaces after , and :"),
        (2, (",", ": "), "JSON indented by 2"),
        (4, (",", ": "), "JSON indented by 4"),
    ):
        for sort_keys in (False, True):
            for ascii_only in (False, True):
                form = json.dumps(parsed, indent=indent, separators=spacing, sort_keys=sort_keys, ensure_ascii=ascii_only)
                label = how + (", keys sorted" if sort_keys else "") + (", non-ASCII escaped" if ascii_only else "")
                yield label, form.encode("utf-8")


def _byte_forms(body: bytes) -> Iterator[tuple[str, bytes]]:
    if body.endswith(b"\n"):
        yield "without its trailing newline", body.rstrip(b"\r\n")
    else:
        yield "with a trailing newline", body + b"\n"
    if b"\r\n" in body:
        yield "with CRLF line endings as LF", body.replace(b"\r\n", b"\n")
    elif b"\n" in body:
        yield "with LF line endings as CRLF", body.replace(b"\n", b"\r\n")


def _signer(parsed: ParsedHeader, body: bytes, secrets: Sequence[str]) -> str | None:
    for secret in secrets:
        if parsed.legacy:
            expected = hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()
        else:
            assert parsed.timestamp is not None
            expected = compute_signature(body, secret, parsed.timestamp)
        if any(hmac.compare_digest(sig, expected) for sig in parsed.signatures):
            return secret
    return None


def _masked_problem(header: str, secrets: Sequence[str], problem: MalformedHeader) -> str:
    """What is wrong with ``header``, told without quoting any of ``secrets`` (someone pasting the
    secret where the signature goes): the header is parsed again with each secret (and each stripped
    of surrounding whitespace) replaced by its tail."""
    forms = sorted({f for s in secrets for f in (s, s.strip()) if len(f) >= 4}, key=len, reverse=True)
    masked = header
    for form in forms:
        masked = masked.replace(form, secret_tail(form))
    if masked == header:
        return str(problem)
    try:
        parse_signature_header(masked)
    except MalformedHeader as e:
        return str(e)
    return "it holds the signing secret, not a signature"


def diagnose(
    body: bytes,
    header: str,
    secrets: str | Sequence[str],
    tolerance: int = DEFAULT_TOLERANCE,
    *,
    now: float | None = None,
) -> Diagnosis:
    """The :class:`Diagnosis` of a delivery: ``body`` (the bytes received), ``header`` (``X-Signature``,
    with or without its name), ``secrets`` (one ``whsec_…`` or several, e.g. during a rotation),
    ``tolerance`` (seconds ``t`` may differ from ``now``, unix seconds, default the clock).

    ``valid`` exactly when :func:`~cstar_cli.protocol.webhook.verify_signature` accepts the delivery
    with one of ``secrets``. Never raises for any input; an empty secret list is ``signature_mismatch``."""
    keys = [s for s in ([secrets] if isinstance(secrets, str) else secrets) if s]
    shown = ", ".join(secret_tail(s) for s in keys) or "no secret"
    try:
        parsed = parse_signature_header(header or "")
    except MalformedHeader as e:
        return Diagnosis(False, "malformed_header", f"Malformed signature header: {_masked_problem(header or '', keys, e)}.")
    current = time.time() if now is None else now
    late = ""
    if parsed.timestamp is not None and abs(current - parsed.timestamp) > tolerance:
        late = f"its timestamp is {_age(parsed.timestamp, current)} (tolerance {tolerance} s)"
    signer = _signer(parsed, body, keys)
    if signer is not None:
        if parsed.legacy:
            return Diagnosis(
                True,
                "valid_legacy",
                f"Valid legacy sha256= signature by {secret_tail(signer)}: it has no timestamp, so no replay "
                "protection; cStar deliveries carry t=…,v1=….",
            )
        assert parsed.timestamp is not None
        if late:
            return Diagnosis(
                False,
                "timestamp_outside_tolerance",
                f"The signature matches {secret_tail(signer)}, but {late}: a replayed delivery, or this "
                "machine's clock is off.",
            )
        return Diagnosis(
            True, "valid", f"Valid signature by {secret_tail(signer)}, {_age(parsed.timestamp, current)}."
        )
    also = f" (also, {late})" if late else ""
    for label, form in _byte_forms(body):
        if _signer(parsed, form, keys) is not None:
            return Diagnosis(
                False,
                "body_modified",
                f"The signature matches the body {label}: verify the raw bytes as received{also}.",
            )
    for label, form in _json_forms(body):
        if form != body and _signer(parsed, form, keys) is not None:
            return Diagnosis(
                False,
                "body_reserialised",
                f"The signature matches the body as {label}: the body was re-serialised: verify the raw "
                f"bytes as received{also}.",
            )
    what = "sha256=" if parsed.legacy else "v1"
    return Diagnosis(
        False,
        "signature_mismatch",
        f"No {what} signature matches {shown}: the delivery was signed with another secret (each "
        f"webhook and each `cstar listen` session has its own), or over other bytes{also}.",
    )
