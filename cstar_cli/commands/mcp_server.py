"""``cstar mcp-server [--read-only] [--tools a,b]``: serve cStar's tools to AI coding agents over MCP
(stdio). Reference: "CLI" → ``cstar mcp-server`` and "MCP server config"; docs/mcp.md.

The agent starts this as a subprocess; stdout carries only the protocol and everything else goes
to stderr. The key comes from ``--api-key``, ``CSTAR_API_KEY`` or the stored login (read on the
first tool call, so start-up never waits for the keychain); without one the server still starts
and the tools answer with an error telling the user to run ``cstar login``. A bad ``--tools``,
``--profile`` or ``--base-url`` fails before the server starts (exit 2).
"""

from __future__ import annotations

import logging
import os
import signal
from typing import Any

import typer

from cstar_cli.context import get_app
from cstar_cli.settings import Settings, resolve

app = typer.Typer(add_completion=False)


def _exit_quietly(signum: int, frame: Any) -> None:
    os._exit(0)


@app.command("mcp-server")
def mcp_server_command(
    ctx: typer.Context,
    read_only: bool = typer.Option(
        False, "--read-only", help="Hide the tools that change things (cstar_create_ticket, cstar_trigger_webhook)."
    ),
    tools: list[str] | None = typer.Option(
        None,
        "--tools",
        metavar="NAMES",
        help="Publish only these tools (comma-separated; the cstar_ prefix is optional), e.g. "
        "--tools cstar_list_tickets,cstar_get_ticket.",
        show_default=False,
    ),
) -> None:
    """Run an MCP server on stdin/stdout for AI agents (Claude Code, Cursor, Continue)."""
    # A client may stop the server while it is still starting: exit quietly, not with a traceback.
    # Once serving, the server's own handlers take over.
    signal.signal(signal.SIGTERM, _exit_quietly)
    signal.signal(signal.SIGINT, _exit_quietly)
    from cstar_cli.mcp.toolset import select_tools

    names = select_tools(tools, read_only=read_only)
    opts = get_app(ctx)
    # Checked now so a bad --profile/--base-url fails before the server starts; the stored key waits.
    early = resolve(api_key=opts.api_key, base_url=opts.base_url, profile=opts.profile, load_stored_key=False)

    from cstar_cli.mcp.access import ApiAccess, Secrets
    from cstar_cli.mcp.server import build_server, configure_logging, exit_now_if_threads_linger, serve_stdio

    secrets = Secrets()
    secrets.add(early.api_key)
    configure_logging(secrets, debug=bool(os.environ.get("CSTAR_DEBUG")))
    log = logging.getLogger("cstar.mcp")

    def load_settings() -> Settings:
        # A fresh resolve each time (until a key is found) sees a `cstar login` done after start-up.
        settings = resolve(api_key=opts.api_key, base_url=opts.base_url, profile=opts.profile)
        for notice in settings.notices:
            log.warning("%s", notice)
        return settings

    api = ApiAccess(load_settings, secrets)
    code = serve_stdio(build_server(api, names))
    exit_now_if_threads_linger(code)
    api.close()
    raise typer.Exit(code)
