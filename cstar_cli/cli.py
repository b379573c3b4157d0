"""The root ``cstar`` command: global options, lazy command loading, and errors → exit codes (the one
place that decides how a failure ends the process).

Global options work before or after the subcommand (``cstar --json status`` = ``cstar status --json``):
:meth:`RootGroup.parse_args` moves them in front of the subcommand before Click parses anything, and
each subcommand's ``--help`` lists them under "Inherited flags", as gh does.
Command modules are imported only when their command runs (or for ``--help``), so ``cstar --version``
and ``cstar events --json`` never import httpx, rich, keyring, websockets or mcp.
"""

from __future__ import annotations

import contextlib
import errno
import os
import sys
from collections.abc import Iterator, Sequence
from typing import Any

import typer
from typer.exceptions import Abort, Exit

from cstar_cli import __version__
from cstar_cli import _compat_typer as compat
from cstar_cli._ending import DEBUG_ENV, failure_code, final_flush
from cstar_cli._stdio import sane_terminal_width, silence_stdout, write_failed
from cstar_cli.context import AppContext, get_app
from cstar_cli.errors import EXIT_CODES, EXIT_INTERRUPTED, CStarUsageError
from cstar_cli.output import Output

__all__ = ["COMMANDS", "app", "main"]

#: Command name → module under cstar_cli.commands, in the order ``--help`` lists them.
COMMANDS: dict[str, str] = {
    "login": "login",
    "logout": "logout",
    "status": "status",
    "events": "events",
    "trigger": "trigger",
    "webhooks": "webhooks",
    "listen": "listen",
    "replay": "replay",
    "logs": "logs",
    "keys": "keys",
    "api": "api",
    "mcp-server": "mcp_server",
    "emulator": "emulator",
    "help": "help",
    "completion": "completion",
    "version": "version",
}

_GLOBAL_FLAGS = {"--json", "--no-color", "--debug"}
_GLOBAL_VALUED = {"--api-key", "--base-url", "--profile"}


def hoist_global_options(args: Sequence[str]) -> list[str]:
    """Move global options (and their values) in front of everything else, keeping their order.

    Stops at ``--``. Raises Click's ``UsageError`` for a valued option with nothing after it.
    """
    front: list[str] = []
    rest: list[str] = []
    i = 0
    args = list(args)
    while i < len(args):
        tok = args[i]
        if tok == "--":
            rest.extend(args[i:])
            break
        name = tok.split("=", 1)[0]
        if tok in _GLOBAL_FLAGS or name in _GLOBAL_VALUED and "=" in tok:
            front.append(tok)
        elif tok in _GLOBAL_VALUED:
            if i + 1 >= len(args):
                # Left in place, Click would call it "no such option" after the subcommand.
                raise GlobalOptionUsage(f"Option '{tok}' requires an argument.", _command_named(rest))
            front.extend(args[i : i + 2])
            i += 1
        else:
            rest.append(tok)
        i += 1
    return front + rest


class GlobalOptionUsage(compat.UsageError):
    """A global option misused before any command was parsed; ``where`` is the command path whose
    ``--help`` the hint names (``cstar mcp-server``, else ``cstar``)."""

    def __init__(self, message: str, where: str) -> None:
        super().__init__(message)
        self.where = where


def _command_named(args: Sequence[str]) -> str:
    # The subcommand is the first plain word: every option before it is a global one, taken out.
    name = next((a for a in args if not a.startswith("-")), None)
    return f"cstar {name}" if name in COMMANDS else "cstar"


def _usage_hint(e: compat.ClickException, argv: Sequence[str]) -> str:
    """The hint under a usage error: the help of the command being parsed (``cstar events
    --help``), or a pointer to ``cstar --version`` for a ``--version`` after the subcommand."""
    if isinstance(e, GlobalOptionUsage):
        where = e.where
    else:
        ctx = getattr(e, "ctx", None)
        where = ctx.command_path if ctx is not None else _command_named(argv)
    if isinstance(e, compat.NoSuchOption) and e.option_name == "--version" and where != "cstar":
        # As gh and stripe: the version is the program's, so the flag belongs to the program alone.
        return "--version goes before the command: `cstar --version` (or `cstar version`)."
    return f"See `{where} --help`."


def _usage_errors_name_command(cmd: compat.Command) -> None:
    """Give the usage errors Click's parser raises without a context (an option missing its value,
    a flag given one) the context of ``cmd``, and of its subcommands (in place), so their hint names
    the command's own ``--help``."""
    parse = cmd.parse_args

    def parse_args(ctx: compat.Context, args: list[str]) -> list[str]:
        try:
            return parse(ctx, args)
        except compat.UsageError as e:
            if e.ctx is None:
                e.ctx, e.cmd = ctx, cmd
            raise

    cmd.parse_args = parse_args  # type: ignore[method-assign]
    for sub in getattr(cmd, "commands", {}).values():
        _usage_errors_name_command(sub)


@contextlib.contextmanager
def _help_pipe_errors() -> Iterator[None]:
    """Around drawing help: Rich answers a reader that went away (``cstar --help | head -1``) by
    pointing stdout at /dev/null and raising ``SystemExit(1)``, which no handler here would see as a
    closed pipe. Turned back into the BrokenPipeError it was, it ends quietly with exit 0 like a data
    command's output (:meth:`RootGroup.invoke`, :meth:`RootGroup.make_context`)."""
    try:
        yield
    except SystemExit:
        raise BrokenPipeError(errno.EPIPE, "standard output was closed") from None


def _quiet_help(cmd: compat.Command) -> None:
    """Draw ``cmd``'s help, and its subcommands', inside :func:`_help_pipe_errors` (in place)."""
    draw = cmd.format_help

    def format_help(ctx: compat.Context, formatter: Any) -> None:
        with _help_pipe_errors():
            draw(ctx, formatter)

    cmd.format_help = format_help  # type: ignore[method-assign]
    for sub in getattr(cmd, "commands", {}).values():
        _quiet_help(sub)


class RootGroup(compat.TyperGroup):
    """Typer group with lazily imported subcommands, hoisted global options and one error handler."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        compat.tidy_help(self)

    def list_commands(self, ctx: compat.Context) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: compat.Context, cmd_name: str) -> compat.Command | None:
        if cmd_name in self.commands:
            return self.commands[cmd_name]
        module_name = COMMANDS.get(cmd_name)
        if module_name is None:
            return None
        import importlib

        module = importlib.import_module(f"cstar_cli.commands.{module_name}")
        cmd = typer.main.get_command(module.app)
        cmd.name = cmd_name
        # Every subcommand's help lists the root's options (all but --version) after its own.
        compat.tidy_help(cmd, inherited=[p for p in self.params if p.name != "version"])
        _quiet_help(cmd)
        _usage_errors_name_command(cmd)
        self.commands[cmd_name] = cmd
        return cmd

    def resolve_command(self, ctx: compat.Context, args: list[str]) -> Any:
        name = args[0]
        cmd = self.get_command(ctx, name)
        if cmd is None:
            from difflib import get_close_matches

            close = get_close_matches(name, list(COMMANDS), n=1)
            ctx.fail(f"No such command {name!r}." + (f" Did you mean {close[0]!r}?" if close else ""))
        return name, cmd, args[1:]

    def parse_args(self, ctx: compat.Context, args: list[str]) -> list[str]:
        return super().parse_args(ctx, hoist_global_options(args))

    def format_help(self, ctx: compat.Context, formatter: Any) -> None:
        with _help_pipe_errors():
            super().format_help(ctx, formatter)

    def make_context(self, info_name: str | None, args: list[str], parent: compat.Context | None = None, **extra: Any) -> Any:
        # `cstar --help` (or bare `cstar`) prints while the arguments are parsed, before invoke(): a
        # reader that went away there ends quietly too (Typer's own handling would exit 1).
        try:
            return super().make_context(info_name, args, parent, **extra)
        except BrokenPipeError:
            silence_stdout()
            raise Exit(0) from None

    def _main_shell_completion(self, ctx_args: Any, prog_name: str, complete_var: str | None = None) -> None:
        # add_completion=False keeps --install-completion out of --help, but it also skips registering
        # Typer's shell classes, so `_CSTAR_COMPLETE=source_bash cstar` would answer "not supported".
        if os.environ.get(complete_var or f"_{prog_name}_COMPLETE".replace("-", "_").upper()):
            from cstar_cli.completion import init

            init()
        super()._main_shell_completion(ctx_args, prog_name, complete_var)

    def invoke(self, ctx: compat.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (compat.ClickException, Exit, Abort):
            raise
        except (Exception, KeyboardInterrupt) as e:
            # The one way a run ends on a failure, shared with the entry point's fast paths.
            ctx.exit(failure_code(e, get_app(ctx).out))

    def main(
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        windows_expand_args: bool = True,
        **extra: Any,
    ) -> Any:
        argv = list(sys.argv[1:] if args is None else args)
        sane_terminal_width()
        try:
            rv = super().main(
                argv,
                prog_name or "cstar",
                complete_var,
                standalone_mode=False,
                windows_expand_args=windows_expand_args,
                **extra,
            )
        except compat.NoArgsIsHelpError as e:
            # Typer's rich help prints itself while the error is built and leaves the message empty;
            # plain Click's puts the help in the message.
            if e.format_message():
                typer.echo(e.format_message())
            code = 0
        except compat.ClickException as e:
            out = Output(json="--json" in argv, no_color="--no-color" in argv)
            out.error(CStarUsageError(e.format_message(), code="usage", hint=_usage_hint(e, argv)))
            code = e.exit_code
        except Abort:
            Output(json="--json" in argv).info("Aborted.")
            code = EXIT_INTERRUPTED
        except OSError as e:
            # Help or --version written to a full disk or a closed stdout (data writes are turned
            # into CStarOutputError by Output already); EPIPE ends quietly.
            code = write_failed(e)
        else:
            code = rv if isinstance(rv, int) else 0
        code = final_flush(code)
        if standalone_mode:
            sys.exit(code)
        return code


def _exit_code_epilog() -> str:
    return "Exit codes: " + "; ".join(f"{k} {v}" for k, v in EXIT_CODES.items())


app = typer.Typer(
    cls=RootGroup,
    name="cstar",
    help="cStar from your terminal: webhooks to localhost, test events, API keys, request logs, an MCP "
    "server and a local emulator.",
    epilog=_exit_code_epilog(),
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        print(f"cstar {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    ctx: typer.Context,
    json_: bool = typer.Option(False, "--json", help="Print data as JSON on stdout (errors as JSON on stderr)."),
    no_color: bool = typer.Option(False, "--no-color", help="No colour or animation (also NO_COLOR=1)."),
    api_key: str | None = typer.Option(
        None,
        "--api-key",
        help="API key to use (default: CSTAR_API_KEY, then the stored login).",
        show_default=False,
    ),
    base_url: str | None = typer.Option(
        None,
        "--base-url",
        help="API base URL (default: CSTAR_BASE_URL, the profile's, or https://www.cstar.help).",
    ),
    profile: str | None = typer.Option(
        None, "--profile", help="Profile to use (default: CSTAR_PROFILE, else the first profile logged in)."
    ),
    debug: bool = typer.Option(
        False, "--debug", help=f"Show the traceback of an unexpected error (also {DEBUG_ENV}=1)."
    ),
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Print the version."),
) -> None:
    app_ctx = AppContext(json=json_, no_color=no_color, api_key=api_key, base_url=base_url, profile=profile)
    ctx.obj = app_ctx
    ctx.call_on_close(app_ctx.close)
    if debug:
        _enable_debug(ctx)


def _enable_debug(ctx: typer.Context) -> None:
    # --debug is CSTAR_DEBUG=1 for this run: whatever reads the variable (the error handler, the MCP
    # server's logging, a process cstar starts) sees it. Restored when the command ends, so an
    # in-process run leaves the environment as it found it.
    if os.environ.get(DEBUG_ENV):
        return
    os.environ[DEBUG_ENV] = "1"
    ctx.call_on_close(lambda: os.environ.pop(DEBUG_ENV, None))


def main() -> None:
    """Run the root command on ``sys.argv`` and exit with its code."""
    typer.main.get_command(app).main(prog_name="cstar")
