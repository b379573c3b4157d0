"""``cstar replay FILE --forward-to URL``: deliver the events of a ``cstar listen --record`` file again.

Events go out in the file's order, one at a time, with the exact payload bytes recorded, signed now
with the listen signing secret (fetched from the API like ``cstar listen --print-secret``, or given
with ``--secret whsec_…``, then no API call is made) through the relay's own forwarder: the same
headers, retries (``--timeout``, ``--retry-for``) and output lines as ``cstar listen`` (stdout:
``-->`` / ``<--`` lines, or JSON lines with ``--format json``; stderr: the ready line and the summary).
``--pace`` spaces them: ``fast`` (default, back to back), ``realtime`` (the recorded gaps) or ``Nms``.

Exit codes: 0 when every event was delivered (2xx), 12 at the first one given up (the rest are not
sent), 2 for a bad flag or a malformed recording (the message names the line), 3/4/9 when fetching
the secret fails, 130 after Ctrl-C, 0 after SIGTERM.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

import typer

from cstar_cli.commands.delivery_flags import (
    format_option,
    headers_option,
    retry_for_option,
    skip_verify_option,
    timeout_option,
)
from cstar_cli.context import get_app
from cstar_cli.durations import parse_duration
from cstar_cli.errors import CStarError, CStarUsageError

app = typer.Typer(add_completion=False)

#: ``--pace`` values besides ``Nms``.
PACES = ("fast", "realtime")


def parse_pace(text: str) -> float | None:
    """``--pace``: ``fast`` → 0.0 (no pause), ``realtime`` → None (the recorded gaps), ``250ms`` /
    ``2s`` → that pause in seconds. Raises :class:`CStarUsageError` (exit 2) for anything else."""
    value = text.strip().lower()
    if value == "fast":
        return 0.0
    if value == "realtime":
        return None
    try:
        return parse_duration(value, "--pace", allow_zero=True)
    except CStarUsageError:
        raise CStarUsageError(
            f"Invalid --pace {text!r}.",
            code="invalid_pace",
            field="pace",
            hint="Use fast (back to back), realtime (the recorded gaps) or a pause such as 250ms.",
        ) from None


def check_secret(secret: str) -> str:
    """A ``--secret`` that looks like a signing secret (``whsec_…``), else :class:`CStarUsageError`."""
    value = secret.strip()
    if not value.startswith("whsec_") or len(value) <= len("whsec_") or any(c.isspace() for c in value):
        raise CStarUsageError(
            "--secret is not a webhook signing secret.",
            code="invalid_secret",
            field="secret",
            hint="Give the whsec_… secret `cstar listen --print-secret` prints, or leave --secret out.",
        )
    return value


class Replay:
    """A recording as an element source for :func:`cstar_cli.commands.listen.run_relay`: yields
    ``Ready`` then, per recorded event, ``EventReceived`` and the forwarder's steps and outcome.
    ``pause`` is the gap before each event after the first (s), None for the recorded gaps."""

    def __init__(self, events: Sequence[Any], forwarder: Any, *, pause: float | None) -> None:
        self._events = events
        self._forwarder = forwarder
        self._pause = pause
        self._stopping = False
        self._received = self._forwarded = self._failed = 0
        self._in_flight: str | None = None

    def stop(self) -> None:
        self._stopping = True

    def totals(self) -> Any:
        from cstar_cli.relay import Stopped

        return Stopped(
            received=self._received, forwarded=self._forwarded, failed=self._failed, in_flight=self._in_flight
        )

    async def aclose(self) -> Any:
        await self._forwarder.aclose()
        return self.totals()

    async def run(self) -> AsyncIterator[Any]:
        from cstar_cli.relay import Delivered, DeliveryFailed, EventReceived, Ready

        fwd = self._forwarder
        yield Ready("", fwd.secret, ("*",), fwd.options.display_url)
        previous: float | None = None
        for rec in self._events:
            if self._stopping:
                return
            if previous is not None:
                gap = max(0.0, rec.received_at - previous) if self._pause is None else self._pause
                if gap:
                    await asyncio.sleep(gap)
            previous = rec.received_at
            event = EventReceived(
                rec.event_id, rec.event_type, rec.payload, rec.request_id, rec.webhook_id, time.time()
            )
            self._received += 1
            self._in_flight = rec.event_id
            yield event
            async for step in fwd.deliver(event):
                if isinstance(step, (Delivered, DeliveryFailed)):
                    self._in_flight = None
                    if step.ok:
                        self._forwarded += 1
                    else:
                        self._failed += 1
                yield step


def _listen_secret(app_ctx: Any) -> str:
    """The listen signing secret, as ``cstar listen --print-secret`` gets it (a session opened and
    deleted again)."""
    from cstar_cli.commands.listen import session_closer, session_opener

    client = app_ctx.client()
    session = session_opener(client, ["*"], socket.gethostname())()
    if session.get("id"):
        with contextlib.suppress(CStarError):
            session_closer(client)(str(session["id"]))
    return str(session.get("secret") or "")


@app.command("replay")
def replay_command(
    ctx: typer.Context,
    file: Path = typer.Argument(
        ..., metavar="FILE", help="A recording made by `cstar listen --record FILE`.", dir_okay=False
    ),
    forward_to: str = typer.Option(
        ...,
        "--forward-to",
        "-f",
        help="Where to POST each event: a port (3000), host:port/path (localhost:3000/webhooks) or a URL.",
        metavar="URL",
        show_default=False,
    ),
    pace: str = typer.Option(
        "fast",
        "--pace",
        help="fast (back to back), realtime (the recorded gaps) or a pause such as 250ms.",
        metavar="PACE",
    ),
    secret: str | None = typer.Option(
        None,
        "--secret",
        help="Sign with this whsec_… secret (no API call); default: the listen secret, as --print-secret shows it.",
        metavar="WHSEC",
        show_default=False,
    ),
    headers: list[str] = headers_option(),
    skip_verify: bool = skip_verify_option(),
    format_: str | None = format_option(),
    timeout: float = timeout_option(),
    retry_for: str | None = retry_for_option(),
) -> None:
    """Deliver the events of a `cstar listen --record` file again, in order, byte for byte, signed now."""
    from cstar_cli.commands.listen import Renderer, delivery_options, json_output, run_relay
    from cstar_cli.recording import read_recording
    from cstar_cli.relay import Forwarder, parse_forward_url

    app_ctx = get_app(ctx)
    out = app_ctx.out
    json_mode = json_output(app_ctx, format_)
    pause = parse_pace(pace)
    options = delivery_options(
        parse_forward_url(forward_to), headers, timeout=timeout, skip_verify=skip_verify, retry_for=retry_for
    )
    signing = check_secret(secret) if secret is not None else None
    # The whole file is checked before anything is sent: a bad line never leaves a half replay.
    events = read_recording(file)
    if signing is None:
        signing = _listen_secret(app_ctx)
    out.info(f"Replaying {len(events)} event{'s' if len(events) != 1 else ''} from {file}.")
    source = Replay(events, Forwarder(options, signing), pause=pause)
    render = Renderer(out, json=json_mode, forwarding=True, timestamps=True)
    code = asyncio.run(run_relay(source, render, exit_after=len(events)))
    if code:
        raise typer.Exit(code)
