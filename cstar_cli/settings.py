"""Which profile, API key and base URL a command uses, and why.

Precedence, written down once here (:func:`resolve`):

- profile: ``--profile`` > ``CSTAR_PROFILE`` > ``default_profile`` in ``config.toml`` > ``"default"``
- API key: ``--api-key`` > ``CSTAR_API_KEY`` > the profile's stored key (:mod:`cstar_cli.credentials`)
- base URL: ``--base-url`` > ``CSTAR_BASE_URL`` > the profile's ``base_url`` > ``https://www.cstar.help``

A stored key belongs to the API it was stored for (the profile's ``base_url``, else the default): when
another base URL is active, the stored key is neither read nor sent, and :attr:`Settings.withheld_for`
names the API it belongs to. An explicit ``--api-key`` / ``CSTAR_API_KEY`` goes wherever the
base-URL rules (:func:`check_base_url`) allow.

The profiles themselves are in :mod:`cstar_cli.profiles` (``config.toml``); this module reads them
and the stored key, and never writes or prints: what the user should be told comes back in
:attr:`Settings.notices`.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from cstar_cli import credentials
from cstar_cli.errors import CStarAuthenticationError, CStarUsageError
from cstar_cli.profiles import Config
from cstar_cli.protocol.keys import is_api_key, redact
from cstar_cli.protocol.urls import is_loopback

__all__ = [
    "DEFAULT_BASE_URL",
    "Settings",
    "check_base_url",
    "resolve",
    "same_api",
    "validate_key",
    "validate_profile_name",
]

DEFAULT_BASE_URL = "https://www.cstar.help"
_PROFILE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_DEFAULT_PORTS = {"http": 80, "https": 443}


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


def validate_profile_name(name: str) -> str:
    """``name`` when it is 1-64 of letters, digits, ``.``, ``_``, ``-`` (not starting with a
    punctuation mark), else :class:`CStarUsageError` (``invalid_profile``)."""
    if not _PROFILE_RE.match(name):
        raise CStarUsageError(
            f"Invalid profile name {name!r}.",
            code="invalid_profile",
            hint="Use letters, digits, '.', '_' or '-' (up to 64 characters).",
        )
    return name


def _without_userinfo(url: str) -> str:
    # For messages: a password typed into a URL is never echoed back.
    return re.sub(r"(?<=//)[^/?#]*@", "…@", url)


def check_base_url(url: str) -> str:
    """Normalise a base URL (no trailing slash, no ``/api/v1``) or raise :class:`CStarUsageError`.

    Plain ``http://`` is only allowed to a loopback host, so a key never crosses a network unencrypted.
    A URL with user info (``https://user:pw@host``) is refused: httpx would send those as Basic auth in
    place of the Bearer key. So is one with a query or fragment (``?x=1``, ``#frag``): every request
    path is appended to the base URL, which would land it inside them. Messages never repeat a
    password from the URL.
    """
    raw = url.strip().rstrip("/")
    if raw.endswith("/api/v1"):
        raw = raw[: -len("/api/v1")]
    try:
        parts = urlsplit(raw)
    except ValueError:  # "Invalid IPv6 URL" (an unclosed "[")
        raise _invalid_base_url(url) from None
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
    if parts.query or parts.fragment or "?" in raw or "#" in raw:
        raise _invalid_base_url(url, "it has a query or fragment")
    if parts.scheme not in ("http", "https") or not parts.hostname or not port_ok or any(c.isspace() for c in raw):
        raise _invalid_base_url(url)
    if parts.scheme == "http" and not is_loopback(parts.hostname):
        raise CStarUsageError(
            f"Refusing to send an API key over plain http to {parts.hostname}.",
            code="insecure_base_url",
            hint="Use https://, or http:// only with localhost / 127.0.0.1.",
        )
    return raw


def _invalid_base_url(url: str, why: str | None = None) -> CStarUsageError:
    return CStarUsageError(
        f"Invalid base URL: {_without_userinfo(url)!r}" + (f": {why}." if why else "."),
        code="invalid_base_url",
        hint="Use a full URL such as https://www.cstar.help or http://127.0.0.1:8787 (no ?query or #fragment).",
    )


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


@dataclass
class Settings:
    """What a command talks to, and why: ``key_source`` is ``flag``, ``env``, ``keychain``, ``file`` or
    None (no key); ``base_url_source`` is ``flag``, ``env``, ``profile`` or ``default``.

    ``notices`` are whole lines for stderr (``Note: …`` / ``Warning: …``, keys redacted).
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
    key, or the stored key's notices from :func:`cstar_cli.credentials.load_key`). Raises
    :class:`CStarUsageError` for a bad profile name, base URL or ``config.toml``; never touches the
    network. Reads the keychain only when ``load_stored_key``, neither ``--api-key`` nor
    ``CSTAR_API_KEY`` is set and the active base URL is the one the profile was logged in to
    (:func:`same_api`); otherwise ``withheld_for`` is set and ``api_key`` is None.
    """
    cfg = config or Config()
    notices: list[str] = []
    # An explicit --profile '' is a mistake, not "the default": only an unset one falls through.
    chosen = profile if profile is not None else os.environ.get("CSTAR_PROFILE") or cfg.default_profile
    name = validate_profile_name(chosen)
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
        # Only worth saying when the stored key would otherwise have been used (it is for this API).
        if data.get("key_storage") and same_api(url, str(data.get("base_url") or DEFAULT_BASE_URL)):
            notices.append(f"Note: CSTAR_API_KEY ({redact(env_key)}) overrides the key stored for profile '{name}'.")
    elif data.get("key_storage"):
        stored_url = str(data.get("base_url") or DEFAULT_BASE_URL)
        if not same_api(url, stored_url):
            # Checked before the keychain is touched: the key for one API is never even loaded for another.
            withheld_for = stored_url
        elif load_stored_key:
            key, source, found = credentials.load_key(name, data.get("key_storage"))
            notices.extend(found)

    # The stored team only belongs to the stored key; a key from elsewhere is introspected instead.
    team_id = data.get("team_id") if source in ("keychain", "file") else None
    return Settings(name, key, source, url, url_source, team_id, data, notices, withheld_for)
