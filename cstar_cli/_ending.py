"""How a run of cstar ends: a failure turned into its message and exit code, and the final flush.

The one place that decides this, for the root command (:meth:`cstar_cli.cli.RootGroup.invoke` and
``main``) and the entry point's fast paths (:mod:`cstar_cli.commands.fast`), so a command answered
without Typer ends exactly as the full CLI would. Imports neither Typer nor Rich.
"""

from __future__ import annotations

import errno
import os
import sys
from typing import TYPE_CHECKING

from cstar_cli._stdio import silence_stderr, silence_stdout, write_failed
from cstar_cli.errors import EXIT_INTERRUPTED, CStarError, CStarOutputError

if TYPE_CHECKING:
    from cstar_cli.output import Output

__all__ = ["DEBUG_ENV", "failure_code", "final_flush"]

#: Set (to anything) to let an unexpected error end with its traceback; ``--debug`` sets it.
DEBUG_ENV = "CSTAR_DEBUG"
# A failed write with no file name is a write to an already open stream: stdout, for our output.
_STDOUT_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EBADF, errno.EIO, errno.EFBIG})


def failure_code(e: Exception | KeyboardInterrupt, out: Output) -> int:
    """Report ``e``, caught as a command ended, through ``out`` (stderr) and give the exit code.

    - :class:`~cstar_cli.errors.CStarError`: its message and hint, its exit code; after a
      :class:`~cstar_cli.errors.CStarOutputError` stdout is pointed at /dev/null.
    - ``KeyboardInterrupt``: "Interrupted.", 130.
    - ``BrokenPipeError``: nothing, 0 (the reader had enough: ``cstar logs | head -1``).
    - an ``OSError`` writing to stdout (no file name, a stream errno): one line, 11.
    - anything else is a bug: one line naming ``--debug``, 1; re-raised (its traceback) when
      ``CSTAR_DEBUG`` is set.
    """
    # Reporting never raises: Output drops what a stderr that went away cannot take, so the exit code
    # is the failure's own whether or not anyone reads stderr.
    if isinstance(e, CStarError):
        out.error(e)
        if isinstance(e, CStarOutputError):
            silence_stdout()
        return e.exit_code
    if isinstance(e, KeyboardInterrupt):
        out.info("Interrupted.")
        return EXIT_INTERRUPTED
    if isinstance(e, BrokenPipeError):
        silence_stdout()
        return 0
    if isinstance(e, OSError) and e.filename is None and e.errno in _STDOUT_ERRNOS:
        # Help text or other output written without Output (which raises CStarOutputError itself).
        return write_failed(e)
    if os.environ.get(DEBUG_ENV):
        raise e from None
    out.error(
        CStarError(
            f"Unexpected {type(e).__name__}: {e}",
            code="unexpected",
            hint="Run again with --debug (or CSTAR_DEBUG=1) for details, and report it with that output.",
        )
    )
    return 1


def final_flush(code: int) -> int:
    """Flush stdout and stderr as the process ends and give the exit code: ``code``, or when it is 0
    and the stdout flush fails, that failure's (:func:`cstar_cli._stdio.write_failed`: 0 for EPIPE,
    else 11). A stderr that cannot be flushed changes nothing: it is pointed at /dev/null, so the
    interpreter's own final flush cannot fail on it either (which would make the exit code 120)."""
    try:
        sys.stdout.flush()
    except OSError as e:
        code = code or write_failed(e)
    except ValueError:  # closed by a runner that swapped it in
        pass
    try:
        sys.stderr.flush()
    except (OSError, ValueError):
        silence_stderr()
    return code
