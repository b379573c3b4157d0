"""The structured results the tools return: each TypedDict here is published as a tool's
``outputSchema`` and checked against every successful result.

Field names follow the reference's objects (camelCase). Lists hold summaries; long text fields are
trimmed (see :mod:`cstar_cli.mcp.views`), which the ``…Trimmed`` flags and ``note`` say.
"""

from __future__ import annotations

from typing import Any

from pydantic import ConfigDict, with_config
from typing_extensions import TypedDict

from cstar_cli.views import events, status

__all__ = [
    "ArticleList",
    "ArticleSummary",
    "CustomerDetail",
    "CustomerList",
    "CustomerResult",
    "CustomerSummary",
    "Delivery",
    "EventInfo",
    "EventList",
    "EventOutcome",
    "RecentEvent",
    "RecentEvents",
    "ResendResult",
    "Message",
    "Pagination",
    "StatusResult",
    "TicketCreated",
    "TicketDetail",
    "TicketList",
    "TicketResult",
    "TicketSummary",
    "TriggerResult",
    "VerifyResult",
    "WaitResult",
    "WaitedEvent",
]

# Titles equal to the field names ("customerId", not pydantic's "Customerid").
_CONFIG = ConfigDict(field_title_generator=lambda name, _info: name)


@with_config(_CONFIG)
class Pagination(TypedDict):
    """Paging of a list: 1-indexed `page`, `pageSize`, `total` results, `totalPages`."""

    page: int
    pageSize: int
    total: int | None
    totalPages: int | None


@with_config(_CONFIG)
class TicketSummary(TypedDict):
    """A ticket without its messages; `title` trimmed to 200 characters in lists."""

    id: str
    title: str | None
    status: str | None
    priority: str | None
    customerId: str | None
    assignedTo: str | None
    tags: list[str]
    messageCount: int | None
    createdAt: str | None
    updatedAt: str | None


@with_config(_CONFIG)
class TicketList(TypedDict):
    """`cstar_list_tickets`: one page of ticket summaries; `nextPage` is null on the last page."""

    tickets: list[TicketSummary]
    pagination: Pagination
    nextPage: int | None
    note: str
    requestId: str | None


@with_config(_CONFIG)
class Message(TypedDict):
    """One message of a ticket thread; `content` trimmed to 2,000 characters (`contentTrimmed`)."""

    id: str
    sender: str | None
    senderName: str | None
    isInternal: bool
    createdAt: str | None
    content: str
    contentTrimmed: bool


@with_config(_CONFIG)
class TicketDetail(TypedDict):
    """A ticket with its internal notes, metadata and message thread (chronological)."""

    id: str
    title: str | None
    status: str | None
    priority: str | None
    customerId: str | None
    assignedTo: str | None
    tags: list[str]
    notes: str | None
    metadata: dict[str, Any] | None
    messageCount: int | None
    createdAt: str | None
    updatedAt: str | None
    resolvedAt: str | None
    messages: list[Message]


@with_config(_CONFIG)
class TicketResult(TypedDict):
    """`cstar_get_ticket`: the ticket; `messagesOmitted` counts middle messages left out of a long
    thread (the first and the latest ones are kept)."""

    ticket: TicketDetail
    messagesOmitted: int
    note: str | None
    requestId: str | None


@with_config(_CONFIG)
class TicketCreated(TypedDict):
    """`cstar_create_ticket`: the new ticket; `idempotentReplayed` is true when the server answered
    with the ticket an earlier call with the same `idempotencyKey` created."""

    ticket: TicketSummary
    idempotentReplayed: bool
    requestId: str | None


@with_config(_CONFIG)
class CustomerSummary(TypedDict):
    """A customer as lists show it."""

    id: str
    name: str | None
    email: str | None
    status: str | None
    sentiment: str | None
    ticketCount: int | None
    tags: list[str]
    createdAt: str | None


@with_config(_CONFIG)
class CustomerList(TypedDict):
    """`cstar_list_customers`: one page of customer summaries."""

    customers: list[CustomerSummary]
    pagination: Pagination
    nextPage: int | None
    note: str
    requestId: str | None


@with_config(_CONFIG)
class CustomerDetail(TypedDict):
    """A customer's full profile; `notes` trimmed to 2,000 characters."""

    id: str
    name: str | None
    email: str | None
    status: str | None
    sentiment: str | None
    ticketCount: int | None
    tags: list[str]
    notes: str | None
    metadata: dict[str, Any] | None
    createdAt: str | None
    updatedAt: str | None


@with_config(_CONFIG)
class CustomerResult(TypedDict):
    """`cstar_get_customer`."""

    customer: CustomerDetail
    requestId: str | None


@with_config(_CONFIG)
class ArticleSummary(TypedDict):
    """An article with an `excerpt`: the start of its Markdown body, at most 300 characters."""

    id: str
    title: str | None
    category: str | None
    status: str | None
    isPublic: bool | None
    tags: list[str]
    viewCount: int | None
    useCount: int | None
    createdAt: str | None
    updatedAt: str | None
    excerpt: str | None
    excerptTrimmed: bool


@with_config(_CONFIG)
class ArticleList(TypedDict):
    """`cstar_list_articles`: one page of article summaries."""

    articles: list[ArticleSummary]
    pagination: Pagination
    nextPage: int | None
    note: str
    requestId: str | None


@with_config(_CONFIG)
class Delivery(TypedDict):
    """Where a test event went: a webhook (`whk_…`) or a `cstar listen` session (`cls_…`)."""

    target: str
    queued: bool


@with_config(_CONFIG)
class TriggerResult(TypedDict):
    """`cstar_trigger_webhook`: the test event sent, where it went, and a one-line `note`."""

    event: str
    eventId: str | None
    test: bool
    deliveries: list[Delivery]
    note: str
    requestId: str | None


# The status parts are cstar status's own (one model for both surfaces), titled for MCP.
@with_config(_CONFIG)
class Team(status.StatusTeam):
    pass


@with_config(_CONFIG)
class ApiCheck(status.ApiCheck):
    pass


@with_config(_CONFIG)
class RateLimitInfo(status.RateLimitInfo):
    """`X-RateLimit-*`: `limit`/`remaining` requests, `reset` (unix s), `window` (s)."""


@with_config(_CONFIG)
class StatusResult(TypedDict):
    """`cstar_get_status`: who and where the server acts; `key` is redacted (`sk_test_…a1b2`)."""

    team: Team | None
    mode: str | None
    keyType: str | None
    keyId: str | None
    key: str
    keySource: str | None
    profile: str
    baseUrl: str
    api: ApiCheck
    rateLimit: RateLimitInfo | None
    version: str


@with_config(_CONFIG)
class EventInfo(events.EventTypeInfo):
    """One webhook event type of the reference's "Webhooks" list."""


@with_config(_CONFIG)
class EventList(TypedDict):
    """`cstar_list_events`: the catalog, optionally one category."""

    events: list[EventInfo]
    category: str | None
    categories: list[str]
    note: str


@with_config(_CONFIG)
class EventOutcome(TypedDict):
    """An event's latest outcome at one target (`whk_…` webhook, `cls_…` listen session): HTTP
    `status` (null: no answer, or a listener that only printed it), `attempts`, `error`, `at`."""

    target: str
    status: int | None
    attempts: int | None
    failed: bool
    error: str | None
    at: str | None


@with_config(_CONFIG)
class RecentEvent(TypedDict):
    """One stored event with its outcome per target."""

    id: str
    type: str | None
    createdAt: str | None
    deliveries: list[EventOutcome]


@with_config(_CONFIG)
class RecentEvents(TypedDict):
    """`cstar_recent_events`: events newest first; `cursor` (the newest event id, `start` when there
    is none) is for `cstar_wait_for_event`'s `since`, `nextCursor` for `before` (older page)."""

    events: list[RecentEvent]
    cursor: str
    nextCursor: str | None
    note: str
    requestId: str | None


@with_config(_CONFIG)
class WaitedEvent(TypedDict):
    """The event that arrived: its resource's id and a few of its fields, not the whole payload."""

    id: str
    type: str | None
    createdAt: str | None
    resourceId: str | None
    fields: dict[str, Any]
    deliveries: list[EventOutcome]


@with_config(_CONFIG)
class WaitResult(TypedDict):
    """`cstar_wait_for_event`: `event` (null when none arrived in time) and the `cursor` to wait on from."""

    event: WaitedEvent | None
    cursor: str
    note: str


@with_config(_CONFIG)
class ResendResult(TypedDict):
    """`cstar_resend_event`: where the stored event was queued again."""

    eventId: str
    target: str | None
    queued: bool
    note: str
    requestId: str | None


@with_config(_CONFIG)
class VerifyResult(TypedDict):
    """`cstar_verify_signature`: `reason` is valid, valid_legacy, malformed_header,
    timestamp_outside_tolerance, body_reserialised, body_modified or signature_mismatch."""

    valid: bool
    reason: str
    detail: str
