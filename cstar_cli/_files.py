"""The config folder and the safe way to change a file in it.

:func:`config_dir` is the folder holding ``config.toml`` and the fallback ``credentials.toml``
(``platformdirs.user_config_dir("cstar")``; ``CSTAR_CONFIG_DIR`` overrides it). A folder cstar creates
is 0700 (:func:`ensure_dir`); one that already exists keeps its mode.

Every write (:func:`update_toml`) is a read-modify-write under an OS lock file next to the file
(``<name>.lock``, :func:`file_lock`), re-reading the file once the lock is held, and replaces the file
atomically from a unique, fsync'd temp file made 0600 before any byte is written (:func:`atomic_write`):
parallel cstar runs sharing one folder never lose each other's changes, and readers never see half a
file. The lowest layer of the settings chain: it imports nothing of cstar_cli but the errors.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

from cstar_cli.errors import CStarError, CStarUsageError

__all__ = [
    "LOCK_TIMEOUT",
    "atomic_write",
    "config_dir",
    "config_write_error",
    "ensure_dir",
    "file_lock",
    "load_toml",
    "update_toml",
]

#: Seconds to wait for another cstar process to finish writing a config or credentials file.
LOCK_TIMEOUT = 30.0
T = TypeVar("T")


def config_dir() -> Path:
    """The folder holding ``config.toml`` (and the fallback credentials file): ``CSTAR_CONFIG_DIR``,
    else the user config folder. Not created here."""
    override = os.environ.get("CSTAR_CONFIG_DIR")
    if override:
        return Path(override).expanduser()
    import platformdirs

    return Path(platformdirs.user_config_dir("cstar", appauthor=False))


def load_toml(path: Path) -> dict[str, Any]:
    """The TOML document at ``path`` as a dict, ``{}`` when there is no file. Raises
    :class:`CStarUsageError` (``bad_config``) when it cannot be read or parsed."""
    try:
        f = path.open("rb")
    except FileNotFoundError:
        return {}  # no file, no parser to load (a fresh machine, the MCP server's start)
    except OSError as e:
        raise _unreadable(path, e) from None
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover
        import tomli as tomllib
    try:
        with f:
            return tomllib.load(f)
    except (OSError, ValueError) as e:
        raise _unreadable(path, e) from None


def _unreadable(path: Path, e: Exception) -> CStarUsageError:
    return CStarUsageError(
        f"Cannot read {path}: {e}", code="bad_config", hint="Fix or delete the file, then `cstar login` again."
    )


def config_write_error(path: Path, e: OSError) -> CStarError:
    """The one-line error (``config_write_failed``) for a config or credentials file that cannot be
    written."""
    return CStarError(
        f"Cannot write {path}: {e.strerror or e}.",
        code="config_write_failed",
        hint="Check that CSTAR_CONFIG_DIR (or the user config folder) exists and is writable.",
    )


def ensure_dir(path: Path) -> None:
    """Create ``path`` and any missing parents with mode 0700. A folder that already exists keeps its
    mode: it may be shared on purpose (a 1777 ``/tmp`` folder, say). Raises OSError."""
    missing: list[Path] = []
    p = path
    while not p.is_dir():
        missing.append(p)
        if p.parent == p:
            break
        p = p.parent
    for folder in reversed(missing):
        try:
            folder.mkdir(mode=0o700)
        except FileExistsError:
            continue  # made by a parallel cstar a moment ago: not ours to change
        # mkdir's mode is filtered through the umask; a folder cstar made is exactly 0700.
        os.chmod(folder, 0o700)


@contextlib.contextmanager
def file_lock(path: Path) -> Iterator[None]:
    """Hold ``<path>.lock`` (an OS file lock, released even if the process dies) for a read-modify-write
    of ``path``. Creates the folder (:func:`ensure_dir`). Raises :class:`CStarError`
    (``config_locked``) after :data:`LOCK_TIMEOUT` s, or ``config_write_failed`` when the lock file
    cannot be made."""
    import filelock

    try:
        ensure_dir(path.parent)
        lock = filelock.FileLock(str(path) + ".lock", timeout=LOCK_TIMEOUT)
        lock.acquire()
    except filelock.Timeout:
        raise CStarError(
            f"Another cstar process has been writing {path} for over {LOCK_TIMEOUT:g} s.",
            code="config_locked",
            hint="Wait for the other cstar command to finish, then try again.",
        ) from None
    except OSError as e:
        raise config_write_error(path, e) from None
    try:
        yield
    finally:
        lock.release()


def atomic_write(path: Path, text: str, mode: int = 0o600) -> None:
    """Replace ``path`` with ``text`` (UTF-8) so that readers see the old or the new file, never a part.

    The temp file is unique (``mkstemp`` in the same folder, so parallel writers never share one), has
    ``mode`` before any byte is written, is fsync'd, and is renamed over ``path`` (``os.replace``).
    Raises OSError; the temp file is removed on failure."""
    import tempfile  # only when writing: its imports (shutil, random, …) cost start-up time

    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            if hasattr(os, "fchmod"):
                os.fchmod(f.fileno(), mode)
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    if hasattr(os, "O_DIRECTORY"):
        # The rename itself survives a crash only once the folder is synced too.
        with contextlib.suppress(OSError):
            dfd = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY)
            try:
                os.fsync(dfd)
            finally:
                os.close(dfd)


def update_toml(
    path: Path,
    change: Callable[[dict[str, Any]], T],
    *,
    must_rewrite: Callable[[], bool] | None = None,
) -> tuple[T, dict[str, Any]]:
    """Apply ``change`` (which edits the dict in place) to the TOML file at ``path`` under
    :func:`file_lock`, on the file as re-read inside the lock.

    The file is replaced (mode 0600, :func:`atomic_write`) when the data changed, or when
    ``must_rewrite`` (called once the lock is held, before the read) returns True. Returns ``change``'s
    result and the data as it now stands. Raises :class:`CStarError` (``config_locked``,
    ``config_write_failed``) and :class:`CStarUsageError` (``bad_config``)."""
    import tomli_w

    with file_lock(path):
        rewrite = must_rewrite() if must_rewrite is not None else False
        data = load_toml(path)
        before = tomli_w.dumps(data)
        result = change(data)
        after = tomli_w.dumps(data)
        if after != before or rewrite:
            try:
                atomic_write(path, after, 0o600)
            except OSError as e:
                raise config_write_error(path, e) from None
    return result, data
