"""The API's objects as the endpoint methods return them, defined once: field names are the
reference's (camelCase) and the server contract's (docs/protocol.md).

They describe what a cStar server sends, not what it guarantees: every field may be missing from a
response written by another server, so each class is ``total=False`` and readers use ``.get``.
"""

from __future__ import annotations

from typing import Any, TypedDict

__all__ = [
    "ApiKey",
    "ApiKeyContext",
    "Article",
    "CliSession",
    "CliSessionResume",
    "CreatedApiKey",
    "Customer",
    "DeletedCliSession",
    "Delivery",
    "EventDetail",
    "EventOutcome",
    "EventSummary",
    "LogEntry",
    "Message",
    "ResentEvent",
    "RevokedApiKey",
    "TeamInfo",
    "Ticket",
    "TriggerTestResult",
]


class TeamInfo(TypedDict, total=False):
    """The key's team in ``GET /me``: ``id`` (UUID), ``name``, ``slug``, ``plan``, ``memberCount``."""

    id: str
    name: str
    slug: str
    plan: str
    memberCount: int


class ApiKeyContext(TypedDict, total=False):
    """``GET /me`` (server contract, Key introspection): ``object`` is ``api_key_context``; ``keyType``
    ``secret``/``publishable``; ``mode`` ``test``/``live``."""

    object: str
    keyId: str
    keyType: str
    mode: str
    team: TeamInfo


class Message(TypedDict, total=False):
    """A ticket message (reference: Messages object); ``sender`` is ``agent``, ``customer`` or ``system``."""

    id: str
    ticketId: str
    content: str
    sender: str
    senderName: str
    isInternal: bool
    createdAt: str


class Ticket(TypedDict, total=False):
    """A ticket (reference: Tickets object); ``messages`` only on ``GET /tickets/{id}``."""

    id: str
    title: str
    status: str
    priority: str
    customerId: str
    assignedTo: str
    tags: list[str]
    notes: str
    metadata: dict[str, Any]
    messageCount: int
    createdAt: str
    updatedAt: str
    resolvedAt: str
    messages: list[Message]


class Customer(TypedDict, total=False):
    """A customer (reference: Customers object)."""

    id: str
    name: str
    email: str
    status: str
    sentiment: str
    tags: list[str]
    notes: str
    metadata: dict[str, Any]
    ticketCount: int
    createdAt: str
    updatedAt: str


class Article(TypedDict, total=False):
    """A knowledge-base article (reference: Articles object); ``content`` is Markdown."""

    id: str
    title: str
    content: str
    category: str
    status: str
    isPublic: bool
    tags: list[str]
    viewCount: int
    useCount: int
    createdAt: str
    updatedAt: str


class Delivery(TypedDict, total=False):
    """Where a test event was queued: a webhook (``whk_…``) or a CLI session (``cls_…``)."""

    target: str
    queued: bool


class TriggerTestResult(TypedDict, total=False):
    """``POST /webhooks/trigger-test`` (reference: Webhooks → trigger-test)."""

    event: str
    eventId: str
    test: bool
    deliveries: list[Delivery]


class EventOutcome(TypedDict, total=False):
    """An event's latest outcome at one target (server contract, Event history and resend):
    ``target`` ``whk_…``/``cls_…``, ``targetType`` ``webhook``/``listen``, ``status`` the HTTP status
    (null: no response, or a listener that only printed it), ``attempts``, ``durationMs`` (ms),
    ``error`` (null on success) and ``at`` (ISO 8601)."""

    target: str
    targetType: str
    status: int | None
    attempts: int | None
    durationMs: float | None
    error: str | None
    at: str


class EventSummary(TypedDict, total=False):
    """``GET /events``: one stored event and its outcome per target, newest first."""

    id: str
    type: str
    createdAt: str
    requestId: str | None
    deliveries: list[EventOutcome]


class EventDetail(EventSummary, total=False):
    """``GET /events/{eventId}``: the summary plus ``payload``, the exact JSON text that was sent."""

    payload: str


class ResentEvent(TypedDict, total=False):
    """``POST /events/{eventId}/resend``: ``{"eventId", "target", "queued": true}``."""

    eventId: str
    target: str
    queued: bool


class ApiKey(TypedDict, total=False):
    """An API key as listed (server contract, API keys): never the full key, only ``redacted``.
    Times are ISO 8601; ``lastUsedAt``/``revokedAt`` are null when it never happened."""

    id: str
    name: str
    type: str
    mode: str
    redacted: str
    createdAt: str
    lastUsedAt: str | None
    revokedAt: str | None


class CreatedApiKey(ApiKey, total=False):
    """``POST /api-keys``: the listed object plus ``key``, the full key, returned this once."""

    key: str


class RevokedApiKey(TypedDict, total=False):
    """``DELETE /api-keys/{keyId}``: ``{"id", "revoked": true}``."""

    id: str
    revoked: bool


class CliSession(TypedDict, total=False):
    """A CLI session (server contract, Listening §1). ``secret`` and ``websocketUrl`` only when created;
    ``deviceName``, ``createdAt`` and ``connected`` only when listed."""

    id: str
    object: str
    websocketUrl: str
    secret: str
    events: list[str]
    deviceName: str
    createdAt: str
    expiresAt: str
    connected: bool
    #: Only when created with a ``resumeKey`` and ``resume``: ``{"after", "count", "since", "missingBefore"}``.
    resume: CliSessionResume | None


class CliSessionResume(TypedDict, total=False):
    """What a resuming CLI session catches up (server contract, Listening, "Catch-up across runs"):
    ``after`` the event id it starts after (null: none acknowledged yet, live events only), ``count``
    the stored events after it that match the filter, ``since`` (ISO 8601) the oldest of them, and
    ``missingBefore`` (ISO 8601, or null) when events after ``after`` were already dropped."""

    after: str | None
    count: int
    since: str | None
    missingBefore: str | None


class DeletedCliSession(TypedDict, total=False):
    """``DELETE /cli/sessions/{id}``: ``{"id", "object": "cli_session", "deleted": true}``."""

    id: str
    object: str
    deleted: bool


class LogEntry(TypedDict, total=False):
    """One logged API request (server contract, Request logs): ``path`` is the full request path,
    ``durationMs`` in ms, ``errorCode`` the error envelope's code or null."""

    id: str
    method: str
    path: str
    status: int
    durationMs: float
    createdAt: str
    keyId: str | None
    ip: str
    userAgent: str
    errorCode: str | None
