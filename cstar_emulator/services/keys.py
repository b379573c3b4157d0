"""Key introspection and API key management (server contract: "Key introspection — GET
/api/v1/me", "API keys")."""

from __future__ import annotations

from collections.abc import Callable

from cstar_emulator import models
from cstar_emulator.db import Database
from cstar_emulator.envelope import ApiError
from cstar_emulator.ids import api_key, iso_now
from cstar_emulator.models import Resource
from cstar_emulator.repositories.keys import ApiKeys
from cstar_emulator.repositories.teams import Teams
from cstar_emulator.services.auth import KeyContext

__all__ = ["KeyService"]


class KeyService:
    """What ``/me`` and the API key endpoints do. ``on_revoked(key_id)`` runs once a revocation has
    committed (to end that key's streams)."""

    def __init__(self, db: Database, keys: ApiKeys, teams: Teams, on_revoked: Callable[[str], None]) -> None:
        self.db = db
        self.keys = keys
        self.teams = teams
        self.on_revoked = on_revoked

    def me(self, key: KeyContext) -> Resource:
        """``{"object": "api_key_context", "keyId", "keyType", "mode", "team": {…}}`` for ``key``."""
        team = self.teams.get(key.team_id)
        assert team is not None
        return {
            "object": "api_key_context",
            "keyId": key.id,
            "keyType": key.type,
            "mode": key.mode,
            "team": models.team(team),
        }

    def page(self, team_id: str, page: int, page_size: int) -> tuple[list[Resource], int]:
        """A page of the team's keys (both modes), newest first, redacted; and the total."""
        return self.keys.page(team_id, page, page_size)

    def create(self, team_id: str, name: str, key_type: str, mode: str) -> Resource:
        """A new ``key_type`` (``secret``/``publishable``) key of ``mode``; the returned object
        includes the full ``key``, the only time it is shown."""
        prefix = ("sk" if key_type == "secret" else "pk") + "_" + mode
        with self.db.transaction():
            key_id = self.keys.insert(team_id, name=name, key_type=key_type, mode=mode, secret=api_key(prefix))
            created = self.keys.get_with_secret(key_id)
        assert created is not None
        return created

    def revoke(self, team_id: str, key_id: str) -> Resource:
        """Revoke the key (404 when the team has none; the first revocation time is kept). Returns
        ``{"id", "revoked": true}``."""
        with self.db.transaction():
            exists, revoked_at = self.keys.revoked_at(team_id, key_id)
            if not exists:
                raise ApiError.not_found("API key", key_id)
            if not revoked_at:
                self.keys.revoke(key_id, iso_now())
            self.db.on_commit(lambda: self.on_revoked(key_id))
        return {"id": key_id, "revoked": True}
