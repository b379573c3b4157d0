"""First-start data: one team, one key of each kind, and a few customers, tickets and articles in
both partitions so lists are never empty. Later starts reuse what is there."""

from __future__ import annotations

import sqlite3
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from cstar_emulator.db import Database, Scope
from cstar_emulator.ids import api_key
from cstar_emulator.repositories.articles import Articles
from cstar_emulator.repositories.customers import Customers
from cstar_emulator.repositories.keys import ApiKeys
from cstar_emulator.repositories.messages import Messages
from cstar_emulator.repositories.teams import Teams
from cstar_emulator.repositories.tickets import Tickets

__all__ = ["KEY_KINDS", "Seed", "SeedTables", "ensure_seed"]

#: The four key kinds: prefix → (type, mode).
KEY_KINDS: dict[str, tuple[str, str]] = {
    "sk_test": ("secret", "test"),
    "sk_live": ("secret", "live"),
    "pk_test": ("publishable", "test"),
    "pk_live": ("publishable", "live"),
}

TEAM_NAME = "Acme Support (emulator)"


@dataclass(frozen=True)
class Seed:
    """The seeded team (``team`` row) and the full key of each kind (``keys``: ``sk_test`` → key)."""

    team: sqlite3.Row
    keys: dict[str, str]

    @property
    def team_id(self) -> str:
        return str(self.team["id"])


@dataclass(frozen=True)
class SeedTables:
    """The repositories seeding writes to."""

    teams: Teams
    keys: ApiKeys
    customers: Customers
    tickets: Tickets
    messages: Messages
    articles: Articles


def ensure_seed(db: Database, tables: SeedTables, *, team_id: str | None = None) -> Seed:
    """Create the team and sample data on first start (with id ``team_id``, default a fresh UUID,
    so a reset keeps the team's id); make sure each key kind has a usable (unrevoked) seeded key,
    issuing a fresh one when the last was revoked."""
    with db.transaction():
        team = tables.teams.first()
        if team is None:
            team_id = team_id or str(uuid.uuid4())
            tables.teams.insert(team_id, name=TEAM_NAME, slug="acme-support", plan="pro", member_count=3)
            _sample_data(tables, Scope(team_id, "test"), _TEST)
            _sample_data(tables, Scope(team_id, "live"), _LIVE)
            team = tables.teams.get(team_id)
        assert team is not None
        keys: dict[str, str] = {}
        for kind, (key_type, mode) in KEY_KINDS.items():
            secret = tables.keys.seeded_secret(team["id"], key_type, mode)
            if secret is None:
                secret = api_key(kind)
                tables.keys.insert(
                    team["id"],
                    name=f"Emulator {mode} {key_type} key",
                    key_type=key_type,
                    mode=mode,
                    secret=secret,
                    seeded=True,
                )
            keys[kind] = secret
    return Seed(team, keys)


_TEST: dict[str, list[Any]] = {
    "customers": [
        ("Jane Smith", "jane@example.com", "positive", ["vip", "enterprise"]),
        ("Carlos Diaz", "carlos@example.com", "neutral", []),
        ("Priya Patel", "priya@example.com", "negative", ["trial"]),
    ],
    "tickets": [
        (
            "Cannot log in to my account",
            "open",
            "high",
            0,
            ["login", "authentication"],
            [
                ("customer", "Jane Smith", 'I keep getting "invalid credentials" when I try to log in.'),
                ("agent", "Bob (Support)", "I'll look into this for you right away."),
            ],
        ),
        (
            "Invoice shows the wrong amount",
            "new",
            "normal",
            1,
            ["billing"],
            [("customer", "Carlos Diaz", "My March invoice charges for 5 seats but we only have 3.")],
        ),
        (
            "CSV export times out",
            "pending",
            "urgent",
            2,
            ["export", "bug"],
            [
                ("customer", "Priya Patel", "Exporting all tickets to CSV spins forever and then fails."),
                ("agent", "Bob (Support)", "Thanks, we reproduced it and engineering is on it."),
            ],
        ),
        (
            "How do I change my email address?",
            "resolved",
            "low",
            0,
            ["account"],
            [
                ("customer", "Jane Smith", "I need to move my login to a new email address."),
                ("agent", "Bob (Support)", "Settings → Profile → Email; I've sent you the steps."),
            ],
        ),
    ],
    "articles": [
        (
            "How to reset your password",
            '# Password Reset\n\n1. Go to the login page\n2. Click "Forgot Password"\n3. Follow the email.',
            "Account",
            "published",
            True,
            ["password", "account", "security"],
            342,
        ),
        (
            "Understanding your invoice",
            "# Your invoice\n\nSeats are billed monthly at the flat per-seat price.",
            "Billing",
            "published",
            True,
            ["billing", "invoice"],
            128,
        ),
        (
            "Escalation playbook",
            "# Escalations\n\nUrgent tickets older than 2 hours go to the on-call lead.",
            "Internal",
            "draft",
            False,
            ["process"],
            12,
        ),
    ],
}

_LIVE: dict[str, list[Any]] = {
    "customers": [
        ("Morgan Lee", "morgan@example.org", "neutral", ["enterprise"]),
        ("Sam Okafor", "sam@example.org", "positive", []),
    ],
    "tickets": [
        (
            "Password reset email never arrives",
            "open",
            "high",
            0,
            ["login", "email"],
            [("customer", "Morgan Lee", "I requested a reset three times and got nothing.")],
        ),
        (
            "Feature request: dark mode",
            "new",
            "low",
            1,
            ["feature-request"],
            [("customer", "Sam Okafor", "Any plans for a dark theme in the widget?")],
        ),
    ],
    "articles": [
        (
            "Getting started",
            "# Welcome\n\nInvite your team, connect your inbox, and answer your first ticket.",
            "Onboarding",
            "published",
            True,
            ["onboarding"],
            980,
        ),
        (
            "Refund policy",
            "# Refunds\n\nWe refund unused seats on request within 30 days.",
            "Billing",
            "published",
            True,
            ["billing", "refunds"],
            211,
        ),
    ],
}


def _sample_data(tables: SeedTables, scope: Scope, data: dict[str, list[Any]]) -> None:
    # Spread creation times over the past days so lists and "newest first" look real.
    start = datetime.now(timezone.utc) - timedelta(days=7)

    def at(step: int) -> str:
        return (start + timedelta(hours=5 * step)).isoformat(timespec="milliseconds").replace("+00:00", "Z")

    step = 0
    customer_ids = []
    for name, email, sentiment, tags in data["customers"]:
        step += 1
        customer_ids.append(
            tables.customers.insert(
                scope, {"name": name, "email": email, "sentiment": sentiment, "tags": tags}, created_at=at(step)
            )
        )
    for title, status, priority, who, tags, messages in data["tickets"]:
        step += 1
        ticket = {
            "title": title,
            "status": status,
            "priority": priority,
            "customer_id": customer_ids[who],
            "tags": tags,
        }
        tid = tables.tickets.insert(scope, ticket, created_at=at(step))
        for sender, sender_name, content in messages:
            step += 1
            message = {"ticket_id": tid, "content": content, "sender": sender, "sender_name": sender_name}
            tables.messages.insert(scope, message, created_at=at(step))
            tables.tickets.touch(tid, at(step))
    for title, content, category, status, is_public, tags, views in data["articles"]:
        step += 1
        article = {
            "title": title,
            "content": content,
            "category": category,
            "status": status,
            "is_public": is_public,
            "tags": tags,
            "view_count": views,
            "use_count": views // 12,
        }
        tables.articles.insert(scope, article, created_at=at(step))
