"""The event catalog as ``cstar events`` prints it and MCP's ``cstar_list_events`` returns it, built once."""

from __future__ import annotations

from typing_extensions import TypedDict

from cstar_cli.errors import CStarUsageError
from cstar_cli.output import json_doc
from cstar_cli.protocol import events as catalog

__all__ = ["EventTypeInfo", "event_types"]


@json_doc(
    "cstar events [--category C] [--triggerable]",
    list_of=True,
    example="""[{"type": "ticket.created", "category": "tickets",
  "description": "Fired when a new ticket is created via app, widget, API, or email", "triggerable": true}]""",
)
class EventTypeInfo(TypedDict):
    """One webhook event type of the catalog: ``type`` (``resource.action``), its ``category``, a
    ``description`` and whether ``cstar trigger`` can fire it."""

    type: str
    category: str
    description: str
    triggerable: bool


def event_types(category: str | None, *, triggerable: bool = False) -> list[EventTypeInfo]:
    """The catalog, optionally one ``category`` and only the triggerable types. Raises
    :class:`CStarUsageError` (exit 2) for an unknown category, naming the valid ones."""
    try:
        types = catalog.by_category(category)
    except KeyError:
        raise CStarUsageError(
            f"Unknown category {category!r}.",
            code="invalid_category",
            field="category",
            hint="Valid categories: " + ", ".join(catalog.CATEGORIES) + ".",
        ) from None
    return [
        {"type": t.name, "category": t.category, "description": t.description, "triggerable": t.triggerable}
        for t in types
        if t.triggerable or not triggerable
    ]
