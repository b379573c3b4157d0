"""Where and how events are forwarded: ``--forward-to`` shorthands and ``-H`` headers.

Both are checked before anything is sent, so a typo ends the command at once with exit 2
(:class:`CStarUsageError`) instead of failing every delivery later.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Mapping
from urllib.parse import quote, urlsplit, urlunsplit

from cstar_cli.errors import CStarUsageError

__all__ = ["merge_headers", "parse_forward_url", "parse_header"]

_URL_HINT = (
    "Use a port (3000), host:port/path (localhost:3000/webhooks) or a full URL (http://localhost:3000/webhooks)."
)
_HOST_RE = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?$")
# RFC 9110 token characters: what an HTTP field name may contain.
_TOKEN_RE = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")
# Kept as typed when encoding a path or query: RFC 3986 reserved characters and "%", so existing %XX
# escapes survive (letters, digits and "-._~" are always kept by quote()).
_URL_SAFE = ":/?#[]@!$&'()*+,;=%"


def _bad_url(value: str, why: str) -> CStarUsageError:
    return CStarUsageError(
        f"Invalid --forward-to {value!r}: {why}.", code="invalid_forward_to", field="forward-to", hint=_URL_HINT
    )


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def parse_forward_url(value: str) -> str:
    """The full receiver URL for a ``--forward-to`` value.

    - ``3000`` and ``:3000`` → ``http://localhost:3000/``; ``3000/hooks`` → ``http://localhost:3000/hooks``
    - ``localhost:3000/hooks``, ``127.0.0.1:8000``, ``app.test/hooks`` → ``http://`` prepended
    - ``http://…`` / ``https://…`` kept; an empty path becomes ``/``; the query string is kept, a
      ``#fragment`` dropped (it is never sent over HTTP anyway).
    - non-ASCII characters in the path and query are percent-encoded as UTF-8 (``/pâth`` →
      ``/p%C3%A2th``), since an HTTP request line can only carry ASCII, and so are the few ASCII
      characters a URL may not contain (``"<>`` …); existing ``%XX`` escapes and reserved characters
      (``/?&=`` …) are kept as typed.

    Without a scheme, a bare word must be ``localhost``, an IP address, a dotted name or carry a port,
    so ``--forward-to nonsense`` is refused rather than sent to ``http://nonsense/``. Raises
    :class:`CStarUsageError` (exit 2) with a hint for anything else: other schemes, bad ports,
    spaces, no host.
    """
    raw = value.strip()
    if not raw:
        raise _bad_url(value, "it is empty")
    if any(c.isspace() for c in raw):
        raise _bad_url(value, "it contains spaces")
    explicit_scheme = "://" in raw
    if explicit_scheme:
        scheme = raw.split("://", 1)[0].lower()
        if scheme not in ("http", "https"):
            raise _bad_url(value, f"the scheme must be http or https, not {scheme or 'empty'}")
    else:
        head = raw.split("/", 1)[0]
        if head.isdigit() or (head.startswith(":") and head[1:].isdigit()):
            raw = "localhost:" + raw.lstrip(":")
        raw = "http://" + raw
    parts = urlsplit(raw)
    try:
        port = parts.port
    except ValueError:
        raise _bad_url(value, "the port must be a number from 1 to 65535") from None
    if port == 0:
        raise _bad_url(value, "the port must be a number from 1 to 65535")
    host = parts.hostname or ""
    if not host:
        raise _bad_url(value, "it names no host")
    if not (_is_ip(host) or _HOST_RE.match(host)):
        raise _bad_url(value, f"{host!r} is not a host name")
    if not explicit_scheme and port is None and host != "localhost" and not _is_ip(host) and "." not in host:
        raise _bad_url(value, "it is neither a port, a host:port nor a URL")
    path = quote(parts.path, safe=_URL_SAFE) or "/"
    query = quote(parts.query, safe=_URL_SAFE)
    return urlunsplit((parts.scheme.lower(), parts.netloc, path, query, ""))


def parse_header(value: str) -> tuple[str, str]:
    """``"Name: value"`` → ``("Name", "value")`` (value stripped, may be empty).

    Raises :class:`CStarUsageError` (exit 2) when there is no colon, the name is not an HTTP token,
    or the value contains a line break.
    """
    name, sep, rest = value.partition(":")
    name = name.strip()
    if not sep or not name:
        why = "expected Name: value"
    elif not _TOKEN_RE.match(name):
        why = f"{name!r} is not a valid header name"
    elif "\r" in rest or "\n" in rest:
        why = "a header value cannot contain a line break"
    else:
        return name, rest.strip()
    raise CStarUsageError(
        f"Invalid header {value!r}: {why}.",
        code="invalid_header",
        field="headers",
        hint='Use -H "Name: value", e.g. -H "Authorization: Bearer dev-token" (repeat -H for more).',
    )


def merge_headers(ours: Mapping[str, str], user: Iterable[tuple[str, str]]) -> dict[str, str]:
    """``ours`` with each ``user`` header replacing any of ours of the same name, case-insensitively,
    so no name is ever sent twice. Later user headers win over earlier ones."""
    extra: dict[str, tuple[str, str]] = {name.lower(): (name, v) for name, v in user}
    if not extra:
        return dict(ours)
    merged = {k: v for k, v in ours.items() if k.lower() not in extra}
    merged.update(extra.values())
    return merged
