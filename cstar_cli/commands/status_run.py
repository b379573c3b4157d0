"""The body of ``cstar status`` without Typer: run by the command (:mod:`cstar_cli.commands.status`)
and by the entry point's fast path for ``cstar status --json`` (:mod:`cstar_cli.commands.fast`), so
both print the same document and raise the same errors.

The model and its builder live in :mod:`cstar_cli.views.status`, shared with MCP's ``cstar_get_status``.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import TYPE_CHECKING

from cstar_cli import __version__
from cstar_cli.errors import CStarConnectionError
from cstar_cli.views.status import KEY_SOURCES, StatusOutput, build_status

if TYPE_CHECKING:
    from cstar_cli.api import CStarClient
    from cstar_cli.context import AppContext
    from cstar_cli.output import Output
    from cstar_cli.settings import Settings

__all__ = ["fetch_status", "render_status", "show_status"]


def fetch_status(settings: Settings, client: CStarClient) -> tuple[StatusOutput, CStarConnectionError | None]:
    """``GET /me`` through ``client`` → ``(status, None)``, or ``(status, error)`` when the API could not be
    reached (the status then holds what is known locally). Other API errors are raised."""
    try:
        me = client.me()
    except CStarConnectionError as e:
        return build_status(settings, None), e
    return build_status(settings, me), None


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


def show_status(app_ctx: AppContext) -> None:
    """Print the status (``--json`` or the human form, per ``app_ctx.out``) on stdout. Raises
    :class:`~cstar_cli.errors.CStarAuthenticationError` (exit 3) when there is no key, after the
    document :class:`~cstar_cli.errors.CStarConnectionError` (exit 9) when the API could not be
    reached, and any other API or settings error (bad base URL or profile: exit 2)."""
    out = app_ctx.out
    settings = app_ctx.settings()
    client = app_ctx.client(timeout=10.0)  # no key: the "not logged in" error, exit 3
    with out.spinner("Contacting the cStar API…"):
        status, failure = fetch_status(settings, client)
    out.show(status, render_status)
    if failure is not None:
        raise failure
