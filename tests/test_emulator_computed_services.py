"""The computed services without HTTP, on a tmp database: which events bulk and import fire, that a
dry run writes nothing, and the pure helpers (snippets, condition operators, text improvement)."""

from __future__ import annotations

from typing import Any

import pytest

from cstar_emulator import Emulator
from cstar_emulator.db import Scope
from cstar_emulator.routes._records import create_fields
from cstar_emulator.services.ai import improve
from cstar_emulator.services.automations import evaluate
from cstar_emulator.services.search import snippet
from tests.support.events import drain

#: The service fixtures (``emu``: an emulator on a tmp database; ``scope``: its test mode).
pytest_plugins = ["tests.support.services"]


def test_bulk_fires_each_items_events_and_skips_failures(emu: Emulator, scope: Scope) -> None:
    a = emu.tickets.create(scope, None, {"title": "A"})
    b = emu.tickets.create(scope, None, {"title": "B"})
    sub = emu.event_hub.subscribe(scope)
    result = emu.bulk.run(
        scope,
        "req_1",
        action="update",
        resource="tickets",
        ids=[a["id"], "tkt_x", b["id"]],
        fields={"status": "resolved", "assigned_to": "usr_1"},
    )
    assert (result["succeeded"], result["failed"]) == (2, 1)
    types = [t for t, _ in drain(sub) if t.startswith("ticket.")]
    assert types == ["ticket.updated", "ticket.closed", "ticket.assigned"] * 2


def test_a_bulk_that_raises_rolls_back_everything(emu: Emulator, scope: Scope) -> None:
    a = emu.tickets.create(scope, None, {"title": "A"})
    sub = emu.event_hub.subscribe(scope)
    with pytest.raises(KeyError):
        emu.bulk.run(scope, None, action="delete", resource="invoices", ids=[a["id"]])
    assert emu.tickets.get(scope, a["id"])["title"] == "A" and drain(sub) == []


def test_import_fires_created_events_and_logs_history(emu: Emulator, scope: Scope) -> None:
    sub = emu.event_hub.subscribe(scope)
    records = [create_fields("tickets", 0, {"title": "T", "customerName": "Neo", "customerEmail": "neo@example.com"})]
    records.append(create_fields("tickets", 1, {"title": "U", "customerId": "cus_missing"}))
    result = emu.transfer.import_records(scope, None, "tickets", records, "skip")
    assert (result["created"], result["failed"]) == (1, 1) and result["errors"][0]["field"] == "records[1].customerId"
    assert [t for t, _ in drain(sub)] == ["customer.created", "ticket.created"]
    history, total = emu.transfer.history(scope, 1, 10)
    assert total == 1 and history[0]["id"] == result["id"] and history[0]["failed"] == 1


def test_a_dry_run_writes_and_fires_nothing(emu: Emulator, scope: Scope) -> None:
    ticket = emu.tickets.create(scope, None, {"title": "Dry", "priority": "high"})
    rule = emu.automations.create(
        scope,
        {
            "name": "r",
            "trigger_event": "ticket.created",
            "conditions": {"all": [{"field": "priority", "operator": "equals", "value": "high"}]},
            "actions": [{"type": "add_tag", "tag": "hot"}],
        },
    )
    sub = emu.event_hub.subscribe(scope)
    changes = emu.db.conn.total_changes
    run = emu.automations.test(scope, rule["id"], "ticket", ticket["id"])
    assert run["wouldMatch"] and run["actionsWouldExecute"][0]["changes"] == {"tags": {"from": [], "to": ["hot"]}}
    assert emu.db.conn.total_changes == changes and drain(sub) == []


@pytest.mark.parametrize(
    ("operator", "actual", "expected", "passed"),
    [
        ("equals", "Urgent", "urgent", True),
        ("not_equals", "low", "high", True),
        ("contains", ["a", "VIP"], "vip", True),
        ("contains", "Billing issue", "bill", True),
        ("not_contains", ["a"], "b", True),
        ("in", "low", ["low", "normal"], True),
        ("not_in", "low", ["low"], False),
        ("greater_than", 5, 3, True),
        ("less_than", "2025-01-01", "2026-01-01", True),
        ("greater_than", "x", 3, False),
        ("is_empty", [], None, True),
        ("is_not_empty", None, None, False),
        ("starts_with", "Refund please", "refund", True),
        ("ends_with", "Refund please", "please", True),
    ],
)
def test_condition_operators(operator: str, actual: Any, expected: Any, passed: bool) -> None:
    assert evaluate(operator, actual, expected) is passed


def test_snippets_and_improvement_are_deterministic() -> None:
    assert snippet("x" * 100 + " Needle here", "needle") == "…" + "x" * 59 + " Needle here"
    assert snippet("nothing", "needle") is None
    assert improve("i recieved teh   package. thx") == ("I received the package. Thanks.", 4)
