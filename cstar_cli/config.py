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

A stored key belongs to the API it was stored for (the profile's ``base_url``, else the default): when
another base URL is active, the stored key is neither read nor sent, and :attr:`Settings.withheld_for`
names the API it belongs to. An explicit ``--api-key`` / ``CSTAR_API_KEY`` goes wherever the
base-URL rules (:func:`check_base_url`) allow.

Writes (:meth:`Config.set_profile`, :meth:`Config.remove_profile`, and ``credentials.py``'s) are
read-modify-write under a lock file next to the file (``config.toml.lock``), re-reading the file once
the lock is held, and replace the file atomically from a unique, fsync'd temp file: parallel ``cstar
login`` runs sharing one config folder never lose each other's profiles.
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

from cstar_cli.errors import CStarAuthenticationError, CStarError, CStarUsageError
from cstar_cli.protocol.keys import is_api_key, redact
from cstar_cli.protocol.urls import is_loopback

__all__ = [
    "DEFAULT_BASE_URL",
    "LOCK_TIMEOUT",
    "Config",
    "Settings",
    "atomic_write",
    "check_base_url",
    "config_dir",
    "ensure_dir",
    "file_lock",
    "resolve",
    "same_api",
]

DEFAULT_BASE_URL = "https://www.cstar.help"
DEFAULT_PROFILE = "default"
_PROFILE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
#: Seconds to wait for another cstar process to finish writing a config or credentials file.
LOCK_TIMEOUT = 30.0
_DEFAULT_PORTS = {"http": 80, "https": 443}
T = TypeVar("T")


def config_dir() -> Path:
    """The folder holding ``config.toml`` (and the fallback credentials file)."""
    override = os.environ.get("CSTAR_CONFIG_DIR")
    if override:
        return Path(override).expanduser()
    import platformdirs

    return Path(platformdirs.user_config_dir("cstar", appauthor=False))








def validate_key(key: str) -> str:
    """The key, stripped, or :class:`CStarUsageError` when it is not ``sk|pk_test|live_`` + 24+ base62."""
    key = key.strip()
    if not is_api_key(key):
        raise CStarUsageError(
            f"That does not look like a cStar API key ({redact(key)}).",
            code="invalid_key_format",
            hint="Keys start with sk_test_, sk_live_, pk_test_ or pk_live_; copy one from Settings → API Keys.",
        )
    return key




def _without_userinfo(url: str) -> str:
    # For messages: a password typed into a URL is never echoed back.
    return re.sub(r"(?<=//)[^/?#]*@", "…@", url)


def check_base_url(url: str) -> str:
    """Normalise a base URL (no trailing slash, no ``/api/v1``) or raise :class:`CStarUsageError`.

    Plain ``http://`` is only allowed to a loopback host, so a key never crosses a network unencrypted.
    A URL with user info (``https://user:pw@host``) is refused: httpx would send those as Basic auth in
    place of the Bearer key. Messages never repeat a password from the URL.
    """
    raw = url.strip().rstrip("/")
    if raw.endswith("/api/v1"):
        raw = raw[: -len("/api/v1")]
    parts = urlsplit(raw)
    if "@" in parts.netloc:
        raise CStarUsageError(
            f"Refusing a base URL with a user name or password in it: {_without_userinfo(raw)!r}.",
            code="credentials_in_base_url",
            hint="Drop the 'user:password@' part; cstar authenticates with the API key only.",
        )
    try:
        port_ok = parts.port is None or parts.port > 0
    except ValueError:
        port_ok = False
    if parts.scheme not in ("http", "https") or not parts.hostname or not port_ok or any(c.isspace() for c in raw):
        raise CStarUsageError(
            f"Invalid base URL: {_without_userinfo(url)!r}.",
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


def same_api(a: str, b: str) -> bool:
    """True when two base URLs name the same API: compared after :func:`check_base_url`, with scheme and
    host lower-cased and a default port (80 for http, 443 for https) dropped; the path is compared as
    is. A URL that fails :func:`check_base_url` matches nothing."""

    def identity(url: str) -> tuple[str, str, int | None, str]:
        parts = urlsplit(check_base_url(url))
        scheme = parts.scheme.lower()
        port = parts.port if parts.port != _DEFAULT_PORTS.get(scheme) else None
        return scheme, (parts.hostname or "").lower(), port, parts.path

    try:
        return identity(a) == identity(b)
    except CStarUsageError:
        return False


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


class Config:
    """``config.toml``: the profiles and the default profile.

    Reads are a snapshot taken when the object is made; every change is a locked read-modify-write
    (:func:`file_lock`, :func:`atomic_write`) that re-reads the file first, so it keeps what other
    processes wrote in the meantime. Writes raise :class:`CStarError` (``config_write_failed``,
    ``config_locked``)."""

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
        import tomli_w

        with file_lock(self.path):
            data = _load_toml(self.path)
            before = tomli_w.dumps(data)
            result = change(data)
            after = tomli_w.dumps(data)
            if after != before:
                try:
                    atomic_write(self.path, after)
                except OSError as e:
                    raise config_write_error(self.path, e) from None
            self._data = data
        return result


@dataclass
class Settings:
    """What a command talks to, and why: ``key_source`` is ``flag``, ``env``, ``keychain``, ``file`` or
    None (no key); ``base_url_source`` is ``flag``, ``env``, ``profile`` or ``default``.

    ``withheld_for`` is the base URL the profile's stored key belongs to when that key was withheld
    because another base URL is active (else None); :meth:`not_logged_in` explains it."""

    profile: str
    api_key: str | None
    key_source: str | None
    base_url: str
    base_url_source: str
    team_id: str | None
    profile_data: dict[str, Any]
    notices: list[str]
    withheld_for: str | None = None

    def not_logged_in(self, hint: str | None = None) -> CStarAuthenticationError:
        """The exit-3 error for "no key to use here" (``not_logged_in``), naming the API the profile is
        logged in to when its key was withheld. ``hint`` replaces the default hint for the plain case."""
        if self.withheld_for:
            return CStarAuthenticationError(
                f"Not logged in to {self.base_url} (profile '{self.profile}' is logged in to {self.withheld_for}).",
                code="not_logged_in",
                hint=f"Run `cstar login --base-url {self.base_url}`, or pass --api-key / set CSTAR_API_KEY "
                "for that API; the stored key is only sent to the API it was stored for.",
            )
        return CStarAuthenticationError(
            f"Not logged in (profile '{self.profile}').",
            code="not_logged_in",
            hint=hint or "Run `cstar login`, or pass --api-key / set CSTAR_API_KEY.",
        )


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
    network. Reads the keychain only when neither ``--api-key`` nor ``CSTAR_API_KEY`` is set and the
    active base URL is the one the profile was logged in to (:func:`same_api`); otherwise
    ``withheld_for`` is set and ``api_key`` is None.
    """
    cfg = config or Config()
    notices: list[str] = []
    name = validate_profile_name(profile or os.environ.get("CSTAR_PROFILE") or cfg.default_profile)
    data = cfg.profile(name)

    if base_url is not None:
        url, url_source = base_url, "flag"
    elif os.environ.get("CSTAR_BASE_URL"):
        url, url_source = os.environ["CSTAR_BASE_URL"], "env"
    elif data.get("base_url"):
        url, url_source = str(data["base_url"]), "profile"
    else:
        url, url_source = DEFAULT_BASE_URL, "default"
    url = check_base_url(url)

    key: str | None = None
    source: str | None = None
    withheld_for: str | None = None
    env_key = os.environ.get("CSTAR_API_KEY", "").strip()
    if api_key:
        key, source = api_key.strip(), "flag"
    elif env_key:
        key, source = env_key, "env"
        if data.get("key_storage"):
            notices.append(f"CSTAR_API_KEY ({redact(env_key)}) overrides the key stored for profile '{name}'.")
    elif data.get("key_storage"):
        stored_url = str(data.get("base_url") or DEFAULT_BASE_URL)
        if not same_api(url, stored_url):
            # Checked before the keychain is touched: the key for one API is never even loaded for another.
            withheld_for = stored_url
        elif load_stored_key:
            from cstar_cli import credentials

            key, source = credentials.load_key(name, data.get("key_storage"))

    # The stored team only belongs to the stored key; a key from elsewhere is introspected instead.
    team_id = data.get("team_id") if source in ("keychain", "file") else None
    return Settings(name, key, source, url, url_source, team_id, data, notices, withheld_for)
