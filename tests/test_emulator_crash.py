"""What survives a crash, in process: a write, its events and its idempotency record are one
transaction committed before the answer; nothing is published for a write that rolled back; the
database files are private. (bench/soak_emulator.py checks the same under kill -9.)"""

from __future__ import annotations

import asyncio
import os
import stat
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.testclient import TestClient

from cstar_emulator import Emulator, Settings, create_app
from cstar_emulator.db import Database, Scope
from cstar_emulator.idempotency import atomic
from cstar_emulator.routes import account, articles, customers, logs, sessions, tickets, webhooks


class Local:
    """An in-process emulator and a client for its seeded team's test partition."""

    def __init__(self, emulator: Emulator, client: TestClient) -> None:
        self.emulator = emulator
        self.client = client
        self.scope = Scope(emulator.seed.team_id, "test")
        self.headers = {"Authorization": f"Bearer {emulator.seed.keys['sk_test']}"}

    def post(self, path: str, body: dict[str, Any], key: str | None = None) -> Any:
        headers = dict(self.headers)
        if key:
            headers["Idempotency-Key"] = key
        return self.client.post(f"/api/v1/teams/{self.scope.team_id}{path}", json=body, headers=headers)

    def count(self, sql: str, *params: Any) -> int:
        return int(self.emulator.db.scalar(sql, *params))

    def totals(self) -> tuple[int, int, int, int]:
        return (
            self.count("SELECT COUNT(*) FROM tickets"),
            self.count("SELECT COUNT(*) FROM customers"),
            self.count("SELECT COUNT(*) FROM events"),
            self.count("SELECT COUNT(*) FROM idempotency"),
        )

    def fail_inserts_into(self, table: str) -> None:
        # A real SQLite failure in the middle of the request's transaction.
        self.emulator.db.run(
            f"CREATE TRIGGER fail_{table} BEFORE INSERT ON {table} BEGIN SELECT RAISE(ABORT, 'disk on fire'); END"
        )

    def heal(self, table: str) -> None:
        self.emulator.db.run(f"DROP TRIGGER fail_{table}")


@pytest.fixture
def local(tmp_path: Path) -> Iterator[Local]:
    emulator = Emulator(tmp_path / "emulator.db", Settings(rate_limit=0))
    with TestClient(create_app(emulator), base_url="http://127.0.0.1", raise_server_exceptions=False) as client:
        yield Local(emulator, client)


@pytest.mark.parametrize("table", ["events", "idempotency"])
def test_a_failure_anywhere_in_a_create_writes_nothing(local: Local, table: str) -> None:
    key = uuid.uuid4().hex
    body = {"title": "atomic", "customerName": "New Person", "customerEmail": f"{key}@example.com"}
    sub = local.emulator.event_hub.subscribe(local.scope)
    before = local.totals()
    seq = local.emulator.bus.last_seq(local.scope)

    local.fail_inserts_into(table)
    resp = local.post("/tickets", body, key)
    assert resp.status_code == 500 and resp.json()["error"]["code"] == "internal_error"
    assert local.totals() == before  # no ticket, no inline customer, no event, no record
    assert sub.queue.qsize() == 0  # and nothing was published to listen sessions

    local.heal(table)
    again = local.post("/tickets", body, key)
    assert again.status_code == 201
    assert again.headers.get("Idempotent-Replayed") is None  # the 500 was not stored
    tickets, customers, events, records = local.totals()
    assert (tickets, customers, events, records) == (before[0] + 1, before[1] + 1, before[2] + 2, before[3] + 1)
    # The failed attempt's event numbers were not used up.
    stored = local.emulator.bus.after(local.scope, seq)
    assert [(e.seq, e.type) for e in stored] == [(seq + 1, "customer.created"), (seq + 2, "ticket.created")]
    assert sub.queue.qsize() == 2


def test_the_record_commits_with_the_write_and_replays_it(local: Local) -> None:
    key = uuid.uuid4().hex
    first = local.post("/tickets", {"title": "once"}, key)
    assert first.status_code == 201
    tid = first.json()["data"]["id"]
    row = local.emulator.db.one("SELECT status, body, request_id FROM idempotency WHERE key = ?", key)
    assert row is not None and row["status"] == 201 and bytes(row["body"]) == first.content
    event = local.emulator.db.one("SELECT request_id FROM events WHERE payload LIKE ?", f'%"id":"{tid}"%')
    assert event is not None and event["request_id"] == row["request_id"] == first.headers["x-cstar-request-id"]
    replay = local.post("/tickets", {"title": "once"}, key)
    assert replay.headers["Idempotent-Replayed"] == "true" and replay.content == first.content
    assert local.count("SELECT COUNT(*) FROM tickets WHERE title = 'once'") == 1


def test_an_update_that_fails_leaves_the_row_as_it_was(local: Local) -> None:
    tid = local.post("/tickets", {"title": "before"}).json()["data"]["id"]
    local.fail_inserts_into("events")
    path = f"/api/v1/teams/{local.scope.team_id}/tickets/{tid}"
    resp = local.client.patch(path, json={"title": "after", "status": "closed"}, headers=local.headers)
    assert resp.status_code == 500
    row = local.emulator.db.one("SELECT title, status FROM tickets WHERE id = ?", tid)
    assert row is not None and (row["title"], row["status"]) == ("before", "new")


def test_every_write_route_is_atomic() -> None:
    modules = (account, articles, customers, logs, sessions, tickets, webhooks)
    for method, path, endpoint in [route for module in modules for route in module.ROUTES]:
        if method != "GET":
            assert getattr(endpoint, "__wrapped__", None) is not None, (method, path)


def test_a_write_endpoint_may_not_await_inside_its_transaction(tmp_path: Path) -> None:
    async def slow(request: Request) -> Response:
        await asyncio.sleep(0)
        return Response("late")

    app = Starlette(routes=[Route("/slow", atomic(slow), methods=["POST"])])
    app.state.emulator = type("E", (), {"db": Database(tmp_path / "x.db")})()
    with TestClient(app) as client, pytest.raises(RuntimeError, match="awaited inside its transaction"):
        client.post("/slow")


def test_a_transaction_cannot_be_joined_across_an_await(tmp_path: Path) -> None:
    db = Database(tmp_path / "x.db")

    async def main() -> None:
        holding, release = asyncio.Event(), asyncio.Event()

        async def holder() -> None:
            with db.transaction():
                holding.set()
                await release.wait()

        task = asyncio.create_task(holder())
        await holding.wait()
        with pytest.raises(RuntimeError, match="across an await"), db.transaction():
            pass
        release.set()
        await task

    asyncio.run(main())


def test_commit_callbacks_run_after_commit_and_rollback_callbacks_instead(tmp_path: Path) -> None:
    db = Database(tmp_path / "x.db")
    seen: list[str] = []
    with db.transaction():
        db.on_commit(lambda: seen.append("committed"))
        db.on_rollback(lambda: seen.append("rolled back"))
        assert seen == []
    with pytest.raises(ValueError), db.transaction():
        db.on_commit(lambda: seen.append("never"))
        db.on_rollback(lambda: seen.append("undone"))
        raise ValueError
    assert seen == ["committed", "undone"]


# -- 3. file modes ------------------------------------------------------------------------------


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _files(db_path: Path) -> list[Path]:
    return [p for p in (db_path, *(Path(f"{db_path}{s}") for s in ("-wal", "-shm", "-journal"))) if p.exists()]


def test_a_new_database_is_private_whatever_the_umask(tmp_path: Path) -> None:
    old = os.umask(0)
    try:
        db_path = tmp_path / "fresh" / "emulator.db"
        emulator = Emulator(db_path)
        emulator.db.run("INSERT INTO meta (key, value) VALUES ('probe', '1')")
        files = _files(db_path)
        assert db_path in files and Path(f"{db_path}-wal") in files
        assert {p.name: _mode(p) for p in files} == {p.name: 0o600 for p in files}
        assert _mode(db_path.parent) == 0o700
        emulator.db.close()
    finally:
        os.umask(old)


def test_an_existing_database_with_loose_modes_is_made_private(tmp_path: Path) -> None:
    db_path = tmp_path / "emulator.db"
    Emulator(db_path).db.close()
    db_path.chmod(0o644)
    for suffix in ("-wal", "-shm", "-journal"):
        companion = Path(f"{db_path}{suffix}")
        companion.touch()
        companion.chmod(0o666)
    db = Database(db_path)
    try:
        assert {p.name: _mode(p) for p in _files(db_path)} == {p.name: 0o600 for p in _files(db_path)}
        assert db.scalar("SELECT COUNT(*) FROM teams") == 1
    finally:
        db.close()
