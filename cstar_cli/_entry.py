"""Console-script entry point. Answers ``cstar --version`` without importing Typer (a CLI is judged in
its first 100 ms); everything else goes to :func:`cstar_cli.cli.main`."""

from __future__ import annotations

import sys


def main() -> None:
    if sys.argv[1:] in (["--version"], ["-V"]):
        from cstar_cli import __version__

        sys.stdout.write(f"cstar {__version__}\n")
        return
    from cstar_cli.cli import main as cli_main

    cli_main()
