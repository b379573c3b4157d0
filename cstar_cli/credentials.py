"""Where API keys are kept: the OS keychain, or a 0600 file when there is no usable keychain.

Keychain entries use service ``cstar-cli`` and the profile name as user. Every keychain call runs
with a timeout (:data:`KEYRING_TIMEOUT` seconds), because a locked or absent Secret Service can
block forever on headless Linux. When the keychain is unusable (``NoKeyringError``, the fail/null
backends, an error or a timeout) the key goes to ``<config dir>/credentials.toml``.

The file is always mode 0600: each write is a locked read-modify-write (``credentials.toml.lock``,
:func:`cstar_cli._files.update_toml`) through a unique temp file made 0600 before the key is written.
A folder cstar creates is 0700; an existing one keeps its mode. A credentials file found readable or
writable by group or others (left by an older tool or a copy) is changed back to 0600, as ssh insists
on private keys; if that is not possible, the file is not used.

Nothing here prints. What the user should be told (the fallback and its reason, a mode that was fixed,
a keychain that could not be read) comes back as ``notices`` in each result: one line each, starting
``Note:`` or ``Warning:``, never holding the key; the caller shows them on stderr.

``CSTAR_CREDENTIAL_STORE=file`` skips the keychain altogether (CI, containers, tests).
"""

from __future__ import annotations

import os
import stat
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple, TypeVar

from cstar_cli._files import config_dir, load_toml, update_toml
from cstar_cli.protocol.keys import redact

__all__ = ["KEYRING_TIMEOUT", "SERVICE", "DeletedKey", "LoadedKey", "StoredKey", "delete_key", "load_key", "store_key"]

SERVICE = "cstar-cli"
#: Seconds every keychain call may take before the keychain counts as unusable.
KEYRING_TIMEOUT = 3.0
T = TypeVar("T")


class StoredKey(NamedTuple):
    """Where :func:`store_key` put the key: ``storage`` is ``"keychain"`` or ``"file"``, ``where`` says
    it in words (``"OS keychain (service cstar-cli)"``, ``"<path> (mode 0600)"``)."""

    storage: str
    where: str
    notices: tuple[str, ...] = ()


class LoadedKey(NamedTuple):
    """What :func:`load_key` found: the key and its ``source`` (``"keychain"``/``"file"``), or None and
    None."""

    key: str | None
    source: str | None
    notices: tuple[str, ...] = ()


class DeletedKey(NamedTuple):
    """Whether :func:`delete_key` removed anything (from the keychain or the file)."""

    removed: bool
    notices: tuple[str, ...] = ()


class _Unavailable(Exception):
    """The keychain cannot be used here; the reason is the message."""


def _reason(e: BaseException, secret: str | None = None) -> str:
    """What went wrong, in words (the OS error's text, or the library's message), never a class name or
    the key itself."""
    if isinstance(e, OSError) and e.strerror:
        text = e.strerror
    else:
        text = str(e).strip() or "an unexpected error"
    if secret:
        text = text.replace(secret, redact(secret))
    return text.splitlines()[0][:200] if text else "an unexpected error"


def _with_timeout(fn: Callable[[], T], secret: str | None = None) -> T:
    result: dict[str, Any] = {}

    def run() -> None:
        try:
            result["value"] = fn()
        except BaseException as e:  # noqa: BLE001 - handed to the calling thread
            result["error"] = e

    # A daemon thread: a keychain that never answers must not keep the CLI alive.
    t = threading.Thread(target=run, daemon=True)
    t.start()
    t.join(KEYRING_TIMEOUT)
    if t.is_alive():
        raise _Unavailable(f"the OS keychain did not answer within {KEYRING_TIMEOUT:g} s")
    if "error" in result:
        raise _Unavailable(f"the OS keychain failed: {_reason(result['error'], secret)}")
    return result.get("value")  # type: ignore[return-value]


def _keyring() -> Any:
    if os.environ.get("CSTAR_CREDENTIAL_STORE", "").lower() == "file":
        raise _Unavailable("CSTAR_CREDENTIAL_STORE=file")
    try:
        import keyring
        from keyring.backends import fail
    except Exception as e:  # pragma: no cover - broken install
        raise _Unavailable(f"the keyring library cannot be loaded: {_reason(e)}") from None
    backend = keyring.get_keyring()
    name = type(backend).__module__ + "." + type(backend).__name__
    if isinstance(backend, fail.Keyring) or "null" in name.lower() or getattr(backend, "priority", 1) <= 0:
        raise _Unavailable("no OS keychain is available")
    return keyring


def _file_path() -> Path:
    return config_dir() / "credentials.toml"


def _is_private(path: Path, notices: list[str], *, rewriting: bool = False) -> bool:
    """True when only the owner can read or write ``path`` (or it does not exist), fixing a looser mode
    to 0600 with a warning added to ``notices``; False, with a warning, when it stays exposed.
    ``rewriting``: the caller is about to replace the file with a private copy, and the warning says so."""
    if os.name != "posix":
        return True  # Windows keeps access in ACLs, not in these mode bits
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
    except FileNotFoundError:
        return True
    except OSError as e:
        notices.append(f"Warning: cannot check the permissions of {path}: {_reason(e)}.")
        return False
    if not mode & 0o077:
        return True
    try:
        os.chmod(path, 0o600)
    except OSError as e:
        then = "replacing it with a private copy" if rewriting else f"not using it. Fix it with `chmod 600 {path}`"
        notices.append(
            f"Warning: {path} is accessible to other users (mode {mode:04o}) and cannot be made private "
            f"({_reason(e)}); {then}."
        )
        return False
    notices.append(f"Warning: {path} was accessible to other users (mode {mode:04o}); changed it to 0600.")
    return True


def _update_file(change: Callable[[dict[str, Any]], T], notices: list[str]) -> T:
    """Apply ``change`` to the credentials file's data under its lock, re-read inside the lock, and
    write the result (0600) when it changed or the file was not private. Raises
    :class:`~cstar_cli.errors.CStarError`."""
    path = _file_path()
    result, _ = update_toml(path, change, must_rewrite=lambda: not _is_private(path, notices, rewriting=True))
    return result


def store_key(profile: str, key: str) -> StoredKey:
    """Store ``key`` for ``profile``: in the keychain, else in the file (a notice gives the reason).
    Raises :class:`~cstar_cli.errors.CStarError` when the file cannot be written either."""
    notices: list[str] = []
    try:
        kr = _keyring()
        _with_timeout(lambda: kr.set_password(SERVICE, profile, key), secret=key)
        _remove_from_file(profile, notices)
        return StoredKey("keychain", f"OS keychain (service {SERVICE})", tuple(notices))
    except _Unavailable as why:

        def put(data: dict[str, Any]) -> None:
            data.setdefault("profiles", {})[profile] = {"api_key": key}

        _update_file(put, notices)
        path = _file_path()
        notices.append(f"Note: {why}; the key is stored in {path} (mode 0600) instead.")
        return StoredKey("file", f"{path} (mode 0600)", tuple(notices))


def load_key(profile: str, storage: str | None) -> LoadedKey:
    """The stored key for ``profile`` (``storage`` is the profile's ``key_storage``). Never raises: an
    unreadable keychain or file, or a credentials file other users can read and that cannot be made
    private, counts as no key (with a notice)."""
    notices: list[str] = []
    if storage == "keychain":
        try:
            kr = _keyring()
            key = _with_timeout(lambda: kr.get_password(SERVICE, profile))
            if key:
                return LoadedKey(key, "keychain")
        except _Unavailable as why:
            notices.append(f"Note: {why}; cannot read the stored key.")
    path = _file_path()
    if not _is_private(path, notices):
        return LoadedKey(None, None, tuple(notices))
    try:
        entry = (load_toml(path).get("profiles") or {}).get(profile) or {}
    except Exception as e:
        notices.append(f"Note: {getattr(e, 'message', e)}")
        entry = {}
    key = entry.get("api_key")
    return LoadedKey(key, "file", tuple(notices)) if key else LoadedKey(None, None, tuple(notices))


def _remove_from_file(profile: str, notices: list[str]) -> bool:
    if not _file_path().exists():
        return False

    def remove(data: dict[str, Any]) -> bool:
        if profile not in (data.get("profiles") or {}):
            return False
        del data["profiles"][profile]
        return True

    return _update_file(remove, notices)


def delete_key(profile: str) -> DeletedKey:
    """Remove ``profile``'s key from the keychain and the file. Raises
    :class:`~cstar_cli.errors.CStarError` when the file cannot be rewritten."""
    removed = False
    notices: list[str] = []
    try:
        kr = _keyring()

        def delete() -> bool:
            try:
                kr.delete_password(SERVICE, profile)
                return True
            except Exception:
                return False

        removed = bool(_with_timeout(delete))
    except _Unavailable:
        pass
    return DeletedKey(_remove_from_file(profile, notices) or removed, tuple(notices))
