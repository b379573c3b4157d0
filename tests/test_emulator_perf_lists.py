"""Lists whose cost does not grow with the table: the exact unfiltered total kept in ``row_counts``
by triggers (across inserts, deletes, rollbacks, older files and snapshots), filtered totals that
still count, and pages fetched by rowid at any depth."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from cstar_emulator import snapshot
from cstar_emulator.db import COUNTED_TABLES, Database, Scope
from cstar_emulator.repositories.table import ListQuery
from cstar_emulator.repositories.tickets import Tickets
from tests.support.emulator import LocalEmulator

SCOPE = Scope("team_a", "test")
OTHER = Scope("team_a", "live")


def _fill(tickets: Tickets, scope: Scope, n: int) -> list[str]:
    statuses = ("new", "open", "resolved")
    with tickets.db.transaction():
        return [
            tickets.insert(scope, {"title": f"ticket {i}", "status": statuses[i % 3], "priority": "normal"})
            for i in range(n)
        ]


def _count(db: Database, scope: Scope, where: str = "") -> int:
    return int(db.scalar(f"SELECT COUNT(*) FROM tickets WHERE team_id = ? AND mode = ?{where}", *scope))


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    database = Database(tmp_path / "emulator.db")
    yield database
    database.close()


def test_the_kept_count_follows_inserts_deletes_and_rollbacks(db: Database) -> None:
    tickets = Tickets(db)
    ids = _fill(tickets, SCOPE, 25)
    _fill(tickets, OTHER, 4)
    assert db.row_count("tickets", SCOPE) == 25 and db.row_count("tickets", OTHER) == 4
    assert tickets.delete(SCOPE, ids[0])
    assert not tickets.delete(OTHER, ids[1]), "another scope's id deletes nothing"
    with pytest.raises(RuntimeError), db.transaction():
        _fill(tickets, SCOPE, 3)
        tickets.delete(SCOPE, ids[2])
        raise RuntimeError("roll back")
    db.run("UPDATE tickets SET mode = 'live' WHERE id = ?", ids[3])
    for scope in (SCOPE, OTHER):
        assert db.row_count("tickets", scope) == _count(db, scope)
        assert tickets.page(scope, ListQuery(), 1, 5)[1] == _count(db, scope)
    assert db.row_count("tickets", Scope("nobody", "test")) == 0


def test_filtered_totals_still_count_the_matching_rows(db: Database) -> None:
    tickets = Tickets(db)
    _fill(tickets, SCOPE, 30)
    assert tickets.page(SCOPE, ListQuery({"status": "open"}), 1, 5)[1] == _count(db, SCOPE, " AND status = 'open'")
    assert tickets.page(SCOPE, ListQuery({"status": None}), 1, 5)[1] == 30
    assert tickets.page(SCOPE, ListQuery(search="ticket 2"), 1, 5)[1] == 11  # 2, 20–29


def test_pages_cover_every_row_once_newest_first_at_any_depth(db: Database) -> None:
    tickets = Tickets(db)
    ids = _fill(tickets, SCOPE, 47)
    _fill(tickets, OTHER, 5)
    seen: list[str] = []
    for page in range(1, 6):
        rows, total = tickets.page(SCOPE, ListQuery(), page, 10)
        assert total == 47
        seen += [str(r["id"]) for r in rows]
    assert seen == ids[::-1]
    assert tickets.page(SCOPE, ListQuery(), 6, 10) == ([], 47)
    open_rows, open_total = tickets.page(SCOPE, ListQuery({"status": "open"}), 2, 10)
    assert open_total == 16 and [r["status"] for r in open_rows] == ["open"] * 6


def test_an_older_file_gets_its_counts_once_and_they_stay_exact(tmp_path: Path) -> None:
    path = tmp_path / "emulator.db"
    db = Database(path)
    _fill(Tickets(db), SCOPE, 12)
    db.close()
    # As a file written before the counts existed: rows, no triggers, no counts.
    conn = sqlite3.connect(path)
    for table in COUNTED_TABLES:
        for what in ("insert", "delete", "move"):
            conn.execute(f"DROP TRIGGER {table}_count_{what}")
    conn.execute("DROP TABLE row_counts")
    conn.execute("DELETE FROM meta WHERE key = 'row_counts'")
    conn.commit()
    conn.close()
    db = Database(path)
    assert db.row_count("tickets", SCOPE) == 12
    _fill(Tickets(db), SCOPE, 2)
    db.close()
    db = Database(path)
    assert db.row_count("tickets", SCOPE) == 14 == _count(db, SCOPE)


def test_counts_are_not_part_of_a_team_snapshot(db: Database) -> None:
    _fill(Tickets(db), SCOPE, 3)
    assert "row_counts" not in snapshot.team_tables(db)


def test_list_totals_over_the_api_match_the_rows(emulator: LocalEmulator) -> None:
    with emulator.client() as api:
        base = {
            path: api.get(path, params={"pageSize": 1}).json()["meta"]["pagination"]["total"]
            for path in ("/tickets", "/customers", "/articles")
        }
        made = [api.post("/tickets", json={"title": f"api {i}", "priority": "urgent"}).json()["data"] for i in range(3)]
        assert api.delete(f"/tickets/{made[0]['id']}").status_code == 200
        customer = api.post("/customers", json={"name": "Counted", "email": "counted@example.com"}).json()["data"]
        article = api.post("/articles", json={"title": "Counted", "content": "x"}).json()["data"]

        def total(path: str, **params: str) -> int:
            body = api.get(path, params={"pageSize": 1, **params}).json()
            return int(body["meta"]["pagination"]["total"])

        assert total("/tickets") == base["/tickets"] + 2
        assert total("/customers") == base["/customers"] + 1
        assert total("/articles") == base["/articles"] + 1
        urgent = api.get("/tickets", params={"priority": "urgent", "pageSize": 100}).json()
        assert urgent["meta"]["pagination"]["total"] == len(urgent["data"]) >= 2
        assert total("/tickets", customerId=customer["id"]) == 0
        assert total("/articles", status=article["status"]) >= 1
