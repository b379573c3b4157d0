"""``cstar login [--api-key KEY | --api-key -] [--profile NAME]``: validate a key and store it.

The key comes from ``--api-key`` (``-`` reads one line from stdin), else a hidden prompt on a terminal,
else ``CSTAR_API_KEY`` (said on stderr, redacted, so an inherited variable is never stored unnoticed).
It is checked with ``GET /me`` (server contract, Key introspection), stored in
the OS keychain (or the 0600 file fallback, said on stderr) and the profile records the team.
``--json`` prints :class:`LoginOutput` (``key`` redacted).
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass

import typer
from typing_extensions import TypedDict

from cstar_cli.context import get_app
from cstar_cli.errors import CStarUsageError
from cstar_cli.output import Output, json_doc
from cstar_cli.protocol.keys import redact
from cstar_cli.settings import validate_key

app = typer.Typer(add_completion=False)


# output model ------------------------------------------------------------------------------------


class LoginTeam(TypedDict):
    """The team the key belongs to."""

    id: str | None
    name: str | None


@json_doc(
    "cstar login",
    example="""{"profile": "default", "team": {"id": "…uuid…", "name": "Acme Support"}, "mode": "test",
 "keyType": "secret", "key": "sk_test_…a1b2", "storage": "keychain", "baseUrl": "https://www.cstar.help"}""",
)
class LoginOutput(TypedDict):
    """``cstar login``: the profile now logged in, and where its key is stored.

    `key` is redacted; `storage` is `keychain` or `file`.
    """

    profile: str
    team: LoginTeam
    mode: str | None
    keyType: str | None
    key: str
    storage: str
    baseUrl: str


@dataclass(frozen=True)
class LoggedIn:
    """What ``cstar login`` shows: the ``--json`` document and, for people, ``where`` the key is stored
    (``OS keychain``, or the credentials file's path)."""

    output: LoginOutput
    where: str


def _read_key(flag: str | None) -> tuple[str, bool]:
    """The raw key and whether it came from ``CSTAR_API_KEY``."""
    if flag == "-":
        line = sys.stdin.readline()
        if not line.strip():
            raise CStarUsageError(
                "--api-key - read nothing from stdin.",
                hint="Pipe the key in: `echo $KEY | cstar login --api-key -`.",
            )
        return line, False
    if flag:
        return flag, False
    if sys.stdin.isatty():
        import getpass

        try:
            return getpass.getpass("cStar API key (input hidden): ", stream=sys.stderr), False
        except EOFError:  # Ctrl-D at the prompt
            raise CStarUsageError(
                "No API key entered.", code="missing_api_key", hint="Paste a key from Settings → API Keys."
            ) from None
    env = os.environ.get("CSTAR_API_KEY", "").strip()
    if env:
        return env, True
    raise CStarUsageError(
        "No API key given and no terminal to ask for one.",
        code="missing_api_key",
        hint="Use `cstar login --api-key sk_test_…`, or `--api-key -` to read it from stdin.",
    )


# render ------------------------------------------------------------------------------------------


def render_login(done: LoggedIn, out: Output) -> None:
    """``Logged in to <team> (<id>)`` and the details, aligned, on stdout."""
    o = done.output
    out.line(f"Logged in to {o['team']['name']} ({o['team']['id']})", style="green")
    out.fields(
        [
            ("Mode", o["mode"]),
            ("Key", f"{o['key']} ({o['keyType']})"),
            ("Stored in", done.where),
            ("Profile", o["profile"]),
            ("Base URL", o["baseUrl"]),
        ]
    )


# command -----------------------------------------------------------------------------------------


@app.command("login")
def login_command(ctx: typer.Context) -> None:
    """Check an API key against the API and store it for this profile.

    Give the key with --api-key KEY, or --api-key - to read it from stdin; on a terminal you are asked for it without echo.
    """
    app_ctx = get_app(ctx)
    out = app_ctx.out
    raw, from_env = _read_key(app_ctx.api_key)
    if from_env:
        out.info(f"Using the key from CSTAR_API_KEY ({redact(raw.strip())}).")
    key = validate_key(raw)
    app_ctx.api_key = key  # this key, not a stored one, is what gets validated
    settings = app_ctx.settings(load_stored_key=False)
    client = app_ctx.client(api_key=key)
    with out.spinner("Checking the key…"):
        me = client.me().data
    team = me.get("team") or {}

    from cstar_cli import credentials

    storage, where, notices = credentials.store_key(settings.profile, key)
    for notice in notices:
        out.warn(notice)
    app_ctx.config.set_profile(
        settings.profile,
        {
            # Only a URL the user chose is remembered; the default stays implicit.
            "base_url": settings.base_url if settings.base_url_source != "default" else None,
            "team_id": team.get("id"),
            "team_name": team.get("name"),
            "mode": me.get("mode"),
            "key_type": me.get("keyType"),
            "key_id": me.get("keyId"),
            "key_redacted": redact(key),
            "key_storage": storage,
        },
    )
    output: LoginOutput = {
        "profile": settings.profile,
        "team": {"id": team.get("id"), "name": team.get("name")},
        "mode": me.get("mode"),
        "keyType": me.get("keyType"),
        "key": redact(key),
        "storage": storage,
        "baseUrl": settings.base_url,
    }
    if out.json:
        out.json_line(output)
    else:
        render_login(LoggedIn(output, where), out)
