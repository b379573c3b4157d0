"""``cstar emulator start --seed FILE``: fixture data loaded into a new database before it is served.

FILE is a snapshot (:mod:`cstar_emulator.snapshot`) or a fixture, written with the reference's
names::

    {"format": "cstar-emulator-fixture", "version": 1,
     "test": {"customers": [{"name": "Jane", "email": "jane@example.com"}],
              "tickets": [{"title": "Help", "customerEmail": "jane@example.com",
                           "messages": [{"content": "Hi", "sender": "customer"}]}]},
     "live": {}}

Each key of a mode is a collection under ``/api/v1/teams/{teamId}/`` (``tickets``, ``customers``,
``articles``, ``webhooks``, or any other the emulator serves), each item the body of the create call
(``POST`` on the collection), so the API's own validation and defaults apply. An item's array
field naming a sub-collection of the created object (``messages`` of a ticket) is created with one
``POST`` per element after it. Items load in the order written, webhooks last in each mode; the
events and request logs the loading caused are dropped, so the emulator starts as if seeded.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import httpx

from cstar_cli.protocol import openapi
from cstar_emulator import snapshot
from cstar_emulator.app import create_app
from cstar_emulator.db import Database
from cstar_emulator.seed import Seed
from cstar_emulator.state import Emulator, Settings

__all__ = ["FORMAT", "VERSION", "FixtureError", "is_empty", "seed_database"]

FORMAT = "cstar-emulator-fixture"
VERSION = 1
_MODES = ("test", "live")
# Records of the loading itself, not data.
_DROPPED = ("events", "request_logs", "idempotency", "deliveries")


class FixtureError(ValueError):
    """A fixture or snapshot that cannot be loaded; ``str()`` says which item and why (one line)."""


def is_empty(path: Path) -> bool:
    """Whether the database at ``path`` holds no team yet (a missing file is empty). Raises
    :class:`cstar_emulator.db.DatabaseError` when it is in use or not an emulator database."""
    if not path.exists() or path.stat().st_size == 0:
        return True
    db = Database(path)
    try:
        return not db.scalar("SELECT COUNT(*) FROM teams")
    finally:
        db.close()


def seed_database(path: Path, document: Any) -> Seed:
    """Load ``document`` (a parsed snapshot or fixture) into the database at ``path``, which should
    be empty (:func:`is_empty`). Returns the team and keys. Raises :class:`FixtureError` or
    :class:`cstar_emulator.db.DatabaseError`."""
    plan = None if isinstance(document, dict) and document.get("format") == snapshot.FORMAT else _plan(document)
    emulator = Emulator(path, Settings(rate_limit=0))
    try:
        if plan is None:
            try:
                emulator.seed = snapshot.restore(emulator.db, emulator.seed_tables, document)
            except snapshot.SnapshotError as e:
                raise FixtureError(str(e)) from None
        else:
            emulator.seed = snapshot.bare(emulator.db, emulator.seed_tables, emulator.seed)
            asyncio.run(_load(emulator, plan))
            emulator.deliveries.flush()
            with emulator.db.transaction():
                for table in _DROPPED:
                    emulator.db.run(f"DELETE FROM {table} WHERE team_id = ?", emulator.seed.team_id)
        return emulator.seed
    finally:
        emulator.deliveries.flush()
        emulator.db.close()


_Plan = list[tuple[str, list[tuple[str, list[Any]]]]]


def _plan(document: Any) -> _Plan:
    """The fixture's ``(mode, [(collection, items)])``, webhooks last; FixtureError when malformed."""
    if not isinstance(document, dict):
        raise FixtureError("a fixture is a JSON object")
    fmt = document.get("format", FORMAT)
    if fmt != FORMAT:
        raise FixtureError(f'unknown "format" {fmt!r} (expected "{FORMAT}" or "{snapshot.FORMAT}")')
    version = document.get("version", VERSION)
    if version != VERSION:
        raise FixtureError(f"unsupported fixture version {version!r} (this emulator reads {VERSION})")
    unknown = sorted(set(document) - {"format", "version", *_MODES})
    if unknown:
        raise FixtureError(f"unknown key {unknown[0]!r} (a fixture has \"test\" and \"live\")")
    plan: _Plan = []
    for mode in _MODES:
        collections = document.get(mode) or {}
        if not isinstance(collections, dict):
            raise FixtureError(f'"{mode}" must be an object of collection → items')
        for name, items in collections.items():
            if not isinstance(items, list) or not all(isinstance(item, dict) for item in items):
                raise FixtureError(f'"{mode}.{name}" must be an array of objects')
            if openapi.match("POST", f"/api/v1/teams/t/{name}") is None:
                raise FixtureError(f'"{mode}.{name}": the API has no collection {name!r}')
        ordered = sorted(collections.items(), key=lambda pair: pair[0] == "webhooks")
        plan.append((mode, ordered))
    return plan


def _sub_collections(collection: str, item: dict[str, Any]) -> dict[str, list[Any]]:
    """The fields of ``item`` that are sub-collections of ``collection`` rather than body fields."""
    op = openapi.match("POST", f"/api/v1/teams/t/{collection}")
    schema = openapi.resolve(openapi.request_body_schema(op.operation.operation_id) or {}) if op else {}
    fields = set(schema.get("properties") or {})
    return {
        name: value
        for name, value in item.items()
        if isinstance(value, list)
        and name not in fields
        and openapi.match("POST", f"/api/v1/teams/t/{collection}/x/{name}") is not None
    }


async def _load(emulator: Emulator, plan: _Plan) -> None:
    transport = httpx.ASGITransport(app=create_app(emulator))
    team = f"/api/v1/teams/{emulator.seed.team_id}"
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
            for mode, collections in plan:
                headers = {"Authorization": f"Bearer {emulator.seed.keys['sk_' + mode]}"}
                for name, items in collections:
                    for i, item in enumerate(items):
                        where = f"{mode}.{name}[{i}]"
                        subs = _sub_collections(name, item)
                        body = {k: v for k, v in item.items() if k not in subs}
                        created = await _post(client, f"{team}/{name}", body, headers, where)
                        for sub, elements in subs.items():
                            for j, element in enumerate(elements):
                                path = f"{team}/{name}/{created}/{sub}"
                                await _post(client, path, element, headers, f"{where}.{sub}[{j}]")
    finally:
        await emulator.dispatcher.aclose()


async def _post(client: httpx.AsyncClient, path: str, body: Any, headers: dict[str, str], where: str) -> str:
    """POST ``body``; the created object's id, or FixtureError with the API's error."""
    resp = await client.post(path, json=body, headers=headers)
    try:
        answer = resp.json()
    except json.JSONDecodeError:
        answer = {}
    if resp.status_code >= 300 or not isinstance(answer, dict):
        error = answer.get("error") if isinstance(answer, dict) else None
        error = error if isinstance(error, dict) else {}
        field = f" ({error['field']})" if error.get("field") else ""
        raise FixtureError(f"{where}: {resp.status_code} {error.get('code', '')}{field}: {error.get('message', '')}")
    data = answer.get("data")
    return str(data.get("id", "")) if isinstance(data, dict) else ""
