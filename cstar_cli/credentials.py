"""Where API keys are kept: the OS keychain, or a 0600 file when there is no usable keychain.

Keychain entries use service ``cstar-cli`` and the profile name as user. Every keychain call runs
with a timeout (:data:`KEYRING_TIMEOUT` seconds), because a locked or absent Secret Service can
block forever on headless Linux. When the keychain is unusable (``NoKeyringError``, the fail/null
backends, an error or a timeout) the key goes to ``<config dir>/credentials.toml`` (mode 0600, in a
0700 folder) and the caller is told so.

``CSTAR_CREDENTIAL_STORE=file`` skips the keychain altogether (CI, containers, tests).
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from cstar_cli.config import _load_toml, config_dir, config_write_error

__all__ = ["KEYRING_TIMEOUT", "SERVICE", "delete_key", "load_key", "store_key"]

SERVICE = "cstar-cli"
KEYRING_TIMEOUT = 3.0
T = TypeVar("T")


class _Unavailable(Exception):
    """The keychain cannot be used here; the reason is the message."""


def _with_timeout(fn: Callable[[], T]) -> T:
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
        raise _Unavailable(f"the OS keychain failed ({type(result['error']).__name__})")
    return result.get("value")  # type: ignore[return-value]


def _keyring() -> Any:
    if os.environ.get("CSTAR_CREDENTIAL_STORE", "").lower() == "file":
        raise _Unavailable("CSTAR_CREDENTIAL_STORE=file")
    try:
        import keyring
        from keyring.backends import fail
    except Exception as e:  # pragma: no cover - broken install
        raise _Unavailable(f"keyring is not usable ({type(e).__name__})") from None
    backend = keyring.get_keyring()
    name = type(backend).__module__ + "." + type(backend).__name__
    if isinstance(backend, fail.Keyring) or "null" in name.lower() or getattr(backend, "priority", 1) <= 0:
        raise _Unavailable("no OS keychain is available")
    return keyring


def _file_path() -> Path:
    return config_dir() / "credentials.toml"


def _write_file(data: dict[str, Any]) -> Path:
    import tomli_w

    path = _file_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    os.chmod(path.parent, 0o700)
    tmp = path.with_suffix(".tmp")
    # Created 0600 from the start: the key is never readable by others, even for an instant.
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(tomli_w.dumps(data))
    os.replace(tmp, path)
    return path


def store_key(profile: str, key: str) -> tuple[str, str]:
    """Store ``key`` for ``profile``. Returns ``(storage, where)``: ``("keychain", "OS keychain
    (service cstar-cli)")`` or ``("file", "<path> (mode 0600)")``; a fallback and its reason are said
    on stderr. Raises :class:`~cstar_cli.errors.CStarError` when the file cannot be written either."""
    try:
        kr = _keyring()
        _with_timeout(lambda: kr.set_password(SERVICE, profile, key))
        _remove_from_file(profile)
        return "keychain", f"OS keychain (service {SERVICE})"
    except _Unavailable as why:
        data = _load_toml(_file_path())
        data.setdefault("profiles", {})[profile] = {"api_key": key}
        try:
            path = _write_file(data)
        except OSError as e:
            raise config_write_error(_file_path(), e) from None
        print(f"Note: {why}; the key is stored in {path} (mode 0600) instead.", file=sys.stderr)
        return "file", f"{path} (mode 0600)"


def load_key(profile: str, storage: str | None) -> tuple[str | None, str | None]:
    """The stored key for ``profile`` and where it came from (``"keychain"``/``"file"``), or
    ``(None, None)``. Never raises: an unreadable keychain counts as no key."""
    if storage == "keychain":
        try:
            kr = _keyring()
            key = _with_timeout(lambda: kr.get_password(SERVICE, profile))
            if key:
                return key, "keychain"
        except _Unavailable as why:
            print(f"Note: {why}; cannot read the stored key.", file=sys.stderr)
    try:
        entry = (_load_toml(_file_path()).get("profiles") or {}).get(profile) or {}
    except Exception as e:
        print(f"Note: {getattr(e, 'message', e)}", file=sys.stderr)
        entry = {}
    key = entry.get("api_key")
    return (key, "file") if key else (None, None)


def _remove_from_file(profile: str) -> bool:
    path = _file_path()
    if not path.exists():
        return False
    data = _load_toml(path)
    if profile not in (data.get("profiles") or {}):
        return False
    del data["profiles"][profile]
    _write_file(data)
    return True


def delete_key(profile: str) -> bool:
    """Remove ``profile``'s key from the keychain and the file. True if anything was removed."""
    removed = False
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
    return _remove_from_file(profile) or removed
