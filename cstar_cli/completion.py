"""Shell completion: Typer's protocol (``_CSTAR_COMPLETE=source_<shell> cstar``), plus a zsh script that
also works when autoloaded from ``$fpath``. ``scripts/gen_completions.py`` writes what this prints to
``completions/``."""

from __future__ import annotations

from typer._click.shell_completion import add_completion_class
from typer._completion_classes import ZshComplete, completion_init

__all__ = ["init"]

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
