"""``cstar logs [--method M] [--status 4xx|404] [--path /tickets] [--limit N] [--before req_…] [--tail]``.

Recent API requests of the key's team and mode, newest first (server contract, "Request logs"), or with
``--tail`` the requests made from now on, as they happen. Filters are checked before any request
(exit 2, the valid forms in the hint).

``--json`` prints the list of log entries (:class:`LogLine`); with ``--tail`` one such object per
line, flushed per line. Reconnection notices go to stderr. Ctrl-C ends a tail with exit 130.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

import typer

from cstar_cli.api.models import LogEntry
from cstar_cli.context import get_app
from cstar_cli.errors import CStarUsageError, CStarValidationError
from cstar_cli.output import Output, json_doc

if TYPE_CHECKING:
    from cstar_cli.api import CStarClient
    from cstar_cli.api.streams import LogStreamElement

app = typer.Typer(add_completion=False)

METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
MAX_LIMIT = 100
DEFAULT_LIMIT = 20
_STATUS_RE = re.compile(r"^(?:[1-5]xx|[1-5][0-9]{2})$")
_REQ_RE = re.compile(r"^req_[A-Za-z0-9]+$")
_COLUMNS = ["TIME", "STATUS", "METHOD", "PATH", "DURATION", "REQUEST ID", "ERROR"]
#: Fixed column widths of ``--tail`` on a terminal, so lines printed one at a time still line up.
_TAIL_WIDTHS = [8, 3, 6, 28, 8, 28, 0]


# output models -----------------------------------------------------------------------------------


@json_doc(
    "cstar logs [filters]",
    list_of=True,
    intro="A list of request-log entries, newest first:",
    example="""[{"id": "req_…", "method": "POST", "path": "/api/v1/teams/…/tickets", "status": 201,
  "durationMs": 12.4, "createdAt": "2026-05-07T21:29:46.233Z", "keyId": "key_…",
  "ip": "127.0.0.1", "userAgent": "cstar-cli/0.1.0 python/3.11.9", "errorCode": null}]""",
)
class LogLine(LogEntry):
    """One entry of ``cstar logs`` (and one line of ``--tail``): the API's log entry, as sent.

    `path` is the full request path (the human table shortens it to the part after the team). For the
    next page pass the last entry's `id` as `--before`.
    """


@dataclass(frozen=True)
class LogsPage:
    """What ``cstar logs`` shows: ``entries`` (the ``--json`` document), the key's ``mode`` and, when
    there are more, ``more`` (the command line that lists the next page)."""

    entries: list[LogEntry]
    mode: str
    more: str | None


@dataclass(frozen=True)
class Filters:
    """The contract's filters, normalised by :func:`check_filters`."""

    method: str | None = None
    status: str | None = None
    path: str | None = None


def check_filters(
    method: str | None, status: str | None, path: str | None, limit: int | None, before: str | None
) -> tuple[str | None, str | None]:
    """Validate the filters before anything is sent; return ``(method, status)`` normalised
    (``post`` → ``POST``, ``4XX`` → ``4xx``). Raises :class:`CStarUsageError` (exit 2) naming the
    valid forms."""
    if method is not None:
        method = method.strip().upper()
        if method not in METHODS:
            raise CStarUsageError(
                f"Invalid --method {method!r}.",
                code="invalid_method",
                field="method",
                hint="Use one of " + ", ".join(METHODS) + ".",
            )
    if status is not None:
        status = status.strip().lower()
        if not _STATUS_RE.match(status):
            raise CStarUsageError(
                f"Invalid --status {status!r}.",
                code="invalid_status",
                field="status",
                hint="Use a class (1xx, 2xx, 3xx, 4xx, 5xx) or a code from 100 to 599, e.g. 404.",
            )
    if path is not None and not path.startswith("/"):
        raise CStarUsageError(
            f"Invalid --path {path!r}.",
            code="invalid_path",
            field="path",
            hint="Give an API path starting with '/', e.g. --path /tickets.",
        )
    if limit is not None and not 1 <= limit <= MAX_LIMIT:
        raise CStarUsageError(
            f"Invalid --limit {limit}.",
            code="invalid_limit",
            field="limit",
            hint=f"Use a number from 1 to {MAX_LIMIT}.",
        )
    if before is not None and not _REQ_RE.match(before):
        raise CStarUsageError(
            f"Invalid --before {before!r}.",
            code="invalid_before",
            field="before",
            hint="Give a request ID (req_…) from an earlier `cstar logs`.",
        )
    return method, status


def next_page_command(cursor: str, method: str | None, status: str | None, path: str | None, limit: int | None) -> str:
    """The ``cstar logs`` command line that continues a listing after ``cursor``, with the same
    filters and limit as the one just shown (values shell-quoted where needed)."""
    words = ["cstar", "logs"]
    for flag, value in (("--method", method), ("--status", status), ("--path", path), ("--limit", limit)):
        if value is not None:
            words += [flag, shlex.quote(str(value))]
    return " ".join([*words, "--before", shlex.quote(cursor)])


def status_style(status: Any) -> str:
    """The Rich style of an HTTP status by class: 2xx green, 3xx cyan, 4xx yellow, 5xx red."""
    try:
        cls = int(status) // 100
    except (TypeError, ValueError):
        return ""
    return {2: "green", 3: "cyan", 4: "yellow", 5: "red"}.get(cls, "")


_TEAM_PREFIX = re.compile(r"^/api/v1(?:/teams/[^/]+)?(?=/|$)")


def short_path(path: Any) -> str:
    """The path as the ``--path`` filter takes it: ``/api/v1/teams/{teamId}/tickets/tkt_1`` →
    ``/tickets/tkt_1``, ``/api/v1/me`` → ``/me``. JSON output keeps the full path."""
    if not isinstance(path, str):
        return "-"
    return _TEAM_PREFIX.sub("", path) or "/"


def _when(iso: Any, tty: bool) -> str:
    # Piped output keeps the exact ISO 8601 time for scripts; a terminal gets the local clock time.
    if not isinstance(iso, str):
        return "-"
    if not tty:
        return iso
    try:
        local = datetime.fromisoformat(iso.replace("Z", "+00:00")).astimezone()
    except ValueError:
        return iso
    today = datetime.now(local.tzinfo).date()
    return local.strftime("%H:%M:%S" if local.date() == today else "%Y-%m-%d %H:%M:%S")


def _row(e: Mapping[str, Any], tty: bool) -> list[Any]:
    duration = e.get("durationMs")
    return [
        _when(e.get("createdAt"), tty),
        e.get("status"),
        e.get("method"),
        short_path(e.get("path")),
        f"{duration:g} ms" if isinstance(duration, (int, float)) else None,
        e.get("id"),
        e.get("errorCode"),
    ]


# fetch -------------------------------------------------------------------------------------------


def fetch_logs(client: CStarClient, filters: Filters, limit: int | None, before: str | None) -> LogsPage:
    """One page of entries, newest first. An unknown ``before`` is :class:`CStarValidationError` with a
    hint to use an ID ``cstar logs`` listed."""
    try:
        page = client.list_logs(
            method=filters.method,
            status=filters.status,
            path=filters.path,
            limit=limit or DEFAULT_LIMIT,
            before=before,
        )
    except CStarValidationError as e:
        # A well-formed --before the server does not know (another team or mode, or expired).
        if before is not None and e.hint is None and e.field in (None, "before"):
            e.hint = (
                "Use a request ID listed by `cstar logs` with this key, or leave --before out to start from the newest."
            )
        raise
    more = None
    if page.meta.has_more and page.data:
        cursor = (page.meta.pagination or {}).get("nextCursor") or page.data[-1].get("id")
        more = next_page_command(str(cursor), filters.method, filters.status, filters.path, limit)
    return LogsPage(page.data, "test" if client.is_test_mode else "live", more)


def follow_logs(client: CStarClient, filters: Filters) -> Iterator[LogStreamElement]:
    """The stream of new entries, without this command's own set-up calls.

    The newest entry is where the stream starts: resuming after it from the first connection on means
    a drop before anything was printed leaves no gap either. The set-up calls (learning the team, when
    the profile does not know it, and reading the newest entry) are logged once answered, possibly
    after the stream opened; they are this command's own, so they are left out."""
    own: set[str] = set()
    learned = client.resolve_team()
    if learned is not None and learned.meta.request_id:
        own.add(learned.meta.request_id)
    newest = client.list_logs(limit=1)
    if newest.meta.request_id:
        own.add(newest.meta.request_id)
    anchor = newest.data[0].get("id") if newest.data and isinstance(newest.data[0], dict) else None
    from cstar_cli.api.streams import LogStreamEntry

    for el in client.stream_logs(
        method=filters.method, status=filters.status, path=filters.path, last_event_id=anchor
    ):
        if not (isinstance(el, LogStreamEntry) and el.id in own):
            yield el


# render ------------------------------------------------------------------------------------------


def render_logs(page: LogsPage, out: Output) -> None:
    """A table on a terminal (local times), TSV with ISO times when piped; the next page's command on
    stderr."""
    if not page.entries:
        out.info(f"No matching API requests in {page.mode} mode.")
        return
    tty = out.stdout_tty
    out.table(
        _COLUMNS,
        [_row(e, tty) for e in page.entries],
        styles={1: status_style, 5: "dim", 6: lambda code: "red" if code else ""},
    )
    if page.more:
        out.info(f"More entries: {page.more}")


def render_tail(elements: Iterable[LogStreamElement], out: Output, mode: str) -> None:
    """Each entry as it comes: a JSON line (``--json``), a fixed-width line on a terminal or a TSV row
    when piped; connection notices on stderr."""
    from cstar_cli.api.streams import LogStreamEntry, LogStreamOpened, LogStreamReconnecting

    tty = out.stdout_tty
    connected_once = False
    for el in elements:
        if isinstance(el, LogStreamEntry):
            if out.json:
                out.json_line(el.entry)
            elif tty:
                cells = ["-" if v is None or v == "" else str(v) for v in _row(el.entry, tty)]
                text = "  ".join(c.ljust(w) for c, w in zip(cells, _TAIL_WIDTHS, strict=False)).rstrip()
                out.line(text, style=status_style(el.entry.get("status")) or None)
            else:
                out.table(_COLUMNS, [_row(el.entry, tty)])
        elif isinstance(el, LogStreamOpened):
            if not connected_once:
                out.info(f"Tailing API requests ({mode} mode). Press Ctrl-C to stop.")
            else:
                out.info(f"Reconnected; resuming after {el.resumed_after or 'the start'}.")
            connected_once = True
        elif isinstance(el, LogStreamReconnecting) and (el.attempt <= 3 or el.attempt % 10 == 0):
            # A long outage retries every ~10 s for as long as it lasts; say so now and then, not each time.
            out.warn(f"Log stream interrupted ({el.reason}); reconnecting in {el.delay:g} s (attempt {el.attempt}).")


# command -----------------------------------------------------------------------------------------


@app.command("logs")
def logs_command(
    ctx: typer.Context,
    method: str | None = typer.Option(
        None,
        "--method",
        "-m",
        help="Only this HTTP method: " + ", ".join(METHODS) + ".",
        autocompletion=lambda incomplete: [m for m in METHODS if m.startswith(incomplete.upper())],
    ),
    status: str | None = typer.Option(None, "--status", "-s", help="Only this status class (4xx) or code (404)."),
    path: str | None = typer.Option(None, "--path", "-p", help="Only paths starting with this, e.g. /tickets."),
    limit: int | None = typer.Option(
        None, "--limit", "-n", help=f"How many entries (1–{MAX_LIMIT}, default {DEFAULT_LIMIT}).", show_default=False
    ),
    before: str | None = typer.Option(None, "--before", help="Only entries older than this request ID (paging)."),
    tail_: bool = typer.Option(False, "--tail", "-f", help="Stream new requests as they happen (Ctrl-C to stop)."),
) -> None:
    """Show recent API requests of this key's team and mode, newest first, or follow them live."""
    app_ctx = get_app(ctx)
    method, status = check_filters(method, status, path, limit, before)
    if tail_ and (limit is not None or before is not None):
        raise CStarUsageError(
            "--limit and --before page through past requests; they do not apply to --tail.",
            code="invalid_combination",
            hint="Use `cstar logs --limit N` for past requests, or `cstar logs --tail` for new ones.",
        )
    filters = Filters(method, status, path)
    client = app_ctx.client()
    out = app_ctx.out
    if tail_:
        render_tail(follow_logs(client, filters), out, "test" if client.is_test_mode else "live")
        return
    with out.spinner("Fetching request logs…"):
        page = fetch_logs(client, filters, limit, before)
    if out.json:
        out.json_line(page.entries)
    else:
        render_logs(page, out)
