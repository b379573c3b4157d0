"""Typed values and shaped JSON data from the command line, shared by ``cstar api -F``, ``cstar trigger``
and the MCP server's ``cstar_trigger_webhook``.

- :func:`typed_value`: the value text of ``-F key=value`` / ``--override PATH=VALUE``: JSON numbers,
  ``true``/``false``, ``null``, ``@file`` (``@-``: stdin), else the text itself.
- :func:`parse_edit` / :func:`apply_edits`: ``--override PATH=VALUE``, ``--add PATH=VALUE`` and
  ``--remove PATH`` on a JSON object. ``PATH`` is dotted (``ticket.priority``); a number segment
  indexes a list (``ticket.tags.0``, ``-1`` is the last item); ``\\.`` and ``\\=`` are a literal dot
  and equals sign in a key.
  A path that does not exist is an error naming it, never silently ignored.
- :class:`Stdin`, :func:`read_file`, :func:`file_text`: ``@file`` and ``-`` reading, stdin at most once.

Every error is :class:`~cstar_cli.errors.CStarUsageError` (exit 2) naming the offending input.
"""

from __future__ import annotations

import copy
import re
import sys
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import IO, Any, Literal

from cstar_cli.errors import CStarUsageError
from cstar_cli.output import printable, shorten

__all__ = [
    "Edit",
    "Reader",
    "Stdin",
    "apply_edit",
    "apply_edits",
    "file_text",
    "format_path",
    "parse_edit",
    "parse_edits",
    "parse_path",
    "read_file",
    "typed_value",
]

#: Reads the text of ``@file`` (``"-"``: standard input); raises :class:`CStarUsageError`.
Reader = Callable[[str], str]
#: What an :class:`Edit` does: replace an existing value, add a key / list item, remove one.
Op = Literal["override", "add", "remove"]

_NUMBER_RE = re.compile(r"^-?(?:0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?$")
_INDEX_RE = re.compile(r"^-?(?:0|[1-9][0-9]*)$")
_FLAGS = {"override": "--override", "add": "--add", "remove": "--remove"}


def _usage(message: str, *, code: str, hint: str, field: str | None = None) -> CStarUsageError:
    return CStarUsageError(shorten(printable(message)), code=code, hint=hint, field=field)


# values ------------------------------------------------------------------------------------------


def typed_value(text: str, read: Reader) -> Any:
    """The value of a ``-F`` field: a JSON number (int when it has no fraction or exponent), ``true``,
    ``false``, ``null``, the text of ``@file`` (``@-``: stdin, via ``read``), else ``text`` itself.
    Numbers with leading zeros (``007``) and ``nan``/``inf`` stay strings."""
    if text.startswith("@"):
        return read(text[1:])
    if text in ("true", "false"):
        return text == "true"
    if text == "null":
        return None
    m = _NUMBER_RE.match(text)
    if m:
        return float(text) if m.group(1) or m.group(2) else int(text)
    return text


class Stdin:
    """Standard input (or ``stream``), readable once: two readers of ``-`` are a usage error naming
    the first one, rather than the second silently getting nothing."""

    def __init__(self, stream: IO[bytes] | None = None) -> None:
        self._stream = stream
        self.used_by: str | None = None

    def read(self, who: str) -> bytes:
        """All of standard input, for ``who`` (a flag, named in the error if stdin is taken)."""
        if self.used_by is not None:
            raise _usage(
                f"Standard input is already read by {self.used_by}.",
                code="stdin_twice",
                hint=f"Only one of {self.used_by} and {who} can read standard input; use a file for the other.",
            )
        self.used_by = who
        stream = self._stream or sys.stdin.buffer
        return stream.read()


def read_file(name: str, stdin: Stdin, who: str) -> bytes:
    """The bytes of file ``name`` (``-``: ``stdin``) for flag ``who``; unreadable: exit 2."""
    if name == "-":
        return stdin.read(who)
    try:
        with open(name, "rb") as fh:
            return fh.read()
    except OSError as e:
        raise _usage(
            f"Cannot read {name!r} for {who}: {(e.strerror or str(e)).lower()}.",
            code="unreadable_file",
            hint="Check the file name (use - for standard input).",
        ) from None


def file_text(data: bytes, name: str) -> str:
    """``data`` (read from ``name``) as UTF-8 text; other bytes: exit 2."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise _usage(
            f"{'Standard input' if name == '-' else repr(name)} is not UTF-8 text.",
            code="unreadable_file",
            hint="Field values are text; send binary data base64-encoded.",
        ) from None


# paths -------------------------------------------------------------------------------------------


def parse_path(text: str) -> list[str]:
    """``"ticket.tags.0"`` → ``["ticket", "tags", "0"]``; ``\\.`` keeps a dot inside a segment, ``\\=``
    an equals sign and ``\\\\`` a backslash. Raises :class:`CStarUsageError` for an empty path or an empty segment."""
    parts: list[str] = []
    current: list[str] = []
    chars = iter(text)
    for ch in chars:
        if ch == "\\":
            nxt = next(chars, "")
            if nxt not in (".", "=", "\\"):
                current.append(ch)
            current.append(nxt)
        elif ch == ".":
            parts.append("".join(current))
            current = []
        else:
            current.append(ch)
    parts.append("".join(current))
    if any(p == "" for p in parts):
        raise _usage(
            f"Invalid path {text!r}: it has an empty segment.",
            code="invalid_path",
            field="path",
            hint="Paths are dotted keys into the event's data, e.g. ticket.priority or ticket.tags.0.",
        )
    return parts


def format_path(parts: Sequence[str]) -> str:
    """The inverse of :func:`parse_path`: dots and backslashes inside segments escaped."""
    return ".".join(p.replace("\\", "\\\\").replace(".", "\\.").replace("=", "\\=") for p in parts)


def _split_assignment(text: str) -> tuple[str, bool, str]:
    # PATH=VALUE splits at the first "=" that no backslash escapes (a key may hold "=" as "\=").
    i = 0
    while i < len(text):
        if text[i] == "\\":
            i += 2
            continue
        if text[i] == "=":
            return text[:i], True, text[i + 1 :]
        i += 1
    return text, False, ""


@dataclass(frozen=True)
class Edit:
    """One change to a JSON object: ``op`` at ``path`` (segments), with ``value`` for override/add;
    ``text`` is the argument as given (named in errors)."""

    op: Op
    path: tuple[str, ...]
    value: Any = None
    text: str = ""


def parse_edit(op: Op, text: str, read: Reader | None = None) -> Edit:
    """``PATH=VALUE`` (``override``/``add``; the value typed by :func:`typed_value`, ``read`` for
    ``@file``) or ``PATH`` (``remove``) as an :class:`Edit`. Raises :class:`CStarUsageError` (exit 2)
    for a missing ``=``, an empty path or segment, or ``@file`` where ``read`` is None."""
    flag = _FLAGS[op]
    if op == "remove":
        return Edit(op, tuple(parse_path(text)), None, text)
    path_text, eq, value_text = _split_assignment(text)
    if not eq:
        raise _usage(
            f"{flag} {text!r} has no value.",
            code="invalid_path",
            field="path",
            hint=f"Write {flag} PATH=VALUE, e.g. {flag} ticket.priority=urgent.",
        )

    def no_files(name: str) -> str:
        raise _usage(f"{flag} cannot read files here.", code="invalid_path", hint="Pass the value itself.")

    return Edit(op, tuple(parse_path(path_text)), typed_value(value_text, read or no_files), text)


def parse_edits(
    *,
    override: Iterable[str] = (),
    add: Iterable[str] = (),
    remove: Iterable[str] = (),
    read: Reader | None = None,
) -> list[Edit]:
    """Every :class:`Edit` of the three flags, in the order they are applied: overrides, then adds,
    then removes (each group in the order given)."""
    return [
        *(parse_edit("override", t, read) for t in override),
        *(parse_edit("add", t, read) for t in add),
        *(parse_edit("remove", t, read) for t in remove),
    ]


def _missing(edit: Edit, depth: int, why: str) -> CStarUsageError:
    where = format_path(edit.path[: depth + 1])
    flag = _FLAGS[edit.op]
    hint = (
        "Use --add to add a new key or list item."
        if edit.op == "override"
        else "Check the path against the sample: `cstar trigger EVENT --dry-run` prints the data."
    )
    return _usage(
        f"{flag} {format_path(edit.path)}: {where} {why}.", code="path_not_found", field=format_path(edit.path), hint=hint
    )


def _index(edit: Edit, depth: int, items: list[Any], *, insert: bool = False) -> int | None:
    segment = edit.path[depth]
    if not _INDEX_RE.match(segment):
        return None
    i = int(segment)
    size = len(items) + (1 if insert else 0)
    if i < 0:
        i += size
    return i if 0 <= i < size else None


def _step(edit: Edit, depth: int, node: Any) -> Any:
    segment = edit.path[depth]
    if isinstance(node, dict):
        if segment not in node:
            raise _missing(edit, depth, "does not exist")
        return node[segment]
    if isinstance(node, list):
        i = _index(edit, depth, node)
        if i is None:
            raise _missing(edit, depth, f"is not an index of a list of {len(node)}")
        return node[i]
    raise _missing(edit, depth, f"does not exist ({format_path(edit.path[:depth]) or 'data'} is not an object or list)")


def apply_edit(data: dict[str, Any], edit: Edit) -> None:
    """Apply ``edit`` to ``data`` in place.

    - ``override``: the value at ``path`` must exist; it is replaced.
    - ``add``: a list at ``path`` gets ``value`` appended; else ``path``'s parent must exist: a list
      gets ``value`` inserted at the index (``len`` appends), an object gets the new key (a key that
      exists already is an error: use ``override``).
    - ``remove``: the value at ``path`` must exist; the key or list item is deleted.

    Raises :class:`CStarUsageError` (exit 2, code ``path_not_found``) naming the first segment that
    does not exist."""
    parent: Any = data
    for depth in range(len(edit.path) - 1):
        parent = _step(edit, depth, parent)
    last = len(edit.path) - 1
    key = edit.path[last]
    if edit.op == "add":
        target = parent.get(key) if isinstance(parent, dict) else None
        if isinstance(target, list):
            target.append(copy.deepcopy(edit.value))
            return
        if isinstance(parent, dict):
            if key in parent:
                raise _usage(
                    f"--add {format_path(edit.path)}: it exists already and is not a list.",
                    code="path_exists",
                    field=format_path(edit.path),
                    hint=f"Use --override {format_path(edit.path)}=VALUE to replace it.",
                )
            parent[key] = copy.deepcopy(edit.value)
            return
        if isinstance(parent, list):
            i = _index(edit, last, parent, insert=True)
            if i is None:
                raise _missing(edit, last, f"is not a position in a list of {len(parent)}")
            parent.insert(i, copy.deepcopy(edit.value))
            return
        _step(edit, last, parent)  # raises: the parent is a scalar
    _step(edit, last, parent)  # raises when the path does not exist
    if isinstance(parent, dict):
        if edit.op == "override":
            parent[key] = copy.deepcopy(edit.value)
        else:
            del parent[key]
    else:
        i = _index(edit, last, parent)
        assert i is not None  # _step checked it
        if edit.op == "override":
            parent[i] = copy.deepcopy(edit.value)
        else:
            del parent[i]


def apply_edits(data: dict[str, Any], edits: Iterable[Edit]) -> dict[str, Any]:
    """A deep copy of ``data`` with every edit applied in order (see :func:`apply_edit`)."""
    shaped = copy.deepcopy(data)
    for edit in edits:
        apply_edit(shaped, edit)
    return shaped
