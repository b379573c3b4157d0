"""Event history's parsers and rules without a server: the CLI's checks, what counts as a failed
outcome, the emulator's type filter against the catalog's matcher, and the resend frame flag."""

from __future__ import annotations

import sqlite3

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cstar_cli.commands.events import _rows, check_event_id, check_type, is_failure
from cstar_cli.errors import CStarUsageError
from cstar_cli.protocol import events as catalog
from cstar_cli.relay._frames import read_event
from cstar_emulator.repositories.event_history import FAILED_SQL, _type_clause

TYPES = sorted(catalog.CATALOG)
PATTERNS = ["*", *sorted({t.split(".", 1)[0] + ".*" for t in TYPES}), *TYPES]


@given(st.text(max_size=60))
def test_check_type_accepts_exactly_the_valid_patterns(text: str) -> None:
    parts = [p.strip() for p in text.split(",") if p.strip()]
    try:
        got = check_type(text)
    except CStarUsageError as e:
        assert e.exit_code == 2 and e.hint and "\n" not in e.message
        assert not all(catalog.is_valid_pattern(p) for p in parts)
    else:
        assert all(catalog.is_valid_pattern(p) for p in parts)
        assert got == (",".join(parts) or None)


@given(st.lists(st.sampled_from(PATTERNS), min_size=1, max_size=4))
def test_check_type_normalises_spaces(patterns: list[str]) -> None:
    assert check_type(" , ".join(patterns)) == ",".join(patterns)


@pytest.mark.parametrize("bad", ["", "evt", "evt_", "tkt_123", "evt_a/b", "evt_ space", "evt_" + "a" * 101])
def test_check_event_id_refuses_what_is_not_an_event_id(bad: str) -> None:
    with pytest.raises(CStarUsageError) as e:
        check_event_id(bad)
    assert "cstar events recent" in (e.value.hint or "")


def test_check_event_id_keeps_a_good_one() -> None:
    assert check_event_id("evt_3f9a0c") == "evt_3f9a0c"


@pytest.mark.parametrize(
    ("outcome", "failed"),
    [
        ({"status": 200, "error": None}, False),
        ({"status": 204, "error": None}, False),
        ({"status": None, "error": None}, False),  # a listener that only printed it
        ({"status": 500, "error": None}, True),
        ({"status": 302, "error": None}, True),
        ({"status": None, "error": "connection refused"}, True),
        ({"status": 500, "error": "HTTP 500"}, True),
    ],
)
def test_what_counts_as_a_failed_outcome_in_the_cli_and_the_emulator(outcome: dict[str, object], failed: bool) -> None:
    assert is_failure(outcome) is failed
    db = sqlite3.connect(":memory:")
    db.execute("CREATE TABLE deliveries (status INTEGER, error TEXT)")
    db.execute("INSERT INTO deliveries VALUES (?, ?)", (outcome["status"], outcome["error"]))
    assert bool(db.execute(f"SELECT {FAILED_SQL} FROM deliveries d").fetchone()[0]) is failed


@given(st.lists(st.sampled_from(PATTERNS), max_size=3))
def test_the_emulators_type_filter_matches_as_the_catalog_does(patterns: list[str]) -> None:
    db = sqlite3.connect(":memory:")
    db.execute("CREATE TABLE events (type TEXT)")
    db.executemany("INSERT INTO events VALUES (?)", [(t,) for t in TYPES])
    where, params = _type_clause(patterns)
    got = {r[0] for r in db.execute(f"SELECT e.type FROM events e WHERE 1{where}", params)}
    expected = {t for t in TYPES if not patterns or catalog.matches(t, patterns)}
    assert got == expected


def test_rows_repeat_the_event_when_piped_only() -> None:
    event = {
        "id": "evt_1",
        "type": "ticket.created",
        "createdAt": "t",
        "deliveries": [
            {"target": "whk_1", "targetType": "webhook", "status": 200, "attempts": 1, "durationMs": 3.2},
            {"target": "cls_1", "targetType": "listen", "status": None, "attempts": 4, "error": "timed out"},
        ],
    }
    tty, piped = _rows([event], repeat=False), _rows([event], repeat=True)
    assert tty[0][:3] == piped[1][:3] == ["evt_1", "ticket.created", "t"] and tty[1][:3] == ["", "", ""]
    assert tty[0][5] == "200" and tty[1][5] == "failed: timed out" and tty[0][7] == "3 ms"
    assert _rows([{"id": "evt_2", "type": "x", "createdAt": "t", "deliveries": []}], repeat=True) == [
        ["evt_2", "x", "t", "", "", "", "", ""]
    ]


def test_a_resend_frame_is_marked_and_an_ordinary_one_is_not() -> None:
    frame = {"type": "event", "eventId": "evt_1", "eventType": "ticket.created", "payload": "{}"}
    assert read_event(frame, "evt_1", "cls_1").resend is False
    assert read_event({**frame, "resend": True}, "evt_1", "cls_1").resend is True
    assert read_event({**frame, "resend": "yes"}, "evt_1", "cls_1").resend is False
