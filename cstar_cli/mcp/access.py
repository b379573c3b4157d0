"""The API key, base URL and client the tools share, made on first use, and the secrets to keep out
of every result and log line.

The server must answer ``initialize`` fast and must start without a key, so nothing here runs at
start-up: the stored login (keychain, up to its 3 s timeout) is read, and httpx imported, when the
first tool needs the API. A missing key is looked for again on the next call, so ``cstar login`` in
another terminal takes effect without restarting the agent.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from cstar_cli.locks import LoopSafeLock
from cstar_cli.protocol.keys import redact, scrub_secrets

if TYPE_CHECKING:
    from cstar_cli.api import CStarClient
    from cstar_cli.settings import Settings

__all__ = ["NOT_LOGGED_IN_HINT", "ApiAccess", "Secrets"]

NOT_LOGGED_IN_HINT = (
    "Ask the user to run `cstar login` in a terminal, or to set CSTAR_API_KEY in this MCP server's env "
    "(or pass --api-key in its args); then call the tool again."
)


class Secrets:
    """API keys and signing secrets seen by this process; :meth:`scrub` replaces each with its
    redacted form (``sk_test_…a1b2``), the only form a key is ever shown in, and then anything else
    shaped like a key or a ``whsec_`` secret (:func:`~cstar_cli.protocol.keys.scrub_secrets`), known
    or not. Thread-safe."""

    def __init__(self) -> None:
        self._keys: tuple[str, ...] = ()
        self._lock = threading.Lock()

    def add(self, key: str | None) -> None:
        """Scrub ``key`` (and ``key`` without surrounding whitespace, as pasted) from now on."""
        forms = {k for k in (key, key.strip()) if k} if key else set()
        if forms - set(self._keys):
            with self._lock:
                # Longest first, so a key that contains another is replaced whole.
                self._keys = tuple(sorted({*self._keys, *forms}, key=len, reverse=True))

    def scrub(self, text: str) -> str:
        """``text`` with every known secret and everything shaped like one redacted."""
        for key in self._keys:
            if key in text:
                text = text.replace(key, redact(key.strip()))
        return scrub_secrets(text)


class ApiAccess:
    """Settings and one :class:`~cstar_cli.api.CStarClient`, shared by the tools.

    ``load_settings`` is :func:`cstar_cli.settings.resolve` bound to the command's flags; it may block
    (keychain), so call :meth:`settings` and :meth:`client` from a worker thread or inside
    :func:`cstar_cli.api.bridge.run` (which hands that read to a thread). Only making them is
    serialised: every call returns its own metadata, so tool calls run concurrently on the one client.
    ``client_options`` go to the client (``timeout`` s, ``max_retries``, ``team_id``, ``transport``).
    """

    def __init__(
        self,
        load_settings: Callable[[], Settings],
        secrets: Secrets | None = None,
        **client_options: Any,
    ) -> None:
        self._load_settings = load_settings
        self.secrets = secrets or Secrets()
        self._client_options: dict[str, Any] = {"timeout": 20.0, "max_retries": 2, **client_options}
        self._settings: Settings | None = None
        self._client: CStarClient | None = None
        # Held across the keychain read, which a body on the MCP server's loop waits for there.
        self._lock = LoopSafeLock()

    def settings(self) -> Settings:
        """The resolved profile, key and base URL; resolved again while no key has been found.
        Raises :class:`~cstar_cli.errors.CStarUsageError` for a bad profile or base URL."""
        with self._lock:
            return self._settings_held()

    def _settings_held(self) -> Settings:
        if self._settings is None or not self._settings.api_key:
            from cstar_cli.api import bridge

            # May read the keychain (up to its timeout): never on the MCP server's event loop.
            settings = bridge.blocking(self._load_settings)
            self.secrets.add(settings.api_key)
            self._settings = settings
        return self._settings

    def client(self) -> CStarClient:
        """The shared client, made on first use. Raises
        :class:`~cstar_cli.errors.CStarAuthenticationError` (``not_logged_in``) when there is no key,
        naming the API the profile is logged in to when its stored key belongs to another one."""
        with self._lock:
            if self._client is None:
                s = self._settings_held()
                if not s.api_key:
                    raise s.not_logged_in(hint=NOT_LOGGED_IN_HINT)
                from cstar_cli.api import CStarClient

                options = {"team_id": s.team_id, **self._client_options}
                self._client = CStarClient(s.api_key, s.base_url, **options)
            return self._client

    def close(self) -> None:
        """Close the client's connections (a later :meth:`client` makes a new one)."""
        with self._lock:
            if self._client is not None:
                self._client.close()
                self._client = None
