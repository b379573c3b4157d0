"""``config.toml``: the profiles and which one is the default.

The file lives in :func:`cstar_cli._files.config_dir` and never holds a key::

    default_profile = "default"

    [profiles.default]
    base_url = "http://127.0.0.1:8787"     # absent: the default API (cstar_cli.settings)
    team_id = "0b1c…"
    team_name = "Acme Support"
    mode = "test"
    key_type = "secret"
    key_id = "key_…"
    key_redacted = "sk_test_…a1b2"
    key_storage = "keychain"                # or "file": where cstar_cli.credentials put the key

Which profile, key and base URL a command uses is decided in :mod:`cstar_cli.settings`; this module
only reads and writes the file (locked, atomic: :func:`cstar_cli._files.update_toml`).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from cstar_cli._files import config_dir, load_toml, update_toml

__all__ = ["DEFAULT_PROFILE", "Config"]

#: The profile used when neither ``--profile``, ``CSTAR_PROFILE`` nor ``default_profile`` names one.
DEFAULT_PROFILE = "default"
T = TypeVar("T")


class Config:
    """``config.toml`` in ``directory`` (default :func:`~cstar_cli._files.config_dir`).

    Reads are a snapshot taken when the object is made (raises :class:`~cstar_cli.errors.CStarUsageError`,
    ``bad_config``, for an unreadable file); every change is a locked read-modify-write that re-reads the
    file first, so it keeps what other processes wrote in the meantime. Writes raise
    :class:`~cstar_cli.errors.CStarError` (``config_write_failed``, ``config_locked``)."""

    def __init__(self, directory: Path | None = None) -> None:
        self.dir = directory or config_dir()
        self.path = self.dir / "config.toml"
        self._data = load_toml(self.path)

    @property
    def default_profile(self) -> str:
        """``default_profile`` from the file, else :data:`DEFAULT_PROFILE`."""
        return str(self._data.get("default_profile") or DEFAULT_PROFILE)

    def profiles(self) -> dict[str, dict[str, Any]]:
        """Every profile: name → its table (a copy)."""
        return dict(self._data.get("profiles") or {})

    def profile(self, name: str) -> dict[str, Any]:
        """Profile ``name``'s table (a copy), ``{}`` when there is none."""
        return dict((self._data.get("profiles") or {}).get(name) or {})

    def set_profile(self, name: str, values: dict[str, Any], *, make_default: bool = False) -> None:
        """Replace profile ``name`` with ``values`` (None values dropped); it becomes the default profile
        when ``make_default`` or when there is none yet."""

        def change(data: dict[str, Any]) -> None:
            data.setdefault("profiles", {})[name] = {k: v for k, v in values.items() if v is not None}
            if make_default or "default_profile" not in data:
                data["default_profile"] = name

        self._update(change)

    def remove_profile(self, name: str) -> bool:
        """Remove profile ``name``; False (and nothing written) when there was none."""

        if not self.path.exists():
            return False  # no file, nothing to remove: do not create the folder or a lock file

        def change(data: dict[str, Any]) -> bool:
            profiles = data.get("profiles") or {}
            if name not in profiles:
                return False
            del profiles[name]
            if data.get("default_profile") == name:
                data.pop("default_profile", None)
            return True

        return self._update(change)

    def _update(self, change: Callable[[dict[str, Any]], T]) -> T:
        result, self._data = update_toml(self.path, change)
        return result
