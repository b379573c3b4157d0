"""``cstar logs [--method M] [--status 4xx|404] [--path /tickets] [--limit N] [--before req_…] [--tail]``.

Recent API requests of the key's team and mode, newest first (server contract, "Request logs"), or with
``--tail`` the requests made from now on, as they happen. Filters are checked before any request
(exit 2, the valid forms in the hint).

``--json`` prints the list of log entries ``[{"id", "method", "path", "status", "durationMs",
"createdAt", "keyId", "ip", "userAgent", "errorCode"}]``; with ``--tail`` one such object per line,
flushed per line. Reconnection notices go to stderr. Ctrl-C ends a tail with exit 130.
"""

from __future__ import annotations

import re
import shlex
from datetime import datetime
from typing import Any

import typer

from cstar_cli.context import get_app
from cstar_cli.errors import CStarUsageError, CStarValidationError

app = typer.Typer(add_completion=False)

METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
MAX_LIMIT = 100
DEFAULT_LIMIT = 20
_STATUS_RE = re.compile(r"^(?:[1-5]xx|[1-5][0-9]{2})$")
_REQ_RE = re.compile(r"^req_[A-Za-z0-9]+$")
_COLUMNS = ["TIME", "STATUS", "METHOD", "PATH", "DURATION", "REQUEST ID", "ERROR"]


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


def _row(e: dict[str, Any], tty: bool) -> list[Any]:
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
    client = app_ctx.client()
    if tail_:
        _tail(app_ctx, client, method, status, path)
        return
    out = app_ctx.out
    params = {"method": method, "status": status, "path": path, "limit": limit or DEFAULT_LIMIT, "before": before}
    try:
        with out.spinner("Fetching request logs…"):
            # request(), not list(): the contract's `path` filter would collide with list()'s own argument.
            entries = list(client.request("GET", client.team_path("logs"), params=params) or [])
    except CStarValidationError as e:
        # A well-formed --before the server does not know (another team or mode, or expired).
        if before is not None and e.hint is None and e.field in (None, "before"):
            e.hint = (
                "Use a request ID listed by `cstar logs` with this key, or leave --before out to start from the newest."
            )
        raise
    pagination = client.last_meta.pagination or {}

    def human() -> None:
        if not entries:
            mode = "test" if client.is_test_mode else "live"
            out.info(f"No matching API requests in {mode} mode.")
            return
        tty = _isatty(out.stdout)
        out.table(
            _COLUMNS,
            [_row(e, tty) for e in entries],
            styles={1: status_style, 5: "dim", 6: lambda code: "red" if code else ""},
        )
        if pagination.get("hasMore"):
            cursor = pagination.get("nextCursor") or entries[-1].get("id")
            out.info(f"More entries: {next_page_command(str(cursor), method, status, path, limit)}")

    out.data(entries, human)


def _tail(app_ctx: Any, client: Any, method: str | None, status: str | None, path: str | None) -> None:
    from cstar_cli import logstream

    out = app_ctx.out
    tty = _isatty(out.stdout)
    # The newest entry is where the stream starts: resuming after it from the first connection on
    # means a drop before anything was printed leaves no gap either. These set-up calls (and the
    # GET /me that may come first to learn the team) are logged once answered, possibly after the
    # stream opened; they are this command's own, so they are not shown.
    own: set[str] = set()
    if client.team_id and client.last_meta.request_id:
        own.add(client.last_meta.request_id)
    newest = client.request("GET", client.team_path("logs"), params={"limit": 1}) or []
    if client.last_meta.request_id:
        own.add(client.last_meta.request_id)
    anchor = newest[0].get("id") if newest and isinstance(newest[0], dict) else None
    # Fixed columns on a terminal, so lines printed one at a time still line up.
    widths = [8, 3, 6, 28, 8, 28, 0]
    connected_once = False
    for el in logstream.tail(client, method=method, status=status, path=path, last_event_id=anchor):
        if isinstance(el, logstream.LogEntry):
            if el.id in own:
                continue
            if out.json:
                out.json_line(el.entry)
            elif tty:
                cells = ["-" if v is None or v == "" else str(v) for v in _row(el.entry, tty)]
                text = "  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=False)).rstrip()
                out.line(text, style=status_style(el.entry.get("status")) or None)
            else:
                out.table(_COLUMNS, [_row(el.entry, tty)])
        elif isinstance(el, logstream.Connected):
            if not connected_once:
                mode = "test" if client.is_test_mode else "live"
                out.info(f"Tailing API requests ({mode} mode). Press Ctrl-C to stop.")
            else:
                out.info(f"Reconnected; resuming after {el.resumed_after or 'the start'}.")
            connected_once = True
        elif isinstance(el, logstream.Reconnecting) and (el.attempt <= 3 or el.attempt % 10 == 0):
            # A long outage retries every ~10 s for as long as it lasts; say so now and then, not each time.
            out.warn(f"Log stream interrupted ({el.reason}); reconnecting in {el.delay:g} s (attempt {el.attempt}).")


def _isatty(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False
