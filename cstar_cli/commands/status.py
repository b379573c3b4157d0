"""``cstar status``: who and where you are, and whether the API answers.

Shows team, mode, key type, redacted key and its source (flag/env/keychain/file), base URL, API
reachability and round-trip time, rate-limit remaining/limit and reset, CLI version. Not logged in:
exit 3 with a hint; when the profile is logged in to another API than the active base URL, the
message names both (the stored key is not sent elsewhere). API unreachable: the local part is still
printed, then exit 9.

``GET /me`` is retried on 5xx, 429 and network errors like every other command's calls; the round
trip shown (``roundTripMs``) is the final, successful attempt's, from request sent to response read.

``--json`` prints ``{"profile", "team": {"id", "name", "slug", "plan"} | null, "mode", "keyType",
"keyId", "key", "keySource", "baseUrl", "baseUrlSource", "api": {"reachable", "roundTripMs",
"requestId"}, "rateLimit": {"limit", "remaining", "reset", "window"} | null, "version"}``.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import typer

from cstar_cli import __version__
from cstar_cli.context import get_app
from cstar_cli.errors import CStarConnectionError, CStarError
from cstar_cli.protocol.keys import key_mode, key_type, redact

app = typer.Typer(add_completion=False)

_SOURCES = {
    "flag": "--api-key",
    "env": "CSTAR_API_KEY",
    "keychain": "OS keychain",
    "file": "credentials file",
}


@app.command("status")
def status_command(ctx: typer.Context) -> None:
    """Show the team, mode, key, base URL, API round trip and rate limit."""
    app_ctx = get_app(ctx)
    out = app_ctx.out
    s = app_ctx.settings()
    client = app_ctx.client(timeout=10.0)  # no key: the "not logged in" error, exit 3
    me: dict[str, Any] | None = None
    failure: CStarError | None = None
    try:
        with out.spinner("Contacting the cStar API…"):
            me = client.me()
    except CStarConnectionError as e:
        failure = e
    meta = client.last_meta
    # Retries and their waits are not the API's speed: time the attempt that answered.
    rtt = round(meta.round_trip_ms, 1)
    team = (me or {}).get("team") or {}
    result = {
        "profile": s.profile,
        "team": {k: team.get(k) for k in ("id", "name", "slug", "plan")} if team else None,
        "mode": (me or {}).get("mode") or key_mode(s.api_key or ""),
        "keyType": (me or {}).get("keyType") or key_type(s.api_key or ""),
        "keyId": (me or {}).get("keyId"),
        "key": redact(s.api_key),
        "keySource": s.key_source,
        "baseUrl": s.base_url,
        "baseUrlSource": s.base_url_source,
        "api": {
            "reachable": failure is None,
            "roundTripMs": rtt if failure is None else None,
            "requestId": meta.request_id,
        },
        "rateLimit": meta.rate_limit.to_dict() if failure is None else None,
        "version": __version__,
    }

    def human() -> None:
        rl = meta.rate_limit
        reset = datetime.fromtimestamp(rl.reset, timezone.utc).astimezone().strftime("%H:%M:%S") if rl.reset else None
        out.fields(
            [
                ("Team", f"{team.get('name')} ({team.get('id')})" if team else "-"),
                ("Mode", result["mode"]),
                (
                    "Key",
                    f"{result['key']} ({result['keyType']}, from {_SOURCES.get(s.key_source or '', '-')})",
                ),
                ("Profile", s.profile),
                ("Base URL", s.base_url),
                ("API", f"reachable, {rtt:g} ms" if failure is None else "unreachable"),
                (
                    "Rate limit",
                    f"{rl.remaining}/{rl.limit} left, resets {reset}" if failure is None and rl.limit else "-",
                ),
                ("CLI", f"cstar {__version__}"),
            ]
        )

    out.data(result, human)
    if failure is not None:
        raise failure
