"""``cstar listen``: receive the team's webhook events here and forward them to a local server.

Parses the flags, runs :class:`cstar_cli.relay.Relay` and renders its elements; all protocol work
(session, WebSocket, signing, retries, reconnects, acks) lives in :mod:`cstar_cli.relay`.

Output (docs/listen.md has every detail): event and delivery lines are the command's data and go to
stdout (``--> ticket.created [evt_…]``, ``<-- [200] POST http://localhost:3000/ [evt_…] 12 ms``);
``--format json`` / ``--json`` print one JSON object per event instead (``{"type": "event", "eventId",
"eventType", "receivedAt", "requestId", "payload", "delivery"}``, and ``{"type": "event_too_large", …}``
for an event the server could not send). The ready line, retries in JSON mode, reconnects, events
too large to receive and the final summary go to stderr. The session is deleted on the server when
the command ends (also after ``--print-secret``).

Exit codes: 0 after SIGTERM or ``--print-secret``, 130 after Ctrl-C, 2 for a bad flag, 3 when the key
is missing, invalid or revoked, 4 when it is not a secret key, 8 when the server keeps sending an
event over the frame limit, 9 when the first connection cannot be made.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import signal
import socket
from collections.abc import Callable
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

import typer
from typing_extensions import TypedDict

from cstar_cli.context import get_app
from cstar_cli.errors import EXIT_INTERRUPTED, CStarError, CStarUsageError
from cstar_cli.output import Output, dumps, json_doc
from cstar_cli.protocol import events as catalog

if TYPE_CHECKING:
    from cstar_cli.api import CStarClient
    from cstar_cli.api.models import CliSession
    from cstar_cli.relay import (
        DeliveryAttempted,
        EventReceived,
        EventTooLarge,
        Outcome,
        Ready,
        Reconnected,
        Reconnecting,
        Relay,
        SessionRenewed,
        Stopped,
    )

app = typer.Typer(add_completion=False)

_GREEN, _RED, _BOLD, _RESET = "\x1b[32m", "\x1b[31m", "\x1b[1m", "\x1b[0m"
MAX_TIMEOUT = 3600.0


# output model ------------------------------------------------------------------------------------


@json_doc("cstar listen --format json")
class ListenEventLine(TypedDict):
    """One line of ``cstar listen --format json`` per event: ``payload`` is the event as sent (parsed
    JSON, or the text when it is not JSON), ``delivery`` the forward's final outcome (null without
    ``--forward-to``), ``receivedAt`` ISO 8601.

    One `{"type": "event", "eventId", "eventType", "receivedAt", "requestId", "payload", "delivery"}`
    object per line, written when the event's delivery has its final outcome; the fields are documented in
    [listen.md](listen.md#json-lines---format-json-or---json).
    """

    type: str
    eventId: str
    eventType: str
    receivedAt: str
    requestId: str | None
    payload: Any
    delivery: dict[str, Any] | None


def _resource_patterns() -> list[str]:
    """``ticket.*``, ``customer.*``, … one per resource of the catalog."""
    return sorted({name.split(".", 1)[0] + ".*" for name in catalog.CATALOG})


def parse_events(values: list[str]) -> list[str]:
    """``--events`` values (comma-separated, repeatable) → the session filter, deduplicated, in order;
    ``["*"]`` when the flag was not given. Raises :class:`CStarUsageError` naming the closest valid
    types for an unknown one (server contract, Listening §5: exact type, ``resource.*`` or ``*``), and
    for values that name no type at all (``--events ""``, ``--events ,,``), which would otherwise
    silently mean every event."""
    if not values:
        return ["*"]
    patterns: list[str] = []
    for value in values:
        for part in value.split(","):
            name = part.strip().lower()
            if not name or name in patterns:
                continue
            if not catalog.is_valid_pattern(name):
                pool = _resource_patterns() if name.endswith(".*") else None
                close = catalog.suggest(name, pool, n=2)
                did_you_mean = f"Did you mean {', '.join(close)}? " if close else ""
                raise CStarUsageError(
                    f"Unknown event type {part.strip()!r} in --events.",
                    code="invalid_event",
                    field="events",
                    hint=f"{did_you_mean}`cstar events` lists every type; ticket.* or * match several.",
                )
            patterns.append(name)
    if not patterns:
        raise CStarUsageError(
            "--events needs at least one event type.",
            code="invalid_event",
            field="events",
            hint="`cstar events` lists them; use * for all events (or leave --events out).",
        )
    return patterns


def check_timeout(value: float) -> float:
    """``--timeout`` in seconds: a finite number with 0 < value ≤ :data:`MAX_TIMEOUT`, else
    :class:`CStarUsageError` (``inf``, ``nan``, ``0``, ``-1``, ``1e300`` are all refused)."""
    if not (math.isfinite(value) and 0 < value <= MAX_TIMEOUT):
        raise CStarUsageError(
            f"Invalid --timeout {value:g}.",
            code="invalid_timeout",
            field="timeout",
            hint=f"Use a number of seconds greater than 0 and at most {MAX_TIMEOUT:g}, e.g. --timeout 10.",
        )
    return value


def _complete_events(incomplete: str) -> list[str]:
    done, _, current = incomplete.rpartition(",")
    prefix = done + "," if done else ""
    return [prefix + p for p in ["*", *_resource_patterns(), *catalog.CATALOG] if p.startswith(current)]


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _parsed(payload: str) -> Any:
    try:
        return json.loads(payload)
    except ValueError:
        return payload


class Renderer:
    """Turns relay elements into lines: human (``json=False``) or JSON lines on stdout. Writes straight
    to the streams, one flushed line at a time: this runs once or twice per event, so it stays cheap."""

    def __init__(self, out: Output, *, json: bool, forwarding: bool) -> None:
        from cstar_cli import relay as r

        self.out = out
        self.json = json
        self.forwarding = forwarding
        self.color = not json and out.color_out
        self._dispatch: dict[type, Any] = {
            r.EventReceived: self._event,
            r.DeliveryAttempted: self._attempt,
            r.Delivered: self._outcome,
            r.DeliveryFailed: self._outcome,
            r.EventTooLarge: self._too_large,
            r.Ready: self._ready,
            r.Reconnecting: self._reconnecting,
            r.SessionRenewed: self._renewed,
            r.Reconnected: self._reconnected,
        }

    def __call__(self, element: Any) -> None:
        handler = self._dispatch.get(type(element))
        if handler is not None:
            handler(element)

    def _stdout(self, text: str) -> None:
        stream = self.out.stdout
        stream.write(text + "\n")
        stream.flush()

    def _paint(self, text: str, code: str) -> str:
        return f"{code}{text}{_RESET}" if self.color else text

    def _event(self, ev: EventReceived) -> None:
        if not self.json:
            self._stdout(f"--> {self._paint(ev.event_type, _BOLD)} [{ev.event_id}]")
        elif not self.forwarding:
            self._json_event(ev, None)

    def _outcome(self, outcome: Outcome) -> None:
        if self.json:
            self._json_event(outcome.event, outcome.to_dict())
        else:
            self._stdout(self._outcome_line(outcome))

    def _too_large(self, notice: EventTooLarge) -> None:
        what = f"{notice.event_type} " if notice.event_type else ""
        self.out.warn(
            f"Event {what}[{notice.event_id}] was not received: it is {notice.size} bytes, over the "
            f"{notice.limit}-byte frame limit. Acknowledged as failed; fetch it from the API if you need it."
        )
        if self.json:
            self._stdout(
                dumps(
                    {
                        "type": "event_too_large",
                        "eventId": notice.event_id,
                        "eventType": notice.event_type or None,
                        "size": notice.size,
                        "limit": notice.limit,
                        "error": notice.error,
                    }
                )
            )

    def _attempt(self, attempt: DeliveryAttempted) -> None:
        if attempt.retry_in is None:
            return
        line = self._attempt_line(attempt)
        if self.json:
            self.out.warn(line)
        else:
            self._stdout(line)

    def _reconnecting(self, rc: Reconnecting) -> None:
        if rc.attempt == 1:
            self.out.warn(f"Connection lost: {rc.reason}. Reconnecting…")
        elif rc.attempt % 5 == 0:
            self.out.warn(f"Still reconnecting (attempt {rc.attempt}): {rc.reason}.")

    def _renewed(self, renewed: SessionRenewed) -> None:
        self.out.info(f"The session had expired; listening on a new one ({renewed.session_id}).")
        if renewed.secret_changed:
            self.out.warn(f"The webhook signing secret changed: {renewed.secret}")

    def _reconnected(self, rc: Reconnected) -> None:
        self.out.success(f"Reconnected, {rc.replayed} replayed.")
        if rc.gap:
            self.out.warn(
                f"The server no longer holds events after {rc.resumed_after}: "
                "events sent while disconnected may be missing."
            )

    def _ready(self, ready: Ready) -> None:
        self.out.success(f"Ready! Your webhook signing secret is {ready.secret} (^C to quit)")
        what = "all events" if ready.events == ("*",) else ", ".join(ready.events) + " events"
        if ready.forward_to:
            self.out.info(f"Forwarding {what} to {ready.forward_to}")
        else:
            self.out.info(f"Listening for {what} (add --forward-to to deliver them to your server)")

    def _status(self, status: int | None, ok: bool) -> str:
        text = f"[{status if status is not None else 'ERR'}]"
        return self._paint(text, _GREEN if ok else _RED)

    def _attempt_line(self, a: DeliveryAttempted) -> str:
        detail = f"{a.duration_ms:.0f} ms" if a.status is not None else a.error
        return (
            f"<-- {self._status(a.status, False)} POST {a.url} [{a.event_id}] {detail}, "
            f"retrying in {a.retry_in:g} s (attempt {a.attempt + 1}/{a.max_attempts})"
        )

    def _outcome_line(self, o: Outcome) -> str:
        line = f"<-- {self._status(o.status, o.ok)} POST {o.url} [{o.event.event_id}] "
        if o.ok:
            return line + f"{o.duration_ms:.0f} ms"
        detail = f"{o.duration_ms:.0f} ms" if o.status is not None else o.error
        tries = f"{o.attempts} attempt{'s' if o.attempts != 1 else ''}"
        return line + f"{detail}, gave up after {tries}"

    def _json_event(self, ev: EventReceived, delivery: dict[str, Any] | None) -> None:
        line: ListenEventLine = {
            "type": "event",
            "eventId": ev.event_id,
            "eventType": ev.event_type,
            "receivedAt": _iso(ev.received_at),
            "requestId": ev.request_id,
            "payload": _parsed(ev.payload),
            "delivery": delivery,
        }
        self._stdout(dumps(line))

    def stopped(self, totals: Stopped) -> None:
        """The summary line on stderr."""
        if self.forwarding:
            text = f"{totals.forwarded} forwarded, {totals.failed} failed"
        else:
            text = f"{totals.received} event{'s' if totals.received != 1 else ''} received"
        if totals.too_large:
            text += f", {totals.too_large} too large to receive"
        if totals.duplicates:
            text += f", {totals.duplicates} replayed duplicate{'s' if totals.duplicates != 1 else ''} ignored"
        if totals.in_flight:
            # A new run starts with new events, so this one is not sent again: say which to check.
            self.out.warn(
                f"Stopped while {totals.in_flight} was being delivered: it is not acknowledged and will not "
                "be sent again (a new `cstar listen` starts with new events)."
            )
        self.out.info(f"Stopped: {text}.")


# the session: opened and closed on the API for the relay -----------------------------------------


def session_opener(client: CStarClient, patterns: list[str], device: str) -> Callable[[], CliSession]:
    """``open_session`` for :class:`~cstar_cli.relay.Relay`: ``POST …/cli/sessions`` with the filter and
    this machine's name, returning the session (``id``, ``websocketUrl``, ``secret``, …)."""
    return lambda: client.create_cli_session(patterns, device_name=device).data


def session_closer(client: CStarClient) -> Callable[[str], None]:
    """``close_session`` for the relay: ``DELETE …/cli/sessions/{id}``, tried once. It only tidies up
    (the session would expire anyway), so it must not delay the exit."""

    def close(session_id: str) -> None:
        client.delete_cli_session(session_id, retries=0)

    return close


async def run_relay(relay: Relay, render: Renderer) -> int:
    """Iterate ``relay`` into ``render`` until SIGINT/SIGTERM (→ 130 / 0) or an error (raised after the
    summary). The socket and HTTP client are always closed; a signal ends the run within a second."""
    from cstar_cli.relay import Ready

    loop = asyncio.get_running_loop()
    task = asyncio.current_task()
    assert task is not None
    caught: list[int] = []

    def on_signal(signum: int) -> None:
        # Only the first signal cancels: a second Ctrl-C must not interrupt the (bounded) cleanup.
        if not caught:
            caught.append(signum)
            task.cancel()

    installed = []
    for signum in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(signum, on_signal, signum)
            installed.append(signum)
        except (NotImplementedError, RuntimeError, ValueError):
            pass
    started = False
    try:
        async for element in relay.run():
            started = started or isinstance(element, Ready)
            render(element)
    except asyncio.CancelledError:
        if not caught:
            raise
        uncancel = getattr(task, "uncancel", None)
        if uncancel is not None:
            uncancel()
    finally:
        try:
            totals = await relay.aclose()
        except asyncio.CancelledError:  # a signal that arrived while an error was being raised
            totals = relay.totals()
        for signum in installed:
            loop.remove_signal_handler(signum)
        if started:
            render.stopped(totals)
    return EXIT_INTERRUPTED if caught and caught[0] == signal.SIGINT else 0


@app.command("listen")
def listen_command(
    ctx: typer.Context,
    forward_to: str | None = typer.Option(
        None,
        "--forward-to",
        "-f",
        help="Where to POST each event: a port (3000), host:port/path (localhost:3000/webhooks) or a URL.",
        metavar="URL",
        show_default=False,
    ),
    events: list[str] = typer.Option(
        [],
        "--events",
        "-e",
        help="Event types to receive, comma-separated or repeated: ticket.created, ticket.*, * (default: all).",
        metavar="TYPES",
        show_default=False,
        autocompletion=_complete_events,
    ),
    headers: list[str] = typer.Option(
        [],
        "--headers",
        "-H",
        help='Extra header for every forward, "Name: value" (repeatable; replaces ours of the same name).',
        metavar='"NAME: VALUE"',
        show_default=False,
    ),
    skip_verify: bool = typer.Option(
        False, "--skip-verify", help="Don't verify TLS certificates of an https receiver."
    ),
    print_secret: bool = typer.Option(
        False, "--print-secret", help="Print the webhook signing secret and exit (nothing is forwarded)."
    ),
    format_: str | None = typer.Option(
        None, "--format", help="Output format: json (one JSON object per event, like --json) or text.", metavar="FORMAT"
    ),
    timeout: float = typer.Option(
        30.0,
        "--timeout",
        help="Seconds to wait for the receiver's answer on each attempt, up to 3600 (4 attempts, 0.5/1/2 s apart).",
        metavar="SECONDS",
    ),
) -> None:
    """Receive webhook events here and forward them to your local server, signed."""
    app_ctx = get_app(ctx)
    out = app_ctx.out
    if format_ is not None and format_.lower() not in ("json", "text"):
        raise CStarUsageError(
            f"Unknown --format {format_!r}.", code="invalid_format", field="format", hint="Use --format json or text."
        )
    json_mode = app_ctx.json if format_ is None else format_.lower() == "json"
    # --format json is --json for this command: errors become JSON on stderr too (docs/json.md).
    out.json = json_mode
    patterns = parse_events(events)
    timeout = check_timeout(timeout)

    from cstar_cli.relay import ForwardOptions, Relay, parse_forward_url, parse_header

    extra = tuple(parse_header(h) for h in headers)
    forward = None
    if forward_to is not None:
        forward = ForwardOptions(parse_forward_url(forward_to), extra, timeout=timeout, verify=not skip_verify)
    elif extra or skip_verify:
        out.warn("Note: -H/--headers and --skip-verify only apply with --forward-to.")

    client = app_ctx.client()
    open_session = session_opener(client, patterns, socket.gethostname())
    close_session = session_closer(client)

    if print_secret:
        session = open_session()
        out.data({"secret": session.get("secret")}, lambda: out.line(str(session.get("secret"))))
        # The secret is stable per device, so the session itself is not needed any more.
        if session.get("id"):
            with contextlib.suppress(CStarError):
                close_session(str(session["id"]))
        return

    relay = Relay(
        open_session,
        api_key=client.api_key,
        events=tuple(patterns),
        forward=forward,
        close_session=close_session,
    )
    code = asyncio.run(run_relay(relay, Renderer(out, json=json_mode, forwarding=forward is not None)))
    if code:
        raise typer.Exit(code)
