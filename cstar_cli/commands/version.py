"""``cstar version``: the same line as ``cstar --version`` (``cstar X.Y.Z``); ``--json`` prints
:class:`VersionOutput`."""

from __future__ import annotations

import typer
from typing_extensions import TypedDict

from cstar_cli import __version__
from cstar_cli.context import get_app
from cstar_cli.output import Output, json_doc

app = typer.Typer(add_completion=False)


@json_doc("cstar version", example="""{"version": "0.1.0"}""")
class VersionOutput(TypedDict):
    """``cstar version``: the installed version (``X.Y.Z``)."""

    version: str


def render_version(v: VersionOutput, out: Output) -> None:
    """``cstar X.Y.Z`` on stdout."""
    out.line(f"cstar {v['version']}")


@app.command("version")
def version_command(ctx: typer.Context) -> None:
    """Print cstar's version."""
    version: VersionOutput = {"version": __version__}
    get_app(ctx).out.show(version, render_version)
