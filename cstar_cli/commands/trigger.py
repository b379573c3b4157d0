"""``cstar trigger EVENT``: fire a test webhook event (reference: ``POST /webhooks/trigger-test``).

The type is checked offline first: an unknown or untriggerable type is refused (exit 2) with the
closest valid names. ``--json`` prints :class:`TriggerOutput`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer
from typing_extensions import TypedDict

from cstar_cli.api.models import Delivery
from cstar_cli.context import get_app
from cstar_cli.errors import CStarUsageError
from cstar_cli.output import Output, json_doc
from cstar_cli.protocol import events as catalog

if TYPE_CHECKING:
    from cstar_cli.api import CStarClient

app = typer.Typer(add_completion=False)


# output model ------------------------------------------------------------------------------------


@json_doc(
    "cstar trigger EVENT",
    example="""{"event": "ticket.created", "eventId": "evt_…", "test": true,
 "deliveries": [{"target": "cls_…", "queued": true}], "requestId": "req_…"}""",
)
class TriggerOutput(TypedDict):
    """``cstar trigger``: the API's trigger-test answer plus the call's ``requestId``."""

    event: str
    eventId: str | None
    test: bool
    deliveries: list[Delivery]
    requestId: str | None


def _triggerable(incomplete: str) -> list[str]:
    return [e for e in catalog.TRIGGERABLE if e.startswith(incomplete)]


def check_triggerable(event: str) -> str:
    """``event`` normalised, or :class:`CStarUsageError` naming the closest triggerable types."""
    name = event.strip().lower()
    if name in catalog.TRIGGERABLE:
        return name
    close = catalog.suggest(name, catalog.TRIGGERABLE, n=2)
    did_you_mean = f"Did you mean {', '.join(close)}? " if close else ""
    if name in catalog.CATALOG:
        message = f"{name} is a real event type but cannot be triggered."
    else:
        message = f"Unknown event type {event!r}."
    raise CStarUsageError(
        message,
        code="invalid_event",
        field="event",
        hint=f"{did_you_mean}`cstar events --triggerable` lists the {len(catalog.TRIGGERABLE)} triggerable types.",
    )


def _triggerable_by_category() -> str:
    # One line per category, in the catalog's order, so `cstar trigger --help` answers "which types?".
    lines: dict[str, list[str]] = {}
    for name in catalog.TRIGGERABLE:
        lines.setdefault(catalog.CATALOG[name].category, []).append(name)
    return "\n".join(f"{category}: {', '.join(names)}" for category, names in lines.items())


# fetch -------------------------------------------------------------------------------------------


def fetch_trigger(client: CStarClient, event: str) -> TriggerOutput:
    """``POST …/webhooks/trigger-test`` for ``event`` (already checked)."""
    sent = client.trigger_test(event)
    return {"event": event, **sent.data, "requestId": sent.meta.request_id}  # type: ignore[typeddict-item]


# render ------------------------------------------------------------------------------------------


def render_trigger(sent: TriggerOutput, out: Output) -> None:
    """The event sent, its request ID and where it was queued, on stdout."""
    out.line(f"Triggered {sent['event']} {sent.get('eventId')}", style="green")
    out.line(f"Request ID: {sent['requestId']}")
    deliveries = sent.get("deliveries") or []
    if deliveries:
        # The API only queues the deliveries; whether each one arrives is up to its target.
        out.line(f"Queued for {len(deliveries)} target(s):")
        for d in deliveries:
            out.line(f"  {d.get('target')}{'' if d.get('queued', True) else ' (not queued)'}")
    else:
        out.line("No active webhook or `cstar listen` session matches this event.")


# command -----------------------------------------------------------------------------------------


@app.command(
    "trigger",
    epilog=f"Triggerable event types ({len(catalog.TRIGGERABLE)}, also `cstar events --triggerable`):\n"
    + _triggerable_by_category(),
)
def trigger_command(
    ctx: typer.Context,
    event: str = typer.Argument(..., help="Event type, e.g. ticket.created.", autocompletion=_triggerable),
) -> None:
    """Fire a test event to every active webhook and `cstar listen` session."""
    app_ctx = get_app(ctx)
    out = app_ctx.out
    name = check_triggerable(event)
    client = app_ctx.client()
    with out.spinner(f"Triggering {name}…"):
        sent = fetch_trigger(client, name)
    out.show(sent, render_trigger)
