"""The emulator's lifecycle: reset to the seed, export/import snapshots, ``start --seed`` fixtures —
on a stopped database file (fast: services on a tmp file, the CLI in-process) and on a running
emulator through the ``/_emulator/`` controls."""

from __future__ import annotations

import copy
import json
import stat
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from cstar_emulator import Emulator, Settings, snapshot
from cstar_emulator.fixtures import FixtureError, seed_database
from tests.support.cli import cstar
from tests.support.emulator import EmulatorThread, start_emulator

FIXTURE: dict[str, Any] = {
    "format": "cstar-emulator-fixture",
    "version": 1,
    "test": {
        "customers": [{"name": "Jane Roe", "email": "jane@example.com", "tags": ["vip"]}],
        "tickets": [
            {
                "title": "Printer on fire",
                "priority": "urgent",
                "messages": [{"content": "Smoke!", "sender": "customer"}, {"content": "On it", "sender": "agent"}],
            }
        ],
    },
    "live": {"articles": [{"title": "Live only", "content": "# Hi"}]},
}


@pytest.fixture
def emu(tmp_path: Path) -> Iterator[Emulator]:
    emulator = Emulator(tmp_path / "emulator.db", Settings(rate_limit=0))
    yield emulator
    emulator.db.close()


def _tables(snap: dict[str, Any]) -> dict[str, Any]:
    return {name: rows for name, rows in snap["tables"].items() if rows}


# -- services on a database file -------------------------------------------------------------------


def test_export_covers_every_team_table(emu: Emulator) -> None:
    snap = snapshot.export(emu.db, emu.seed.team_id)
    assert snap["format"] == snapshot.FORMAT and snap["version"] == snapshot.VERSION
    assert set(snap["tables"]) == {"teams", *snapshot.team_tables(emu.db)}
    modes = {row["mode"] for row in snap["tables"]["tickets"]}
    assert modes == {"test", "live"}
    assert {row["secret"] for row in snap["tables"]["api_keys"]} == set(emu.seed.keys.values())


def test_restore_round_trips_into_a_new_database(emu: Emulator, tmp_path: Path) -> None:
    snap = json.loads(json.dumps(snapshot.export(emu.db, emu.seed.team_id)))
    other = Emulator(tmp_path / "other.db", Settings(rate_limit=0))
    try:
        seed = other.seed = snapshot.restore(other.db, other.seed_tables, snap)
        assert seed.team_id == emu.seed.team_id and seed.keys == emu.seed.keys
        assert _tables(snapshot.export(other.db, seed.team_id)) == _tables(snap)
        assert snapshot.team_tables(other.db)  # and no other team is left
        assert other.db.scalar("SELECT COUNT(*) FROM teams") == 1
    finally:
        other.db.close()


def test_reset_restores_the_seed_and_keeps_keys(emu: Emulator) -> None:
    before = snapshot.counts(emu.db, emu.seed.team_id)
    emu.db.run("DELETE FROM tickets WHERE mode = 'test'")
    emu.db.run(
        "INSERT INTO api_keys (id, team_id, name, type, mode, secret, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
        "key_extra",
        emu.seed.team_id,
        "extra",
        "secret",
        "test",
        "sk_test_" + "x" * 32,
        "2020-01-01T00:00:00.000Z",
    )
    seed = snapshot.reset(emu.db, emu.seed, emu.seed_data)
    assert seed.team_id == emu.seed.team_id and seed.keys == emu.seed.keys
    assert snapshot.counts(emu.db, seed.team_id) == before
    assert emu.db.scalar("SELECT COUNT(*) FROM api_keys WHERE id = 'key_extra'") == 0


def _mutate(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    """Set the dotted ``path`` (list indexes as numbers) of a snapshot to ``value``."""

    def apply(snap: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        node: Any = snap
        for part in parents:
            node = node[int(part)] if isinstance(node, list) else node[part]
        if isinstance(node, list):
            node[int(last)] = value
        else:
            node[last] = value

    return apply


BAD_SNAPSHOTS = [
    ("format", _mutate("format", "zip"), "not an emulator snapshot"),
    ("newer version", _mutate("version", 99), "unsupported snapshot version"),
    ("no team id", _mutate("teamId", ""), '"teamId"'),
    ("unknown table", _mutate("tables.gizmos", []), "unknown table 'gizmos'"),
    ("two teams", lambda s: s["tables"]["teams"].append(dict(s["tables"]["teams"][0])), "exactly one team"),
    ("unknown column", _mutate("tables.tickets.0.colour", "red"), "tables.tickets[0]: unknown column 'colour'"),
    ("wrong type", _mutate("tables.tickets.0.title", 5), "tables.tickets[0].title: expected text"),
    ("other team", _mutate("tables.tickets.0.team_id", "t2"), "tables.tickets[0]: team_id"),
    ("bad mode", _mutate("tables.tickets.0.mode", "prod"), "tables.tickets[0].mode"),
    ("missing column", lambda s: s["tables"]["tickets"][0].pop("title"), "NOT NULL"),
    ("duplicate id", lambda s: s["tables"]["tickets"].append(s["tables"]["tickets"][0]), "UNIQUE"),
    ("bad base64", _mutate("tables.tickets.0.notes", {"$base64": "!!"}), "base64"),
]


@pytest.mark.parametrize(("case", "change", "message"), BAD_SNAPSHOTS, ids=[c[0] for c in BAD_SNAPSHOTS])
def test_restore_refuses_a_bad_snapshot_and_changes_nothing(
    emu: Emulator, case: str, change: Callable[[dict[str, Any]], None], message: str
) -> None:
    good = snapshot.export(emu.db, emu.seed.team_id)
    emu.db.run("DELETE FROM articles")  # so an import would show
    before = snapshot.export(emu.db, emu.seed.team_id)
    bad = copy.deepcopy(good)
    change(bad)
    with pytest.raises(snapshot.SnapshotError, match=message.replace("[", r"\[").replace("]", r"\]")):
        snapshot.restore(emu.db, emu.seed_tables, bad)
    assert _tables(snapshot.export(emu.db, emu.seed.team_id)) == _tables(before)


def test_fixture_loads_through_the_api(tmp_path: Path) -> None:
    seed = seed_database(tmp_path / "f.db", FIXTURE)
    emulator = Emulator(tmp_path / "f.db", Settings(rate_limit=0))
    try:
        assert emulator.seed.keys == seed.keys
        rows = snapshot.counts(emulator.db, seed.team_id)
        mine = {table: rows.get(table) for table in ("api_keys", "customers", "tickets", "messages", "articles")}
        assert mine == {"api_keys": 4, "customers": 1, "tickets": 1, "messages": 2, "articles": 1}
        assert not rows.keys() & {"events", "request_logs", "idempotency", "deliveries"}
        ticket = emulator.db.one("SELECT * FROM tickets")
        assert ticket is not None and (ticket["priority"], ticket["mode"]) == ("urgent", "test")
        assert emulator.db.one("SELECT mode FROM articles")["mode"] == "live"  # type: ignore[index]
    finally:
        emulator.db.close()


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ([], "a fixture is a JSON object"),
        ({"format": "other"}, 'unknown "format"'),
        ({"tests": {}}, "unknown key 'tests'"),
        ({"test": {"tickets": {}}}, '"test.tickets" must be an array'),
        ({"test": {"gizmos": [{}]}}, "no collection 'gizmos'"),
        ({"test": {"tickets": [{"title": "ok"}, {"priority": "high"}]}}, r"test.tickets\[1\]: 400 INVALID_FIELD"),
        ({"test": {"tickets": [{"title": "x", "messages": [{}]}]}}, r"test.tickets\[0\].messages\[0\]: 400"),
    ],
)
def test_fixture_errors_name_the_item(tmp_path: Path, document: Any, message: str) -> None:
    with pytest.raises(FixtureError, match=message):
        seed_database(tmp_path / "f.db", document)


# -- the CLI on a stopped emulator's file -----------------------------------------------------------


def test_cli_export_import_reset_on_files(tmp_path: Path) -> None:
    a, b, snap = tmp_path / "a.db", tmp_path / "b.db", tmp_path / "snap.json"
    first = cstar("--json", "emulator", "reset", "--db", str(a))
    assert first.code == 0, first.stderr
    run = cstar("--json", "emulator", "export", str(snap), "--db", str(a))
    assert run.code == 0, run.stderr
    assert stat.S_IMODE(snap.stat().st_mode) == 0o600
    assert json.loads(run.stdout)["teamId"] == json.loads(first.stdout)["teamId"]
    run = cstar("--json", "emulator", "import", str(snap), "--db", str(b))
    assert run.code == 0, run.stderr
    result = json.loads(run.stdout)
    assert result["teamId"] == json.loads(first.stdout)["teamId"]
    assert result["rows"] == json.loads(first.stdout)["rows"]
    human = cstar("emulator", "import", str(snap), "--db", str(b))
    assert human.code == 0 and result["keys"]["sk_test"] not in human.stdout + human.stderr
    dumped = cstar("emulator", "export", "-", "--db", str(b))
    assert dumped.code == 0 and json.loads(dumped.stdout)["teamId"] == result["teamId"]


@pytest.mark.parametrize(
    ("args", "content", "code", "text"),
    [
        (["import", "{file}", "--db", "{db}"], "{not json", 2, "is not JSON: "),
        (["import", "{file}", "--db", "{db}"], '{"format": "cstar-emulator-snapshot", "version": 7}', 2, "version"),
        (["import", "{dir}/missing.json", "--db", "{db}"], None, 5, "No such file"),
        (["export", "{file}", "--db", "{dir}/none.db"], None, 5, "no emulator database"),
        (["reset", "--db", "{db}", "--base-url", "http://127.0.0.1:1"], None, 2, "not both"),
        (["reset", "--base-url", "http://127.0.0.1:1"], None, 9, "Cannot reach the emulator"),
        (["start", "--seed", "{file}", "--db", "{db}", "--port", "0"], '{"test": {"tickets": [{}]}}', 2, "tickets[0]"),
    ],
)
def test_cli_errors(tmp_path: Path, args: list[str], content: str | None, code: int, text: str) -> None:
    file = tmp_path / "in.json"
    if content is not None:
        file.write_text(content)
    names = {"file": str(file), "db": str(tmp_path / "x.db"), "dir": str(tmp_path)}
    run = cstar("emulator", *[arg.format(**names) for arg in args])
    assert run.code == code, run.stderr
    assert text in run.stderr and "Traceback" not in run.stderr
    assert len(run.stderr.strip().splitlines()) <= 2  # one line and its hint


def test_start_seed_refuses_a_database_with_data(tmp_path: Path) -> None:
    db = tmp_path / "used.db"
    assert cstar("emulator", "reset", "--db", str(db)).code == 0
    file = tmp_path / "f.json"
    file.write_text(json.dumps(FIXTURE))
    run = cstar("emulator", "start", "--seed", str(file), "--db", str(db), "--port", "0")
    assert run.code == 2 and "already holds a team" in run.stderr


def test_a_failed_seed_leaves_no_database(tmp_path: Path) -> None:
    file = tmp_path / "f.json"
    file.write_text('{"test": {"customers": [{"name": ""}]}}')
    run = cstar("emulator", "start", "--seed", str(file), "--db", str(tmp_path / "new.db"), "--port", "0")
    assert run.code == 2
    assert not list(tmp_path.glob("new.db*"))


# -- a running emulator ----------------------------------------------------------------------------


def _post(emu: EmulatorThread, path: str, body: Any = None) -> httpx.Response:
    return httpx.post(emu.url(path), json=body if body is not None else {}, trust_env=False, timeout=30)


def test_reset_control_on_a_running_emulator(emulator: EmulatorThread) -> None:
    with emulator.client() as api:
        ticket = api.post("/tickets", json={"title": "Temporary"}).json()["data"]
        new_key = api.post("/api-keys", json={"name": "extra", "type": "secret", "mode": "test"})
        resp = _post(emulator, "/_emulator/reset")
        assert resp.status_code == 200, resp.text
        data = resp.json()["data"]
        assert data["teamId"] == emulator.team_id and data["rows"]["tickets"] == 6
        assert api.get(f"/tickets/{ticket['id']}").status_code == 404
        listed = api.get("/tickets").json()
        assert listed["meta"]["pagination"]["total"] == 4
        # Events number on without a clash after the log was emptied.
        assert api.post("/tickets", json={"title": "After reset"}).status_code == 201
    if new_key.status_code == 201:
        extra = new_key.json()["data"]["key"]
        resp = httpx.get(emulator.team_url("/tickets"), headers={"Authorization": f"Bearer {extra}"}, trust_env=False)
        assert resp.status_code == 401


def test_export_and_import_controls_round_trip(emulator: EmulatorThread) -> None:
    with emulator.client() as api:
        api.post("/tickets", json={"title": "Kept"}, headers={"Idempotency-Key": "k1"})
        snap = httpx.get(emulator.url("/_emulator/export"), trust_env=False).json()["data"]
        assert any(row["title"] == "Kept" for row in snap["tables"]["tickets"])
        assert snap["tables"]["idempotency"]  # BLOB bodies travel as base64
        api.post("/tickets", json={"title": "Dropped by the import"})
        resp = _post(emulator, "/_emulator/import", snap)
        assert resp.status_code == 200, resp.text
        assert resp.json()["data"]["keys"] == emulator.keys
        titles = [t["title"] for t in api.get("/tickets", params={"pageSize": 100}).json()["data"]]
        assert "Kept" in titles and "Dropped by the import" not in titles
        replay = api.post("/tickets", json={"title": "Kept"}, headers={"Idempotency-Key": "k1"})
        assert replay.headers.get("Idempotent-Replayed") == "true"
        assert api.post("/tickets", json={"title": "After import"}).status_code == 201
    after = httpx.get(emulator.url("/_emulator/export"), trust_env=False).json()["data"]
    assert len(after["tables"]["tickets"]) == len(snap["tables"]["tickets"]) + 1


@pytest.mark.parametrize(
    ("path", "kwargs", "status", "code"),
    [
        ("/_emulator/import", {"json": {"format": "nope"}}, 400, "invalid_snapshot"),
        ("/_emulator/import", {"content": "{}", "headers": {"Content-Type": "text/plain"}}, 403, "json_required"),
        ("/_emulator/reset", {"json": {}, "headers": {"Origin": "https://evil.example"}}, 403, "origin_not_allowed"),
        ("/_emulator/export", {"json": {}, "headers": {"Sec-Fetch-Site": "cross-site"}}, 403, "origin_not_allowed"),
    ],
)
def test_lifecycle_controls_guard_and_validate(
    emulator_session: EmulatorThread, path: str, kwargs: dict[str, Any], status: int, code: str
) -> None:
    resp = httpx.post(emulator_session.url(path), trust_env=False, **kwargs)
    assert resp.status_code == status and resp.json()["error"]["code"] == code


def test_cli_against_a_running_emulator_and_start_seed(tmp_path: Path, emulator: EmulatorThread) -> None:
    snap = tmp_path / "snap.json"
    url = emulator.base_url
    assert cstar("emulator", "export", str(snap), "--base-url", url).code == 0
    with emulator.client() as api:
        api.post("/tickets", json={"title": "Gone after import"})
    run = cstar("--json", "emulator", "import", str(snap), "--base-url", url)
    assert run.code == 0, run.stderr
    run = cstar("--json", "emulator", "reset", "--base-url", url)
    assert run.code == 0 and json.loads(run.stdout)["teamId"] == emulator.team_id
    # The same snapshot seeds a new emulator: same team, same keys.
    seeded = start_emulator(tmp_path / "seeded.db", extra_args=["--seed", str(snap)])
    try:
        assert seeded.team_id == emulator.team_id and seeded.keys == emulator.keys
        with seeded.client() as api:
            assert api.get("/tickets").json()["meta"]["pagination"]["total"] == 4
    finally:
        seeded.stop()
