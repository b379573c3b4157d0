"""``cstar help [COMMAND [SUBCOMMAND]]``: the same help as ``cstar COMMAND [SUBCOMMAND] --help``;
bare ``cstar help`` is ``cstar --help``. An unknown name is a usage error (exit 2) with the closest
command named."""

from __future__ import annotations

from difflib import get_close_matches
from typing import Any

import typer

from cstar_cli._compat_typer import Context
from cstar_cli.errors import CStarUsageError

app = typer.Typer(add_completion=False)


def _child(ctx: Context, name: str) -> Any:
    """The visible subcommand ``name`` of ``ctx``'s command, or None (also for a plain command)."""
    get_command = getattr(ctx.command, "get_command", None)
    cmd = get_command(ctx, name) if get_command is not None else None
    return None if cmd is None or cmd.hidden else cmd


def _names(ctx: Context) -> list[str]:
    list_commands = getattr(ctx.command, "list_commands", None)
    return [n for n in list_commands(ctx) if _child(ctx, n) is not None] if list_commands is not None else []


def _context_for(words: list[str], root: Context) -> Context:
    """The context ``cstar WORDS --help`` would print its help in (so the usage line reads the same);
    :class:`CStarUsageError` for a word that names no command."""
    ctx = root
    for name in words:
        cmd = _child(ctx, name)
        if cmd is None:
            where = ctx.command_path
            names = _names(ctx)
            if not names:
                raise CStarUsageError(
                    f"`{where}` has no subcommands (got {name!r}).",
                    code="unknown_command",
                    hint=f"`{where} --help` shows its usage.",
                )
            close = get_close_matches(name, names, n=1)
            raise CStarUsageError(
                f"No such command {name!r}"
                + ("" if ctx is root else f" in `{where}`")
                + "."
                + (f" Did you mean {close[0]!r}?" if close else ""),
                code="unknown_command",
                hint=f"`{where} --help` lists the commands.",
            )
        ctx = cmd.context_class(cmd, info_name=name, parent=ctx, **cmd.context_settings)
    return ctx


def _complete_command(ctx: typer.Context, incomplete: str) -> list[str]:
    try:
        group = _context_for(list(ctx.params.get("command") or []), ctx.find_root())
    except CStarUsageError:
        return []
    return [n for n in _names(group) if n.startswith(incomplete)]


@app.command("help")
def help_command(
    ctx: typer.Context,
    command: list[str] | None = typer.Argument(
        None, help="A command and, for a group such as keys, a subcommand.", autocompletion=_complete_command
    ),
) -> None:
    """Show help for a command: `cstar help keys revoke` is `cstar keys revoke --help`."""
    target = _context_for(list(command or []), ctx.find_root())
    typer.echo(target.get_help(), color=target.color)
