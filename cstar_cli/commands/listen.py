"""``cstar listen``: receive the team's webhook events here and forward them to a local server.

Parses the flags, runs :class:`cstar_cli.relay.Relay` and renders its elements; all protocol work
(session, WebSocket, signing, retries, reconnects, acks) lives in :mod:`cstar_cli.relay`.

Output (docs/listen.md has every detail): event and delivery lines are the command's data and go to
stdout, each after the local time (``2026-12-01 14:02:11  --> ticket.created [evt_…]``,
``<-- [200] POST http://localhost:3000/ [evt_…] 12 ms``);
``--format json`` / ``--json`` print one JSON object per event instead (``{"type": "event", "eventId",
"eventType", "receivedAt", "requestId", "payload", "delivery"}``, and ``{"type": "event_too_large", …}``
for an event the server could not send). The ready line, retries in JSON mode, reconnects, events
too large to receive, frames from the server that do not match the protocol and the final summary go
to stderr. Text from the server (event ids and types, close reasons) is shown with control characters
escaped (:func:`cstar_cli.output.printable`) in human output; JSON lines carry it as JSON strings. The session is deleted on the server when
the command ends (also after ``--print-secret``).

Exit codes: 0 after SIGTERM or ``--print-secret``, 130 after Ctrl-C, 2 for a bad flag or ``.cstar.toml``, 3 when the key
is missing, invalid or revoked, 4 when it is not a secret key, 8 when the server keeps sending an
event over the frame limit, 9 when the first connection cannot be made or the session's websocketUrl is not
on the API's own origin, 12 when ``--exit-after`` is set and a delivery is given up, 13 when ``--max-wait``
passes first (0 once ``--exit-after N`` events were delivered).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import signal
import socket
import time
from collections.abc import AsyncIterator, Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import typer
from typing_extensions import TypedDict

from cstar_cli.commands.delivery_flags import (
    format_option,
    headers_option,
    retry_for_option,
    skip_verify_option,
    timeout_option,
)
from cstar_cli.context import get_app
from cstar_cli.durations import parse_duration
from cstar_cli.errors import (
    EXIT_INTERRUPTED,
    CStarDeliveryFailedError,
    CStarError,
    CStarMaxWaitError,
    CStarUsageError,
)
from cstar_cli.output import Output, dumps, json_doc, printable, shorten
from cstar_cli.protocol import events as catalog

if TYPE_CHECKING:
    from cstar_cli.api import CStarClient
    from cstar_cli.api.models import CliSession
    from cstar_cli.relay import (
        CatchingUp,
        DeliveryAttempted,
        EventReceived,
        EventTooLarge,
        ForwardOptions,
        FrameIgnored,
        Outcome,
        Ready,
        Reconnected,
        Reconnecting,
        Relay,
        Route,
        SessionRenewed,
        Stopped,
    )

app = typer.Typer(add_completion=False)

_GREEN, _RED, _BOLD, _RESET = "\x1b[32m", "\x1b[31m", "\x1b[1m", "\x1b[0m"
#: Receiver answers that usually mean its signature check failed: they get the raw-body hint.
SIGNATURE_STATUSES = frozenset({400, 401, 403})
SIGNATURE_HINT = (
    "Hint: the receiver answered {status}. If it checks X-Signature, verify the raw request bytes, "
    "before any JSON parsing (re-serialised JSON never matches); `cstar webhooks verify --help` "
    "checks one delivery by hand."
)
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


def json_output(app_ctx: Any, format_: str | None) -> bool:
    """Whether ``--format`` (``json``/``text``; None: follow ``--json``) asks for JSON lines; sets the
    output to it, so errors become JSON on stderr too (docs/json.md). Raises CStarUsageError (exit 2)."""
    if format_ is not None and format_.lower() not in ("json", "text"):
        raise CStarUsageError(
            f"Unknown --format {format_!r}.", code="invalid_format", field="format", hint="Use --format json or text."
        )
    json_mode = bool(app_ctx.json) if format_ is None else format_.lower() == "json"
    app_ctx.out.json = json_mode
    return json_mode


def delivery_options(
    url: str, headers: Sequence[str], *, timeout: float, skip_verify: bool, retry_for: str | None
) -> ForwardOptions:
    """The forwarder's options from the shared delivery flags (``-H``, ``--timeout``, ``--skip-verify``,
    ``--retry-for``) of ``listen`` and ``replay``, each checked. Raises CStarUsageError (exit 2)."""
    from cstar_cli.relay import ForwardOptions, parse_header

    return ForwardOptions(
        url,
        tuple(parse_header(h) for h in headers),
        timeout=check_timeout(timeout),
        verify=not skip_verify,
        retry_for=parse_duration(retry_for, "--retry-for") if retry_for is not None else None,
    )


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
    from cstar_cli.protocol.webhook import iso_millis

    return iso_millis(ts)


def _parsed(payload: str) -> Any:
    try:
        return json.loads(payload)
    except ValueError:
        return payload


#: :func:`cstar_cli.output.dumps` (the same settings, so the same text) without building an encoder
#: per call, which costs more than encoding one event's line.
_encode_line = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), default=str).encode


#: The longest (s) an event's stdout line waits in the buffer while events stream in.
_FLUSH_DELAY = 0.05


def _quiet_attempt(attempt: DeliveryAttempted) -> bool:
    """Whether rendering ``attempt`` writes nothing to stderr: a final, 2xx attempt."""
    return attempt.retry_in is None and attempt.status is not None and 200 <= attempt.status < 300


class Renderer:
    """Turns relay elements into lines: human (``json=False``) or JSON lines on stdout. This runs
    once or twice per event, so it stays cheap: inside an event loop, event and delivery elements
    are queued and their lines formatted and flushed together at most :data:`_FLUSH_DELAY` s after
    the first of them (one timer and one write for a whole burst instead of one per line); any other
    element, and :meth:`flush`, first flushes what is pending, so stdout and stderr lines keep their
    order. A write that fails in that timer is raised at the next element or :meth:`flush`."""

    def __init__(
        self, out: Output, *, json: bool, forwarding: bool, timestamps: bool = False, resume: bool = False
    ) -> None:
        from cstar_cli import relay as r

        self.out = out
        # The next run catches up what this one leaves unacknowledged (not with --no-resume's default off).
        self.resume = resume
        # Human event and delivery lines start with the local time, to the second (like Stripe CLI's).
        self.timestamps = timestamps and not json
        self._stamp_second, self._stamp_text = -1, ""
        self._hinted = False
        self.json = json
        self.forwarding = forwarding
        self.color = not json and out.color_out
        self._dispatch: dict[type, Any] = {
            r.EventReceived: self._event,
            r.DeliveryAttempted: self._attempt,
            r.Delivered: self._outcome,
            r.DeliveryFailed: self._outcome,
            r.EventTooLarge: self._too_large,
            r.FrameIgnored: self._ignored,
            r.Ready: self._ready,
            r.CatchingUp: self._catching_up,
            r.Reconnecting: self._reconnecting,
            r.SessionRenewed: self._renewed,
            r.Reconnected: self._reconnected,
        }
        # Elements whose lines may wait in the buffer: they write to stdout only (an attempt, only
        # when it succeeded: a retry or a signature hint goes to stderr).
        self._hot: frozenset[type] = frozenset({r.EventReceived, r.DeliveryAttempted, r.Delivered, r.DeliveryFailed})
        self._attempted = r.DeliveryAttempted
        self._flush_at: asyncio.TimerHandle | None = None
        self._batching = False
        # Stdout elements waiting for _drain (handler, element), None when no drain is scheduled.
        self._queued: list[tuple[Any, Any]] | None = None
        self._deferred: Exception | None = None
        self._draining = False
        # Lines rendered while a flush is due, written by flush() in one write: one system call a
        # burst even when the stream is unbuffered (PYTHONUNBUFFERED, common in containers).
        self._lines: list[str] = []

    def __call__(self, element: Any) -> None:
        self._raise_deferred()
        handler = self._dispatch.get(type(element))
        if handler is None:
            return
        kind = type(element)
        if kind in self._hot and (kind is not self._attempted or _quiet_attempt(element)):
            if kind is self._attempted:
                return  # a final 2xx attempt shows nothing (its outcome line does)
            if self._queued is None:
                try:
                    loop = asyncio.get_running_loop()
                except RuntimeError:  # no event loop: render now
                    self._batching = True
                    handler(element)
                    self._batching = False
                    return
                self._queued = []
                if self._flush_at is None:
                    self._flush_at = loop.call_later(_FLUSH_DELAY, self._timed_flush)
            self._queued.append((handler, element))
        else:
            self.flush()
            handler(element)

    def _drain(self) -> None:
        """Render the queued stdout elements, in order, into the stream's buffer (the caller
        flushes it). Lines are formatted when they are flushed, a burst's worth at a time, not
        between one delivery and the next."""
        queued, self._queued = self._queued, None
        if not queued:
            return
        self._draining = True
        try:
            for handler, element in queued:
                handler(element)
        except Exception as e:  # a failed write (closed pipe, full disk): raised at the next element
            self._deferred = e
        finally:
            self._draining = False

    def _raise_deferred(self) -> None:
        """Raise what a drain or timed flush (loop callbacks, where it would be lost) failed with."""
        error, self._deferred = self._deferred, None
        if error is not None:
            raise error

    def _timed_flush(self) -> None:
        self._flush_at = None
        try:
            self.flush()
        except Exception as e:
            self._deferred = e

    def flush(self) -> None:
        """Write out the stdout lines still queued or buffered; raises what writing them (now or in
        a loop callback before) failed with."""
        self._drain()
        self._raise_deferred()
        if self._flush_at is not None:
            self._flush_at.cancel()
            self._flush_at = None
        lines, self._lines = self._lines, []
        if lines:
            self.out.stdout.write("\n".join(lines) + "\n")
        self.out.stdout.flush()

    def _stdout(self, text: str) -> None:
        if self._flush_at is not None or self._draining:
            self._lines.append(text)
            return
        if self._batching:
            try:
                self._flush_at = asyncio.get_running_loop().call_later(_FLUSH_DELAY, self._timed_flush)
                self._lines.append(text)
                return
            except RuntimeError:  # no event loop: nothing would run the timer
                pass
        stream = self.out.stdout
        stream.write(text + "\n")
        stream.flush()

    def _paint(self, text: str, code: str) -> str:
        return f"{code}{text}{_RESET}" if self.color else text

    def _event(self, ev: EventReceived) -> None:
        if not self.json:
            again = " (resent)" if ev.resend else ""
            self._stdout(
                self._stamp(ev.received_at)
                + f"--> {self._paint(printable(ev.event_type), _BOLD)} [{printable(ev.event_id)}]{again}"
            )
        elif not self.forwarding:
            self._json_event(ev, None)

    def _outcome(self, outcome: Outcome) -> None:
        if self.json:
            self._json_event(outcome.event, outcome.to_dict())
        else:
            self._stdout(self._stamp() + self._outcome_line(outcome))

    def _too_large(self, notice: EventTooLarge) -> None:
        what = f"{notice.event_type} " if notice.event_type else ""
        size = "of unknown size" if notice.size is None else f"{notice.size} bytes"
        self.out.warn(
            f"Event {what}[{notice.event_id}] was not received: it is {size}, over the "
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

    def _ignored(self, ignored: FrameIgnored) -> None:
        # Warnings escape control characters themselves (Output.warn); ids are shortened, as a
        # server may send anything.
        if ignored.event_id is not None:
            self.out.warn(
                f"Ignored event [{shorten(ignored.event_id, 80)}] from the server: {ignored.reason}. "
                "Acknowledged as failed, not forwarded."
            )
        else:
            self.out.warn(
                f"Ignored a frame from the server: {ignored.reason} (frames like it are not reported again)."
            )

    def _stamp(self, when: float | None = None) -> str:
        """``2026-12-01 14:02:11  `` (local time) when timestamps are on, else ""."""
        if not self.timestamps:
            return ""
        second = int(time.time() if when is None else when)
        # Formatted once per second: a burst prints thousands of lines within the same one.
        if second != self._stamp_second:
            self._stamp_second, self._stamp_text = second, time.strftime("%Y-%m-%d %H:%M:%S  ", time.localtime(second))
        return self._stamp_text

    def _signature_hint(self, attempt: DeliveryAttempted) -> None:
        """Once per run, on stderr: a 400/401/403 answer is most often a signature checked over
        re-serialised JSON instead of the raw body."""
        if attempt.status in SIGNATURE_STATUSES and not self._hinted:
            self._hinted = True
            self.out.info(SIGNATURE_HINT.format(status=attempt.status))

    def _attempt(self, attempt: DeliveryAttempted) -> None:
        self._signature_hint(attempt)
        if attempt.retry_in is None:
            return
        line = self._attempt_line(attempt)
        if self.json:
            self.out.warn(line)
        else:
            self._stdout(self._stamp() + line)

    def _reconnecting(self, rc: Reconnecting) -> None:
        if rc.attempt == 1:
            self.out.warn(f"Connection lost: {rc.reason}. Reconnecting…")
        elif rc.attempt % 5 == 0:
            self.out.warn(f"Still reconnecting (attempt {rc.attempt}): {rc.reason}.")

    def _renewed(self, renewed: SessionRenewed) -> None:
        self.out.info(f"The session had expired; listening on a new one ({renewed.session_id}).")
        if renewed.secret_changed:
            self.out.warn(f"The webhook signing secret changed: {renewed.secret}", shows=renewed.secret)

    def _reconnected(self, rc: Reconnected) -> None:
        self.out.success(f"Reconnected, {rc.replayed} replayed.")
        if rc.gap:
            self.out.warn(
                f"The server no longer holds events after {rc.resumed_after}: "
                "events sent while disconnected may be missing."
            )

    def _ready(self, ready: Ready) -> None:
        self.out.success(f"Ready! Your webhook signing secret is {ready.secret} (^C to quit)", shows=ready.secret)
        what = "all events" if ready.events == ("*",) else ", ".join(ready.events) + " events"
        if ready.routes:
            for shown, url in ready.routes:
                self.out.info(f"Forwarding {shown if shown != 'all events' else what} to {url}")
        elif ready.forward_to:
            self.out.info(f"Forwarding {what} to {ready.forward_to}")
        else:
            self.out.info(f"Listening for {what} (add --forward-to to deliver them to your server)")

    def _catching_up(self, c: CatchingUp) -> None:
        if c.missing_before is not None:
            self.out.warn(
                f"Events before {_local_time(c.missing_before, full=True)} may be missing: older than the "
                "server keeps (24 h / 10,000 events)."
            )
        if c.count:
            since = f" since {_local_time(c.since)}" if c.since is not None else ""
            self.out.info(f"Catching up: {c.count} event{'s' if c.count != 1 else ''}{since}…")

    def _status(self, status: int | None, ok: bool) -> str:
        text = f"[{status if status is not None else 'ERR'}]"
        return self._paint(text, _GREEN if ok else _RED)

    def _attempt_line(self, a: DeliveryAttempted) -> str:
        detail = f"{a.duration_ms:.0f} ms" if a.status is not None else a.error
        return (
            f"<-- {self._status(a.status, False)} POST {self.out.echo(a.url)} [{printable(a.event_id)}] {detail}, "
            f"retrying in {a.retry_in:g} s (attempt {a.attempt + 1}{f'/{a.max_attempts}' if a.max_attempts else ''})"
        )

    def _outcome_line(self, o: Outcome) -> str:
        line = f"<-- {self._status(o.status, o.ok)} POST {self.out.echo(o.url)} [{printable(o.event.event_id)}] "
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
        self._stdout(_encode_line(line))

    def stopped(self, totals: Stopped) -> None:
        """The summary line on stderr."""
        self.flush()
        if self.forwarding:
            text = f"{totals.forwarded} forwarded, {totals.failed} failed"
        else:
            text = f"{totals.received} event{'s' if totals.received != 1 else ''} received"
        if totals.too_large:
            text += f", {totals.too_large} too large to receive"
        if totals.malformed:
            text += f", {totals.malformed} malformed frame{'s' if totals.malformed != 1 else ''} ignored"
        if totals.duplicates:
            text += f", {totals.duplicates} replayed duplicate{'s' if totals.duplicates != 1 else ''} ignored"
        if totals.in_flight and self.resume:
            self.out.warn(
                f"Stopped while {totals.in_flight} was being delivered: it is not acknowledged, so the next "
                "`cstar listen` on this device and profile delivers it again."
            )
        elif totals.in_flight:
            # A new run starts with new events, so this one is not sent again: say which to check.
            self.out.warn(
                f"Stopped while {totals.in_flight} was being delivered: it is not acknowledged and will not "
                "be sent again (a new `cstar listen` starts with new events)."
            )
        self.out.info(f"Stopped: {text}.")


# the session: opened and closed on the API for the relay -----------------------------------------


def session_opener(
    client: CStarClient, patterns: list[str], device: str, *, resume_key: str | None = None, resume: bool = False
) -> Callable[[], CliSession]:
    """``open_session`` for :class:`~cstar_cli.relay.Relay`: ``POST …/cli/sessions`` with the filter and
    this machine's name, returning the session (``id``, ``websocketUrl``, ``secret``, …). With a
    ``resume_key`` (device and profile, see :func:`resume_key_for`) the session's acks record where
    this device stopped, and ``resume`` starts it there (the session's ``resume`` says what it
    catches up)."""
    return lambda: client.create_cli_session(patterns, device_name=device, resume_key=resume_key, resume=resume).data


def resume_key_for(device: str, profile: str) -> str:
    """The key the server remembers a device's place under: ``host/profile`` (two profiles on one
    machine are two devices). The signing secret stays per device name alone."""
    return f"{device}/{profile}"


def _local_time(ts: float, *, full: bool = False) -> str:
    """``14:02`` (or ``2026-12-01 14:02`` when ``full`` or not today), local time."""
    when = datetime.fromtimestamp(ts)
    if full or when.date() != datetime.now().date():
        return when.strftime("%Y-%m-%d %H:%M")
    return when.strftime("%H:%M")


def session_closer(client: CStarClient) -> Callable[[str], None]:
    """``close_session`` for the relay: ``DELETE …/cli/sessions/{id}``, tried once. It only tidies up
    (the session would expire anyway), so it must not delay the exit."""

    def close(session_id: str) -> None:
        client.delete_cli_session(session_id, retries=0)

    return close


class ElementSource(Protocol):
    """What :func:`run_relay` drives: :class:`~cstar_cli.relay.Relay`, or ``cstar replay``'s
    recording. ``run`` yields relay elements; ``stop`` ends it after the current event is settled;
    ``aclose`` releases everything and returns the totals, ``totals`` returns them so far."""

    def run(self) -> AsyncIterator[Any]: ...

    def stop(self) -> None: ...

    async def aclose(self) -> Stopped: ...

    def totals(self) -> Stopped: ...


async def run_relay(
    relay: ElementSource | Relay,
    render: Renderer,
    *,
    exit_after: int | None = None,
    max_wait: float | None = None,
    also: Callable[[Any], None] | None = None,
) -> int:
    """Iterate ``relay`` into ``render`` (and ``also``, e.g. a :class:`~cstar_cli.recording.Recorder`)
    until SIGINT/SIGTERM (→ 130 / 0) or an error (raised after the summary). The socket and HTTP
    client are always closed; a signal ends the run within a second.

    ``exit_after``: return 0 once that many events were delivered (2xx; received, when not
    forwarding), and raise
    :class:`CStarDeliveryFailedError` (exit 12) once a delivery is given up; either way the event is
    acked first. ``max_wait`` (s, from the call): raise :class:`CStarMaxWaitError` (exit 13) when it
    passes first."""
    from cstar_cli.relay import Delivered, DeliveryFailed, EventReceived, Ready, Relay

    if exit_after is not None and isinstance(relay, Relay):
        relay.stop_after(exit_after)
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
    timed_out: list[bool] = []

    def on_deadline() -> None:
        if not caught:
            timed_out.append(True)
            caught.append(0)
            task.cancel()

    deadline = loop.call_later(max_wait, on_deadline) if max_wait is not None else None
    started = False
    delivered = 0
    gave_up: DeliveryFailed | None = None
    try:
        async for element in relay.run():
            started = started or isinstance(element, Ready)
            render(element)
            if also is not None:
                also(element)
            if exit_after is None:
                continue
            if isinstance(element, Delivered) or (not render.forwarding and isinstance(element, EventReceived)):
                delivered += 1
                if delivered >= exit_after:
                    relay.stop()
            elif isinstance(element, DeliveryFailed) and gave_up is None:
                gave_up = element
                relay.stop()
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
        if deadline is not None:
            deadline.cancel()
        for signum in installed:
            loop.remove_signal_handler(signum)
        render.flush()
        if started:
            render.stopped(totals)
    if timed_out:
        goal = f"; {delivered} of {exit_after} events delivered" if exit_after is not None else ""
        raise CStarMaxWaitError(f"--max-wait {max_wait:g} s passed{goal}.")
    if gave_up is not None:
        raise CStarDeliveryFailedError(
            f"The receiver failed event {printable(gave_up.event.event_id)} after {gave_up.attempts} "
            f"attempt{'s' if gave_up.attempts != 1 else ''} ({gave_up.error})."
        )
    return EXIT_INTERRUPTED if caught and caught[0] == signal.SIGINT else 0


def forward_routes(
    values: list[str], base: ForwardOptions, patterns: list[str], *, events_given: bool
) -> tuple[list[Route], list[str]]:
    """The targets (``-f`` values, else the ``[listen]`` routes of ``.cstar.toml`` in the working
    directory; flags override the file) and the session filter they need: the union of the routes'
    patterns and ``--events`` when given, ``*`` when a route takes every event and ``--events`` is
    not given. ``base`` gives every route's options but its URL. Raises :class:`CStarUsageError`
    (exit 2) for a bad value or project file."""
    from cstar_cli.relay import load_project_routes, parse_route, union_patterns

    routes = [parse_route(v, base) for v in values] if values else (load_project_routes(Path.cwd(), base) or [])
    if not routes or all(r.patterns is None for r in routes):
        return routes, patterns
    if not events_given:
        return routes, list(union_patterns(routes))
    merged = list(patterns)
    for route in routes:
        merged.extend(p for p in route.patterns or () if p not in merged)
    return routes, ["*"] if "*" in merged else merged


@app.command("listen")
def listen_command(
    ctx: typer.Context,
    forward_to: list[str] = typer.Option(
        [],
        "--forward-to",
        "-f",
        help="Where to POST each event: a port (3000), host:port/path (localhost:3000/webhooks) or a URL; "
        "PATTERNS=URL for some events only (ticket.*=localhost:3001). Repeatable: one target each.",
        metavar="[PATTERNS=]URL",
        show_default=False,
    ),
    no_resume: bool = typer.Option(
        False,
        "--no-resume",
        help="Start with new events instead of catching up where this device and profile's last run stopped.",
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
    headers: list[str] = headers_option(),
    skip_verify: bool = skip_verify_option(),
    print_secret: bool = typer.Option(
        False, "--print-secret", help="Print the webhook signing secret and exit (nothing is forwarded)."
    ),
    format_: str | None = format_option(),
    timeout: float = timeout_option(" (4 attempts, 0.5/1/2 s apart)"),
    retry_for: str | None = retry_for_option(),
    exit_after: int | None = typer.Option(
        None,
        "--exit-after",
        help="Exit 0 once N events were delivered (2xx), 12 as soon as one is given up. For CI.",
        metavar="N",
        show_default=False,
    ),
    max_wait: str | None = typer.Option(
        None,
        "--max-wait",
        help="Stop after this long (60, 90s, 5m) with exit 13. For CI, with --exit-after.",
        metavar="SECONDS",
        show_default=False,
    ),
    record: Path | None = typer.Option(
        None,
        "--record",
        help="Append each event (exact payload, headers, outcome) to FILE as a JSON line (0600), for `cstar replay`.",
        metavar="FILE",
        show_default=False,
        dir_okay=False,
    ),
) -> None:
    """Receive webhook events here and forward them to your local server, signed."""
    app_ctx = get_app(ctx)
    out = app_ctx.out
    json_mode = json_output(app_ctx, format_)
    patterns = parse_events(events)
    wait_limit = parse_duration(max_wait, "--max-wait") if max_wait is not None else None
    if exit_after is not None and exit_after < 1:
        raise CStarUsageError(
            f"Invalid --exit-after {exit_after}.",
            code="invalid_exit_after",
            field="exit_after",
            hint="Use the number of events to wait for, 1 or more, e.g. --exit-after 1.",
        )

    from cstar_cli.relay import Relay

    base = delivery_options("http://localhost/", headers, timeout=timeout, skip_verify=skip_verify, retry_for=retry_for)
    extra, budget = base.headers, base.retry_for
    routes, patterns = forward_routes(forward_to, base, patterns, events_given=bool(events))
    forward = routes[0].options if len(routes) == 1 and routes[0].patterns is None else None
    if forward is not None:
        routes = []
    elif not routes and (extra or skip_verify or budget is not None):
        out.warn("Note: -H/--headers, --skip-verify and --retry-for only apply with --forward-to.")
    forwarding = forward is not None or bool(routes)

    client = app_ctx.client()
    device = socket.gethostname()
    resume_key = resume_key_for(device, app_ctx.settings().profile)
    if print_secret:
        open_session = session_opener(client, patterns, device)
    else:
        open_session = session_opener(client, patterns, device, resume_key=resume_key, resume=not no_resume)
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
        base_url=client.base_url,
        routes=routes,
    )
    from cstar_cli.recording import Recorder

    recorder = Recorder(record, forwarding=forwarding) if record is not None else None
    render = Renderer(out, json=json_mode, forwarding=forwarding, timestamps=True, resume=True)
    try:
        code = asyncio.run(run_relay(relay, render, exit_after=exit_after, max_wait=wait_limit, also=recorder))
    finally:
        if recorder is not None:
            recorder.close()
    if code:
        raise typer.Exit(code)
