"""``cstar events [--category tickets] [--triggerable]``: the webhook event catalog, offline.

``--json`` prints a list of ``{"type", "category", "description", "triggerable"}`` in the reference's
order (docs/json.md).
"""

from __future__ import annotations

import typer

from cstar_cli.context import get_app
from cstar_cli.errors import CStarUsageError
from cstar_cli.protocol import events as catalog

app = typer.Typer(add_completion=False)


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
    out = get_app(ctx).out
    try:
        types = catalog.by_category(category)
    except KeyError:
        raise CStarUsageError(
            f"Unknown category {category!r}.",
            code="invalid_category",
            field="category",
            hint="Valid categories: " + ", ".join(catalog.CATEGORIES) + ".",
        ) from None
    if triggerable:
        types = [t for t in types if t.triggerable]
    out.data(
        [t.to_dict() for t in types],
        lambda: out.table(
            ["EVENT TYPE", "CATEGORY", "TRIGGER", "DESCRIPTION"],
            [(t.name, t.category, "yes" if t.triggerable else "", t.description) for t in types],
            styles={0: "cyan", 2: "green"},
        ),
    )
