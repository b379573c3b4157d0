"""What every ``/api/v1`` endpoint module shares: the caller of a request, route tables, the fields
several resources parse alike."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from cstar_emulator import validate as v
from cstar_emulator.db import Scope
from cstar_emulator.idempotency import atomic
from cstar_emulator.services.auth import KeyContext
from cstar_emulator.state import Emulator

__all__ = ["TEAM", "Caller", "Endpoint", "RouteSpec", "api_routes", "caller", "shared_fields"]

Endpoint = Callable[[Request], Awaitable[Response]]
#: ``(method, path, endpoint)``.
RouteSpec = tuple[str, str, Endpoint]

#: The prefix of every team-scoped path.
TEAM = "/api/v1/teams/{team_id}"


@dataclass(frozen=True)
class Caller:
    """Who is asking: the ``emulator`` serving the request, the authenticated ``key`` (set by the
    middleware) and the request's ``request_id`` (``req_…``)."""

    emulator: Emulator
    key: KeyContext
    request_id: str

    @property
    def scope(self) -> Scope:
        """The only partition this request may touch."""
        return self.key.scope


def caller(request: Request) -> Caller:
    """The :class:`Caller` of an ``/api/v1`` request."""
    return Caller(request.app.state.emulator, request.state.key, request.state.request_id)


def api_routes(prefix: str, table: Iterable[RouteSpec]) -> list[RouteSpec]:
    """``table``'s routes with ``prefix`` before each path; every write (not GET) runs in one
    transaction with its events and idempotency record (:func:`~cstar_emulator.idempotency.atomic`)."""
    return [
        (method, prefix + path, endpoint if method == "GET" else atomic(endpoint)) for method, path, endpoint in table
    ]


def shared_fields(body: dict[str, Any], *, creating: bool, notes: bool = True) -> dict[str, Any]:
    """``tags``, ``notes`` (unless ``notes`` is False) and ``metadata`` when present in ``body``, keyed
    by column: the same rules on create and update. On create ``metadata`` is checked here; on update
    it stays the patch the service merges into the stored one."""
    fields: dict[str, Any] = {}
    if "tags" in body:
        fields["tags"] = v.tag_list(body["tags"]) if body["tags"] is not None else []
    if notes and "notes" in body:
        fields["notes"] = v.text(body["notes"], "notes", nullable=True)
    if body.get("metadata") is not None:
        fields["metadata"] = v.metadata(body["metadata"]) if creating else body["metadata"]
    return fields
