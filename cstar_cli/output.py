"""Human and ``--json`` rendering. Data goes to stdout; progress, notices, hints and errors to stderr.

Colour and animation are decided per stream (:func:`use_color`): off when the stream is not a
terminal, with ``--no-color``, ``NO_COLOR``, ``CLICOLOR=0`` or ``TERM=dumb``; forced on with
``CLICOLOR_FORCE`` / ``FORCE_COLOR``. Rich is imported only when something is drawn for a terminal,
so piped and ``--json`` output start fast.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import threading
from collections.abc import Iterator, Sequence
from typing import IO, Any

from cstar_cli.errors import CStarError, CStarOutputError

__all__ = ["Output", "dumps", "output_error", "use_color"]


def dumps(obj: Any) -> str:
    """Compact, stable JSON: one line, UTF-8 kept, no trailing whitespace."""
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"), default=str)


# Characters that are not text: controls (ESC starts terminal escape sequences), format characters
# (bidi overrides, zero-width), surrogates and line/paragraph separators. API data is written by
# others and must not drive the terminal or split a TSV row.
_UNSAFE_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})
_MAX_MESSAGE = 300


def printable(value: Any) -> str:
    """``value`` as text safe for a terminal and a TSV cell: control and invisible characters are shown
    escaped (``\\x1b``, ``\\x0a``, ``\\u202e``) instead of being interpreted."""
    text = str(value)
    if text.isascii() and text.isprintable():
        return text
    import unicodedata

    return "".join(
        (f"\\x{ord(ch):02x}" if ord(ch) < 0x100 else f"\\u{ord(ch):04x}")
        if unicodedata.category(ch) in _UNSAFE_CATEGORIES
        else ch
        for ch in text
    )


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


def use_color(stream: IO[str], no_color_flag: bool = False) -> bool:
    """Whether ``stream`` may get colour and animation (see the module docstring for the rules)."""
    env = os.environ
    if no_color_flag or env.get("NO_COLOR") or env.get("CLICOLOR") == "0":
        return False
    if env.get("CLICOLOR_FORCE", "0") not in ("", "0") or env.get("FORCE_COLOR", "0") not in ("", "0"):
        return True
    if env.get("TERM") == "dumb":
        return False
    return _isatty(stream)


def _isatty(stream: IO[str]) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


class Output:
    """Everything a command shows. ``json`` selects machine output; ``no_color`` the ``--no-color`` flag.

    - :meth:`data` / :meth:`json_line` / :meth:`table` / :meth:`line` write data to stdout;
    - :meth:`info` / :meth:`warn` / :meth:`success` / :meth:`error` write to stderr;
    - :meth:`spinner` animates on a colour-capable stderr only, after ``delay`` seconds.
    """

    def __init__(self, *, json: bool = False, no_color: bool = False) -> None:
        self.json = json
        self.no_color = no_color
        self._lock = threading.Lock()

    @property
    def stdout(self) -> IO[str]:
        # Looked up at call time so test runners that swap sys.stdout are honoured.
        return sys.stdout

    @property
    def stderr(self) -> IO[str]:
        return sys.stderr

    @property
    def color_out(self) -> bool:
        return use_color(self.stdout, self.no_color)

    @property
    def color_err(self) -> bool:
        return use_color(self.stderr, self.no_color)

    def _console(self, stream: IO[str], color: bool) -> Any:
        from rich.console import Console

        # When use_color() says yes, Rich must not veto it for a pipe or TERM=dumb (CLICOLOR_FORCE /
        # FORCE_COLOR); there it gets the 16 standard colours, which every ANSI reader understands.
        native = _isatty(stream) and os.environ.get("TERM") != "dumb"
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
                self._console(self.stdout, True).print(text, style=style, markup=False)
            return
        with self._lock, _writing_stdout():
            self.stdout.write(text + "\n")
            self.stdout.flush()

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

        if not _isatty(self.stdout):
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
        console = self._console(self.stdout, color)
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

    def _err(self, text: str, style: str | None) -> None:
        text = printable(text)
        if style and self.color_err:
            self._console(self.stderr, True).print(text, style=style, markup=False)
            return
        with self._lock:
            self.stderr.write(text + "\n")
            self.stderr.flush()

    def info(self, text: str) -> None:
        self._err(text, None)

    def success(self, text: str) -> None:
        self._err(text, "green")

    def warn(self, text: str) -> None:
        self._err(text, "yellow")

    def error(self, err: CStarError) -> None:
        """The error as one line plus a hint (human) or ``{"error": {...}}`` (``--json``), on stderr."""
        if self.json:
            with self._lock:
                self.stderr.write(dumps({"error": {**err.to_dict(), "message": shorten(err.message)}}) + "\n")
                self.stderr.flush()
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
        if self.json or not self.color_err or not _isatty(self.stderr):
            yield
            return
        from rich.status import Status

        status = Status(text, console=self._console(self.stderr, True))
        timer = threading.Timer(delay, status.start)
        timer.daemon = True
        timer.start()
        try:
            yield
        finally:
            timer.cancel()
            status.stop()
