"""Shell completion: Typer's protocol (``_CSTAR_COMPLETE=source_<shell> cstar``), plus a zsh script that
also works when autoloaded from ``$fpath``. ``cstar completion SHELL`` prints the same scripts, and
``scripts/gen_completions.py`` writes them to ``completions/``."""

from __future__ import annotations

from cstar_cli._compat_typer import Command, ZshComplete, add_completion_class, completion_init, get_completion_class

__all__ = ["COMPLETE_VAR", "PROG_NAME", "api_path_forms", "api_paths", "init", "script"]

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


_TEAM_PATH = "/api/v1/teams/{teamId}"


def api_path_forms(*, absolute: bool = False) -> list[str]:
    """Every path of the OpenAPI document as ``cstar api PATH`` takes it, sorted, templated segments
    as written there (``/tickets/{ticketId}``): team-scoped paths relative to ``/api/v1/teams/{teamId}``
    (``absolute``: in full), the others in full (``/api/v1/me``)."""
    from cstar_cli.protocol import openapi

    forms = set()
    for op in openapi.operations():
        team_scoped = op.path.startswith(_TEAM_PATH + "/")
        forms.add(op.path[len(_TEAM_PATH) :] if team_scoped and not absolute else op.path)
    return sorted(forms)


def api_paths(incomplete: str) -> list[str]:
    """The candidates for ``cstar api PATH`` that continue ``incomplete``: the relative forms, the
    full ``/api/v1/…`` ones once ``incomplete`` starts with ``/api``; a missing leading ``/`` is added."""
    typed = incomplete if incomplete.startswith("/") else "/" + incomplete
    forms = api_path_forms(absolute=typed.startswith("/api"))
    return [f for f in forms if f.startswith(typed)]
