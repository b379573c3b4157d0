"""Turn API objects into the small, predictable results of :mod:`cstar_cli.mcp.outputs`.

A model's context is the scarce resource: lists return summaries, long text is trimmed with an
ellipsis and the result says so, and every list result says how to get the next page. Types are
coerced defensively (a missing field is null, never a crash), so a result always matches its
published output schema. Sanitising happens afterwards, on the whole result
(:func:`cstar_cli.mcp.sanitize.clean`).

Limits, in characters: titles in lists 200, message content and internal notes 2,000, article
excerpts 300, tags 100 (at most 50 per object), metadata string values 500 (at most 50 keys). A
ticket thread longer than 50 messages keeps the first message and the latest 49.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from cstar_cli.mcp.sanitize import trim

if TYPE_CHECKING:
    # Type hints only: the API client pulls in httpx, which start-up must not wait for.
    from cstar_cli.api import Result
    from cstar_cli.api.models import Article, Customer, EventDetail, EventSummary, Message, Ticket, TriggerTestResult
    from cstar_cli.mcp import outputs as o
    from cstar_cli.views.status import StatusOutput

__all__ = [
    "EXCERPT_LIMIT",
    "MAX_MESSAGES",
    "TEXT_LIMIT",
    "TITLE_LIMIT",
    "article_list",
    "customer_detail",
    "customer_list",
    "event_outcomes",
    "recent_event",
    "waited_event",
    "ticket_created",
    "ticket_detail",
    "ticket_list",
    "status_result",
    "ticket_summary",
    "trigger_result",
]

TITLE_LIMIT = 200
TEXT_LIMIT = 2000
EXCERPT_LIMIT = 300
TAG_LIMIT = 100
MAX_TAGS = 50
METADATA_VALUE_LIMIT = 500
MAX_METADATA_KEYS = 50
MAX_MESSAGES = 50


def _str(value: Any) -> str | None:
    if value is None:
        return None
    return value if isinstance(value, str) else str(value)


def _int(value: Any) -> int | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _bool(value: Any) -> bool | None:
    return value if isinstance(value, bool) else None


def _tags(value: Any) -> list[str]:
    if isinstance(value, str):
        value = [t for t in value.split(",") if t.strip()]
    if not isinstance(value, list):
        return []
    return [trim(str(t).strip(), TAG_LIMIT)[0] or "" for t in value[:MAX_TAGS]]


def _metadata(value: Any) -> dict[str, Any] | None:
    if not isinstance(value, dict):
        return None
    out: dict[str, Any] = {}
    for key, item in list(value.items())[:MAX_METADATA_KEYS]:
        if isinstance(item, str):
            item = trim(item, METADATA_VALUE_LIMIT)[0]
        elif isinstance(item, (dict, list)):
            text = json.dumps(item, ensure_ascii=False)
            item = item if len(text) <= METADATA_VALUE_LIMIT else trim(text, METADATA_VALUE_LIMIT)[0]
        out[str(key)] = item
    return out


def _pagination(page: Result[Any], requested_page: int, page_size: int) -> o.Pagination:
    pag = page.meta.pagination or {}
    return {
        "page": _int(pag.get("page")) or requested_page,
        "pageSize": _int(pag.get("pageSize")) or page_size,
        "total": _int(pag.get("total")),
        "totalPages": _int(pag.get("totalPages")),
    }


def _paging_note(tool: str, noun: str, pag: o.Pagination, count: int, has_more: bool) -> tuple[int | None, str]:
    """``(nextPage, note)`` for a list result."""
    p, total, pages = pag["page"], pag["total"], pag["totalPages"]
    of_total = f" of {total}" if total is not None else ""
    if has_more:
        where = f"page {p} of {pages}" if pages else f"page {p}"
        return p + 1, (
            f"Showing {count}{of_total} {noun} ({where}). For more, call {tool} again with page={p + 1} "
            "and the same filters."
        )
    if count == 0:
        if p > 1:
            return None, f"Page {p} is past the last page ({pages or 1}); no more {noun}."
        return None, f"No {noun} match these filters."
    if p == 1:
        return None, f"All {count} matching {noun} are shown."
    return None, f"Showing {count}{of_total} {noun}; page {p} is the last page."


def ticket_summary(t: Ticket, *, title_limit: int = TITLE_LIMIT) -> tuple[o.TicketSummary, bool]:
    """``(summary, title_trimmed)`` of a reference Tickets object."""
    title, trimmed = trim(_str(t.get("title")), title_limit)
    return {
        "id": _str(t.get("id")) or "",
        "title": title,
        "status": _str(t.get("status")),
        "priority": _str(t.get("priority")),
        "customerId": _str(t.get("customerId")),
        "assignedTo": _str(t.get("assignedTo")),
        "tags": _tags(t.get("tags")),
        "messageCount": _int(t.get("messageCount")),
        "createdAt": _str(t.get("createdAt")),
        "updatedAt": _str(t.get("updatedAt")),
    }, trimmed


def ticket_list(page: Result[list[Ticket]], *, requested_page: int, page_size: int) -> o.TicketList:
    """``GET /tickets`` page → :class:`~cstar_cli.mcp.outputs.TicketList`."""
    shaped = [ticket_summary(t) for t in page.data if isinstance(t, dict)]
    tickets = [s for s, _ in shaped]
    pag = _pagination(page, requested_page, page_size)
    next_page, note = _paging_note("cstar_list_tickets", "tickets", pag, len(tickets), page.meta.has_more)
    if any(trimmed for _, trimmed in shaped):
        note += f" Titles over {TITLE_LIMIT} characters are trimmed (…)."
    note += " Use cstar_get_ticket for a ticket's messages."
    return {
        "tickets": tickets,
        "pagination": pag,
        "nextPage": next_page,
        "note": note,
        "requestId": page.meta.request_id,
    }


def _message(m: Message) -> o.Message:
    content, trimmed = trim(_str(m.get("content")) or "", TEXT_LIMIT)
    return {
        "id": _str(m.get("id")) or "",
        "sender": _str(m.get("sender")),
        "senderName": _str(m.get("senderName")),
        "isInternal": bool(m.get("isInternal")),
        "createdAt": _str(m.get("createdAt")),
        "content": content or "",
        "contentTrimmed": trimmed,
    }


def ticket_detail(t: Ticket, *, request_id: str | None) -> o.TicketResult:
    """``GET /tickets/{id}`` (ticket with ``messages``) → :class:`~cstar_cli.mcp.outputs.TicketResult`."""
    raw = [m for m in (t.get("messages") or []) if isinstance(m, dict)]
    omitted = max(0, len(raw) - MAX_MESSAGES)
    if omitted:
        # The first message is usually the customer's request; the latest ones are the current state.
        raw = raw[:1] + raw[-(MAX_MESSAGES - 1) :]
    messages = [_message(m) for m in raw]
    notes, notes_trimmed = trim(_str(t.get("notes")), TEXT_LIMIT)
    summary, _ = ticket_summary(t, title_limit=TEXT_LIMIT)
    detail: o.TicketDetail = {
        **summary,
        "notes": notes,
        "metadata": _metadata(t.get("metadata")),
        "resolvedAt": _str(t.get("resolvedAt")),
        "messages": messages,
    }
    parts = []
    if omitted:
        parts.append(
            f"The thread has {len(raw) + omitted} messages; showing the first and the latest {MAX_MESSAGES - 1} "
            f"({omitted} omitted)."
        )
    trimmed = sum(m["contentTrimmed"] for m in messages)
    if trimmed:
        parts.append(f"{trimmed} message(s) trimmed to {TEXT_LIMIT} characters (…).")
    if notes_trimmed:
        parts.append(f"Internal notes trimmed to {TEXT_LIMIT} characters (…).")
    return {
        "ticket": detail,
        "messagesOmitted": omitted,
        "note": " ".join(parts) or None,
        "requestId": request_id,
    }


def ticket_created(created: Result[Ticket]) -> o.TicketCreated:
    """``POST /tickets`` answer → :class:`~cstar_cli.mcp.outputs.TicketCreated`."""
    summary, _ = ticket_summary(created.data, title_limit=TEXT_LIMIT)
    return {
        "ticket": summary,
        "idempotentReplayed": created.meta.idempotent_replayed,
        "requestId": created.meta.request_id,
    }


def _customer_summary(c: Customer) -> o.CustomerSummary:
    return {
        "id": _str(c.get("id")) or "",
        "name": trim(_str(c.get("name")), TITLE_LIMIT)[0],
        "email": trim(_str(c.get("email")), TITLE_LIMIT)[0],
        "status": _str(c.get("status")),
        "sentiment": _str(c.get("sentiment")),
        "ticketCount": _int(c.get("ticketCount")),
        "tags": _tags(c.get("tags")),
        "createdAt": _str(c.get("createdAt")),
    }


def customer_list(page: Result[list[Customer]], *, requested_page: int, page_size: int) -> o.CustomerList:
    """``GET /customers`` page → :class:`~cstar_cli.mcp.outputs.CustomerList`."""
    customers = [_customer_summary(c) for c in page.data if isinstance(c, dict)]
    pag = _pagination(page, requested_page, page_size)
    next_page, note = _paging_note("cstar_list_customers", "customers", pag, len(customers), page.meta.has_more)
    note += " Use cstar_get_customer for a customer's notes and metadata."
    return {
        "customers": customers,
        "pagination": pag,
        "nextPage": next_page,
        "note": note,
        "requestId": page.meta.request_id,
    }


def customer_detail(found: Result[Customer]) -> o.CustomerResult:
    """``GET /customers/{id}`` → :class:`~cstar_cli.mcp.outputs.CustomerResult`."""
    c = found.data
    detail: o.CustomerDetail = {
        **_customer_summary(c),
        "notes": trim(_str(c.get("notes")), TEXT_LIMIT)[0],
        "metadata": _metadata(c.get("metadata")),
        "updatedAt": _str(c.get("updatedAt")),
    }
    return {"customer": detail, "requestId": found.meta.request_id}


def _article_summary(a: Article) -> o.ArticleSummary:
    excerpt, trimmed = trim(_str(a.get("content")), EXCERPT_LIMIT)
    return {
        "id": _str(a.get("id")) or "",
        "title": trim(_str(a.get("title")), TITLE_LIMIT)[0],
        "category": _str(a.get("category")),
        "status": _str(a.get("status")),
        "isPublic": _bool(a.get("isPublic")),
        "tags": _tags(a.get("tags")),
        "viewCount": _int(a.get("viewCount")),
        "useCount": _int(a.get("useCount")),
        "createdAt": _str(a.get("createdAt")),
        "updatedAt": _str(a.get("updatedAt")),
        "excerpt": excerpt,
        "excerptTrimmed": trimmed,
    }


def article_list(page: Result[list[Article]], *, requested_page: int, page_size: int) -> o.ArticleList:
    """``GET /articles`` page → :class:`~cstar_cli.mcp.outputs.ArticleList`."""
    articles = [_article_summary(a) for a in page.data if isinstance(a, dict)]
    pag = _pagination(page, requested_page, page_size)
    next_page, note = _paging_note("cstar_list_articles", "articles", pag, len(articles), page.meta.has_more)
    if any(a["excerptTrimmed"] for a in articles):
        note += f" Each excerpt is the first {EXCERPT_LIMIT} characters of the article's Markdown (…)."
    return {
        "articles": articles,
        "pagination": pag,
        "nextPage": next_page,
        "note": note,
        "requestId": page.meta.request_id,
    }


def trigger_result(sent: Result[TriggerTestResult], *, event: str) -> o.TriggerResult:
    """trigger-test answer → :class:`~cstar_cli.mcp.outputs.TriggerResult`."""
    d = sent.data
    deliveries: list[o.Delivery] = [
        {"target": _str(x.get("target")) or "", "queued": x.get("queued") is not False}
        for x in (d.get("deliveries") or [])
        if isinstance(x, dict)
    ]
    if deliveries:
        note = f"Sent to {len(deliveries)} target(s): the handlers behind them should receive it within seconds."
    else:
        note = (
            "No active webhook or `cstar listen` session matches this event, so nothing was delivered. "
            "Start one (e.g. `cstar listen --forward-to http://localhost:3000/webhooks`) and trigger again."
        )
    return {
        "event": _str(d.get("event")) or event,
        "eventId": _str(d.get("eventId")),
        "test": d.get("test") is not False,
        "deliveries": deliveries,
        "note": note,
        "requestId": sent.meta.request_id,
    }


def status_result(status: StatusOutput) -> o.StatusResult:
    """``cstar status``'s document (:func:`cstar_cli.views.status.build_status`) →
    :class:`~cstar_cli.mcp.outputs.StatusResult`: without ``baseUrlSource``, and ``rateLimit`` null when
    the server sends no rate-limit headers (the emulator's ``--rate-limit 0``)."""
    rate_limit = status["rateLimit"]
    return {
        "team": status["team"],
        "mode": status["mode"],
        "keyType": status["keyType"],
        "keyId": status["keyId"],
        "key": status["key"],
        "keySource": status["keySource"],
        "profile": status["profile"],
        "baseUrl": status["baseUrl"],
        "api": status["api"],
        "rateLimit": rate_limit if rate_limit is not None and rate_limit["limit"] is not None else None,
        "version": status["version"],
    }


# event history -----------------------------------------------------------------------------------

#: Fields of an event's resource a waiting agent is shown (when present and not a container).
KEY_FIELDS = ("status", "priority", "title", "name", "category", "customerId", "ticketId", "sender", "isPublic")
ERROR_LIMIT = 300


def event_outcomes(e: EventSummary) -> list[o.EventOutcome]:
    """An event's ``deliveries`` (server contract, "Event history and resend"), each marked ``failed``
    as the contract defines it: an error, or a status that is not 2xx."""
    out: list[o.EventOutcome] = []
    for d in e.get("deliveries") or []:
        if not isinstance(d, dict):
            continue
        status, error = _int(d.get("status")), trim(_str(d.get("error")), ERROR_LIMIT)[0]
        out.append(
            {
                "target": _str(d.get("target")) or "",
                "status": status,
                "attempts": _int(d.get("attempts")),
                "failed": error is not None or (status is not None and not 200 <= status <= 299),
                "error": error,
                "at": _str(d.get("at")),
            }
        )
    return out


def recent_event(e: EventSummary) -> o.RecentEvent:
    """One ``GET /events`` item → :class:`~cstar_cli.mcp.outputs.RecentEvent`."""
    return {
        "id": _str(e.get("id")) or "",
        "type": _str(e.get("type")),
        "createdAt": _str(e.get("createdAt")),
        "deliveries": event_outcomes(e),
    }


def waited_event(e: EventDetail | EventSummary) -> o.WaitedEvent:
    """An event with, from its ``payload`` text when there is one, the id of its resource
    (``data.<resource>``, the type's first part) and a few scalar fields of it (:data:`KEY_FIELDS`,
    text trimmed to 200 characters) → :class:`~cstar_cli.mcp.outputs.WaitedEvent`."""
    kind = _str(e.get("type")) or ""
    resource: Any = None
    try:
        data = json.loads(str(e.get("payload"))).get("data") if e.get("payload") else None
    except (ValueError, AttributeError):
        data = None
    if isinstance(data, dict):
        resource = data.get(kind.split(".", 1)[0])
        if not isinstance(resource, dict):
            resource = next((v for v in data.values() if isinstance(v, dict)), None)
    fields: dict[str, Any] = {}
    if isinstance(resource, dict):
        for key in KEY_FIELDS:
            value = resource.get(key)
            if isinstance(value, (str, int, float, bool)):
                fields[key] = trim(value, TITLE_LIMIT)[0] if isinstance(value, str) else value
    return {
        **recent_event(e),
        "resourceId": _str(resource.get("id")) if isinstance(resource, dict) else None,
        "fields": fields,
    }
