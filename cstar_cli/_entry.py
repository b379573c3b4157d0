"""Console-script entry point. Answers ``cstar --version`` without importing Typer (a CLI is judged in
its first 100 ms), and ``cstar mcp-server`` (an agent waits for it to start) and ``cstar status --json``
through :mod:`cstar_cli.commands.fast`; everything else goes to :func:`cstar_cli.cli.main`.

Ctrl-C is handled from the first line on: until the root command's own handler takes over, a
KeyboardInterrupt (raised while Typer, httpx … are still being imported) ends the process with
"Interrupted." on stderr and exit 130, never a traceback or a death by SIGINT.
"""

from __future__ import annotations

import os
import signal
import sys

#: Exit code after Ctrl-C (cstar_cli.errors.EXIT_INTERRUPTED, not imported: this runs before anything).
_EXIT_INTERRUPTED = 130


def _interrupted_while_loading(signum: int, frame: object) -> None:
    # Installed at import, before main() runs: nothing is written or held open yet, so ending at once
    # loses nothing, and raising here could escape the console script's own lines above main().
    os.write(2, b"Interrupted.\n")
    os._exit(_EXIT_INTERRUPTED)


if signal.getsignal(signal.SIGINT) is signal.default_int_handler:
    # Only when Ctrl-C would raise KeyboardInterrupt: a caller that ignores SIGINT (nohup, a shell's
    # background job) keeps it ignored.
    signal.signal(signal.SIGINT, _interrupted_while_loading)

if "httpx" not in sys.modules:
    # httpx's __init__ imports its own command-line client, httpx._main (click, rich, pygments: ~70 ms)
    # and, should that fail with ImportError, puts a stub in its place; cstar never runs that client.
    # A None entry in sys.modules is the import system's documented way to make an import raise
    # ImportError. Pinned by tests/test_startup.py.
    sys.modules["httpx._main"] = None  # type: ignore[assignment]

from cstar_cli._stdio import guard_standard_streams, sane_terminal_width, write_failed  # noqa: E402 - after the handler


def main() -> None:
    """Run cstar on ``sys.argv`` and exit with its code (130 after Ctrl-C, at any point)."""
    try:
        if signal.getsignal(signal.SIGINT) is _interrupted_while_loading:
            # From here on a Ctrl-C is a KeyboardInterrupt: the commands clean up on it.
            signal.signal(signal.SIGINT, signal.default_int_handler)
        guard_standard_streams()
        sane_terminal_width()  # before the help cache's key, which includes COLUMNS
        if sys.argv[1:] in (["--version"], ["-V"]):
            from cstar_cli import __version__

            try:
                sys.stdout.write(f"cstar {__version__}\n")
                sys.stdout.flush()
            except OSError as e:
                sys.exit(write_failed(e))
            return
        if sys.argv[1:] in (["--help"], ["-h"]):
            from cstar_cli.commands import fast

            sys.exit(fast.cached_help(sys.argv[1:], _full_cli))
        if "mcp-server" in sys.argv[1:] or "status" in sys.argv[1:]:
            from cstar_cli.commands import fast

            code = fast.run(sys.argv[1:])
            if code is not None:
                sys.exit(code)
        _full_cli()
    except KeyboardInterrupt:
        _exit_interrupted()


def _full_cli() -> None:
    from cstar_cli.cli import main as cli_main

    cli_main()


def _exit_interrupted() -> None:
    """End after a KeyboardInterrupt that no command handled: "Interrupted." on stderr, exit 130."""
    # A second Ctrl-C while exiting must not turn into a traceback.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        sys.stderr.write("Interrupted.\n")
        sys.stderr.flush()
    except (OSError, ValueError):
        pass
    sys.exit(_EXIT_INTERRUPTED)
