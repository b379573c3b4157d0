"""The status document: what ``cstar status`` prints and MCP's ``cstar_get_status`` returns, built once.

Shared by two surfaces, so it lives apart from both (no Typer, no MCP SDK here).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from typing_extensions import TypedDict

from cstar_cli import __version__
from cstar_cli.output import json_doc
from cstar_cli.protocol.keys import key_mode, key_type, redact

if TYPE_CHECKING:
    from cstar_cli.api import Result
    from cstar_cli.api.models import ApiKeyContext
    from cstar_cli.settings import Settings

__all__ = ["KEY_SOURCES", "ApiCheck", "RateLimitInfo", "StatusOutput", "StatusTeam", "build_status"]

#: ``keySource`` → how it is named to a person.
KEY_SOURCES = {
    "flag": "--api-key",
    "env": "CSTAR_API_KEY",
    "keychain": "OS keychain",
    "file": "credentials file",
}


class StatusTeam(TypedDict):
    """The key's team."""

    id: str | None
    name: str | None
    slug: str | None
    plan: str | None


class ApiCheck(TypedDict):
    """Whether ``GET /me`` answered, its round trip (ms, one decimal) and request ID."""

    reachable: bool
    roundTripMs: float | None
    requestId: str | None


class RateLimitInfo(TypedDict):
    """``X-RateLimit-*``: ``limit``/``remaining`` requests, ``reset`` (unix s), ``window`` (s)."""

    limit: int | None
    remaining: int | None
    reset: int | None
    window: int | None


@json_doc(
    "cstar status",
    example="""{"profile": "default",
 "team": {"id": "…", "name": "Acme Support", "slug": "acme", "plan": "pro"},
 "mode": "test", "keyType": "secret", "keyId": "key_…", "key": "sk_test_…a1b2",
 "keySource": "keychain", "baseUrl": "https://www.cstar.help", "baseUrlSource": "default",
 "api": {"reachable": true, "roundTripMs": 41.3, "requestId": "req_…"},
 "rateLimit": {"limit": 1000, "remaining": 997, "reset": 1778190000, "window": 3600},
 "version": "0.1.0"}""",
)
class StatusOutput(TypedDict):
    """``cstar status``: who and where you are; ``key`` is redacted.

    `keySource`: `flag`, `env`, `keychain` or `file`; `baseUrlSource`: `flag`, `env`, `profile` or
    `default`. When the API cannot be reached, the document is still printed (`team`, `keyId` and
    `rateLimit` are `null`, `api.reachable` is `false`), then the error goes to stderr and the exit
    code is 9.
    """

    profile: str
    team: StatusTeam | None
    mode: str | None
    keyType: str | None
    keyId: str | None
    key: str
    keySource: str | None
    baseUrl: str
    baseUrlSource: str
    api: ApiCheck
    rateLimit: RateLimitInfo | None
    version: str


def build_status(settings: Settings, me: Result[ApiKeyContext] | None) -> StatusOutput:
    """The status from the resolved ``settings`` and the ``GET /me`` result (None: the API could not be
    reached). Mode and key type fall back to what the key's prefix says."""
    data: ApiKeyContext = me.data if me is not None else {}
    team = data.get("team") or {}
    key = settings.api_key or ""
    return {
        "profile": settings.profile,
        "team": {"id": team.get("id"), "name": team.get("name"), "slug": team.get("slug"), "plan": team.get("plan")}
        if team
        else None,
        "mode": data.get("mode") or key_mode(key),
        "keyType": data.get("keyType") or key_type(key),
        "keyId": data.get("keyId"),
        "key": redact(settings.api_key),
        "keySource": settings.key_source,
        "baseUrl": settings.base_url,
        "baseUrlSource": settings.base_url_source,
        "api": {
            "reachable": me is not None,
            # Retries and their waits are not the API's speed: the attempt that answered is timed.
            "roundTripMs": round(me.meta.round_trip_ms, 1) if me is not None else None,
            "requestId": me.meta.request_id if me is not None else None,
        },
        "rateLimit": me.meta.rate_limit.to_dict() if me is not None else None,  # type: ignore[typeddict-item]
        "version": __version__,
    }
