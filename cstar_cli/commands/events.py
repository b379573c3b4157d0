"""``cstar events [--category tickets] [--triggerable]``: the webhook event catalog, offline.

``--json`` prints a list of :class:`~cstar_cli.views.events.EventTypeInfo` in the reference's order (docs/json.md).
"""

from __future__ import annotations

import typer

from cstar_cli.context import get_app
from cstar_cli.output import Output
from cstar_cli.protocol import events as catalog
from cstar_cli.views.events import EventTypeInfo, event_types

app = typer.Typer(add_completion=False)


# render ------------------------------------------------------------------------------------------


def render_events(types: list[EventTypeInfo], out: Output) -> None:
    """A table of type, category, triggerable and description (TSV when piped)."""
    out.table(
        ["EVENT TYPE", "CATEGORY", "TRIGGER", "DESCRIPTION"],
        [(t["type"], t["category"], "yes" if t["triggerable"] else "", t["description"]) for t in types],
        styles={0: "cyan", 2: "green"},
    )


# command -----------------------------------------------------------------------------------------


def _categories(incomplete: str) -> list[str]:
    return [c for c in catalog.CATEGORIES if c.startswith(incomplete)]


@app.command("events")
def events_command(
    ctx: typer.Context,
    category: str | None = typer.Option(
        None,
        "--category",
        "-c",
        help="Only this category: " + ", ".join(catalog.CATEGORIES) + ".",
        autocompletion=_categories,
    ),
    triggerable: bool = typer.Option(False, "--triggerable", help="Only the types `cstar trigger` can fire."),
) -> None:
    """List webhook event types with their category and description."""
    get_app(ctx).out.show(event_types(category, triggerable=triggerable), render_events)
