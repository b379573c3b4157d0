"""``cstar mcp-server [--read-only] [--tools a,b] [--print-config CLIENT]``: serve cStar's tools to AI
coding agents over MCP (stdio). Reference: "CLI" → ``cstar mcp-server`` and "MCP server config";
docs/mcp.md.

``--print-config claude-code|cursor|continue|vscode`` prints that client's config snippet for this
server on stdout and exits (:mod:`cstar_cli.mcp.client_config`); an unknown client is exit 2.

The agent starts this as a subprocess; stdout carries only the protocol and everything else goes
to stderr. The key comes from ``--api-key``, ``CSTAR_API_KEY`` or the stored login (read on the
first tool call, so start-up never waits for the keychain); without one the server still starts
and the tools answer with an error telling the user to run ``cstar login``. A bad ``--tools``,
``--profile`` or ``--base-url`` fails before the server starts (exit 2).
"""

from __future__ import annotations

import typer

from cstar_cli.commands.mcp_serve import serve, stop_quietly_on_signals
from cstar_cli.context import AppContext, get_app
from cstar_cli.settings import DEFAULT_BASE_URL, resolve, same_api

app = typer.Typer(add_completion=False)


def _clients(incomplete: str) -> list[str]:
    from cstar_cli.mcp.client_config import CLIENTS

    return [c for c in CLIENTS if c.startswith(incomplete)]


def print_config(opts: AppContext, client: str, *, read_only: bool, names: list[str] | None) -> None:
    """Print ``client``'s snippet for this server (``names``: the ``--tools`` selection, None for
    all) on stdout; where it goes, and whether the stored login it relies on exists, on stderr.
    Raises :class:`~cstar_cli.errors.CStarUsageError` for an unknown client, profile or base URL."""
    from cstar_cli.mcp.client_config import WHERE, client_name, render, server_command

    name = client_name(client)
    # The snippet relies on the stored login, so the keychain need not be read: only whether one exists.
    s = resolve(api_key=opts.api_key, base_url=opts.base_url, profile=opts.profile, load_stored_key=False)
    command, lead = server_command()
    args = [
        *lead,
        "mcp-server",
        *(["--read-only"] if read_only else []),
        *(["--tools", ",".join(names)] if names else []),
    ]
    env: dict[str, str] = {}
    if s.profile != "default":
        env["CSTAR_PROFILE"] = s.profile
    if not same_api(s.base_url, DEFAULT_BASE_URL):
        env["CSTAR_BASE_URL"] = s.base_url
    for line in render(name, command, args, env).splitlines():
        opts.out.line(line)
    opts.out.info(WHERE[name])
    if s.key_source in ("flag", "env"):
        opts.out.info(
            "Note: the snippet holds no key (the one given here is left out): the server uses the stored login."
        )
    if s.withheld_for or not s.profile_data.get("key_storage"):
        login = "cstar login" + ("" if same_api(s.base_url, DEFAULT_BASE_URL) else f" --base-url {s.base_url}")
        profile = "" if s.profile == "default" else f" --profile {s.profile}"
        opts.out.warn(
            f"Warning: profile '{s.profile}' is not logged in to {s.base_url}; run `{login}{profile}` before the "
            "client starts the server."
        )


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
    print_config_for: str | None = typer.Option(
        None,
        "--print-config",
        metavar="CLIENT",
        help="Print the config snippet for claude-code, cursor, continue or vscode (no key in it) and exit.",
        autocompletion=_clients,
        show_default=False,
    ),
) -> None:
    """Run an MCP server on stdin/stdout for AI agents (Claude Code, Cursor, Continue)."""
    # `cstar [global options] mcp-server [--read-only] [--tools …]` is usually served by the entry
    # point's fast path (cstar_cli.commands.fast) before Typer loads; both end up in serve().
    stop_quietly_on_signals()
    from cstar_cli.mcp.toolset import select_tools

    names = select_tools(tools, read_only=read_only)
    opts = get_app(ctx)
    if print_config_for is not None:
        print_config(opts, print_config_for, read_only=read_only, names=names if tools else None)
        return
    code = serve(names, api_key=opts.api_key, base_url=opts.base_url, profile=opts.profile)
    raise typer.Exit(code)
