"""``cstar emulator start``: run a local, persistent cStar API (see docs/emulator.md).

Once the socket is listening it prints, with ``--json``, one line on stdout::

    {"baseUrl": "http://127.0.0.1:8787", "teamId": "…", "keys": {"sk_test": "…", "sk_live": "…",
     "pk_test": "…", "pk_live": "…"}, "db": "/path/emulator.db"}

and otherwise a short summary; request lines and warnings go to stderr. It runs until SIGINT or
SIGTERM and then exits 0. A taken port exits 9; an unusable database exits 2; a malformed
``--allow-host`` exits 2. ``--seed FILE`` loads a fixture or snapshot into a new database first.

``cstar emulator reset | export FILE | import FILE`` act on a stopped emulator's database file
(``--db``) or, through the ``/_emulator/`` controls, on a running emulator (``--base-url``); see
docs/emulator.md, "Lifecycle". A bad file exits 2, an unreachable emulator 9.
"""

from __future__ import annotations

import errno
import json
import logging
import sys
from pathlib import Path
from typing import Any

import typer

from cstar_cli.context import get_app
from cstar_cli.errors import CStarConnectionError, CStarError, CStarNotFoundError, CStarUsageError
from cstar_cli.protocol.keys import redact

app = typer.Typer(help="Run a local cStar API.", no_args_is_help=True, add_completion=False)


@app.callback()
def emulator() -> None:
    """Run a local cStar API: the REST endpoints, listen sessions, webhooks and request logs, stored
    in SQLite. Point cstar at it with CSTAR_BASE_URL."""


def _configure_logging(verbose: bool) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(message)s"))
    for name in ("cstar.emulator", "uvicorn"):
        logger = logging.getLogger(name)
        logger.handlers[:] = [handler]
        logger.propagate = False
    logging.getLogger("cstar.emulator").setLevel(logging.INFO if verbose else logging.WARNING)


def _allow_hosts(values: list[str]) -> list[str]:
    from cstar_emulator.hosts import check_allow_host

    try:
        return [check_allow_host(value) for value in values]
    except ValueError as e:
        raise CStarUsageError(
            f"--allow-host: {e}.",
            code="invalid_allow_host",
            hint="Give a bare name or address, e.g. --allow-host emulator (repeat the flag for more).",
        ) from None


@app.command("start")
def start(
    ctx: typer.Context,
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on."),
    port: int = typer.Option(8787, "--port", help="Port to listen on (0 picks a free one)."),
    db: Path | None = typer.Option(
        None,
        "--db",
        help="SQLite file (default: emulator.db in CSTAR_DATA_DIR or the user data dir).",
        show_default=False,
    ),
    rate_limit: int | None = typer.Option(
        None,
        "--rate-limit",
        help="Requests per hour for every key; 0 = unlimited (default: 1000 secret, 100 publishable).",
        show_default=False,
    ),
    webhook_retry_delay: float = typer.Option(
        0.5, "--webhook-retry-delay", help="Seconds before the second webhook attempt; doubles after each."
    ),
    seed: Path | None = typer.Option(
        None,
        "--seed",
        metavar="FILE",
        help="Load this fixture or snapshot (JSON) into the database first; the database must be new.",
        show_default=False,
    ),
    allow_host: list[str] | None = typer.Option(
        None,
        "--allow-host",
        metavar="NAME",
        help="Also answer requests for this Host name (repeatable), e.g. a docker-compose service name. "
        "'*' answers any Host: unsafe, lets web pages reach the emulator by DNS rebinding.",
        show_default=False,
    ),
) -> None:
    """Start the emulator and keep it running until Ctrl-C."""
    out = get_app(ctx).out
    if not 0 <= port <= 65535:
        raise CStarUsageError(f"--port must be 0–65535 (got {port}).", hint="Use --port 0 to pick a free port.")
    if rate_limit is not None and rate_limit < 0:
        raise CStarUsageError(f"--rate-limit must be 0 or more (got {rate_limit}).", hint="0 means unlimited.")
    if not 0 <= webhook_retry_delay <= 3600:  # also refuses nan and inf
        raise CStarUsageError(
            f"--webhook-retry-delay must be between 0 and 3600 seconds (got {webhook_retry_delay:g}).",
            hint="The default is 0.5: the first retry waits 0.5 s, then 1 s, 2 s, 4 s.",
        )
    allow_hosts = _allow_hosts(allow_host or [])

    from cstar_emulator import AddressInUseError, DatabaseError, serve

    if seed is not None:
        _seed(db, seed)
    _configure_logging(verbose=not out.json)
    if "*" in allow_hosts:
        out.warn("--allow-host '*': any Host is answered, so any web page can reach this emulator (DNS rebinding).")

    def ready(info: dict[str, Any]) -> None:
        if out.json:
            out.json_line(info)
            return
        keys = info["keys"]
        out.line(f"cStar emulator listening on {info['baseUrl']}")
        out.fields([("Team", info["teamId"]), ("Database", info["db"])])
        out.line()
        out.fields([(kind, key) for kind, key in keys.items()])
        out.line()
        out.line("Point cstar at it:")
        out.line(f"  export CSTAR_BASE_URL={info['baseUrl']}")
        out.line(f"  cstar login --api-key {keys['sk_test']}")
        out.info("Press Ctrl-C to stop.")

    try:
        serve(
            host,
            port,
            db,
            rate_limit=rate_limit,
            webhook_retry_delay=webhook_retry_delay,
            ready=ready,
            allow_hosts=allow_hosts,
        )
    except AddressInUseError as e:
        taken = e.errno == errno.EADDRINUSE
        raise CStarConnectionError(
            f"Cannot start the emulator: {e.strerror or e}.",
            code="address_in_use" if taken else "address_unavailable",
            hint="Pick another port with --port (0 picks a free one), or stop what is using it."
            if taken
            else "Pass an address of this machine with --host (127.0.0.1 by default).",
        ) from None
    except DatabaseError as e:
        in_use = "in use" in str(e)
        raise CStarUsageError(
            f"Cannot start the emulator: {e}.",
            code="database_unavailable",
            hint="Pass another file with --db, or stop the emulator that is using it."
            if in_use
            else "Pass a new or an emulator database file with --db (a missing file is created).",
        ) from None


_DB_HINT = "Pass another file with --db, or stop the emulator that is using it."
_RUNNING_HINT = "An emulator is serving it: pass --base-url http://127.0.0.1:PORT to act on the running one."


def _read_json(path: Path, what: str) -> Any:
    """The JSON document in ``path`` (``-``: stdin); exit 2 when it cannot be read or parsed."""
    try:
        text = sys.stdin.read() if str(path) == "-" else path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise CStarNotFoundError(f"No such file: {path}.", code="file_not_found") from None
    except (OSError, UnicodeDecodeError) as e:
        raise CStarUsageError(f"Cannot read {path}: {e}.", code="unreadable_file") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        raise CStarUsageError(
            f"{path} is not JSON: {e.msg} at line {e.lineno}, column {e.colno}.",
            code=f"invalid_{what}",
            hint="The file must be a snapshot from `cstar emulator export`"
            + (" or a fixture (see docs/emulator.md, \"Lifecycle\")." if what == "fixture" else "."),
        ) from None


def _database_error(e: Exception) -> CStarError:
    text = str(e)
    hint = _RUNNING_HINT if "in use" in text else _DB_HINT
    return CStarUsageError(f"Cannot use the database: {text}.", code="database_unavailable", hint=hint)


def _seed(db: Path | None, fixture: Path) -> None:
    """Load ``fixture`` into the new database ``db`` (default path); a failed load leaves no file."""
    from cstar_emulator import DatabaseError, default_db_path
    from cstar_emulator.fixtures import FixtureError, is_empty, seed_database

    document = _read_json(fixture, "fixture")
    path = (db or default_db_path()).expanduser()
    try:
        if not is_empty(path):
            raise CStarUsageError(
                f"--seed needs a new database, and {path} already holds a team.",
                code="database_not_empty",
                hint="Pass a new file with --db, or replace its data with `cstar emulator import FILE --db PATH`.",
            )
        created = not path.exists()
        try:
            seed_database(path, document)
        except BaseException:
            if created:
                for suffix in ("", "-wal", "-shm", "-journal"):
                    path.with_name(path.name + suffix).unlink(missing_ok=True)
            raise
    except FixtureError as e:
        raise CStarUsageError(
            f"--seed {fixture}: {str(e).rstrip('.')}.", code="invalid_fixture", hint="See docs/emulator.md, \"Lifecycle\"."
        ) from None
    except DatabaseError as e:
        raise _database_error(e) from None


class _Target:
    """Where a lifecycle command acts: a running emulator (``base_url``) or a database file."""

    def __init__(self, ctx: typer.Context, db: Path | None, base_url: str | None) -> None:
        base_url = base_url or get_app(ctx).base_url
        if db is not None and base_url:
            raise CStarUsageError(
                "Give --db or --base-url, not both.",
                hint="--base-url acts on a running emulator, --db on a stopped one's file.",
            )
        self.base_url = base_url.rstrip("/") if base_url else None
        self.db = db

    def control(self, path: str, body: Any = None) -> Any:
        """POST ``body`` to ``/_emulator/{path}``; its ``data``. Raises the CLI's errors."""
        import httpx

        assert self.base_url is not None
        url = f"{self.base_url}/_emulator/{path}"
        try:
            with httpx.Client(trust_env=False, timeout=60.0) as client:
                resp = client.post(url, json=body if body is not None else {})
        except httpx.HTTPError as e:
            raise CStarConnectionError(
                f"Cannot reach the emulator at {self.base_url}: {e or type(e).__name__}.",
                code="emulator_unreachable",
                hint="Is `cstar emulator start` running there? Without --base-url the command acts on --db.",
            ) from None
        try:
            answer = resp.json()
        except ValueError:
            answer = None
        if resp.status_code == 200 and isinstance(answer, dict) and answer.get("success"):
            return answer.get("data")
        error = answer.get("error") if isinstance(answer, dict) else None
        message = error.get("message") if isinstance(error, dict) else None
        if resp.status_code == 413:
            raise CStarUsageError(
                "The snapshot is larger than a request to the emulator may be (1 MiB).",
                code="payload_too_large",
                hint="Stop the emulator and import into its file: cstar emulator import FILE --db PATH.",
            )
        if resp.status_code == 404 and message is None:
            raise CStarConnectionError(
                f"{self.base_url} is not a cStar emulator (no /_emulator/{path}).", code="not_an_emulator"
            )
        if resp.status_code == 400:
            raise CStarUsageError(f"The emulator refused it: {message}", code=str((error or {}).get("code")))
        raise CStarConnectionError(
            f"The emulator answered {resp.status_code}: {message or resp.reason_phrase}.", code="emulator_error"
        )

    def open(self, *, must_exist: bool = False) -> Any:
        """The stopped emulator's :class:`~cstar_emulator.state.Emulator` (close its ``db``)."""
        from cstar_emulator import DatabaseError, Emulator, Settings, default_db_path

        path = (self.db or default_db_path()).expanduser()
        if must_exist and not path.exists():
            raise CStarNotFoundError(
                f"There is no emulator database at {path}.",
                code="database_not_found",
                hint="Pass the file with --db, or a running emulator with --base-url.",
            )
        try:
            return Emulator(path, Settings(rate_limit=0))
        except DatabaseError as e:
            raise _database_error(e) from None

    @property
    def where(self) -> str:
        return self.base_url or str((self.db or _default_db()).expanduser())


def _default_db() -> Path:
    from cstar_emulator import default_db_path

    return default_db_path()


_DB_OPTION = typer.Option(
    None, "--db", help="A stopped emulator's SQLite file (default: the default database).", show_default=False
)
_URL_OPTION = typer.Option(
    None, "--base-url", help="A running emulator, e.g. http://127.0.0.1:8787.", show_default=False
)


@app.command("reset")
def reset(ctx: typer.Context, db: Path | None = _DB_OPTION, base_url: str | None = _URL_OPTION) -> None:
    """Put the emulator's data back to the seed (same team id and seeded keys)."""
    out = get_app(ctx).out
    target = _Target(ctx, db, base_url)
    if target.base_url:
        result = target.control("reset")
    else:
        from cstar_emulator import snapshot

        emulator = target.open()
        try:
            seed = snapshot.reset(emulator.db, emulator.seed, emulator.seed_data)
            result = {"teamId": seed.team_id, "rows": snapshot.counts(emulator.db, seed.team_id)}
        finally:
            emulator.db.close()

    def human() -> None:
        out.line(f"Reset {target.where} to the seed (team {result['teamId']}).")

    out.data({**result, "target": target.where}, human)


@app.command("export")
def export(
    ctx: typer.Context,
    file: Path = typer.Argument(..., metavar="FILE", help="Where to write the snapshot (JSON, 0600); - for stdout."),
    db: Path | None = _DB_OPTION,
    base_url: str | None = _URL_OPTION,
) -> None:
    """Write a snapshot of the team's data, both modes, keys and secrets included."""
    from cstar_cli._files import atomic_write

    out = get_app(ctx).out
    target = _Target(ctx, db, base_url)
    if target.base_url:
        snap = target.control("export")
    else:
        from cstar_emulator import snapshot

        emulator = target.open(must_exist=True)
        try:
            snap = snapshot.export(emulator.db, emulator.seed.team_id)
        finally:
            emulator.db.close()
    text = json.dumps(snap, ensure_ascii=False, indent=1) + "\n"
    if str(file) == "-":
        sys.stdout.write(text)
        sys.stdout.flush()
        return
    try:
        atomic_write(file.expanduser(), text, 0o600)
    except OSError as e:
        raise CStarUsageError(f"Cannot write {file}: {e.strerror or e}.", code="unwritable_file") from None
    rows = {table: len(items) for table, items in snap["tables"].items() if items}
    out.data(
        {"file": str(file), "teamId": snap["teamId"], "rows": rows},
        lambda: out.line(f"Exported team {snap['teamId']} ({sum(rows.values())} rows) to {file}."),
    )
    out.info("The snapshot holds the team's API keys and webhook secrets; it is readable by you only.")


@app.command("import")
def import_(
    ctx: typer.Context,
    file: Path = typer.Argument(..., metavar="FILE", help="A snapshot from `cstar emulator export`; - for stdin."),
    db: Path | None = _DB_OPTION,
    base_url: str | None = _URL_OPTION,
) -> None:
    """Replace the emulator's data by a snapshot (all or nothing)."""
    out = get_app(ctx).out
    target = _Target(ctx, db, base_url)
    document = _read_json(file, "snapshot")
    if target.base_url:
        result = target.control("import", document)
    else:
        from cstar_emulator import snapshot

        emulator = target.open()
        try:
            seed = snapshot.restore(emulator.db, emulator.seed_tables, document)
            result = {
                "teamId": seed.team_id,
                "keys": dict(seed.keys),
                "rows": snapshot.counts(emulator.db, seed.team_id),
            }
        except snapshot.SnapshotError as e:
            raise CStarUsageError(
                f"{file}: {e}.", code="invalid_snapshot", hint="Nothing was changed."
            ) from None
        finally:
            emulator.db.close()

    def human() -> None:
        out.line(f"Imported {file} into {target.where} (team {result['teamId']}).")
        out.fields([(kind, redact(key)) for kind, key in result["keys"].items()])

    out.data({**result, "target": target.where}, human)
