"""What every command needs, built once from the global options and handed over on ``ctx.obj``."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from cstar_cli.output import Output

if TYPE_CHECKING:
    from cstar_cli.api import CStarClient
    from cstar_cli.profiles import Config
    from cstar_cli.settings import Settings

__all__ = ["AppContext", "get_app"]


@dataclass
class AppContext:
    """The global options (``--json``, ``--no-color``, ``--api-key``, ``--base-url``, ``--profile``)
    and lazily built settings, config and API client."""

    json: bool = False
    no_color: bool = False
    api_key: str | None = None
    base_url: str | None = None
    profile: str | None = None
    out: Output = field(default=None)  # type: ignore[assignment]
    _settings: Settings | None = None
    _config: Config | None = None
    _clients: list[CStarClient] = field(default_factory=list)

    def __post_init__(self) -> None:
        # Rendering goes through one Output made from the global flags (streams and TTY flags from sys).
        if self.out is None:
            self.out = Output(json=self.json, no_color=self.no_color)

    @property
    def config(self) -> Config:
        from cstar_cli.profiles import Config

        if self._config is None:
            self._config = Config()
        return self._config

    def settings(self, *, load_stored_key: bool = True) -> Settings:
        """The resolved profile, key and base URL (:func:`cstar_cli.settings.resolve`); its notices
        (e.g. "CSTAR_API_KEY overrides the stored key") are shown on stderr once."""
        from cstar_cli.settings import resolve

        # Resolved again when an earlier call skipped the stored key (login/logout do) and this one needs it.
        if self._settings is None or (
            load_stored_key
            and self._settings.key_source is None
            and self._settings.withheld_for is None
            and self._settings.profile_data.get("key_storage")
        ):
            self._settings = resolve(
                api_key=self.api_key,
                base_url=self.base_url,
                profile=self.profile,
                config=self.config,
                load_stored_key=load_stored_key,
            )
            for notice in self._settings.notices:
                self.out.warn(notice)
        return self._settings

    def client(self, *, api_key: str | None = None, **kwargs: Any) -> CStarClient:
        """An API client for the resolved key and base URL, closed by :meth:`close`. The profile's team
        is passed on (so team-scoped calls need no ``GET /me``) unless ``api_key`` replaces the stored
        key; ``kwargs`` go to :class:`~cstar_cli.api.CStarClient` (``timeout`` s, …). Raises
        :class:`CStarAuthenticationError` (exit 3, hint ``cstar login``) when there is no key, naming
        the API the profile is logged in to when its stored key belongs to another one."""
        from cstar_cli.api import CStarClient

        s = self.settings()
        key = api_key or s.api_key
        if not key:
            raise s.not_logged_in()
        kwargs.setdefault("team_id", s.team_id if not api_key else None)
        c = CStarClient(key, s.base_url, **kwargs)
        self._clients.append(c)
        return c

    def close(self) -> None:
        """Close every client made by :meth:`client`."""
        for c in self._clients:
            c.close()
        self._clients.clear()


def get_app(ctx: Any) -> AppContext:
    """The :class:`AppContext` of a Typer/Click context (a default one when run outside the root)."""
    root = ctx.find_root() if ctx is not None else None
    obj = getattr(root, "obj", None)
    if isinstance(obj, AppContext):
        return obj
    app = AppContext()
    if root is not None:
        root.obj = app
    return app
