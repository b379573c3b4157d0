"""``/analytics/*``, ``/search`` and ``/audit-log`` (reference: "Analytics", "Search", "Audit Log"):
read-only answers computed from the partition's data."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from starlette.requests import Request
from starlette.responses import Response

from cstar_emulator import validate as v
from cstar_emulator.envelope import ApiError, ok, page_meta
from cstar_emulator.models_computed import ANALYTICS_PERIODS, RESOURCE_KINDS
from cstar_emulator.repositories.audit import AuditQuery
from cstar_emulator.routes._http import TEAM, api_routes, caller
from cstar_emulator.routes._records import key_types
from cstar_emulator.services.search import SEARCH_TYPES

__all__ = ["MAX_SEARCH_LIMIT", "ROUTES"]

#: Largest ``limit`` a search takes.
MAX_SEARCH_LIMIT = 100


async def analytics_overview(request: Request) -> Response:
    """``GET /analytics/overview?period=day|week|month|quarter|year`` (default week); secret keys."""
    c = caller(request)
    key_types(c, "getAnalyticsOverview", "Reading analytics")
    period = v.query_choice(request, "period", ANALYTICS_PERIODS) or "week"
    return ok(request, c.emulator.analytics.overview(c.scope, period))


async def analytics_agents(request: Request) -> Response:
    """``GET /analytics/agents``: per-assignee stats; secret keys."""
    c = caller(request)
    key_types(c, "listAgentStats", "Reading analytics")
    return ok(request, c.emulator.analytics.agents(c.scope))


def _types(raw: str | None) -> list[str]:
    """``types`` (comma-separated; singular names too) → a subset of SEARCH_TYPES; all when absent."""
    if raw is None or not raw.strip():
        return list(SEARCH_TYPES)
    chosen: list[str] = []
    singular = {kind: plural for plural, kind in RESOURCE_KINDS.items()}
    for part in raw.split(","):
        name = part.strip().lower()
        name = singular.get(name, name)
        if name not in SEARCH_TYPES:
            raise ApiError.invalid(
                "types", f"types must list some of: {', '.join(SEARCH_TYPES)} (got {part.strip()!r})."
            )
        if name not in chosen:
            chosen.append(name)
    return chosen


async def search(request: Request) -> Response:
    """``GET /search?q&types&limit`` (limit 1–100, default 10): tickets, customers and articles whose
    searched text holds ``q``."""
    c = caller(request)
    q = request.query_params
    limit = v.integer(q.get("limit", "10"), "limit", minimum=1, maximum=MAX_SEARCH_LIMIT)
    types = _types(q.get("types"))
    return ok(request, c.emulator.search.search(c.scope, q.get("q") or q.get("query") or "", types, limit))


def _instant(raw: str | None, field: str, *, end: bool) -> float | None:
    """An ISO 8601 date or date-time (no zone: UTC) as unix seconds; a bare date as an ``end`` bound
    means the end of that day."""
    if raw is None or not raw.strip():
        return None
    text = raw.strip()
    try:
        when = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise ApiError.invalid(field, f"{field} must be an ISO 8601 date or date-time (got {text!r}).") from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    if end and len(text) == 10:
        when += timedelta(days=1)
    return when.timestamp()


async def audit_log(request: Request) -> Response:
    """``GET /audit-log?action&resourceType&actorId&startDate&endDate&page&pageSize``, newest first."""
    c = caller(request)
    key_types(c, "listAuditLog", "Reading the audit log")
    page, size = v.page_params(request)
    q = request.query_params
    resource_type = (q.get("resourceType") or "").strip() or None
    if resource_type is not None:
        resource_type = RESOURCE_KINDS.get(resource_type, resource_type)
    query = AuditQuery(
        action=(q.get("action") or "").strip() or None,
        resource_type=resource_type,
        actor_id=(q.get("actorId") or "").strip() or None,
        start=_instant(q.get("startDate"), "startDate", end=False),
        end=_instant(q.get("endDate"), "endDate", end=True),
    )
    if query.start is not None and query.end is not None and query.start >= query.end:
        raise ApiError.invalid("endDate", "endDate must be after startDate.")
    data, total = c.emulator.audit.page(c.scope, query, page, size)
    return ok(request, data, pagination=page_meta(page, size, total))


ROUTES = api_routes(
    TEAM,
    [
        ("GET", "/analytics/overview", analytics_overview),
        ("GET", "/analytics/agents", analytics_agents),
        ("GET", "/search", search),
        ("GET", "/audit-log", audit_log),
    ],
)
