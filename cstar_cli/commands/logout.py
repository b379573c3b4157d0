"""``cstar logout [--all]``: forget the stored key of this profile (or of every profile).

Safe to repeat: logging out when not logged in succeeds and says so. ``--json`` prints
``{"loggedOut": ["default", …]}``.
"""

from __future__ import annotations

import typer

from cstar_cli.context import get_app

app = typer.Typer(add_completion=False)


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
        removed_key = credentials.delete_key(name)
        removed_profile = cfg.remove_profile(name)
        if removed_key or removed_profile:
            done.append(name)

    def human() -> None:
        if done:
            for name in done:
                out.success(f"Logged out of profile '{name}'.")
        else:
            out.info("Not logged in; nothing to remove.")

    out.data({"loggedOut": done}, human)
