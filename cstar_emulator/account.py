"""Key introspection and API keys (server contract: "Key introspection — GET /api/v1/me",
"API keys")."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from cstar_emulator import validate as v
from cstar_emulator.auth import KeyContext, request_context, require_secret
from cstar_emulator.envelope import ApiError, ok
from cstar_emulator.idempotency import atomic
from cstar_emulator.models import page_meta
from cstar_emulator.sessions import CLOSE_KEY_INVALID

__all__ = ["ROUTES"]


def _secret_only(key: KeyContext) -> None:
    require_secret(key, "Managing API keys")


async def me(request: Request) -> Response:
    """``GET /api/v1/me`` (any valid key) → ``{"object": "api_key_context", "keyId", "keyType",
    "mode", "team": {"id", "name", "slug", "plan", "memberCount"}}``."""
    emulator, key = request_context(request)
    team = emulator.db.one("SELECT * FROM teams WHERE id = ?", key.team_id)
    assert team is not None
    return ok(
        request,
        {
            "object": "api_key_context",
            "keyId": key.id,
            "keyType": key.type,
            "mode": key.mode,
            "team": {
                "id": team["id"],
                "name": team["name"],
                "slug": team["slug"],
                "plan": team["plan"],
                "memberCount": team["member_count"],
            },
        },
    )


async def list_keys(request: Request) -> Response:
    """``GET /api-keys`` (secret key) → the team's keys, newest first, redacted, paginated."""
    emulator, key = request_context(request)
    _secret_only(key)
    page, size = v.page_params(request)
    data, total = emulator.keys.list(key.team_id, page, size)
    return ok(request, data, pagination=page_meta(page, size, total))


async def create_key(request: Request) -> Response:
    """``POST /api-keys {"name", "type"?, "mode"?}`` → 201 with the full ``key``, the only time it is
    shown. ``type`` defaults to secret, ``mode`` to the calling key's."""
    emulator, key = request_context(request)
    _secret_only(key)
    body = await v.body(request)
    name = v.text(v.require(body, "name"), "name", max_len=100)
    key_type = v.choice(body.get("type") or "secret", "type", ("secret", "publishable"))
    mode = v.choice(body.get("mode") or key.mode, "mode", ("test", "live"))
    return ok(request, emulator.keys.create(key.team_id, name or "", key_type, mode), status=201)


async def revoke_key(request: Request) -> Response:
    """``DELETE /api-keys/{keyId}`` → ``{"id", "revoked": true}``. From then on the key gets 401
    ``key_revoked``; its open listen sockets close with 4401 and its log streams end."""
    emulator, key = request_context(request)
    _secret_only(key)
    key_id = request.path_params["key_id"]
    if not emulator.keys.revoke(key.team_id, key_id):
        raise ApiError.not_found("API key", key_id)
    emulator.db.on_commit(lambda: emulator.listeners.close(CLOSE_KEY_INVALID, key_id=key_id))
    emulator.db.on_commit(lambda: emulator.log_hub.close(lambda sub: sub.tag == key_id))
    return ok(request, {"id": key_id, "revoked": True})


ROUTES = [
    ("GET", "/api/v1/me", me),
    ("GET", "/api/v1/teams/{team_id}/api-keys", list_keys),
    ("POST", "/api/v1/teams/{team_id}/api-keys", atomic(create_key)),
    ("DELETE", "/api/v1/teams/{team_id}/api-keys/{key_id}", atomic(revoke_key)),
]
