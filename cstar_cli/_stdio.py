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

__all__ = ["EXIT_OUTPUT", "ClosedStream", "guard_standard_streams", "silence_stdout", "write_failed"]

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
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):
        pass
