"""The flags ``cstar listen`` and ``cstar replay`` share, declared once so both commands take and
describe them alike: ``--headers``/``-H``, ``--skip-verify``, ``--format``, ``--timeout`` and
``--retry-for``. Each function gives a new Typer option (a command's parameter default); their values
are read by :func:`cstar_cli.commands.listen.delivery_options` and
:func:`cstar_cli.commands.listen.json_output`.
"""

from __future__ import annotations

from typing import Any

import typer

__all__ = ["format_option", "headers_option", "retry_for_option", "skip_verify_option", "timeout_option"]


def headers_option() -> Any:
    """``--headers``/``-H "Name: value"``, repeatable: a list of str, [] by default."""
    return typer.Option(
        [],
        "--headers",
        "-H",
        help='Extra header for every forward, "Name: value" (repeatable; replaces ours of the same name).',
        metavar='"NAME: VALUE"',
        show_default=False,
    )


def skip_verify_option() -> Any:
    """``--skip-verify``: a bool, False by default."""
    return typer.Option(False, "--skip-verify", help="Don't verify TLS certificates of an https receiver.")


def format_option() -> Any:
    """``--format json|text``: a str or None."""
    return typer.Option(
        None, "--format", help="Output format: json (one JSON object per event, like --json) or text.", metavar="FORMAT"
    )


def timeout_option(detail: str = "") -> Any:
    """``--timeout SECONDS``: a float, 30.0 by default; ``detail`` ends its help (" (4 attempts …)")."""
    return typer.Option(
        30.0,
        "--timeout",
        help=f"Seconds to wait for the receiver's answer on each attempt, up to 3600{detail}.",
        metavar="SECONDS",
    )


def retry_for_option() -> Any:
    """``--retry-for DURATION``: a str (``30s``, ``5m``) or None."""
    return typer.Option(
        None,
        "--retry-for",
        help="Keep retrying a failed delivery for this long (30s, 5m, 1h) instead of 4 attempts.",
        metavar="DURATION",
        show_default=False,
    )
