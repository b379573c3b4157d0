"""``cstar events``: the webhook event catalog (offline), and the history of events that happened.

- ``cstar events [--category C] [--triggerable]``: the catalog. ``--json`` prints a list of
  :class:`~cstar_cli.views.events.EventTypeInfo` in the reference's order.
- ``cstar events recent [--type T] [--failed] [--limit N] [--before EVT]``: stored events newest
  first, each with its latest outcome per target (webhook or listen session). ``--json``: a list of
  :class:`RecentEvent`.
- ``cstar events get EVT``: one event with its payload and outcomes. ``--json``: :class:`EventWithPayload`.
- ``cstar events resend EVT [--webhook whk_…]``: deliver it again, to this machine's running
  ``cstar listen`` (the newest one, by device name) or to a registered webhook. ``--json``:
  :class:`ResendOutput`. An unknown event or webhook exits 5; no running listener exits 6.

Server contract: "Event history and resend" (docs/protocol.md); docs/events.md.
"""

from __future__ import annotations

import json
import re
import socket
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import typer
from typing_extensions import TypedDict

from cstar_cli.context import get_app
from cstar_cli.errors import CStarConflictError, CStarNotFoundError, CStarUsageError, CStarValidationError
from cstar_cli.output import Output, json_doc
from cstar_cli.protocol import events as catalog
from cstar_cli.views.events import EventTypeInfo, event_types

if TYPE_CHECKING:
    from cstar_cli.api import CStarClient

app = typer.Typer(invoke_without_command=True, add_completion=False)

DEFAULT_LIMIT = 20
MAX_LIMIT = 100
_EVENT_ID_RE = re.compile(r"^evt_[A-Za-z0-9_-]{1,100}$")
_WEBHOOK_ID_RE = re.compile(r"^whk_[A-Za-z0-9_-]{1,100}$")


# output models -----------------------------------------------------------------------------------
# The API's objects (cstar_cli.api.models) restated here: importing cstar_cli.api loads httpx, which
# the offline catalog (`cstar events`) must not wait for.


class EventOutcome(TypedDict, total=False):
    """An event's latest outcome at one target: see :class:`RecentEvent`."""

    target: str
    targetType: str
    status: int | None
    attempts: int | None
    durationMs: float | None
    error: str | None
    at: str


class _EventSummary(TypedDict, total=False):
    id: str
    type: str
    createdAt: str
    requestId: str | None
    deliveries: list[EventOutcome]


@json_doc(
    "cstar events recent",
    list_of=True,
    intro="A list of stored events, newest first, each with its latest outcome per target:",
    example="""[{"id": "evt_…", "type": "ticket.created", "createdAt": "2026-05-07T21:29:46.233Z",
  "requestId": "req_…", "deliveries": [{"target": "cls_…", "targetType": "listen", "status": 200,
  "attempts": 1, "durationMs": 4.0, "error": null, "at": "2026-05-07T21:29:46.241Z"}]}]""",
)
class RecentEvent(_EventSummary):
    """One event of ``cstar events recent``, as the API sends it.

    `deliveries` holds one entry per target the event went to: `targetType` is `webhook` (`whk_…`)
    or `listen` (a `cstar listen` session, `cls_…`). `status` is the HTTP status of the latest
    attempt, or null when no response came (`error` says why) or the listener only printed the
    event; `attempts` the attempts of the latest delivery, `durationMs` its time in ms, `at` when it
    was recorded. An outcome failed when `error` is not null or `status` is not 2xx; `--failed` keeps
    the events with at least one such target. Pass the last `id` as `--before` for the next page.
    """


@json_doc(
    "cstar events get EVT",
    intro="The event, its outcome per target (as `cstar events recent`) and `payload`:",
    example="""{"id": "evt_…", "type": "ticket.created", "createdAt": "2026-05-07T21:29:46.233Z",
  "requestId": "req_…", "deliveries": [], "payload": "{\\"id\\":\\"evt_…\\",\\"type\\":\\"ticket.created\\",…}"}""",
)
class EventWithPayload(_EventSummary, total=False):
    """One event of ``cstar events get``.

    `payload` is the exact JSON text that was delivered (and that a signature covers), as a string:
    `cstar events get EVT --json | jq '.payload | fromjson'` reads it as an object.
    """

    payload: str


@json_doc(
    "cstar events resend EVT",
    intro="Where the event was queued again:",
    example="""{"eventId": "evt_…", "target": "cls_…", "queued": true}""",
)
class ResendOutput(TypedDict, total=False):
    """The answer of ``cstar events resend``.

    `target` is the `cls_…` session of the running `cstar listen` (which shows the event again, marked
    `(resent)`) or the `whk_…` webhook given with `--webhook`. Delivery happens after the command
    returns: check it with `cstar events get EVT`.
    """

    eventId: str
    target: str
    queued: bool


# checks ------------------------------------------------------------------------------------------


def check_event_id(event_id: str) -> str:
    """``event_id`` when it looks like ``evt_…``; else :class:`CStarUsageError` (exit 2)."""
    if not _EVENT_ID_RE.fullmatch(event_id):
        raise CStarUsageError(
            f"{event_id!r} is not an event ID.",
            code="invalid_event_id",
            hint="Event IDs look like evt_…: see `cstar events recent`.",
        )
    return event_id


def check_type(pattern: str | None) -> str | None:
    """``--type``: comma-separated exact types, ``resource.*`` or ``*``; else :class:`CStarUsageError`."""
    if pattern is None:
        return None
    parts = [p.strip() for p in pattern.split(",") if p.strip()]
    for p in parts:
        if not catalog.is_valid_pattern(p):
            close = catalog.suggest(p)
            raise CStarUsageError(
                f"Unknown event type {p!r}.",
                code="invalid_event_type",
                hint=(f"Did you mean {close[0]}? " if close else "") + "See `cstar events` for the types.",
            )
    return ",".join(parts) or None


def is_failure(d: Mapping[str, Any]) -> bool:
    """Whether an outcome (:class:`~cstar_cli.api.models.EventOutcome`) failed: an error, or a status
    outside 2xx."""
    status = d.get("status")
    return d.get("error") is not None or (isinstance(status, int) and not 200 <= status < 300)


# render ------------------------------------------------------------------------------------------


def _outcome_cells(d: Mapping[str, Any] | None) -> list[Any]:
    if d is None:
        return ["", "", "", "", ""]
    status = d.get("status")
    if is_failure(d):
        result = f"failed: {d.get('error') or f'HTTP {status}'}"
    elif status is None:
        result = "received"
    else:
        result = str(status)
    ms = d.get("durationMs")
    return [d.get("target"), d.get("targetType"), result, d.get("attempts"), "" if ms is None else f"{ms:.0f} ms"]


def _rows(events: Sequence[Mapping[str, Any]], *, repeat: bool) -> list[list[Any]]:
    rows = []
    for e in events:
        head = [e.get("id"), e.get("type"), e.get("createdAt")]
        deliveries: list[Mapping[str, Any]] = list(e.get("deliveries") or []) or [None]  # type: ignore[list-item]
        for i, d in enumerate(deliveries):
            rows.append((head if i == 0 or repeat else ["", "", ""]) + _outcome_cells(d))
    return rows


def _result_style(cell: Any) -> str:
    text = str(cell)
    return "red" if text.startswith("failed") else "green" if text[:1] == "2" else ""


_COLUMNS = ["EVENT ID", "TYPE", "CREATED", "TARGET", "VIA", "RESULT", "ATTEMPTS", "TIME"]


def render_recent(events: list[RecentEvent], out: Output) -> None:
    """One row per event and target (an event with no delivery recorded yet has one row with empty outcome cells);
    TSV when piped, where every row repeats its event's columns (each line stands alone)."""
    if not events:
        out.info("No matching events.")
        return
    out.table(_COLUMNS, _rows(events, repeat=not out.stdout_tty), styles={0: "cyan", 5: _result_style})


def render_event(event: EventWithPayload, out: Output) -> None:
    """The event's fields, a table of its outcomes and its payload (indented when it is JSON)."""
    out.fields(
        [
            ("Event", event.get("id")),
            ("Type", event.get("type")),
            ("Created", event.get("createdAt")),
            ("Request", event.get("requestId")),
        ]
    )
    deliveries = list(event.get("deliveries") or [])
    if deliveries:
        out.line()
        out.table(_COLUMNS[3:], [_outcome_cells(d) for d in deliveries], styles={2: _result_style})
    else:
        # An event queued behind a webhook's backlog has no record yet either: only say what is known.
        out.line("No delivery attempt recorded yet (it may still be queued).")
    payload = event.get("payload")
    if payload is not None:
        out.line()
        try:
            document = json.loads(payload)
        except ValueError:
            out.document(payload)
        else:
            out.json_document(document)


def render_resend(sent: ResendOutput, out: Output) -> None:
    """One line naming the event and where it was queued."""
    target = str(sent.get("target") or "")
    via = "the running `cstar listen`" if target.startswith("cls_") else "webhook"
    out.line(f"Resent {sent.get('eventId')} to {via} {target}", style="green")


# API calls -----------------------------------------------------------------------------------------


def _not_found(e: CStarNotFoundError, event_id: str, webhook: str | None) -> CStarNotFoundError:
    if e.code == "webhook_not_found" and webhook:
        e.hint = "List the team's webhooks with `cstar api GET /webhooks`, or leave --webhook out to resend to `cstar listen`."
    else:
        e.hint = f"No event {event_id} here (or it is older than the event log keeps): see `cstar events recent`."
    return e


def fetch_recent(
    client: CStarClient, type_: str | None, failed: bool, limit: int, before: str | None
) -> list[RecentEvent]:
    """One page of history, newest first. Raises the client's errors; an unknown ``before`` gets a hint."""
    try:
        page = client.list_events(type=type_, failed=failed, limit=limit, before=before)
    except CStarValidationError as e:
        if before is not None and e.field in (None, "before"):
            e.hint = "Use an event ID listed by `cstar events recent`, or leave --before out."
        raise
    return [RecentEvent(**e) for e in page.data]


def resend(client: CStarClient, event_id: str, webhook: str | None) -> ResendOutput:
    """Ask the server to deliver ``event_id`` again: to ``webhook`` or to this machine's listener.
    Raises :class:`CStarNotFoundError` (exit 5) and :class:`CStarConflictError` (exit 6: nothing
    listening, or the webhook is paused), each with a hint."""
    try:
        if webhook is not None:
            result = client.resend_event(event_id, webhook_id=webhook)
        else:
            result = client.resend_event(event_id, device_name=socket.gethostname())
    except CStarNotFoundError as e:
        raise _not_found(e, event_id, webhook) from None
    except CStarConflictError as e:
        if e.code == "no_listener":
            e.message = "No `cstar listen` is running on this machine for this key's team and mode."
            e.hint = "Start `cstar listen --forward-to …` in another terminal first, or pass --webhook whk_…."
        elif e.code == "webhook_inactive":
            e.hint = 'Activate the webhook again (PATCH /webhooks/{id} {"isActive": true}) and retry.'
        raise
    return ResendOutput(**result.data)


# commands ----------------------------------------------------------------------------------------


def _categories(incomplete: str) -> list[str]:
    return [c for c in catalog.CATEGORIES if c.startswith(incomplete)]


def _types(incomplete: str) -> list[str]:
    patterns = ["*", *sorted({t.split(".", 1)[0] + ".*" for t in catalog.CATALOG}), *catalog.CATALOG]
    return [p for p in patterns if p.startswith(incomplete)]


def render_events(types: list[EventTypeInfo], out: Output) -> None:
    """A table of type, category, triggerable and description (TSV when piped)."""
    out.table(
        ["EVENT TYPE", "CATEGORY", "TRIGGER", "DESCRIPTION"],
        [(t["type"], t["category"], "yes" if t["triggerable"] else "", t["description"]) for t in types],
        styles={0: "cyan", 2: "green"},
    )


@app.callback()
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
    """List webhook event types with their category and description; `recent`, `get` and `resend`
    work with the events that happened."""
    if ctx.invoked_subcommand is not None:
        if category is not None or triggerable:
            raise CStarUsageError(
                "--category and --triggerable filter the catalog; they do not apply to a subcommand.",
                code="invalid_combination",
                hint="Use `cstar events --category …` for the catalog, `cstar events recent --type …` for history.",
            )
        return
    get_app(ctx).out.show(event_types(category, triggerable=triggerable), render_events)


@app.command("recent")
def recent_command(
    ctx: typer.Context,
    type_: str | None = typer.Option(
        None, "--type", "-t", help="Only these types: exact, resource.* or *, comma-separated.", autocompletion=_types
    ),
    failed: bool = typer.Option(False, "--failed", help="Only events whose latest delivery somewhere failed."),
    limit: int = typer.Option(DEFAULT_LIMIT, "--limit", "-n", help=f"How many events (1–{MAX_LIMIT})."),
    before: str | None = typer.Option(None, "--before", help="Only events older than this event ID (paging)."),
) -> None:
    """Show recent events, newest first, with each target's outcome: status, attempts, time."""
    if not 1 <= limit <= MAX_LIMIT:
        raise CStarUsageError(
            f"--limit must be from 1 to {MAX_LIMIT}, not {limit}.", code="invalid_limit", hint="E.g. --limit 50."
        )
    type_ = check_type(type_)
    if before is not None:
        check_event_id(before)
    app_ctx = get_app(ctx)
    with app_ctx.out.spinner("Fetching events…"):
        events = fetch_recent(app_ctx.client(), type_, failed, limit, before)
    app_ctx.out.show(events, render_recent)


@app.command("get")
def get_command(
    ctx: typer.Context, event_id: str = typer.Argument(..., metavar="EVT", help="The event ID (evt_…).")
) -> None:
    """Show one event: its payload and its outcome at each target."""
    check_event_id(event_id)
    app_ctx = get_app(ctx)
    try:
        result = app_ctx.client().get_event(event_id)
    except CStarNotFoundError as e:
        raise _not_found(e, event_id, None) from None
    app_ctx.out.show(EventWithPayload(**result.data), render_event)


@app.command("resend")
def resend_command(
    ctx: typer.Context,
    event_id: str = typer.Argument(..., metavar="EVT", help="The event ID (evt_…)."),
    webhook: str | None = typer.Option(
        None, "--webhook", "-w", help="Send to this registered webhook (whk_…) instead of the running `cstar listen`."
    ),
) -> None:
    """Deliver an event again, freshly signed: to this machine's running `cstar listen`, or a webhook."""
    check_event_id(event_id)
    if webhook is not None and not _WEBHOOK_ID_RE.fullmatch(webhook):
        raise CStarUsageError(
            f"{webhook!r} is not a webhook ID.", code="invalid_webhook_id", hint="Webhook IDs look like whk_…."
        )
    app_ctx = get_app(ctx)
    app_ctx.out.show(resend(app_ctx.client(), event_id, webhook), render_resend)


__all__ = [
    "EventOutcome",
    "EventWithPayload",
    "RecentEvent",
    "ResendOutput",
    "app",
    "check_event_id",
    "check_type",
    "is_failure",
    "render_events",
]
