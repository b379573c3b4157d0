"""The process's standard streams: descriptors closed at start, and output that cannot be written.

Used by the entry point (before Typer loads) and by the root command's error handling.
"""

from __future__ import annotations

import errno
import os
import sys

# Read as always true by type checkers: this module runs before anything, and `typing` costs 3 ms.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

__all__ = [
    "EXIT_OUTPUT",
    "MIN_WIDTH",
    "ClosedStream",
    "guard_standard_streams",
    "sane_terminal_width",
    "silence_stderr",
    "silence_stdout",
    "write_failed",
]

#: Exit code for standard output that cannot be written (``cstar_cli.errors.CStarOutputError``).
EXIT_OUTPUT = 11


class ClosedStream:
    """Stands in for a standard stream whose descriptor was closed when cstar started (``cstar … >&-``):
    writing to it fails with EBADF, as writing to the closed descriptor would."""

    closed = False
    encoding = "utf-8"
    errors = "strict"

    def __init__(self, name: str) -> None:
        self.name = name

    def write(self, text: str) -> int:
        raise OSError(errno.EBADF, f"{self.name} is closed")

    def flush(self) -> None:
        pass

    def isatty(self) -> bool:
        return False

    def fileno(self) -> int:
        raise OSError(errno.EBADF, f"{self.name} is closed")

    def __getattr__(self, name: str) -> Any:
        raise AttributeError(name)


def guard_standard_streams() -> None:
    """Put /dev/null on standard descriptors that were closed at start, so no socket, database or
    credentials file opened later can land on descriptor 1 or 2 and receive output; data written to a
    closed stdout still fails, as :class:`ClosedStream`."""
    for fd, name in ((0, "standard input"), (1, "standard output"), (2, "standard error")):
        try:
            os.fstat(fd)
            continue
        except OSError:
            pass
        try:
            null = os.open(os.devnull, os.O_RDONLY if fd == 0 else os.O_WRONLY)
            if null != fd:
                os.dup2(null, fd)
                os.close(null)
        except OSError:  # pragma: no cover - no /dev/null
            pass
        if fd == 0:
            sys.stdin = open(os.devnull, encoding="utf-8")  # noqa: SIM115 - lives as long as the process
        elif fd == 1:
            sys.stdout = ClosedStream(name)
        else:
            sys.stderr = open(os.devnull, "w", encoding="utf-8")  # noqa: SIM115 - nowhere left to report


def write_failed(e: OSError) -> int:
    """Report a failed write to stdout on stderr in one line (nothing for EPIPE) and give the exit code."""
    if isinstance(e, BrokenPipeError):
        silence_stdout()
        return 0
    try:
        sys.stderr.write(f"Error: Cannot write to standard output: {e.strerror or e}.\n")
        sys.stderr.flush()
    except (OSError, ValueError):
        pass
    silence_stdout()
    return EXIT_OUTPUT


def silence_stdout() -> None:
    """Point stdout at /dev/null, so the interpreter's final flush of what is still buffered does not
    fail a second time (a reader that went away, a full disk)."""
    _to_devnull(sys.stdout)


def silence_stderr(stream: Any = None) -> None:
    """Point stderr (or ``stream``, a stream standing in for it) at /dev/null after a write to it
    failed: later notices are dropped instead of failing again, and the interpreter's final flush
    of stderr cannot turn the exit code into 120."""
    _to_devnull(sys.stderr if stream is None else stream)


def _to_devnull(stream: Any) -> None:
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
    except OSError:  # pragma: no cover - no /dev/null
        return
    try:
        os.dup2(devnull, stream.fileno())
    except (OSError, ValueError, AttributeError):
        pass
    finally:
        os.close(devnull)


#: Narrower than this, help and tables are unreadable: a width below it is taken as a mistake.
MIN_WIDTH = 20


def sane_terminal_width() -> None:
    """Drop ``COLUMNS`` (read by Rich and Click) and ``TERMINAL_WIDTH`` (Typer's help) from the
    environment when they are not a whole number of at least :data:`MIN_WIDTH` columns, so the width
    is what it would be without them: the terminal's, else 80. ``COLUMNS=0`` would otherwise draw
    help zero columns wide, and a ``TERMINAL_WIDTH`` that is not a number fails Typer's import."""
    for name in ("COLUMNS", "TERMINAL_WIDTH"):
        value = os.environ.get(name)
        if value is not None and not (value.isascii() and value.isdigit() and int(value) >= MIN_WIDTH):
            del os.environ[name]
