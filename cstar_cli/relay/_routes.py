"""Several targets for one listener: ``-f PATTERNS=URL`` routes, the ``[listen]`` section of a
project file, and the fan-out that forwards each event to every target it matches.

A route is ``URL`` (every event) or ``PATTERNS=URL`` (``ticket.*,customer.created=localhost:3001``;
patterns as ``--events`` takes them). The session's server-side filter is the union of the routes'
patterns. Each target has its own queue and forwarder, so order is kept per target and a target
that is down holds up no other; an event is acknowledged once every target it matches has its
final outcome, and acknowledgements go out in the order events arrived (the server resumes after
the last one, so a later event may never be acknowledged before an earlier one).
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import sys
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from cstar_cli.errors import CStarUsageError
from cstar_cli.protocol import events as catalog
from cstar_cli.relay._elements import Delivered, DeliveryFailed, Element, EventReceived, Outcome
from cstar_cli.relay._forwarder import Forwarder, ForwardOptions
from cstar_cli.relay._target import parse_forward_url

__all__ = [
    "PROJECT_FILE",
    "Fanout",
    "Job",
    "Route",
    "load_project_routes",
    "parse_patterns",
    "parse_route",
    "union_patterns",
]

#: The project file read from the working directory.
PROJECT_FILE = ".cstar.toml"
# What may come before "=" for it to be a pattern list rather than part of a URL ("3000/?a=b").
_PATTERNS_RE = re.compile(r"^[A-Za-z0-9_.*,\s]+$")
_FORWARD_HEADER_RE = re.compile(r"^\s*\[\[\s*listen\s*\.\s*forward\s*\]\]")


@dataclass(frozen=True)
class Route:
    """Forward the events matching ``patterns`` (None: every event) with ``options``."""

    options: ForwardOptions
    patterns: tuple[str, ...] | None = None

    def wants(self, event_type: str) -> bool:
        """Whether this route's target gets events of ``event_type``."""
        return self.patterns is None or catalog.matches(event_type, self.patterns)

    @property
    def shown_patterns(self) -> str:
        """``ticket.*, customer.*`` or ``all events``: how the route is named in output."""
        return "all events" if self.patterns is None or self.patterns == ("*",) else ", ".join(self.patterns)


def parse_patterns(text: str | Sequence[str], where: str) -> tuple[str, ...]:
    """Comma-separated (or listed) event patterns → deduplicated, lower-cased, in order. Raises
    :class:`CStarUsageError` (exit 2) for an unknown type (naming the closest ones and ``where`` it
    was given) or when none is named."""
    parts = text.split(",") if isinstance(text, str) else [p for item in text for p in str(item).split(",")]
    out: list[str] = []
    for part in parts:
        name = part.strip().lower()
        if not name or name in out:
            continue
        if not catalog.is_valid_pattern(name):
            pool = sorted({n.split(".", 1)[0] + ".*" for n in catalog.CATALOG}) if name.endswith(".*") else None
            close = catalog.suggest(name, pool, n=2)
            did_you_mean = f"Did you mean {', '.join(close)}? " if close else ""
            raise CStarUsageError(
                f"Unknown event type {part.strip()!r} in {where}.",
                code="invalid_event",
                field="forward-to",
                hint=f"{did_you_mean}`cstar events` lists every type; ticket.* or * match several.",
            )
        out.append(name)
    if not out:
        raise CStarUsageError(
            f"{where} names no event type before '='.",
            code="invalid_event",
            field="forward-to",
            hint="Use PATTERNS=URL, e.g. -f 'ticket.*=localhost:3001/tickets', or just the URL for every event.",
        )
    return tuple(out)


def split_route(value: str) -> tuple[str | None, str]:
    """``PATTERNS=URL`` → ``(PATTERNS, URL)``; a plain URL → ``(None, URL)``. Only an ``=`` preceded
    by nothing but pattern characters (letters, digits, ``_ . * ,`` and spaces) splits, so a URL's
    query (``3000/hooks?a=b``) is left alone."""
    head, sep, tail = value.partition("=")
    if sep and _PATTERNS_RE.match(head) and not head.strip().isdigit():
        return head, tail
    return None, value


def parse_route(value: str, options: ForwardOptions) -> Route:
    """One ``-f/--forward-to`` value as a :class:`Route`; ``options`` gives everything but the URL.
    Raises :class:`CStarUsageError` (exit 2) for a bad URL or pattern."""
    head, url = split_route(value)
    patterns = parse_patterns(head, f"--forward-to {value!r}") if head is not None else None
    return Route(replace(options, url=parse_forward_url(url)), patterns)


def union_patterns(routes: Sequence[Route]) -> tuple[str, ...]:
    """The session filter the routes need: ``("*",)`` when one takes every event, else their
    patterns, deduplicated in order."""
    out: list[str] = []
    for route in routes:
        if route.patterns is None or "*" in route.patterns:
            return ("*",)
        out.extend(p for p in route.patterns if p not in out)
    return tuple(out)


def _file_error(path: Path, line: int | None, why: str) -> CStarUsageError:
    where = f"{path.name}, line {line}" if line is not None else path.name
    return CStarUsageError(
        f"Invalid {where}: {why}.",
        code="invalid_project_file",
        field="forward-to",
        hint='Each [[listen.forward]] needs url = "localhost:3000/hooks" and may have events = ["ticket.*"]; '
        "see docs/listen.md.",
    )


def load_project_routes(directory: Path, options: ForwardOptions) -> list[Route] | None:
    """The routes of the ``[listen]`` section of ``directory/.cstar.toml``: None when there is no
    file or no ``[[listen.forward]]``, else one :class:`Route` per entry, in order. Raises
    :class:`CStarUsageError` (exit 2) naming the line for a file that is not TOML, or for an entry
    without a string ``url``, with ``events`` not a list of known patterns, or with other keys."""
    path = directory / PROJECT_FILE
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as e:
        raise _file_error(path, None, f"cannot read it ({e.strerror or e})") from None
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover
        import tomli as tomllib
    try:
        text = raw.decode("utf-8")
        data = tomllib.loads(text)
    except UnicodeDecodeError:
        raise _file_error(path, None, "it is not UTF-8 text") from None
    except tomllib.TOMLDecodeError as e:
        line = getattr(e, "lineno", None) or _line_from_message(str(e))
        raise _file_error(path, line, str(e).split(" (at ")[0]) from None
    listen = data.get("listen")
    if listen is None:
        return None
    if not isinstance(listen, dict):
        raise _file_error(path, _line_of(text, re.compile(r"^\s*listen\s*=")), "listen must be a table")
    forward = listen.get("forward")
    if forward is None:
        return None
    headers = [i + 1 for i, line in enumerate(text.splitlines()) if _FORWARD_HEADER_RE.match(line)]
    if not isinstance(forward, list) or not forward:
        raise _file_error(path, headers[0] if headers else None, "listen.forward must be an array of tables")
    routes = []
    for n, entry in enumerate(forward):
        line = headers[n] if n < len(headers) else None
        routes.append(_entry_route(path, line, n + 1, entry, options))
    return routes


def _entry_route(path: Path, line: int | None, n: int, entry: Any, options: ForwardOptions) -> Route:
    what = f"[[listen.forward]] #{n}"
    if not isinstance(entry, dict):
        raise _file_error(path, line, f"{what} must be a table")
    unknown = sorted(set(entry) - {"url", "events"})
    if unknown:
        raise _file_error(path, line, f"{what} has unknown key {unknown[0]!r} (expected url and events)")
    url = entry.get("url")
    if not isinstance(url, (str, int)) or isinstance(url, bool):
        raise _file_error(path, line, f'{what} needs url = "host:port/path"')
    events = entry.get("events")
    patterns: tuple[str, ...] | None = None
    if events is not None:
        if isinstance(events, str):
            events = [events]
        if not isinstance(events, list) or not all(isinstance(e, str) for e in events):
            raise _file_error(path, line, f"{what}: events must be a list of strings")
        try:
            patterns = parse_patterns(events, f"{path.name} {what}")
        except CStarUsageError as e:
            raise _file_error(path, line, e.message.rstrip(".")) from None
    try:
        return Route(replace(options, url=parse_forward_url(str(url))), patterns)
    except CStarUsageError as e:
        raise _file_error(path, line, e.message.rstrip(".")) from None


def _line_of(text: str, pattern: re.Pattern[str]) -> int | None:
    for i, line in enumerate(text.splitlines()):
        if pattern.match(line):
            return i + 1
    return None


def _line_from_message(message: str) -> int | None:
    match = re.search(r"at line (\d+)", message)
    return int(match.group(1)) if match else None


# the fan-out ------------------------------------------------------------------------------------


@dataclass(eq=False)
class Job:
    """One event on its way to ``pending`` targets (indexes into the fan-out's routes): ``outcomes``
    fill in as each target finishes. ``done`` once none is pending."""

    event: EventReceived
    pending: int
    outcomes: list[Outcome] = field(default_factory=list)

    @property
    def done(self) -> bool:
        return self.pending == 0

    def summary(self) -> tuple[int | None, int, int, str | None]:
        """The ack's ``(status, durationMs, attempts, error)``: the first failed target's outcome if
        any failed (its error naming the target), else the slowest target's; ``(None, 0, 0, None)``
        when no target wanted the event."""
        if not self.outcomes:
            return None, 0, 0, None
        failed = [o for o in self.outcomes if not o.ok]
        worst = failed[0] if failed else max(self.outcomes, key=lambda o: o.duration_ms)
        attempts = max(o.attempts for o in self.outcomes)
        duration = round(max(o.duration_ms for o in self.outcomes))
        error = f"{worst.url}: {worst.error}" if worst.error is not None and len(self.outcomes) > 1 else worst.error
        return worst.status, duration, attempts, error


class Fanout:
    """Forwards events to several :class:`Route` targets, each with its own queue and worker.

    :meth:`submit` queues an event on every matching target and returns its :class:`Job`; the
    workers' elements (attempts, outcomes) collect in an outbox that :meth:`drain` empties, and
    :attr:`wake` is set whenever there is something to drain. ``secret`` signs every target's
    deliveries; assign a new one after a session renewal.
    """

    def __init__(self, routes: Sequence[Route], secret: str) -> None:
        self.routes = tuple(routes)
        self._forwarders = [Forwarder(route.options, secret) for route in self.routes]
        self._queues: list[asyncio.Queue[Job]] = [asyncio.Queue() for _ in self.routes]
        self._outbox: deque[Element] = deque()
        self.wake = asyncio.Event()
        self._workers: list[asyncio.Task[None]] = []

    @property
    def secret(self) -> str:
        return self._forwarders[0].secret

    @secret.setter
    def secret(self, value: str) -> None:
        for forwarder in self._forwarders:
            forwarder.secret = value

    def submit(self, event: EventReceived) -> Job:
        """Queue ``event`` on every target whose route wants it (a job with no target is done at once)."""
        if not self._workers:
            self._workers = [asyncio.create_task(self._work(i)) for i in range(len(self.routes))]
        wanted = [i for i, route in enumerate(self.routes) if route.wants(event.event_type)]
        job = Job(event, len(wanted))
        for i in wanted:
            self._queues[i].put_nowait(job)
        return job

    def drain(self) -> list[Element]:
        """The elements the workers produced since the last call, in the order they happened."""
        self.wake.clear()
        out = list(self._outbox)
        self._outbox.clear()
        return out

    async def _work(self, index: int) -> None:
        queue, forwarder = self._queues[index], self._forwarders[index]
        while True:
            job = await queue.get()
            settled = False
            try:
                async for step in forwarder.deliver(job.event):
                    if isinstance(step, (Delivered, DeliveryFailed)):
                        job.outcomes.append(step)
                        job.pending -= 1
                        settled = True
                    self._outbox.append(step)
                    self.wake.set()
            except Exception as e:  # a bug in one delivery must not stall every later ack
                if not settled:
                    failed = DeliveryFailed(job.event, forwarder.options.display_url, None, 0.0, 0, f"internal error: {e!r}")
                    job.outcomes.append(failed)
                    job.pending -= 1
                    self._outbox.append(failed)
                    self.wake.set()

    async def aclose(self) -> None:
        """Stop the workers (an unfinished delivery is dropped, unacknowledged) and close the
        forwarders' connections."""
        for task in self._workers:
            task.cancel()
        for task in self._workers:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        for forwarder in self._forwarders:
            await forwarder.aclose()
