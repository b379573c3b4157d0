"""``cstar version``: the same line as ``cstar --version`` (``cstar X.Y.Z``); ``--json`` prints
``{"version": "X.Y.Z"}``."""

from __future__ import annotations

import typer

from cstar_cli import __version__
from cstar_cli.context import get_app

app = typer.Typer(add_completion=False)


@app.command("version")
def version_command(ctx: typer.Context) -> None:
    """Print cstar's version."""
    out = get_app(ctx).out
    out.data({"version": __version__}, lambda: out.line(f"cstar {__version__}"))
