"""``cstar logout [--all]``: forget the stored key of this profile (or of every profile).

Safe to repeat: logging out when not logged in succeeds and says so. ``--json`` prints
:class:`LogoutOutput`.
"""

from __future__ import annotations

import typer
from typing_extensions import TypedDict

from cstar_cli.context import get_app
from cstar_cli.output import Output, json_doc

app = typer.Typer(add_completion=False)


@json_doc("cstar logout [--all]", example="""{"loggedOut": ["default"]}""")
class LogoutOutput(TypedDict):
    """``cstar logout``: the profiles whose key or details were removed.

    An empty list when there was nothing to remove (still exit 0).
    """

    loggedOut: list[str]


def render_logout(done: LogoutOutput, out: Output) -> None:
    """One line per profile logged out, or "nothing to remove", on stderr."""
    if done["loggedOut"]:
        for name in done["loggedOut"]:
            out.success(f"Logged out of profile '{name}'.")
    else:
        out.info("Not logged in; nothing to remove.")



@app.command("logout")
def logout_command(
    ctx: typer.Context,
    all_profiles: bool = typer.Option(False, "--all", help="Log out of every profile."),
) -> None:
    """Remove the stored API key (keychain or file) and the profile's team details."""
    from cstar_cli import credentials

    app_ctx = get_app(ctx)
    out = app_ctx.out
    cfg = app_ctx.config
    names = list(cfg.profiles()) if all_profiles else [app_ctx.settings(load_stored_key=False).profile]
    done: list[str] = []
    for name in names:
        removed_key, notices = credentials.delete_key(name)
        for notice in notices:
            out.warn(notice)
        removed_profile = cfg.remove_profile(name)
        if removed_key or removed_profile:
            done.append(name)
    output: LogoutOutput = {"loggedOut": done}
    out.show(output, render_logout)
