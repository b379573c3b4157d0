"""The one place cstar touches Typer's private modules and relies on how Typer draws help.

Typer 0.29 vendors Click as ``typer._click`` and keeps its shell classes in ``typer._completion_classes``;
neither is public API, so a Typer upgrade may move or change them. Everything cstar needs from them is
imported here and nowhere else, and ``tests/test_compat_typer.py`` pins each use, so such an upgrade
fails there with a clear name instead of somewhere in the middle of a command.

The help tweaks below (:func:`tidy_help`) depend on how Typer's Rich help reads parameters
(``display_type_rich``, ``rich_help_panel``, ``type_descriptor``), so they live here too, as does
:class:`DeferredCoercion`, which relies on how Typer coerces values (``_runtime_param``).
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from typer._click import Command, Context, Parameter
from typer._click.exceptions import ClickException, NoArgsIsHelpError, NoSuchOption, UsageError
from typer._click.shell_completion import ShellComplete, add_completion_class, get_completion_class
from typer._coercion import RuntimeParam, build_runtime_param
from typer._completion_classes import ZshComplete, completion_init
from typer.core import TyperArgument, TyperGroup, TyperOption, _TyperParameter

__all__ = [
    "INHERITED_PANEL",
    "ClickException",
    "Command",
    "DeferredCoercion",
    "Context",
    "NoArgsIsHelpError",
    "NoSuchOption",
    "Parameter",
    "ShellComplete",
    "TyperGroup",
    "UsageError",
    "ZshComplete",
    "add_completion_class",
    "completion_init",
    "get_completion_class",
    "inherited_copies",
    "tidy_help",
]

#: Title of the help panel listing the root's options on every subcommand (gh's "INHERITED FLAGS").
INHERITED_PANEL = "Inherited flags"


def inherited_copies(params: Iterable[Parameter]) -> list[Parameter]:
    """Help-only copies of the root's options for a subcommand: shown under :data:`INHERITED_PANEL`,
    never passed to the subcommand's function (``expose_value=False``) and without callbacks.

    The root moves these options in front of the subcommand before parsing, so the copies never
    receive a value; they only make ``cstar CMD --help`` (and TAB after ``cstar CMD --``) show them.
    """
    copies: list[Parameter] = []
    for p in params:
        c = copy.copy(p)
        c.expose_value = False
        c.callback = None
        c.is_eager = False
        c.rich_help_panel = INHERITED_PANEL  # type: ignore[attr-defined]
        _tidy_param(c)
        copies.append(c)
    return copies


def tidy_help(cmd: Command, inherited: Iterable[Parameter] = ()) -> None:
    """Make ``cmd``'s help read like gh's, for it and every subcommand under it, in place.

    - no type after a flag (``--yes``, ``-h/--help``), as if it took a value (Typer shows ``<bool>``);
    - arguments named by an upper-case metavar (``EVENT``) in the usage line, the argument panel and
      errors, without Typer's ``{event}`` braces or a ``<str>`` type column (choices stay shown);
    - the ``inherited`` options appended after the command's own (see :func:`inherited_copies`).
    """
    inherited = list(inherited)
    for p in cmd.params:
        _tidy_param(p)
    _tidy_help_option(cmd)
    if inherited:
        own = {o for p in cmd.params for o in p.opts}
        cmd.params.extend(c for c in inherited_copies(inherited) if not own & set(c.opts))
    for sub in getattr(cmd, "commands", {}).values():
        tidy_help(sub, inherited)


@dataclass(frozen=True)
class DeferredCoercion(RuntimeParam):
    """Typer's coercion of one parameter's value, with its Pydantic ``TypeAdapter`` built only when a
    value needs one.

    Typer builds the adapter (and so imports Pydantic, 100-160 ms) the first time any parameter that
    is not a plain flag is processed, even for an option left at its ``None`` default. Values the
    adapter would hand back unchanged skip it: ``None`` (answered by :class:`RuntimeParam` itself), a
    ``str`` for a ``str`` parameter and an ``int`` for an ``int`` one without bounds, both without a
    custom ``parser``. Anything else builds Typer's own coercion, which then replaces this one on the
    parameter, so errors and conversions stay Typer's.
    """

    def _coerce_value(self, value: Any, param: _TyperParameter, ctx: Context) -> Any:
        info = self.parameter_info
        plain = self.annotation is str or (self.annotation is int and info.min is None and info.max is None)
        if plain and info.parser is None and type(value) is self.annotation:
            return value
        real = build_runtime_param(param.type_descriptor)
        param._runtime_param = real
        return real.coerce(value, param=param, ctx=ctx)


def defer_coercion(p: Parameter) -> None:
    """Give Typer parameter ``p`` a :class:`DeferredCoercion` unless its coercion is already built."""
    if isinstance(p, _TyperParameter) and p._runtime_param is None:
        desc = p.type_descriptor
        if desc.file_annotation is None:
            p._runtime_param = DeferredCoercion(parameter_info=desc.parameter_info, annotation=desc.annotation)


def _tidy_param(p: Parameter) -> None:
    defer_coercion(p)
    if getattr(p, "is_flag", False):
        _set(p, "display_type_rich", lambda ctx: None)
    elif isinstance(p, TyperArgument):
        if p.metavar is None and p.name:
            p.metavar = p.name.upper()
        desc = getattr(p, "type_descriptor", None)
        if not getattr(desc, "is_choice", False):
            _set(p, "display_type_rich", lambda ctx: None)
        _set(p, "get_usage_pieces", lambda ctx, p=p: [_usage_name(p)])


def _usage_name(p: TyperArgument) -> str:
    # Click's (and gh's) convention: EVENT required, [EVENT] optional, a trailing ... for several.
    name = p.metavar or (p.name or "").upper()
    if not p.required:
        name = f"[{name}]"
    return name + ("..." if p.nargs != 1 else "")


def _tidy_help_option(cmd: Command) -> None:
    # The help option is built lazily, per context, outside cmd.params.
    build = cmd.get_help_option

    def get_help_option(ctx: Context) -> TyperOption | None:
        opt = build(ctx)
        if opt is not None:
            _tidy_param(opt)
        return opt

    _set(cmd, "get_help_option", get_help_option)


def _set(obj: Any, name: str, fn: Callable[..., Any]) -> None:
    # An instance attribute shadows the class's method for this one object only.
    setattr(obj, name, fn)
