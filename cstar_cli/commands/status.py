"""``cstar status``: who and where you are, and whether the API answers.

Shows team, mode, key type, redacted key and its source (flag/env/keychain/file), base URL, API
reachability and round-trip time, rate-limit remaining/limit and reset, CLI version. Not logged in:
exit 3 with a hint; when the profile is logged in to another API than the active base URL, the
message names both (the stored key is not sent elsewhere). API unreachable: the local part is still
printed, then exit 9.

``GET /me`` is retried on 5xx, 429 and network errors like every other command's calls; the round
trip shown (``roundTripMs``) is the final, successful attempt's, from request sent to response read.
The model and its builder live in :mod:`cstar_cli.views.status`, shared with MCP's ``cstar_get_status``.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import TYPE_CHECKING

import typer

from cstar_cli import __version__
from cstar_cli.context import get_app
from cstar_cli.errors import CStarConnectionError
from cstar_cli.output import Output
from cstar_cli.views.status import KEY_SOURCES, StatusOutput, build_status

if TYPE_CHECKING:
    from cstar_cli.api import CStarClient
    from cstar_cli.settings import Settings

__all__ = ["fetch_status", "render_status", "status_command"]

app = typer.Typer(add_completion=False)

# fetch -------------------------------------------------------------------------------------------


def fetch_status(settings: Settings, client: CStarClient) -> tuple[StatusOutput, CStarConnectionError | None]:
    """``GET /me`` through ``client`` → ``(status, None)``, or ``(status, error)`` when the API could not be
    reached (the status then holds what is known locally). Other API errors are raised."""
    try:
        me = client.me()
    except CStarConnectionError as e:
        return build_status(settings, None), e
    return build_status(settings, me), None


# render ------------------------------------------------------------------------------------------


def render_status(status: StatusOutput, out: Output) -> None:
    """The human form: aligned ``Label: value`` lines on stdout."""
    team, api, rl = status["team"], status["api"], status["rateLimit"]
    reset = None
    if rl and rl["reset"]:
        reset = datetime.fromtimestamp(rl["reset"], timezone.utc).astimezone().strftime("%H:%M:%S")
    out.fields(
        [
            ("Team", f"{team['name']} ({team['id']})" if team else "-"),
            ("Mode", status["mode"]),
            ("Key", f"{status['key']} ({status['keyType']}, from {KEY_SOURCES.get(status['keySource'] or '', '-')})"),
            ("Profile", status["profile"]),
            ("Base URL", status["baseUrl"]),
            ("API", f"reachable, {api['roundTripMs']:g} ms" if api["reachable"] else "unreachable"),
            ("Rate limit", f"{rl['remaining']}/{rl['limit']} left, resets {reset}" if rl and rl["limit"] else "-"),
            ("CLI", f"cstar {__version__}"),
        ]
    )


# command -----------------------------------------------------------------------------------------


@app.command("status")
def status_command(ctx: typer.Context) -> None:
    """Show the team, mode, key, base URL, API round trip and rate limit."""
    app_ctx = get_app(ctx)
    out = app_ctx.out
    settings = app_ctx.settings()
    client = app_ctx.client(timeout=10.0)  # no key: the "not logged in" error, exit 3
    with out.spinner("Contacting the cStar API…"):
        status, failure = fetch_status(settings, client)
    out.show(status, render_status)
    if failure is not None:
        raise failure
