"""``cstar completion SHELL``: print the shell completion script for bash, zsh, fish or PowerShell.

The text is what ``_CSTAR_COMPLETE=source_<shell> cstar`` prints and what ``completions/`` holds
(``scripts/gen_completions.py`` writes those files from this command). Install steps:
docs/completions.md.
"""

from __future__ import annotations

from enum import Enum

import typer

from cstar_cli.completion import script

app = typer.Typer(add_completion=False)


class Shell(str, Enum):
    """The shells cstar ships completion for."""

    bash = "bash"
    zsh = "zsh"
    fish = "fish"
    powershell = "powershell"


@app.command(
    "completion",
    epilog="Install it, e.g. bash: `cstar completion bash > ~/.local/share/bash-completion/completions/cstar`; "
    "zsh: `cstar completion zsh > ~/.zfunc/_cstar`; fish: "
    "`cstar completion fish > ~/.config/fish/completions/cstar.fish`. See docs/completions.md.",
)
def completion_command(
    ctx: typer.Context,
    shell: Shell = typer.Argument(..., help="The shell to print the script for.", show_default=False),
) -> None:
    """Print the shell completion script for SHELL on stdout."""
    typer.echo(script(shell.value, ctx.find_root().command))
