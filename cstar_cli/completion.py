"""Shell completion: Typer's protocol (``_CSTAR_COMPLETE=source_<shell> cstar``), plus a zsh script that
also works when autoloaded from ``$fpath``. ``cstar completion SHELL`` prints the same scripts, and
``scripts/gen_completions.py`` writes them to ``completions/``."""

from __future__ import annotations

from cstar_cli._compat_typer import Command, ZshComplete, add_completion_class, completion_init, get_completion_class

__all__ = ["COMPLETE_VAR", "PROG_NAME", "init", "script"]

PROG_NAME = "cstar"
#: The environment variable the scripts set when they ask ``cstar`` for candidates.
COMPLETE_VAR = "_CSTAR_COMPLETE"

_COMPDEF = "compdef %(complete_func)s %(prog_name)s"


class _ZshComplete(ZshComplete):
    # Typer's zsh script only registers its function with `compdef`, which is right for `source` but
    # leaves the first TAB empty when zsh autoloads the file from $fpath; answer both ways, as Click's
    # own template does.
    # `#compdef` must be the very first line for autoloading.
    source_template = ZshComplete.source_template.lstrip("\n").replace(
        _COMPDEF,
        f'if [[ $zsh_eval_context[-1] == loadautofunc ]]; then\n    %(complete_func)s "$@"\nelse\n    {_COMPDEF}\nfi',
    )


def init() -> None:
    """Register the shells Typer supports, with the zsh script above."""
    completion_init()
    add_completion_class(_ZshComplete, "zsh")


def script(shell: str, cli: Command) -> str:
    """The completion script for ``shell`` (``bash``, ``zsh``, ``fish`` or ``powershell``) of the root
    command ``cli``, without the final newline the protocol adds; ``ValueError`` for another shell."""
    init()
    cls = get_completion_class(shell)
    if cls is None:
        raise ValueError(f"no completion for shell {shell!r}")
    return cls(cli, {}, PROG_NAME, COMPLETE_VAR).source()
