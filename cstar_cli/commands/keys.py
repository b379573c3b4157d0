"""``cstar keys list | create | revoke``: the team's API keys (server contract, "API keys"; secret key only).

- ``list`` shows every key, redacted. A full key is never printed by ``list``.
- ``create --name NAME [--type secret|publishable] [--mode test|live]`` prints the new key once: on
  stdout alone (so ``KEY=$(cstar keys create --name ci)`` works), details and a warning on stderr.
- ``revoke KEY_ID`` asks first on a terminal, naming the key (``Revoke key_… (name, sk_test_…a1b2)?``;
  an unknown ID is exit 5 before the question); ``--yes`` skips the question and is required without
  a terminal. Revoking the key cstar itself is using is said before anything happens.

``--json``: ``list`` → a list of :class:`KeySummary`; ``create`` → :class:`CreatedKey` (the same
object plus ``"key"``, the full key); ``revoke`` → :class:`RevokedKey`. See docs/json.md.
"""

from __future__ import annotations

import re
import sys
from datetime import datetime
from enum import Enum
from typing import TYPE_CHECKING, Any

import typer
from typing_extensions import TypedDict

from cstar_cli.context import get_app
from cstar_cli.errors import CStarNotFoundError, CStarUsageError
from cstar_cli.output import Output, json_doc, printable

if TYPE_CHECKING:
    from cstar_cli.api import CStarClient
    from cstar_cli.api.models import ApiKey

app = typer.Typer(no_args_is_help=True, add_completion=False)

_KEY_ID_RE = re.compile(r"^key_[A-Za-z0-9_-]{1,100}$")
_PAGE_SIZE = 100
#: A runaway server cannot make `keys list` loop for ever.
_MAX_PAGES = 50


class KeyType(str, Enum):
    """``--type``: secret keys read and write, publishable keys only read."""

    secret = "secret"
    publishable = "publishable"


class KeyMode(str, Enum):
    """``--mode``: which data partition the key works on."""

    test = "test"
    live = "live"


# output models -----------------------------------------------------------------------------------


@json_doc(
    "cstar keys list",
    list_of=True,
    example="""[{"id": "key_…", "name": "CI deploys", "type": "secret", "mode": "test", "redacted": "sk_test_…a1b2",
  "createdAt": "2026-05-07T21:29:46.233Z", "lastUsedAt": null, "revokedAt": null}]""",
)
class KeySummary(TypedDict):
    """One key of ``cstar keys list``, redacted (times ISO 8601, null when it never happened).

    Newest first, every page. Never contains a full key.
    """

    id: str | None
    name: str | None
    type: str | None
    mode: str | None
    redacted: str | None
    createdAt: str | None
    lastUsedAt: str | None
    revokedAt: str | None


@json_doc(
    "cstar keys create --name NAME [--type T] [--mode M]",
    intro="The `keys list` object plus `key`, the full key, which no later call returns:",
    example="""{"id": "key_…", "name": "CI deploys", "type": "secret", "mode": "test", "redacted": "sk_test_…a1b2",
 "createdAt": "…", "lastUsedAt": null, "revokedAt": null, "key": "sk_test_…full…"}""",
)
class CreatedKey(KeySummary):
    """``cstar keys create``: the new key with its full ``key``, shown this once.

    The "shown only once" warning goes to stderr.
    """

    key: str | None


@json_doc("cstar keys revoke KEY_ID --yes", example="""{"id": "key_…", "revoked": true, "inUse": false}""")
class RevokedKey(TypedDict):
    """``cstar keys revoke``.

    `inUse` is `true` when the revoked key is the one the command itself authenticated with.
    """

    id: str
    revoked: bool
    inUse: bool


def summary(key: ApiKey) -> KeySummary:
    """Only the documented fields of an API key object, so a full key can never leak through ``list``."""
    return {
        "id": key.get("id"),
        "name": key.get("name"),
        "type": key.get("type"),
        "mode": key.get("mode"),
        "redacted": key.get("redacted"),
        "createdAt": key.get("createdAt"),
        "lastUsedAt": key.get("lastUsedAt"),
        "revokedAt": key.get("revokedAt"),
    }


@app.callback()
def keys_group() -> None:
    """List, create and revoke the team's API keys (needs a secret key)."""


def check_name(name: str) -> str:
    """The key name, stripped; :class:`CStarUsageError` (exit 2) unless it is 1–100 characters."""
    clean = name.strip()
    if not 1 <= len(clean) <= 100:
        raise CStarUsageError(
            f"A key name must be 1 to 100 characters (got {len(clean)}).",
            code="invalid_name",
            field="name",
            hint='Name it after where it is used, e.g. --name "CI deploys".',
        )
    return clean


def check_key_id(key_id: str) -> str:
    """``key_id`` if it has the ``key_…`` form; else :class:`CStarUsageError` (exit 2), before any request."""
    key_id = key_id.strip()
    if not _KEY_ID_RE.match(key_id):
        hint = "Key IDs look like key_3f9a…; `cstar keys list` shows them."
        if re.match(r"^(sk|pk)_", key_id):
            # Someone pasted the key itself: say so without echoing it back.
            hint = "That is an API key, not a key ID. " + hint
            key_id = key_id[:3] + "…"
        raise CStarUsageError(f"Invalid key ID {key_id!r}.", code="invalid_key_id", field="keyId", hint=hint)
    return key_id


def _when(iso: Any, tty: bool) -> str | None:
    # Piped output keeps the exact ISO 8601 time for scripts; a terminal gets local date and minute.
    if not isinstance(iso, str) or not iso:
        return None
    if not tty:
        return iso
    try:
        return datetime.fromisoformat(iso.replace("Z", "+00:00")).astimezone().strftime("%Y-%m-%d %H:%M")
    except ValueError:
        return iso


# fetch -------------------------------------------------------------------------------------------


def fetch_keys(client: CStarClient) -> list[KeySummary]:
    """The team's keys, every page, newest first, redacted."""
    return [summary(k) for page in client.iter_api_keys(page_size=_PAGE_SIZE, max_pages=_MAX_PAGES) for k in page.data]


def find_key(client: CStarClient, key_id: str) -> KeySummary:
    """The key ``key_id`` from the team's list (the API has no single-key read), or
    :class:`CStarNotFoundError` (exit 5) with the last list request's ID."""
    request_id = None
    for page in client.iter_api_keys(page_size=_PAGE_SIZE, max_pages=_MAX_PAGES):
        request_id = page.meta.request_id
        for key in page.data:
            if key.get("id") == key_id:
                return summary(key)
    raise CStarNotFoundError(
        f"No API key with id {key_id!r} in this team.",
        code="not_found",
        request_id=request_id,
        hint="`cstar keys list` shows the team's key IDs.",
    )


def create_key(client: CStarClient, name: str, type_: str, mode: str | None) -> CreatedKey:
    """``POST …/api-keys``: the new key, with its full ``key``."""
    created = client.create_api_key(name, type=type_, mode=mode).data
    return {**summary(created), "key": created.get("key")}


def revoke_key(client: CStarClient, key_id: str, *, in_use: bool) -> RevokedKey:
    """``DELETE …/api-keys/{keyId}``; an unknown ID is :class:`CStarNotFoundError` with a hint."""
    try:
        data = client.revoke_api_key(key_id).data
    except CStarNotFoundError as e:
        e.hint = e.hint or "`cstar keys list` shows the team's key IDs."
        raise
    return {"id": data.get("id", key_id), "revoked": bool(data.get("revoked", True)), "inUse": in_use}


# render ------------------------------------------------------------------------------------------


def render_keys(keys: list[KeySummary], out: Output) -> None:
    """A table on a terminal (local times, "never" for unused keys), TSV with ISO times when piped."""
    if not keys:
        out.info("No API keys.")
        return
    tty = out.stdout_tty
    out.table(
        ["ID", "NAME", "TYPE", "MODE", "KEY", "CREATED", "LAST USED", "REVOKED"],
        [
            (
                k["id"],
                k["name"],
                k["type"],
                k["mode"],
                k["redacted"],
                _when(k["createdAt"], tty),
                _when(k["lastUsedAt"], tty) or ("never" if tty else None),
                _when(k["revokedAt"], tty),
            )
            for k in keys
        ],
        styles={0: "cyan", 3: lambda m: "yellow" if m == "live" else "", 7: lambda r: "red" if r else ""},
    )


def render_created(created: CreatedKey, out: Output) -> None:
    """The full key alone on stdout (``KEY=$(cstar keys create …)``), what it is on stderr."""
    out.line(str(created["key"]))
    out.success(f"Created {created['type']} {created['mode']} key {created['id']} ({created['name']}).")


def render_revoked(revoked: RevokedKey, out: Output) -> None:
    """``Revoked key_….`` on stdout."""
    out.line(f"Revoked {revoked['id']}.", style="green")


# commands ----------------------------------------------------------------------------------------


@app.command("list")
def list_command(ctx: typer.Context) -> None:
    """List the team's API keys (redacted), newest first."""
    app_ctx = get_app(ctx)
    out = app_ctx.out
    client = app_ctx.client()
    with out.spinner("Fetching API keys…"):
        keys = fetch_keys(client)
    out.show(keys, render_keys)


@app.command("create")
def create_command(
    ctx: typer.Context,
    name: str = typer.Option(..., "--name", "-n", help="What the key is for (1–100 characters)."),
    type_: KeyType = typer.Option(
        KeyType.secret, "--type", "-t", help="secret (read/write) or publishable (read-only)."
    ),
    mode: KeyMode | None = typer.Option(
        None, "--mode", help="test or live (default: the mode of the key you are using).", show_default=False
    ),
) -> None:
    """Create an API key and print it. The full key is shown this once only."""
    app_ctx = get_app(ctx)
    out = app_ctx.out
    clean_name = check_name(name)
    client = app_ctx.client()
    with out.spinner("Creating the key…"):
        created = create_key(client, clean_name, type_.value, mode.value if mode is not None else None)
    out.show(created, render_created)
    out.warn("This is the only time the full key is shown: store it now (e.g. in your secret manager).")


@app.command("revoke")
def revoke_command(
    ctx: typer.Context,
    key_id: str = typer.Argument(..., help="The key's ID (key_…), from `cstar keys list`.", show_default=False),
    yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask for confirmation (required without a terminal)."),
) -> None:
    """Revoke an API key. It stops working at once; this cannot be undone."""
    app_ctx = get_app(ctx)
    out = app_ctx.out
    key_id = check_key_id(key_id)
    interactive = _isatty(sys.stdin) and out.stderr_tty
    if not yes and not interactive:
        raise CStarUsageError(
            f"Refusing to revoke {key_id} without confirmation.",
            code="confirmation_required",
            hint=f"Run it on a terminal to be asked, or pass --yes: `cstar keys revoke {key_id} --yes`.",
        )
    client = app_ctx.client()
    key: KeySummary | None = None
    with out.spinner(f"Looking up {key_id}…"):
        if not yes:
            # Ask about the key by name, and never about one that does not exist.
            key = find_key(client, key_id)
        in_use = client.me().data.get("keyId") == key_id
    if in_use:
        out.warn(f"{key_id} is the key this command is using: once revoked, cstar gets 401 until you log in again.")
    if key is not None and key.get("revokedAt"):
        out.info(f"{key_id} was already revoked.")
    elif key is not None:
        about = f"{printable(key.get('name') or '-')}, {key.get('redacted') or '-'}"
        question = f"Revoke {'the key in use, ' if in_use else ''}{key_id} ({about})? This cannot be undone."
        if not typer.confirm(question, default=False, err=True):
            out.info(f"Not revoked: {key_id} was left as it is.")
            raise typer.Exit(1)
    with out.spinner(f"Revoking {key_id}…"):
        revoked = revoke_key(client, key_id, in_use=in_use)
    out.show(revoked, render_revoked)
    if in_use:
        out.info("Log in with another key: `cstar login`.")


def _isatty(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False
