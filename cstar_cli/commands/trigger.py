"""``cstar trigger EVENT``: fire a test webhook event (reference: ``POST /webhooks/trigger-test``).

The type is checked offline first: an unknown or untriggerable type is refused (exit 2) with the
closest valid names. ``--json`` prints :class:`TriggerOutput`.

Shaping (server contract, "Shaped triggers"): ``--payload FILE|-`` gives the whole ``data``;
otherwise ``--override``/``--add``/``--remove`` edit the server's synthetic sample (``GET
…/webhooks/trigger-test/sample``), applied overrides first, then adds, then removes
(:mod:`cstar_cli.fields`); a path that does not exist is exit 2 naming it. The shaped ``data`` is
sent with the trigger; ``--dry-run`` prints it instead.
"""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING, Any

import typer
from typing_extensions import TypedDict

from cstar_cli.api.models import Delivery
from cstar_cli.context import get_app
from cstar_cli.errors import CStarUsageError
from cstar_cli.fields import Stdin, file_text, parse_edits, read_file
from cstar_cli.output import Output, dumps, json_doc, output_error
from cstar_cli.protocol import events as catalog
from cstar_cli.triggers import fetch_sample, shaped_data

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


def fetch_trigger(client: CStarClient, event: str, data: dict[str, Any] | None = None) -> TriggerOutput:
    """``POST …/webhooks/trigger-test`` for ``event`` (already checked), with ``data`` replacing the
    synthetic sample when given."""
    sent = client.trigger_test(event) if data is None else client.trigger_test(event, data)
    return {"event": event, **sent.data, "requestId": sent.meta.request_id}  # type: ignore[typeddict-item]


def parse_payload(text: str, name: str) -> dict[str, Any]:
    """``--payload``'s text (read from ``name``) as the event's ``data``: a JSON object, else exit 2."""
    try:
        value = json.loads(text)
    except ValueError as e:
        raise CStarUsageError(
            f"--payload {'-' if name == '-' else repr(name)} is not JSON: {e}.",
            code="invalid_payload",
            field="payload",
            hint="--payload takes the event's whole data object, e.g. {\"ticket\": {…}}.",
        ) from None
    if not isinstance(value, dict):
        raise CStarUsageError(
            f"--payload {'-' if name == '-' else repr(name)} is a JSON {type(value).__name__}, not an object.",
            code="invalid_payload",
            field="payload",
            hint="--payload takes the event's whole data object, e.g. {\"ticket\": {…}}.",
        )
    return value


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
    override: list[str] = typer.Option(
        [],
        "--override",
        help="Replace the value at PATH in the event's data (repeatable; PATH must exist).",
        metavar="PATH=VALUE",
        show_default=False,
    ),
    add: list[str] = typer.Option(
        [],
        "--add",
        help="Append to the list at PATH, or add a new key (repeatable).",
        metavar="PATH=VALUE",
        show_default=False,
    ),
    remove: list[str] = typer.Option(
        [], "--remove", help="Delete the key or list item at PATH (repeatable).", metavar="PATH", show_default=False
    ),
    payload_file: str | None = typer.Option(
        None, "--payload", help="The event's whole data, a JSON object from FILE (- for stdin).", metavar="FILE"
    ),
    dry_run: bool = typer.Option(False, "--dry-run", help="Print the data that would be sent; send nothing."),
) -> None:
    """Fire a test event to every active webhook and `cstar listen` session.

    PATH is dotted into the event's data (ticket.priority, ticket.tags.0); VALUE is typed like `cstar api -F`: numbers, true, false, null, @file, else a string. Edits apply as overrides, then adds, then removes."""
    app_ctx = get_app(ctx)
    out = app_ctx.out
    name = check_triggerable(event)
    stdin = Stdin()
    edits = parse_edits(
        override=override,
        add=add,
        remove=remove,
        read=lambda file: file_text(read_file(file, stdin, f"@{file}"), file),
    )
    payload = None
    if payload_file is not None:
        if payload_file == "-" and _isatty(sys.stdin):
            out.info("Reading the payload from standard input (end it with Ctrl-D)…")
        payload = parse_payload(file_text(read_file(payload_file, stdin, "--payload"), payload_file), payload_file)
    needs_sample = payload is None and (edits or dry_run)
    client = app_ctx.client() if needs_sample or not dry_run else None
    data = shaped_data(client, name, edits, payload)
    if dry_run:
        if data is None:
            data = fetch_sample(client, name) if client is not None else {}
        _print_json(out, data)
        return
    assert client is not None
    with out.spinner(f"Triggering {name}…"):
        sent = fetch_trigger(client, name, data)
    out.show(sent, render_trigger)


def _print_json(out: Output, data: dict[str, Any]) -> None:
    # Indented and terminal-safe for a person, one line for a pipe (as `cstar api` prints).
    if out.stdout_tty and not out.json:
        out.json_document(data)
        return
    try:
        out.stdout.write(dumps(data) + "\n")
        out.stdout.flush()
    except BrokenPipeError:
        raise
    except OSError as e:
        raise output_error(e) from None


def _isatty(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False
