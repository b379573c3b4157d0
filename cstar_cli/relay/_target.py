"""Where and how events are forwarded: ``--forward-to`` shorthands and ``-H`` headers.

Both are checked before anything is sent, so a typo ends the command at once with exit 2
(:class:`CStarUsageError`) instead of failing every delivery later.

A ``--forward-to`` URL may carry ``user:password@`` (sent as HTTP Basic auth, as curl does); the
password is never shown: :func:`display_url` is the form every line, JSON object and error uses.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Mapping
from urllib.parse import SplitResult, quote, urlsplit, urlunsplit

from cstar_cli.errors import CStarUsageError
from cstar_cli.protocol.http1 import basic_auth

__all__ = ["basic_auth", "display_url", "merge_headers", "parse_forward_url", "parse_header"]

_URL_HINT = (
    "Use a port (3000), host:port/path (localhost:3000/webhooks) or a full URL (http://localhost:3000/webhooks)."
)
_HOST_RE = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?$")
# RFC 9110 token characters: what an HTTP field name may contain.
_TOKEN_RE = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")
# Kept as typed when encoding a path or query: RFC 3986 reserved characters and "%", so existing %XX
# escapes survive (letters, digits and "-._~" are always kept by quote()).
_URL_SAFE = ":/?#[]@!$&'()*+,;=%"
# RFC 9110 field-value: visible characters, obs-text, spaces and tabs. Anything else (CR, LF, NUL,
# other controls) would either split the header on the wire or make every delivery fail.
_BAD_VALUE_RE = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")
_MASK = "***"
# An explicit scheme (RFC 3986: a letter, then letters, digits, "+-."; or empty, to be refused) and its
# "://" at the start. A "://" further on, after a user:password@ or in the path, is not one.
_SCHEME_RE = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*)?://")
# A leading scheme and its "://" as typed (spaces allowed before it): text that reads as a URL is read
# as one, so this colon is never taken for the start of a password.
_TYPED_SCHEME_RE = re.compile(r"\s*[A-Za-z][A-Za-z0-9+.-]*://")
# Where an authority (user:password@host:port) ends.
_AUTHORITY_END_RE = re.compile(r"[/?#]")


def _mask_authority(text: str) -> str:
    """``text`` (an authority, ``user:password@host:port``) with its password replaced by ``***``;
    unchanged when it has none."""
    userinfo, at, hostport = text.rpartition("@")
    user, colon, _ = userinfo.partition(":")
    return user + ":" + _MASK + at + hostport if at and colon else text


def _mask_input(text: str) -> str:
    """``text`` as typed (possibly malformed, without a scheme) with anything that may be a password
    masked. Typed text can be read more than one way (a ``/``, ``?`` or ``#`` inside a password ends
    the authority for a URL parser), so everything up to the *last* ``@`` counts as
    ``user:password``, and from its first ``:`` after a leading ``scheme://`` up to that ``@`` it is
    replaced by ``***``. This may hide more than the password, never less."""
    at = text.rfind("@")
    if at < 0:
        return text
    scheme = _TYPED_SCHEME_RE.match(text, 0, at)
    colon = text.find(":", scheme.end() if scheme else 0, at)
    return text if colon < 0 else text[:colon] + ":" + _MASK + text[at:]


def display_url(url: str) -> str:
    """``url`` (from :func:`parse_forward_url`) as it may be shown: ``http://user:***@host/…`` for
    ``http://user:pw@host/…``."""
    scheme = _SCHEME_RE.match(url)
    start = scheme.end() if scheme else 0
    stop = _AUTHORITY_END_RE.search(url, start)
    end = stop.start() if stop else len(url)
    return url[:start] + _mask_authority(url[start:end]) + url[end:]


def _bad_url(value: str, why: str) -> CStarUsageError:
    return CStarUsageError(
        f"Invalid --forward-to {_mask_input(value)!r}: {_mask_input(why)}.",
        code="invalid_forward_to",
        field="forward-to",
        hint=_URL_HINT,
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

    - ``user:password@`` is kept (see :func:`basic_auth`); show the result with :func:`display_url`.

    Without a scheme, a bare word must be ``localhost``, an IP address, a dotted name or carry a port,
    so ``--forward-to nonsense`` is refused rather than sent to ``http://nonsense/``. Raises
    :class:`CStarUsageError` (exit 2) with a hint for anything else: other schemes, bad ports,
    spaces, control characters, no host, a malformed ``[IPv6]`` address.
    """
    raw, explicit_scheme = _with_scheme(value, _checked_text(value))
    try:
        parts = urlsplit(raw)
    except ValueError:  # "Invalid IPv6 URL", characters that change under NFKC normalisation…
        raise _bad_url(value, "it is not a valid URL") from None
    _check_host_port(value, parts, explicit_scheme=explicit_scheme)
    path = quote(parts.path, safe=_URL_SAFE) or "/"
    query = quote(parts.query, safe=_URL_SAFE)
    return urlunsplit((parts.scheme.lower(), parts.netloc, path, query, ""))


def _checked_text(value: str) -> str:
    """``value`` stripped; raises :class:`CStarUsageError` when empty or holding spaces or control characters."""
    raw = value.strip()
    if not raw:
        raise _bad_url(value, "it is empty")
    if any(c.isspace() for c in raw):
        raise _bad_url(value, "it contains spaces")
    if not raw.isprintable():
        raise _bad_url(value, "it contains control characters")
    return raw


def _with_scheme(value: str, raw: str) -> tuple[str, bool]:
    """``raw`` as a URL with a scheme, and whether the scheme was explicit. An explicit one must be
    http or https (else :class:`CStarUsageError`); without one, ``http://`` is prepended and a bare
    port means localhost."""
    explicit = _SCHEME_RE.match(raw)
    if explicit:
        scheme = (explicit.group(1) or "").lower()
        if scheme not in ("http", "https"):
            raise _bad_url(value, f"the scheme must be http or https, not {scheme or 'empty'}")
        return raw, True
    head = raw.split("/", 1)[0]
    if head.isdigit() or (head.startswith(":") and head[1:].isdigit()):
        raw = "localhost:" + raw.lstrip(":")
    return "http://" + raw, False


def _check_host_port(value: str, parts: SplitResult, *, explicit_scheme: bool) -> None:
    """Raise :class:`CStarUsageError` unless ``parts`` has a valid port (or none) and host, and,
    without an explicit scheme, the host is plausible on its own (see :func:`parse_forward_url`)."""
    try:
        port = parts.port
    except ValueError:
        raise _bad_url(value, "the port must be a number from 1 to 65535") from None
    if port == 0:
        raise _bad_url(value, "the port must be a number from 1 to 65535")
    host = parts.hostname or ""
    if not host:
        raise _bad_url(value, "it names no host")
    hostport = parts.netloc.rpartition("@")[2]
    if ("[" in hostport or "]" in hostport) and not (hostport.startswith("[") and ":" in host):
        # urlsplit reads the host from between the brackets wherever they are ("x[::1]").
        raise _bad_url(value, "it has a malformed [IPv6] address")
    if not (_is_ip(host) or _HOST_RE.match(host)):
        raise _bad_url(value, f"{host!r} is not a host name")
    if not explicit_scheme and port is None and host != "localhost" and not _is_ip(host) and "." not in host:
        raise _bad_url(value, "it is neither a port, a host:port nor a URL")


def parse_header(value: str) -> tuple[str, str]:
    """``"Name: value"`` → ``("Name", "value")`` (value stripped, may be empty).

    Raises :class:`CStarUsageError` (exit 2) when there is no colon, the name is not an HTTP token,
    or the value contains a line break or another control character (a tab is allowed).
    """
    name, sep, rest = value.partition(":")
    name = name.strip()
    if not sep or not name:
        why = "expected Name: value"
    elif not _TOKEN_RE.fullmatch(name):
        why = f"{name!r} is not a valid header name"
    elif "\r" in rest or "\n" in rest:
        why = "a header value cannot contain a line break"
    elif _BAD_VALUE_RE.search(rest):
        why = "a header value cannot contain control characters"
    else:
        # Only SP and HTAB are HTTP whitespace; str.strip() would also eat other characters.
        return name, rest.strip(" \t")
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
