"""Aggregates over tickets, messages and customers for the analytics endpoints. Times are ISO 8601
text in the tables (one format, so they compare as strings); durations come out in minutes."""

from __future__ import annotations

from typing import Any

from cstar_emulator.db import Database, Scope

__all__ = ["AnalyticsQueries"]

_MINUTES = "((julianday({}) - julianday({})) * 1440.0)"
# The first agent reply (not an internal note) of ticket t, as ISO text.
_FIRST_REPLY = (
    "(SELECT MIN(m.created_at) FROM messages m WHERE m.ticket_id = t.id AND m.sender = 'agent' AND m.is_internal = 0)"
)


class AnalyticsQueries:
    """Counts and averages of one partition since a given time."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def ticket_counts(self, scope: Scope, since: str, done: tuple[str, ...]) -> dict[str, Any]:
        """``{"total", "open", "resolved", "byStatus", "byPriority"}``: tickets created since
        ``since`` (ISO 8601), all tickets not in a ``done`` status, tickets resolved since ``since``,
        and the created ones by status and by priority."""
        marks = ", ".join("?" * len(done))
        row = self.db.one(
            "SELECT SUM(created_at >= ?) AS total, "
            f"SUM(status NOT IN ({marks})) AS open, "
            "SUM(resolved_at IS NOT NULL AND resolved_at >= ?) AS resolved "
            "FROM tickets WHERE team_id = ? AND mode = ?",
            since,
            *done,
            since,
            *scope,
        )
        assert row is not None
        by: dict[str, dict[str, int]] = {}
        for column, name in (("status", "byStatus"), ("priority", "byPriority")):
            rows = self.db.all(
                f"SELECT {column} AS k, COUNT(*) AS n FROM tickets WHERE team_id = ? AND mode = ? AND created_at >= ? "
                f"GROUP BY {column} ORDER BY {column}",
                *scope,
                since,
            )
            by[name] = {r["k"]: r["n"] for r in rows}
        return {
            "total": row["total"] or 0,
            "open": row["open"] or 0,
            "resolved": row["resolved"] or 0,
            **by,
        }

    def response_times(self, scope: Scope, since: str) -> dict[str, Any]:
        """``{"averageFirstResponseMinutes", "averageResolutionMinutes", "respondedTickets"}`` for
        tickets created since ``since``: time to the first agent reply, and (of those resolved) to
        resolution. An average is None when no ticket has one."""
        row = self.db.one(
            f"SELECT AVG({_MINUTES.format(_FIRST_REPLY, 't.created_at')}) AS first, "
            f"COUNT({_FIRST_REPLY}) AS responded, "
            f"AVG({_MINUTES.format('t.resolved_at', 't.created_at')}) AS resolution "
            "FROM tickets t WHERE t.team_id = ? AND t.mode = ? AND t.created_at >= ?",
            *scope,
            since,
        )
        assert row is not None
        return {
            "averageFirstResponseMinutes": _rounded(row["first"]),
            "averageResolutionMinutes": _rounded(row["resolution"]),
            "respondedTickets": row["responded"] or 0,
        }

    def message_counts(self, scope: Scope, since: str) -> dict[str, Any]:
        """``{"total", "bySender"}`` of messages written since ``since``."""
        rows = self.db.all(
            "SELECT sender, COUNT(*) AS n FROM messages WHERE team_id = ? AND mode = ? AND created_at >= ? "
            "GROUP BY sender ORDER BY sender",
            *scope,
            since,
        )
        by = {r["sender"]: r["n"] for r in rows}
        return {"total": sum(by.values()), "bySender": by}

    def customer_counts(self, scope: Scope, since: str) -> dict[str, int]:
        """``{"total", "active", "new"}``: all customers, those with status active, those created
        since ``since``."""
        row = self.db.one(
            "SELECT COUNT(*) AS total, SUM(status = 'active') AS active, SUM(created_at >= ?) AS new "
            "FROM customers WHERE team_id = ? AND mode = ?",
            since,
            *scope,
        )
        assert row is not None
        return {"total": row["total"] or 0, "active": row["active"] or 0, "new": row["new"] or 0}

    def agents(self, scope: Scope, done: tuple[str, ...]) -> list[dict[str, Any]]:
        """Per assignee (``assigned_to``), most resolved first: ``{"userId", "ticketsAssigned",
        "ticketsResolved", "avgResponseTime"}`` (minutes to the first agent reply on their tickets;
        None when there was none)."""
        marks = ", ".join("?" * len(done))
        rows = self.db.all(
            f"SELECT t.assigned_to AS user_id, COUNT(*) AS assigned, SUM(t.status IN ({marks})) AS resolved, "
            f"AVG({_MINUTES.format(_FIRST_REPLY, 't.created_at')}) AS response "
            "FROM tickets t WHERE t.team_id = ? AND t.mode = ? AND t.assigned_to IS NOT NULL "
            "GROUP BY t.assigned_to ORDER BY resolved DESC, t.assigned_to",
            *done,
            *scope,
        )
        return [
            {
                "userId": r["user_id"],
                "ticketsAssigned": r["assigned"],
                "ticketsResolved": r["resolved"] or 0,
                "avgResponseTime": _rounded(r["response"]),
            }
            for r in rows
        ]


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 1)
