"""``GET /api/v1/me`` and ``/api-keys`` (server contract: "Key introspection", "API keys")."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from cstar_emulator import validate as v
from cstar_emulator.envelope import ok, page_meta
from cstar_emulator.routes._http import TEAM, Caller, api_routes, caller
from cstar_emulator.services.auth import require_secret

__all__ = ["ROUTES"]


def _key_manager(request: Request) -> Caller:
    c = caller(request)
    require_secret(c.key, "Managing API keys")
    return c


async def me(request: Request) -> Response:
    """``GET /api/v1/me`` (any valid key) → ``{"object": "api_key_context", "keyId", "keyType",
    "mode", "team": {"id", "name", "slug", "plan", "memberCount"}}``."""
    c = caller(request)
    return ok(request, c.emulator.keys.me(c.key))


async def list_keys(request: Request) -> Response:
    """``GET /api-keys`` (secret key) → the team's keys, newest first, redacted, paginated."""
    c = _key_manager(request)
    page, size = v.page_params(request)
    data, total = c.emulator.keys.page(c.key.team_id, page, size)
    return ok(request, data, pagination=page_meta(page, size, total))


async def create_key(request: Request) -> Response:
    """``POST /api-keys {"name", "type"?, "mode"?}`` → 201 with the full ``key``, the only time it is
    shown. ``type`` defaults to secret, ``mode`` to the calling key's."""
    c = _key_manager(request)
    body = await v.body(request)
    name = v.text(v.require(body, "name"), "name", max_len=100)
    key_type = v.choice(body.get("type") or "secret", "type", ("secret", "publishable"))
    mode = v.choice(body.get("mode") or c.key.mode, "mode", ("test", "live"))
    return ok(request, c.emulator.keys.create(c.key.team_id, name or "", key_type, mode), status=201)


async def revoke_key(request: Request) -> Response:
    """``DELETE /api-keys/{keyId}`` → ``{"id", "revoked": true}``. From then on the key gets 401
    ``key_revoked``; its open listen sockets close with 4401 and its log streams end."""
    c = _key_manager(request)
    return ok(request, c.emulator.keys.revoke(c.key.team_id, request.path_params["key_id"]))


ROUTES = [
    *api_routes("/api/v1", [("GET", "/me", me)]),
    *api_routes(
        TEAM,
        [
            ("GET", "/api-keys", list_keys),
            ("POST", "/api-keys", create_key),
            ("DELETE", "/api-keys/{key_id}", revoke_key),
        ],
    ),
]
