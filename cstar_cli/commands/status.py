"""``cstar status``: who and where you are, and whether the API answers.

Shows team, mode, key type, redacted key and its source (flag/env/keychain/file), base URL, API
reachability and round-trip time, rate-limit remaining/limit and reset, CLI version. Not logged in:
exit 3 with a hint; when the profile is logged in to another API than the active base URL, the
message names both (the stored key is not sent elsewhere). API unreachable: the local part is still
printed, then exit 9.

``GET /me`` is retried on 5xx, 429 and network errors like every other command's calls; the round
trip shown (``roundTripMs``) is the final, successful attempt's, from request sent to response read.
The model and its builder live in :mod:`cstar_cli.views.status`, shared with MCP's ``cstar_get_status``;
the body in :mod:`cstar_cli.commands.status_run`, shared with the entry point's fast path.
"""

from __future__ import annotations

import typer

from cstar_cli.commands.status_run import fetch_status, render_status, show_status
from cstar_cli.context import get_app

__all__ = ["fetch_status", "render_status", "status_command"]

app = typer.Typer(add_completion=False)


@app.command("status")
def status_command(ctx: typer.Context) -> None:
    """Show the team, mode, key, base URL, API round trip and rate limit."""
    # The body is Typer-free: the entry point runs it for `cstar status --json` (commands/fast.py).
    show_status(get_app(ctx))
