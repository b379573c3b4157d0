"""First-use data of the plain resources, per team and partition: the team's three members, community
topics and a post, article categories, a customer group, notifications, an SLA rule and a custom
field. Written once per partition (when it has no members yet), so a database made before these
resources existed gets them on its next start; the content is the same every time."""

from __future__ import annotations

from cstar_emulator.db import Database, Scope
from cstar_emulator.repositories import plain as repo

__all__ = ["seed_plain"]

_MEMBERS = (
    {
        "user_id": "usr_alex",
        "name": "Alex Rivera",
        "email": "alex@acme.example",
        "role": "owner",
        "level": 14,
        "xp": 6120,
    },
    {"user_id": "usr_sam", "name": "Sam Chen", "email": "sam@acme.example", "role": "admin", "level": 9, "xp": 3075},
    {
        "user_id": "usr_jordan",
        "name": "Jordan Lee",
        "email": "jordan@acme.example",
        "role": "agent",
        "level": 12,
        "xp": 4850,
    },
)
_TOPICS = (
    {"name": "General", "slug": "general", "description": "Questions and discussion", "custom_field_config": []},
    {
        "name": "Feature Requests",
        "slug": "feature-requests",
        "description": "Ideas for the product",
        "custom_field_config": [],
    },
    {
        "name": "Videos",
        "slug": "videos",
        "description": "Tutorials made by the community",
        "custom_field_config": [{"fieldId": "video_url", "required": True}],
    },
)
_CATEGORIES = (
    {
        "name": "Getting Started",
        "slug": "getting-started",
        "description": "Beginner guides and onboarding",
        "sort_order": 0,
        "is_public": True,
    },
    {
        "name": "Billing",
        "slug": "billing",
        "description": "Plans, invoices and payments",
        "sort_order": 1,
        "is_public": True,
    },
    {
        "name": "Internal",
        "slug": "internal",
        "description": "Notes for the team only",
        "sort_order": 2,
        "is_public": False,
    },
)
_NOTIFICATIONS = (
    {"type": "ticket_assigned", "title": "Ticket assigned", "body": "A ticket was assigned to you.", "read": False},
    {"type": "mention", "title": "You were mentioned", "body": "Sam mentioned you in an internal note.", "read": True},
)


def seed_plain(db: Database, team_id: str) -> None:
    """Seed both partitions of ``team_id`` that have no members yet."""
    members, topics, posts = repo.Members(db), repo.CommunityTopics(db), repo.CommunityPosts(db)
    with db.transaction():
        for mode in ("test", "live"):
            scope = Scope(team_id, mode)
            if members.count(scope):
                continue
            for m in _MEMBERS:
                members.insert(scope, m)
            topic_ids = [topics.insert(scope, t) for t in _TOPICS]
            posts.insert(
                scope,
                {
                    "topic_id": topic_ids[1],
                    "title": "Add dark mode",
                    "slug": "add-dark-mode",
                    "body": "The dashboard is bright at night; a dark theme would help.",
                    "status": "planned",
                },
            )
            categories = repo.Categories(db)
            for c in _CATEGORIES:
                categories.insert(scope, c)
            repo.CustomerGroups(db).insert(
                scope, {"name": "VIP", "slug": "vip", "description": "Customers with priority support"}
            )
            notifications = repo.Notifications(db)
            for n in _NOTIFICATIONS:
                notifications.insert(scope, n)
            repo.SlaRules(db).insert(
                scope, {"name": "Urgent SLA", "priority": "urgent", "response_target": 15, "resolution_target": 120}
            )
            repo.CustomFields(db).insert(
                scope,
                {
                    "name": "Priority Level",
                    "key": "priority_level",
                    "type": "select",
                    "entity_type": "tickets",
                    "options": ["P0", "P1", "P2"],
                },
            )
