"""The webhook event catalog: every event type the reference lists, one source for CLI and emulator.

Implements the reference's "Webhooks" section (event types by category) and the list of types
``POST /webhooks/trigger-test`` accepts. Pure data plus small helpers; imports nothing heavy, because
``cstar events`` must start fast.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from fnmatch import fnmatchcase

__all__ = [
    "CATALOG",
    "CATEGORIES",
    "TRIGGERABLE",
    "EventType",
    "by_category",
    "get",
    "matches",
    "suggest",
]


@dataclass(frozen=True)
class EventType:
    """One event type: ``name`` (``resource.action``), ``category`` (a key of :data:`CATEGORIES`),
    ``description`` (the reference's sentence) and ``triggerable`` (accepted by trigger-test)."""

    name: str
    category: str
    description: str
    triggerable: bool = False

    def to_dict(self) -> dict[str, object]:
        return {
            "type": self.name,
            "category": self.category,
            "description": self.description,
            "triggerable": self.triggerable,
        }


#: Category key → heading in the reference.
CATEGORIES: dict[str, str] = {
    "tickets": "Tickets",
    "customers": "Customers",
    "articles": "Articles",
    "team": "Team",
    "gamification": "Gamification",
    "community": "Community",
    "csat": "Csat",
}

#: The reference's trigger-test ``event`` enum.
TRIGGERABLE: tuple[str, ...] = (
    "ticket.created",
    "ticket.updated",
    "ticket.closed",
    "ticket.message_added",
    "customer.created",
    "customer.updated",
    "article.created",
    "article.published",
    "article.updated",
    "boss.spawned",
    "boss.defeated",
    "player.level_up",
)

_RAW: tuple[tuple[str, str, str], ...] = (
    ("tickets", "ticket.created", "Fired when a new ticket is created via app, widget, API, or email"),
    ("tickets", "ticket.updated", "Fired when a ticket status, priority, or assignment changes"),
    ("tickets", "ticket.closed", "Fired when a ticket is resolved or closed"),
    ("tickets", "ticket.message_added", "Fired when a new message is added to a ticket"),
    ("tickets", "ticket.deleted", "Fired when a ticket is deleted via app or API"),
    ("tickets", "ticket.assigned", "Fired when a ticket is assigned to an agent"),
    ("customers", "customer.created", "Fired when a new customer is created"),
    ("customers", "customer.updated", "Fired when customer details are modified"),
    ("customers", "customer.deleted", "Fired when a customer is deleted via app or API"),
    ("customers", "customer_group.created", "Fired when a customer group is created"),
    ("customers", "customer_group.updated", "Fired when a customer group is modified"),
    ("customers", "customer_group.deleted", "Fired when a customer group is deleted"),
    ("articles", "article.created", "Fired when a new Library article is created"),
    ("articles", "article.published", "Fired when an article is published to the Public Library"),
    ("articles", "article.updated", "Fired when an article content or metadata is modified"),
    ("articles", "article.deleted", "Fired when an article is deleted via app or API"),
    (
        "team",
        "team.preferences_updated",
        "Fired when team-wide UX preferences change (e.g., bossBattlesEnabled toggled)",
    ),
    (
        "team",
        "agent.preferences_updated",
        "Fired when an agent's per-user UX preferences change (e.g., boringMode toggled)",
    ),
    ("gamification", "boss.spawned", "Fired when a boss appears for the team"),
    ("gamification", "boss.damaged", "Fired when a boss takes damage from a ticket close"),
    ("gamification", "boss.defeated", "Fired when a boss is defeated by the team"),
    ("gamification", "player.level_up", "Fired when a player reaches a new level"),
    ("gamification", "player.achievement_unlocked", "Fired when a player unlocks an achievement"),
    ("gamification", "player.xp_gained", "Fired when a player earns XP from closing a ticket or quest"),
    ("gamification", "player.quest_completed", "Fired when a player completes a daily quest"),
    (
        "gamification",
        "player.streak_milestone",
        "Fired when a player hits a streak milestone (3, 5, 10, or 25 days)",
    ),
    ("gamification", "social.one_up_sent", "Fired when a teammate sends a one-up recognition"),
    ("gamification", "social.high_five_sent", "Fired when a team sends a high five to another team"),
    ("community", "community_post.created", "Fired when a new community post is created"),
    ("community", "community_post.updated", "Fired when a community post is updated"),
    (
        "community",
        "community_post.status_changed",
        "Fired when a community post status is changed (e.g., Planned, Completed)",
    ),
    ("community", "community_post.commented", "Fired when a new comment is added to a community post"),
    ("community", "community_post.deleted", "Fired when a community post is deleted"),
    ("community", "community_post.voted", "Fired when a community post receives a vote"),
    ("csat", "survey.submitted", "Fired when a customer submits a CSAT survey response"),
)

#: Every event type, in the reference's order, keyed by name.
CATALOG: dict[str, EventType] = {name: EventType(name, cat, desc, name in TRIGGERABLE) for cat, name, desc in _RAW}


def get(name: str) -> EventType | None:
    """The event type called ``name``, or None."""
    return CATALOG.get(name)


def by_category(category: str | None = None) -> list[EventType]:
    """Event types in catalog order, optionally only one category (a key of :data:`CATEGORIES`,
    case-insensitive; the singular ``ticket`` is accepted for ``tickets``). Raises ``KeyError`` for an
    unknown category."""
    if category is None:
        return list(CATALOG.values())
    key = category.strip().lower()
    if key not in CATEGORIES and key + "s" in CATEGORIES:
        key += "s"
    if key not in CATEGORIES:
        raise KeyError(category)
    return [e for e in CATALOG.values() if e.category == key]


def suggest(name: str, candidates: list[str] | tuple[str, ...] | None = None, n: int = 3) -> list[str]:
    """Closest valid names to a mistyped ``name`` (default: all event types), best first."""
    pool = list(candidates if candidates is not None else CATALOG)
    return difflib.get_close_matches(name.strip().lower(), pool, n=n, cutoff=0.5)


def matches(event_type: str, patterns: list[str] | tuple[str, ...]) -> bool:
    """True when ``event_type`` matches any filter pattern: exact type, ``resource.*`` or ``*``
    (server contract, Listening §5)."""
    return any(p == "*" or p == event_type or (p.endswith(".*") and fnmatchcase(event_type, p)) for p in patterns)


def is_valid_pattern(pattern: str) -> bool:
    """True for ``*``, a known type, or ``resource.*`` naming a known resource."""
    if pattern == "*" or pattern in CATALOG:
        return True
    if pattern.endswith(".*"):
        resource = pattern[:-2]
        return any(name.split(".", 1)[0] == resource for name in CATALOG)
    return False
