"""``cstar emulator start``: run a local, persistent cStar API (see docs/emulator.md).

Once the socket is listening it prints, with ``--json``, one line on stdout::

    {"baseUrl": "http://127.0.0.1:8787", "teamId": "…", "keys": {"sk_test": "…", "sk_live": "…",
     "pk_test": "…", "pk_live": "…"}, "db": "/path/emulator.db"}

and otherwise a short summary; request lines and warnings go to stderr. It runs until SIGINT or
SIGTERM and then exits 0. A taken port exits 9; an unusable database exits 2; a malformed
``--allow-host`` exits 2.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Any

import typer

from cstar_cli.context import get_app
from cstar_cli.errors import CStarConnectionError, CStarUsageError

app = typer.Typer(help="Run a local cStar API.", no_args_is_help=True, add_completion=False)


@app.callback()
def emulator() -> None:
    """Run a local cStar API: the REST endpoints, listen sessions, webhooks and request logs, stored
    in SQLite. Point cstar at it with CSTAR_BASE_URL."""


def _configure_logging(verbose: bool) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(message)s"))
    for name in ("cstar.emulator", "uvicorn"):
        logger = logging.getLogger(name)
        logger.handlers[:] = [handler]
        logger.propagate = False
    logging.getLogger("cstar.emulator").setLevel(logging.INFO if verbose else logging.WARNING)


def _allow_hosts(values: list[str]) -> list[str]:
    from cstar_emulator.hosts import check_allow_host

    try:
        return [check_allow_host(value) for value in values]
    except ValueError as e:
        raise CStarUsageError(
            f"--allow-host: {e}.",
            code="invalid_allow_host",
            hint="Give a bare name or address, e.g. --allow-host emulator (repeat the flag for more).",
        ) from None


@app.command("start")
def start(
    ctx: typer.Context,
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on."),
    port: int = typer.Option(8787, "--port", help="Port to listen on (0 picks a free one)."),
    db: Path | None = typer.Option(
        None,
        "--db",
        help="SQLite file (default: emulator.db in CSTAR_DATA_DIR or the user data dir).",
        show_default=False,
    ),
    rate_limit: int | None = typer.Option(
        None,
        "--rate-limit",
        help="Requests per hour for every key; 0 = unlimited (default: 1000 secret, 100 publishable).",
        show_default=False,
    ),
    webhook_retry_delay: float = typer.Option(
        0.5, "--webhook-retry-delay", help="Seconds before the second webhook attempt; doubles after each."
    ),
    allow_host: list[str] | None = typer.Option(
        None,
        "--allow-host",
        metavar="NAME",
        help="Also answer requests for this Host name (repeatable), e.g. a docker-compose service name. "
        "'*' answers any Host: unsafe, lets web pages reach the emulator by DNS rebinding.",
        show_default=False,
    ),
) -> None:
    """Start the emulator and keep it running until Ctrl-C."""
    out = get_app(ctx).out
    if not 0 <= port <= 65535:
        raise CStarUsageError(f"--port must be 0–65535 (got {port}).", hint="Use --port 0 to pick a free port.")
    if rate_limit is not None and rate_limit < 0:
        raise CStarUsageError(f"--rate-limit must be 0 or more (got {rate_limit}).", hint="0 means unlimited.")
    if webhook_retry_delay < 0:
        raise CStarUsageError("--webhook-retry-delay must not be negative.")
    allow_hosts = _allow_hosts(allow_host or [])

    from cstar_emulator import AddressInUseError, DatabaseError, serve

    _configure_logging(verbose=not out.json)
    if "*" in allow_hosts:
        out.warn("--allow-host '*': any Host is answered, so any web page can reach this emulator (DNS rebinding).")

    def ready(info: dict[str, Any]) -> None:
        if out.json:
            out.json_line(info)
            return
        keys = info["keys"]
        out.line(f"cStar emulator listening on {info['baseUrl']}")
        out.fields([("Team", info["teamId"]), ("Database", info["db"])])
        out.line()
        out.fields([(kind, key) for kind, key in keys.items()])
        out.line()
        out.line("Point cstar at it:")
        out.line(f"  export CSTAR_BASE_URL={info['baseUrl']}")
        out.line(f"  cstar login --api-key {keys['sk_test']}")
        out.info("Press Ctrl-C to stop.")

    try:
        serve(
            host,
            port,
            db,
            rate_limit=rate_limit,
            webhook_retry_delay=webhook_retry_delay,
            ready=ready,
            allow_hosts=allow_hosts,
        )
    except AddressInUseError as e:
        raise CStarConnectionError(
            f"Cannot start the emulator: {e.strerror or e}.",
            code="address_in_use",
            hint="Pick another port with --port (0 picks a free one), or stop what is using it.",
        ) from None
    except DatabaseError as e:
        raise CStarUsageError(
            f"Cannot start the emulator: {e}.",
            code="database_unavailable",
            hint="Pass another file with --db, or stop the emulator that is using it.",
        ) from None
