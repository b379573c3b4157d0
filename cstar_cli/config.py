"""Profiles, and which key and base URL a command uses.

``config.toml`` lives in the user config dir (``platformdirs.user_config_dir("cstar")``;
``CSTAR_CONFIG_DIR`` overrides it) and never holds a key::

    default_profile = "default"

    [profiles.default]
    base_url = "http://127.0.0.1:8787"     # absent: https://www.cstar.help
    team_id = "0b1c…"
    team_name = "Acme Support"
    mode = "test"
    key_type = "secret"
    key_id = "key_…"
    key_redacted = "sk_test_…a1b2"
    key_storage = "keychain"                # or "file": where credentials.py put the key

Precedence, written down once here (:func:`resolve`):

- profile: ``--profile`` > ``CSTAR_PROFILE`` > ``default_profile`` > ``"default"``
- API key: ``--api-key`` > ``CSTAR_API_KEY`` > the profile's stored key
- base URL: ``--base-url`` > ``CSTAR_BASE_URL`` > the profile's ``base_url`` > ``https://www.cstar.help``
"""

from __future__ import annotations

import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from cstar_cli.errors import CStarError, CStarUsageError

__all__ = [
    "DEFAULT_BASE_URL",
    "Config",
    "Settings",
    "check_base_url",
    "config_dir",
    "key_mode",
    "key_type",
    "redact",
    "resolve",
]

DEFAULT_BASE_URL = "https://www.cstar.help"
DEFAULT_PROFILE = "default"
_KEY_RE = re.compile(r"^(sk|pk)_(test|live)_[A-Za-z0-9]{24,}$")
_PROFILE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


def config_dir() -> Path:
    """The folder holding ``config.toml`` (and the fallback credentials file)."""
    override = os.environ.get("CSTAR_CONFIG_DIR")
    if override:
        return Path(override).expanduser()
    import platformdirs

    return Path(platformdirs.user_config_dir("cstar", appauthor=False))


def redact(key: str | None) -> str:
    """``sk_test_…a1b2``: the prefix and last four characters; the only form a key is ever shown in."""
    if not key:
        return "-"
    m = re.match(r"^((?:sk|pk|whsec)_(?:(?:test|live)_)?)", key)
    prefix = m.group(1) if m else ""
    tail = key[-4:] if len(key) >= len(prefix) + 8 else ""
    return f"{prefix}…{tail}"


def key_mode(key: str) -> str | None:
    """``"test"`` or ``"live"`` from the key's prefix, or None for an unrecognised key."""
    m = _KEY_RE.match(key)
    return m.group(2) if m else None


def key_type(key: str) -> str | None:
    """``"secret"`` or ``"publishable"`` from the key's prefix, or None."""
    m = _KEY_RE.match(key)
    if not m:
        return None
    return "secret" if m.group(1) == "sk" else "publishable"


def validate_key(key: str) -> str:
    """The key, stripped, or :class:`CStarUsageError` when it is not ``sk|pk_test|live_`` + 24+ base62."""
    key = key.strip()
    if not _KEY_RE.match(key):
        raise CStarUsageError(
            f"That does not look like a cStar API key ({redact(key)}).",
            code="invalid_key_format",
            hint="Keys start with sk_test_, sk_live_, pk_test_ or pk_live_; copy one from Settings → API Keys.",
        )
    return key


def is_loopback(host: str | None) -> bool:
    """True for ``localhost`` and literal loopback addresses (127.0.0.0/8, ::1) only: a DNS name that
    merely starts with ``127.`` (``127.0.0.1.example.com``) can resolve anywhere."""
    name = (host or "").lower().strip("[]")
    if name == "localhost":
        return True
    import ipaddress

    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def check_base_url(url: str) -> str:
    """Normalise a base URL (no trailing slash, no ``/api/v1``) or raise :class:`CStarUsageError`.

    Plain ``http://`` is only allowed to a loopback host, so a key never crosses a network unencrypted.
    """
    raw = url.strip().rstrip("/")
    if raw.endswith("/api/v1"):
        raw = raw[: -len("/api/v1")]
    parts = urlsplit(raw)
    try:
        port_ok = parts.port is None or parts.port > 0
    except ValueError:
        port_ok = False
    if parts.scheme not in ("http", "https") or not parts.hostname or not port_ok or any(c.isspace() for c in raw):
        raise CStarUsageError(
            f"Invalid base URL: {url!r}.",
            code="invalid_base_url",
            hint="Use a full URL such as https://www.cstar.help or http://127.0.0.1:8787.",
        )
    if parts.scheme == "http" and not is_loopback(parts.hostname):
        raise CStarUsageError(
            f"Refusing to send an API key over plain http to {parts.hostname}.",
            code="insecure_base_url",
            hint="Use https://, or http:// only with localhost / 127.0.0.1.",
        )
    return raw


def _load_toml(path: Path) -> dict[str, Any]:
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover
        import tomli as tomllib
    try:
        with path.open("rb") as f:
            return tomllib.load(f)
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as e:
        raise CStarUsageError(
            f"Cannot read {path}: {e}",
            code="bad_config",
            hint="Fix or delete the file, then `cstar login` again.",
        ) from None


def config_write_error(path: Path, e: OSError) -> CStarError:
    """The one-line error for a config or credentials file that cannot be written."""
    return CStarError(
        f"Cannot write {path}: {e.strerror or e}.",
        code="config_write_failed",
        hint="Check that CSTAR_CONFIG_DIR (or the user config folder) exists and is writable.",
    )


class Config:
    """``config.toml``: the profiles and the default profile. Writes are atomic (temp file + rename)."""

    def __init__(self, directory: Path | None = None) -> None:
        self.dir = directory or config_dir()
        self.path = self.dir / "config.toml"
        self._data = _load_toml(self.path)

    @property
    def default_profile(self) -> str:
        return str(self._data.get("default_profile") or DEFAULT_PROFILE)

    def profiles(self) -> dict[str, dict[str, Any]]:
        return dict(self._data.get("profiles") or {})

    def profile(self, name: str) -> dict[str, Any]:
        return dict((self._data.get("profiles") or {}).get(name) or {})

    def set_profile(self, name: str, values: dict[str, Any], *, make_default: bool = False) -> None:
        profiles = self._data.setdefault("profiles", {})
        profiles[name] = {k: v for k, v in values.items() if v is not None}
        if make_default or "default_profile" not in self._data:
            self._data["default_profile"] = name
        self.save()

    def remove_profile(self, name: str) -> bool:
        profiles = self._data.get("profiles") or {}
        if name not in profiles:
            return False
        del profiles[name]
        if self._data.get("default_profile") == name:
            self._data.pop("default_profile", None)
        self.save()
        return True

    def save(self) -> None:
        import tomli_w

        try:
            self.dir.mkdir(parents=True, exist_ok=True)
            tmp = self.path.with_suffix(".toml.tmp")
            tmp.write_text(tomli_w.dumps(self._data), encoding="utf-8")
            os.replace(tmp, self.path)
        except OSError as e:
            raise config_write_error(self.path, e) from None


@dataclass
class Settings:
    """What a command talks to, and why: ``key_source`` is ``flag``, ``env``, ``keychain``, ``file`` or
    None (no key); ``base_url_source`` is ``flag``, ``env``, ``profile`` or ``default``."""

    profile: str
    api_key: str | None
    key_source: str | None
    base_url: str
    base_url_source: str
    team_id: str | None
    profile_data: dict[str, Any]
    notices: list[str]


def validate_profile_name(name: str) -> str:
    if not _PROFILE_RE.match(name):
        raise CStarUsageError(
            f"Invalid profile name {name!r}.",
            code="invalid_profile",
            hint="Use letters, digits, '.', '_' or '-' (up to 64 characters).",
        )
    return name


def resolve(
    *,
    api_key: str | None = None,
    base_url: str | None = None,
    profile: str | None = None,
    config: Config | None = None,
    load_stored_key: bool = True,
) -> Settings:
    """Apply the precedence rules in this module's docstring.

    ``notices`` collects what the user should be told on stderr (e.g. the env var overriding a stored
    key). Raises :class:`CStarUsageError` for a bad profile name or base URL; never touches the
    network. Reads the keychain only when neither ``--api-key`` nor ``CSTAR_API_KEY`` is set.
    """
    cfg = config or Config()
    notices: list[str] = []
    name = validate_profile_name(profile or os.environ.get("CSTAR_PROFILE") or cfg.default_profile)
    data = cfg.profile(name)

    key: str | None
    source: str | None
    env_key = os.environ.get("CSTAR_API_KEY", "").strip()
    if api_key:
        key, source = api_key.strip(), "flag"
    elif env_key:
        key, source = env_key, "env"
        if data.get("key_storage"):
            notices.append(f"CSTAR_API_KEY ({redact(env_key)}) overrides the key stored for profile '{name}'.")
    elif load_stored_key and data.get("key_storage"):
        from cstar_cli import credentials

        key, source = credentials.load_key(name, data.get("key_storage"))
    else:
        key, source = None, None

    if base_url is not None:
        url, url_source = base_url, "flag"
    elif os.environ.get("CSTAR_BASE_URL"):
        url, url_source = os.environ["CSTAR_BASE_URL"], "env"
    elif data.get("base_url"):
        url, url_source = str(data["base_url"]), "profile"
    else:
        url, url_source = DEFAULT_BASE_URL, "default"
    url = check_base_url(url)

    # The stored team only belongs to the stored key; a key from elsewhere is introspected instead.
    team_id = data.get("team_id") if source in ("keychain", "file") else None
    return Settings(name, key, source, url, url_source, team_id, data, notices)
