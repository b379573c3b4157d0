"""Human and ``--json`` rendering. Data goes to stdout; progress, notices, hints and errors to stderr.

Colour and animation are decided per stream (:func:`use_color`): off when the stream is not a
terminal, with ``--no-color``, ``NO_COLOR``, ``CLICOLOR=0`` or ``TERM=dumb``; forced on with
``CLICOLOR_FORCE`` / ``FORCE_COLOR``. Rich is imported only when something is drawn for a terminal,
so piped and ``--json`` output start fast.
"""

from __future__ import annotations

import contextlib
import inspect
import json
import os
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import IO, Any, TypeVar

from cstar_cli._stdio import silence_stderr
from cstar_cli.errors import CStarError, CStarOutputError
from cstar_cli.protocol.keys import scrub_secrets

__all__ = ["JsonDoc", "Output", "doc_of", "dumps", "json_doc", "output_error", "printable", "printable_json", "use_color"]

M = TypeVar("M")


def dumps(obj: Any) -> str:
    """Compact, stable JSON: one line, UTF-8 kept, no trailing whitespace."""
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"), default=str)


# Characters that are not text: controls (ESC starts terminal escape sequences), format characters
# (bidi overrides, zero-width), surrogates and line/paragraph separators. API data is written by
# others and must not drive the terminal or split a TSV row.
_UNSAFE_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})
_MAX_MESSAGE = 300


def printable(value: Any, *, lines: bool = False) -> str:
    """``value`` as text safe for a terminal and a TSV cell: control and invisible characters are shown
    escaped (``\\x1b``, ``\\x0a``, ``\\u202e``) instead of being interpreted. ``lines=True`` keeps
    newlines and tabs, for a multi-line document (a payload, a body) rather than a cell or a field."""
    text = str(value)
    if text.isascii() and text.isprintable():
        return text
    import unicodedata

    kept = "\n\t" if lines else ""
    return "".join(
        (f"\\x{ord(ch):02x}" if ord(ch) < 0x100 else f"\\u{ord(ch):04x}")
        if ch not in kept and unicodedata.category(ch) in _UNSAFE_CATEGORIES
        else ch
        for ch in text
    )


def printable_json(text: str) -> str:
    """JSON text (as :func:`json.dumps` writes it, indented or not) safe for a terminal and still
    valid JSON: characters that could drive a terminal become ``\\uXXXX`` escapes (a surrogate pair
    above U+FFFF); newlines stay. Valid because outside strings JSON text holds only whitespace and
    ASCII punctuation, so such characters only ever occur inside strings."""
    if text.isascii() and text.isprintable():
        return text
    import unicodedata

    out: list[str] = []
    for ch in text:
        if ch != "\n" and unicodedata.category(ch) in _UNSAFE_CATEGORIES:
            code = ord(ch)
            if code > 0xFFFF:
                code -= 0x10000
                out.append(f"\\u{0xD800 + (code >> 10):04x}\\u{0xDC00 + (code & 0x3FF):04x}")
            else:
                out.append(f"\\u{code:04x}")
        else:
            out.append(ch)
    return "".join(out)


def shorten(text: str, limit: int = _MAX_MESSAGE) -> str:
    """``text`` cut to ``limit`` characters with an ellipsis, so an echoed input stays one short line."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def output_error(e: OSError) -> CStarOutputError:
    """The one-line error for standard output that cannot be written (ENOSPC, EBADF, EIO, …)."""
    return CStarOutputError(f"Cannot write to standard output: {e.strerror or e}.")


@contextlib.contextmanager
def _writing_stdout() -> Iterator[None]:
    # A reader that went away (EPIPE) stays a BrokenPipeError: the root command ends quietly. Any other
    # failure to write data is the user's to know about, as a documented error, not "unexpected".
    try:
        yield
    except BrokenPipeError:
        raise
    except OSError as e:
        raise output_error(e) from None


def use_color(stream: IO[str], no_color_flag: bool = False, *, tty: bool | None = None) -> bool:
    """Whether ``stream`` may get colour and animation (see the module docstring for the rules);
    ``tty`` says whether it is a terminal (default: ask the stream)."""
    env = os.environ
    if no_color_flag or env.get("NO_COLOR") or env.get("CLICOLOR") == "0":
        return False
    if env.get("CLICOLOR_FORCE", "0") not in ("", "0") or env.get("FORCE_COLOR", "0") not in ("", "0"):
        return True
    if env.get("TERM") == "dumb":
        return False
    return _isatty(stream) if tty is None else tty


def _isatty(stream: IO[str]) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


class Output:
    """Everything a command shows. ``json`` selects machine output; ``no_color`` the ``--no-color`` flag.

    ``stdout``/``stderr`` are the streams written to (default: ``sys.stdout``/``sys.stderr``, looked up
    at each write so runners that swap them are honoured); ``stdout_tty``/``stderr_tty`` say whether
    each is a terminal (default: ask the stream). A renderer given a ``StringIO`` and
    ``stdout_tty=True`` draws exactly what a terminal would get.

    - :meth:`data` / :meth:`show` / :meth:`json_line` / :meth:`table` / :meth:`line` write data to stdout;
    - :meth:`info` / :meth:`warn` / :meth:`success` / :meth:`error` write to stderr, with anything
      shaped like a key or a signing secret redacted (:func:`~cstar_cli.protocol.keys.scrub_secrets`);
    - :meth:`spinner` animates on a colour-capable stderr only, after ``delay`` seconds.
    """

    def __init__(
        self,
        *,
        json: bool = False,
        no_color: bool = False,
        stdout: IO[str] | None = None,
        stderr: IO[str] | None = None,
        stdout_tty: bool | None = None,
        stderr_tty: bool | None = None,
    ) -> None:
        self.json = json
        self.no_color = no_color
        self._stdout = stdout
        self._stderr = stderr
        self._stdout_tty = stdout_tty
        self._stderr_tty = stderr_tty
        self._lock = threading.Lock()

    @property
    def stdout(self) -> IO[str]:
        return self._stdout if self._stdout is not None else sys.stdout

    @property
    def stderr(self) -> IO[str]:
        return self._stderr if self._stderr is not None else sys.stderr

    @property
    def stdout_tty(self) -> bool:
        """Whether stdout is a terminal (tables, local times) rather than a pipe (TSV, ISO times)."""
        return _isatty(self.stdout) if self._stdout_tty is None else self._stdout_tty

    @property
    def stderr_tty(self) -> bool:
        return _isatty(self.stderr) if self._stderr_tty is None else self._stderr_tty

    @property
    def color_out(self) -> bool:
        return use_color(self.stdout, self.no_color, tty=self.stdout_tty)

    @property
    def color_err(self) -> bool:
        return use_color(self.stderr, self.no_color, tty=self.stderr_tty)

    def _console(self, stream: IO[str], color: bool, tty: bool) -> Any:
        from rich.console import Console

        # When use_color() says yes, Rich must not veto it for a pipe or TERM=dumb (CLICOLOR_FORCE /
        # FORCE_COLOR); there it gets the 16 standard colours, which every ANSI reader understands.
        native = tty and os.environ.get("TERM") != "dumb"
        return Console(
            file=stream,
            no_color=not color,
            force_terminal=True if color else None,
            color_system=("auto" if native else "standard") if color else None,
            highlight=False,
            soft_wrap=True,
        )

    # stdout -----------------------------------------------------------------------------------

    def json_line(self, obj: Any) -> None:
        """One JSON document on one line, flushed: the ``--json`` and stream format."""
        with self._lock, _writing_stdout():
            self.stdout.write(dumps(obj) + "\n")
            self.stdout.flush()

    def line(self, text: str = "", *, style: str | None = None) -> None:
        """A line of human data on stdout (``style`` is a Rich style, used on a colour terminal).
        Control characters in ``text`` are shown escaped (:func:`printable`)."""
        text = printable(text)
        if style and self.color_out:
            with _writing_stdout():
                self._console(self.stdout, True, self.stdout_tty).print(text, style=style, markup=False)
            return
        with self._lock, _writing_stdout():
            self.stdout.write(text + "\n")
            self.stdout.flush()

    def document(self, text: str) -> None:
        """A multi-line document on stdout (a payload or body that is not JSON): control and invisible
        characters escaped as in :meth:`line`, newlines and tabs kept (:func:`printable`)."""
        self._write_out(printable(text, lines=True) + "\n")

    def json_document(self, obj: Any) -> None:
        """``obj`` as indented JSON on stdout, for a person: still valid JSON, with characters that
        could drive a terminal written as ``\\uXXXX`` escapes (:func:`printable_json`)."""
        self._write_out(printable_json(json.dumps(obj, indent=2, ensure_ascii=False, default=str)) + "\n")

    def _write_out(self, text: str) -> None:
        with self._lock, _writing_stdout():
            self.stdout.write(text)
            self.stdout.flush()

    def show(self, model: M, render: Callable[[M, Output], None]) -> None:
        """A command's output model: as one JSON line with ``--json``, else ``render(model, self)``."""
        if self.json:
            self.json_line(model)
        else:
            render(model, self)

    def data(self, obj: Any, human: Any = None) -> None:
        """``obj`` as JSON with ``--json``; otherwise call ``human()`` (or print ``obj`` plainly)."""
        if self.json:
            self.json_line(obj)
        elif callable(human):
            human()
        else:
            self.line(str(obj))

    def table(
        self,
        columns: Sequence[str],
        rows: Sequence[Sequence[Any]],
        *,
        styles: dict[int, Any] | None = None,
        title: str | None = None,
    ) -> None:
        """Rows on stdout: a Rich table on a terminal; tab-separated values without a header
        when piped (the form ``cut``/``awk`` expect). ``styles`` maps a column index to a Rich style
        or to a function cell → style."""

        def text(v: Any) -> str:
            return "-" if v is None or v == "" else printable(v)

        if not self.stdout_tty:
            with self._lock, _writing_stdout():
                for row in rows:
                    self.stdout.write("\t".join(text(v) for v in row) + "\n")
                self.stdout.flush()
            return
        from rich.table import Table
        from rich.text import Text

        color = self.color_out
        tbl = Table(title=title, box=None, header_style="bold" if color else "", pad_edge=False)
        for c in columns:
            tbl.add_column(c, no_wrap=True)
        for row in rows:
            cells = []
            for i, v in enumerate(row):
                style = (styles or {}).get(i)
                if callable(style):
                    style = style(v)
                cells.append(Text(text(v), style=(style or "") if color else ""))
            tbl.add_row(*cells)
        console = self._console(self.stdout, color, True)
        # Rows are never squeezed into a narrow terminal: IDs and paths are copied into the next
        # command, so a cell stays whole on one line and a long row soft-wraps instead.
        natural = console.measure(tbl, options=console.options.update(max_width=100_000)).maximum
        console.width = max(console.width, natural)
        with _writing_stdout():
            console.print(tbl)

    def fields(self, pairs: Sequence[tuple[str, Any]]) -> None:
        """``Label  value`` lines on stdout, labels aligned."""
        width = max((len(k) for k, _ in pairs), default=0)
        for k, v in pairs:
            self.line(f"{k + ':':<{width + 1}} {'-' if v is None else v}")

    # stderr -----------------------------------------------------------------------------------

    def _err(self, text: str, style: str | None, shows: str | None = None) -> None:
        text = printable(text)
        if style and self.color_err:
            import io

            # Drawn into a string and written here: Rich answers a closed pipe itself, by pointing
            # stdout (not stderr) at /dev/null and raising SystemExit, which would lose data.
            buf = io.StringIO()
            console = self._console(buf, True, self.stderr_tty)
            console.print(text, style=style, markup=False)
            text = buf.getvalue().removesuffix("\n")
        self._write_err(text + "\n", shows)

    def _write_err(self, text: str, shows: str | None = None) -> None:
        # The one place stderr is written: whatever it echoes (an argument, a URL, a server message)
        # may hold a key, and stderr ends up in CI logs, so anything shaped like one is redacted;
        # ``shows`` is the one secret a line is meant to show (listen's own signing secret).
        text = scrub_secrets(text, (shows,) if shows else ())
        # Stderr carries only notices and errors: one that went away (`2>&1 | head -3`, a full disk)
        # must not end the command or change its exit code, so the rest is dropped.
        try:
            with self._lock:
                self.stderr.write(text)
                self.stderr.flush()
        except (OSError, ValueError):
            silence_stderr(self.stderr)

    def info(self, text: str, *, shows: str | None = None) -> None:
        """``text`` on stderr, anything shaped like a secret redacted except ``shows``."""
        self._err(text, None, shows)

    def success(self, text: str, *, shows: str | None = None) -> None:
        """As :meth:`info`, green on a colour terminal."""
        self._err(text, "green", shows)

    def warn(self, text: str, *, shows: str | None = None) -> None:
        """As :meth:`info`, yellow on a colour terminal."""
        self._err(text, "yellow", shows)

    def echo(self, text: str) -> str:
        """``text`` (input echoed back in a human line on stdout, such as a target URL) with anything
        shaped like a secret redacted: data a command exists to print is written as it is."""
        return scrub_secrets(text)

    def error(self, err: CStarError) -> None:
        """The error as one line plus a hint (human) or ``{"error": {...}}`` (``--json``), on stderr."""
        if self.json:
            self._write_err(dumps({"error": {**err.to_dict(), "message": shorten(err.message)}}) + "\n")
            return
        msg = f"Error: {shorten(err.message)}"
        if err.request_id:
            msg += f" (request {err.request_id})"
        self._err(msg, "bold red")
        if err.hint:
            self._err(f"Hint: {err.hint}", None)

    @contextlib.contextmanager
    def spinner(self, text: str, delay: float = 0.3) -> Iterator[None]:
        """Show a spinner on stderr for waits longer than ``delay`` s; nothing when stderr is not a
        colour-capable terminal or in ``--json`` mode."""
        # FORCE_COLOR / CLICOLOR_FORCE may colour a pipe, but an animation there is only noise.
        if self.json or not self.color_err or not self.stderr_tty:
            yield
            return
        from rich.status import Status

        status = Status(text, console=self._console(self.stderr, True, self.stderr_tty))
        timer = threading.Timer(delay, status.start)
        timer.daemon = True
        timer.start()
        try:
            yield
        finally:
            timer.cancel()
            status.stop()


# the --json contract, declared on the output models ----------------------------------------------

_Model = TypeVar("_Model", bound=type)


@dataclass(frozen=True)
class JsonDoc:
    """How docs/json.md presents one command's output model (``scripts/gen_json_docs.py``):
    ``command`` (the heading, e.g. ``cstar keys revoke KEY_ID --yes``), ``intro`` (a sentence before the
    example), ``example`` (a JSON document exactly as shown, whose keys must be the model's) and
    ``list_of`` (the output is a list of the model). The text after the example is the model
    docstring's body (everything after its first paragraph)."""

    command: str
    example: str | None = None
    intro: str = ""
    list_of: bool = False


def json_doc(command: str, *, example: str | None = None, intro: str = "", list_of: bool = False) -> Callable[[_Model], _Model]:
    """Class decorator: attach a :class:`JsonDoc` to an output model (read back by :func:`doc_of`)."""

    def attach(model: _Model) -> _Model:
        model.__json_doc__ = JsonDoc(command, example, intro, list_of)  # type: ignore[attr-defined]
        return model

    return attach


def doc_of(model: type) -> tuple[JsonDoc, str]:
    """``(JsonDoc, notes)`` of a model decorated with :func:`json_doc`; ``notes`` is its docstring after
    the first paragraph (empty when it has none). Raises ``LookupError`` for an undecorated model."""
    doc = getattr(model, "__json_doc__", None)
    if not isinstance(doc, JsonDoc):
        raise LookupError(f"{model.__name__} has no @json_doc")
    body = inspect.cleandoc(model.__doc__ or "").split("\n\n", 1)
    return doc, body[1].strip() if len(body) > 1 else ""
