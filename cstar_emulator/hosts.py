"""Which ``Host`` and ``Origin`` headers the emulator answers to, and the ASGI guard enforcing it.

The emulator listens on a local port that every web page in the user's browser can reach. Two
browser behaviours make that a risk, and this module closes both:

- DNS rebinding: a page on ``evil.example`` re-points its own name at 127.0.0.1 and then talks to
  the emulator as if same-origin. Its requests still carry ``Host: evil.example:PORT``, so
  :class:`HostGuard` refuses every HTTP request and WebSocket handshake whose ``Host`` is not a
  loopback name, the bound address, or a name given with ``--allow-host``.
- "Simple" cross-origin requests: any page may POST ``text/plain`` or a form to any URL without a
  CORS preflight. :func:`control_refusal` lets ``/_emulator/*`` controls refuse a foreign
  ``Origin`` (or ``Sec-Fetch-Site``) and any write whose body is not JSON.

Refusals are 403 ``permission_error`` envelopes (codes ``host_not_allowed``,
``origin_not_allowed``, ``json_required``); a refused WebSocket gets the same 403 response instead
of the handshake.
"""

from __future__ import annotations

import ipaddress
import logging
import re
from collections.abc import Iterable
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from cstar_cli.protocol.urls import is_loopback
from cstar_emulator.envelope import ApiError
from cstar_emulator.ids import request_id

__all__ = ["ANY_HOST", "HostGuard", "HostPolicy", "check_allow_host", "control_refusal", "split_host"]

log = logging.getLogger("cstar.emulator")

#: ``--allow-host *``: answer every Host (turns the DNS-rebinding defence off).
ANY_HOST = "*"
WILDCARD_BINDS = frozenset({"", "0.0.0.0", "::"})
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})

# A Host header is a DNS name or an IP literal (IPv6 in brackets) and an optional port; anything
# else (userinfo, paths, spaces, several values) is refused rather than guessed at.
_HOST = re.compile(r"^(?:\[(?P<ip6>[0-9A-Fa-f:.]+)\]|(?P<name>[A-Za-z0-9_.-]+))(?::(?P<port>[0-9]{1,5}))?$")
_NAME = re.compile(r"^[A-Za-z0-9_]([A-Za-z0-9_.-]{0,251}[A-Za-z0-9_])?$")
_MAX_LOGGED = 100


def split_host(value: str | None) -> tuple[str, int | None] | None:
    """``"Localhost:8787"`` → ``("localhost", 8787)``; ``"[::1]"`` → ``("::1", None)``. The name is
    lower-cased, IPv6 without brackets. None when ``value`` is missing or not a well-formed Host."""
    m = _HOST.match((value or "").strip())
    if m is None:
        return None
    if m["ip6"] is not None:
        try:
            ipaddress.IPv6Address(m["ip6"])
        except ValueError:
            return None
    port = int(m["port"]) if m["port"] is not None else None
    if port is not None and not 0 < port <= 65535:
        return None
    return (m["ip6"] or m["name"]).lower(), port


def check_allow_host(value: str) -> str:
    """An ``--allow-host`` value normalised (lower case, no brackets, no port): a DNS name, an IP
    address or ``*``. Raises ValueError with a one-line reason otherwise."""
    raw = value.strip()
    if raw == ANY_HOST:
        return ANY_HOST
    parsed = split_host(raw)
    if parsed is None or parsed[1] is not None:
        raise ValueError(f"{value!r} is not a host name or IP address (give it without scheme, port or path)")
    name = parsed[0]
    if not _is_ip(name) and not _NAME.match(name):
        raise ValueError(f"{value!r} is not a host name or IP address")
    return name


def _is_ip(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


class HostPolicy:
    """The Host names the emulator answers to, ignoring the port: loopback names (``localhost``,
    127.0.0.0/8, ``::1``), the address it is bound to (when bound to every interface, ``0.0.0.0`` or
    ``::``, any IP literal: a page can only reach those under its own IP origin, never a rebound
    name) and the ``allow`` names (``*`` answers every Host)."""

    def __init__(self, bind_host: str = "127.0.0.1", allow: Iterable[str] = ()) -> None:
        self.names = {check_allow_host(name) for name in allow}
        self.any_host = ANY_HOST in self.names
        bound = bind_host.strip().strip("[]").lower()
        self.any_ip = bound in WILDCARD_BINDS
        if not self.any_ip:
            self.names.add(bound)

    def allows(self, host_header: str | None) -> bool:
        """Whether a request with this ``Host`` header (None: none sent) is answered."""
        if self.any_host:
            return True
        parsed = split_host(host_header)
        if parsed is None:
            return False
        name = parsed[0]
        return is_loopback(name) or name in self.names or (self.any_ip and _is_ip(name))


def _host_headers(scope: Scope) -> list[str]:
    return [value.decode("latin-1") for key, value in scope.get("headers", []) if key == b"host"]


class HostGuard:
    """Pure ASGI middleware: HTTP requests and WebSocket handshakes whose ``Host`` ``policy`` does
    not allow (or that carry none, or several) get a 403 ``host_not_allowed`` envelope before any
    route, key check or request log sees them."""

    def __init__(self, app: ASGIApp, policy: HostPolicy) -> None:
        self.app = app
        self.policy = policy
        self._logged: set[str] = set()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        hosts = _host_headers(scope)
        if len(hosts) == 1 and self.policy.allows(hosts[0]):
            await self.app(scope, receive, send)
            return
        shown = hosts[0][:100] if len(hosts) == 1 else ("none" if not hosts else "several")
        self._warn(shown)
        rid = request_id()
        err = ApiError(
            403,
            "host_not_allowed",
            f"This emulator does not answer to Host {shown!r}; start it with --allow-host NAME to add a name.",
            headers={"x-cstar-request-id": rid},
        )
        scope.setdefault("state", {})["request_id"] = rid
        if scope["type"] == "http":
            await err.response(rid)(scope, receive, send)
        elif "websocket.http.response" in scope.get("extensions", {}):
            # Starlette's Response sends the websocket.http.response.* messages for a WebSocket scope.
            await err.response(rid)(scope, receive, send)
        else:
            # Closing before accepting makes the server answer the handshake with a bare HTTP 403.
            await send({"type": "websocket.close", "code": 1008})

    def _warn(self, shown: str) -> None:
        # Once per name, and a bounded number of names: a page retrying in a loop must not flood stderr.
        if shown in self._logged or len(self._logged) >= _MAX_LOGGED:
            return
        self._logged.add(shown)
        log.warning("Refused a request for Host %r (host_not_allowed); --allow-host adds a name.", shown)


def _same_loopback_origin(origin: str, host_header: str | None) -> bool:
    """Whether ``origin`` is ``http://`` + this request's own ``Host`` with a loopback name: the one
    origin a page served by the emulator itself would have."""
    try:
        parts = urlsplit(origin.strip())
        origin_port = parts.port or 80
    except ValueError:
        return False
    own = split_host(host_header)
    if parts.scheme != "http" or parts.path or parts.query or parts.username or not parts.hostname or own is None:
        return False
    name = parts.hostname.lower()
    return is_loopback(name) and name == own[0] and origin_port == (own[1] or 80)


async def control_refusal(request: Request) -> ApiError | None:
    """Why a ``/_emulator/*`` control must not run for ``request``, or None:

    - an ``Origin`` other than the emulator's own loopback origin, or ``Sec-Fetch-Site`` saying a
      browser sent it from another site or origin → 403 ``origin_not_allowed``;
    - POST/PUT/PATCH/DELETE with a ``Content-Type`` other than ``application/json``, or a non-empty
      body without one → 403 ``json_required`` (forms and ``text/plain`` are what a page may send
      cross-origin without a preflight).

    Reads (and caches) the body of writes without a Content-Type.
    """
    headers = request.headers
    origin = headers.get("origin")
    if origin is not None and not _same_loopback_origin(origin, headers.get("host")):
        return ApiError(
            403, "origin_not_allowed", "Emulator controls refuse requests sent by web pages (foreign Origin)."
        )
    if headers.get("sec-fetch-site", "").lower() in ("cross-site", "same-site"):
        return ApiError(
            403, "origin_not_allowed", "Emulator controls refuse requests sent by web pages (Sec-Fetch-Site)."
        )
    if request.method not in WRITE_METHODS:
        return None
    content_type = headers.get("content-type")
    if content_type is None:
        if not (await request.body()).strip():
            return None
    elif content_type.partition(";")[0].strip().lower() == "application/json":
        return None
    return ApiError(
        403,
        "json_required",
        "Emulator controls take a JSON body with Content-Type: application/json "
        "(curl: -H 'Content-Type: application/json').",
    )
