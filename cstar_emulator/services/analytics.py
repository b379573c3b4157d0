"""Analytics (reference: "Analytics"), computed on each call from the partition's tickets, messages
and customers; nothing is cached or canned.

A period is the last 1, 7, 30, 90 or 365 days up to now. The emulator stores no CSAT surveys, so
``csat`` is ``{"average": 0, "totalResponses": 0}``; likewise an agent's ``csatAverage`` is 0, and
``avgResponseTime`` is 0 when none of their tickets has an agent reply yet (``ticketsAssigned``
and ``respondedTickets`` say how much data an average rests on).
"""

from __future__ import annotations

import time
from typing import Any

from cstar_emulator.db import Scope
from cstar_emulator.ids import iso
from cstar_emulator.models import DONE_STATUSES, Resource
from cstar_emulator.models_computed import ANALYTICS_PERIODS
from cstar_emulator.repositories.analytics import AnalyticsQueries

__all__ = ["AnalyticsService"]


class AnalyticsService:
    """The analytics of one partition."""

    def __init__(self, queries: AnalyticsQueries) -> None:
        self.queries = queries

    def overview(self, scope: Scope, period: str, now: float | None = None) -> Resource:
        """``{"object": "analytics_overview", "period", "startDate", "endDate", "tickets": {"total",
        "open", "resolved", "byStatus", "byPriority"}, "responseTimes": {"averageFirstResponseMinutes",
        "averageResolutionMinutes", "respondedTickets"}, "messages": {"total", "bySender"},
        "customers": {"total", "active", "new"}, "csat": {"average", "totalResponses"}}``.
        ``tickets.total``/``resolved``, ``customers.new`` and ``messages`` count the period;
        ``tickets.open`` and the other customer counts are as of now. Averages are minutes (None:
        no ticket to average)."""
        end = time.time() if now is None else now
        since = iso(end - ANALYTICS_PERIODS[period] * 86400)
        return {
            "object": "analytics_overview",
            "period": period,
            "startDate": since,
            "endDate": iso(end),
            "tickets": self.queries.ticket_counts(scope, since, DONE_STATUSES),
            "responseTimes": self.queries.response_times(scope, since),
            "messages": self.queries.message_counts(scope, since),
            "customers": self.queries.customer_counts(scope, since),
            "csat": {"average": 0, "totalResponses": 0},
        }

    def agents(self, scope: Scope) -> list[Resource]:
        """Per assignee of any ticket, most resolved first: ``{"object": "agent_stats", "userId",
        "name", "ticketsAssigned", "ticketsResolved", "avgResponseTime" (minutes), "csatAverage"}``.
        ``name`` is the assignee as stored (the emulator keeps no member names for it)."""
        out: list[Resource] = []
        for row in self.queries.agents(scope, DONE_STATUSES):
            stats: dict[str, Any] = {
                "object": "agent_stats",
                "userId": row["userId"],
                "name": row["userId"],
                "ticketsAssigned": row["ticketsAssigned"],
                "ticketsResolved": row["ticketsResolved"],
                "avgResponseTime": row["avgResponseTime"] if row["avgResponseTime"] is not None else 0,
                "csatAverage": 0,
            }
            out.append(stats)
        return out
