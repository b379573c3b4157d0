"""Reads of the ``events`` and ``deliveries`` tables for event history (server contract: "Event
history and resend"): pages of stored events, newest first, and each one's latest outcome per target.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from cstar_emulator.db import Database, Scope
from cstar_emulator.repositories.events import Event

__all__ = ["FAILED_SQL", "EventHistoryRecords", "StoredEvent", "TargetOutcome"]

#: True for a delivery row whose outcome was a failure: an error (no response, a timeout, a
#: receiver's non-2xx as the listener reports it) or a non-2xx status.
FAILED_SQL = "(d.error IS NOT NULL OR (d.status IS NOT NULL AND (d.status < 200 OR d.status > 299)))"

# The latest row of each (event, target): what an event's history shows for that target.
_LATEST = "d.seq = (SELECT MAX(d2.seq) FROM deliveries d2 WHERE d2.event_id = d.event_id AND d2.target = d.target)"


@dataclass(frozen=True, slots=True)
class StoredEvent:
    """An event as history lists it: the stored :class:`Event` and when it was created (unix s)."""

    event: Event
    created: float


@dataclass(frozen=True, slots=True)
class TargetOutcome:
    """The latest delivery row of one event to one target: ``kind`` ``webhook``/``cli``, ``target``
    (``whk_…``/``cls_…``), ``attempt`` (the attempt number, or the attempts a listener reported),
    ``status`` (HTTP or None), ``duration_ms``, ``error`` and ``created_at`` (ISO 8601)."""

    kind: str
    target: str
    attempt: int | None
    status: int | None
    duration_ms: float | None
    error: str | None
    created_at: str


def _type_clause(patterns: Sequence[str]) -> tuple[str, list[Any]]:
    """SQL matching ``type`` against filter patterns (exact, ``resource.*``, ``*``) as
    :func:`cstar_cli.protocol.events.matches` does; ``("", [])`` when any type matches."""
    if not patterns or "*" in patterns:
        return "", []
    parts, params = [], []
    for p in patterns:
        # Resource names hold no GLOB specials, so ``ticket.*`` globs exactly as fnmatch matches it.
        parts.append("e.type GLOB ?" if p.endswith(".*") else "e.type = ?")
        params.append(p)
    return " AND (" + " OR ".join(parts) + ")", params


class EventHistoryRecords:
    """Stored events with their delivery outcomes."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def page(
        self,
        scope: Scope,
        patterns: Sequence[str],
        *,
        failed: bool,
        limit: int,
        before_seq: int | None,
        after_seq: int | None = None,
    ) -> tuple[list[StoredEvent], bool]:
        """Up to ``limit`` events of ``scope`` matching ``patterns``, newest first, numbered below
        ``before_seq`` (None: from the newest); or, with ``after_seq``, oldest first from the one
        numbered just above it. With ``failed``, only those whose latest outcome at some target
        failed. Also whether more exist."""
        where, params = _type_clause(patterns)
        if before_seq is not None:
            where += " AND e.seq < ?"
            params.append(before_seq)
        if after_seq is not None:
            where += " AND e.seq > ?"
            params.append(after_seq)
        if failed:
            where += f" AND EXISTS (SELECT 1 FROM deliveries d WHERE d.event_id = e.id AND {_LATEST} AND {FAILED_SQL})"
        rows = self.db.all(
            "SELECT e.seq, e.id, e.type, e.payload, e.request_id, e.created FROM events e "
            f"WHERE e.team_id = ? AND e.mode = ?{where} ORDER BY e.seq {'ASC' if after_seq is not None else 'DESC'} LIMIT ?",
            *scope,
            *params,
            limit + 1,
        )
        found = [
            StoredEvent(Event(scope, r["seq"], r["id"], r["type"], r["payload"], r["request_id"]), r["created"])
            for r in rows[:limit]
        ]
        return found, len(rows) > limit

    def get(self, scope: Scope, event_id: str) -> StoredEvent | None:
        """The stored event ``event_id`` of ``scope``, or None (unknown, pruned, another partition's)."""
        r = self.db.one(
            "SELECT seq, id, type, payload, request_id, created FROM events WHERE id = ? AND team_id = ? AND mode = ?",
            event_id,
            *scope,
        )
        if r is None:
            return None
        return StoredEvent(Event(scope, r["seq"], r["id"], r["type"], r["payload"], r["request_id"]), r["created"])

    def outcomes(self, scope: Scope, event_ids: Sequence[str]) -> dict[str, list[TargetOutcome]]:
        """For each of ``event_ids``: the latest delivery row per target, in the order the targets
        were first delivered to."""
        result: dict[str, list[TargetOutcome]] = {eid: [] for eid in event_ids}
        if not event_ids:
            return result
        marks = ", ".join("?" * len(event_ids))
        rows = self.db.all(
            "SELECT d.event_id, d.kind, d.target, d.attempt, d.status, d.duration_ms, d.error, d.created_at, "
            "(SELECT MIN(d3.seq) FROM deliveries d3 WHERE d3.event_id = d.event_id AND d3.target = d.target) AS first "
            f"FROM deliveries d WHERE d.team_id = ? AND d.mode = ? AND d.event_id IN ({marks}) AND {_LATEST} "
            "ORDER BY first",
            *scope,
            *event_ids,
        )
        for r in rows:
            result[r["event_id"]].append(
                TargetOutcome(
                    r["kind"], r["target"], r["attempt"], r["status"], r["duration_ms"], r["error"], r["created_at"]
                )
            )
        return result
