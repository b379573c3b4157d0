"""Console-script entry point. Answers ``cstar --version`` without importing Typer (a CLI is judged in
its first 100 ms); everything else goes to :func:`cstar_cli.cli.main`."""

from __future__ import annotations

import sys

from cstar_cli._stdio import guard_standard_streams, write_failed


def main() -> None:
    guard_standard_streams()
    if sys.argv[1:] in (["--version"], ["-V"]):
        from cstar_cli import __version__

        try:
            sys.stdout.write(f"cstar {__version__}\n")
            sys.stdout.flush()
        except OSError as e:
            sys.exit(write_failed(e))
        return
    from cstar_cli.cli import main as cli_main

    cli_main()
