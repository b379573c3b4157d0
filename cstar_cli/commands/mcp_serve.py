"""Serving ``cstar mcp-server`` without Typer: shared by the command (:mod:`cstar_cli.commands.mcp_server`)
and the entry point's fast path (:mod:`cstar_cli.commands.fast`), so both start the same server.

Nothing here imports Typer or Rich: an agent's client waits for ``initialize`` while this loads.
"""

from __future__ import annotations

import contextlib
import os
import signal
from collections.abc import Iterator, Sequence

__all__ = ["serve", "stop_quietly_on_signals"]


def _exit_quietly(signum: int, frame: object) -> None:
    os._exit(0)


def stop_quietly_on_signals() -> None:
    """SIGTERM and SIGINT end the process with 0 at once, from now until the server's own handlers
    take over: a client may stop the server while it is still starting, and gets no traceback."""
    signal.signal(signal.SIGTERM, _exit_quietly)
    signal.signal(signal.SIGINT, _exit_quietly)


def serve(names: Sequence[str], *, api_key: str | None, base_url: str | None, profile: str | None) -> int:
    """Serve the tools ``names`` (from :func:`cstar_cli.mcp.toolset.select_tools`) on stdin/stdout
    until stdin closes or a signal arrives; returns the exit code (0, or 1 when serving failed).

    The profile and base URL are checked first, so a bad ``--profile``/``--base-url`` raises
    :class:`~cstar_cli.errors.CStarUsageError` (exit 2) before the server starts; the stored key is
    read on the first tool call (:func:`cstar_cli.settings.resolve` each time until one is found, so a
    ``cstar login`` done after start-up is seen)."""
    import logging

    from cstar_cli.settings import Settings, resolve

    early = resolve(api_key=api_key, base_url=base_url, profile=profile, load_stored_key=False)

    from cstar_cli.mcp.access import ApiAccess, Secrets
    from cstar_cli.mcp.server import build_server, configure_logging, exit_now_if_threads_linger, serve_stdio

    secrets = Secrets()
    secrets.add(early.api_key)
    configure_logging(secrets, debug=bool(os.environ.get("CSTAR_DEBUG")))
    log = logging.getLogger("cstar.mcp")

    def load_settings() -> Settings:
        settings = resolve(api_key=api_key, base_url=base_url, profile=profile)
        for notice in settings.notices:
            log.warning("%s", notice)
        return settings

    api = ApiAccess(load_settings, secrets)
    with _sdk_logging_setup_skipped():
        server = build_server(api, names)
    code = serve_stdio(server)
    exit_now_if_threads_linger(code)
    api.close()
    return code


@contextlib.contextmanager
def _sdk_logging_setup_skipped() -> Iterator[None]:
    """While the server is built: the SDK's ``MCPServer.__init__`` calls its ``configure_logging``,
    which imports Rich (~50 ms) to build a handler for ``logging.basicConfig``, a no-op once the root
    logger has cstar's scrubbing handler (set just before). Skipping the call changes nothing else.
    Pinned by tests/test_fast_paths.py (the SDK still calls it; Rich stays unloaded)."""
    from mcp.server.mcpserver import server as sdk

    names = vars(sdk)  # the name MCPServer.__init__ looks up when it runs
    configure = names["configure_logging"]
    names["configure_logging"] = lambda *args, **kwargs: None
    try:
        yield
    finally:
        names["configure_logging"] = configure
