"""The plain resources' tables: customer groups (and who is in them), categories, community topics,
posts, comments and votes, members, invites, notifications, custom fields, SLA rules, tags, saved
views and team settings. Each partitioned table is a :class:`PlainTable` built from its
:class:`~cstar_emulator.models_plain.Spec`; only what a resource does beyond get/page/insert/update/
delete is written out here."""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Sequence
from typing import Any, ClassVar

from cstar_emulator import models, models_plain
from cstar_emulator.db import Database, Scope, dumps, loads_obj
from cstar_emulator.ids import iso_now
from cstar_emulator.models import Resource
from cstar_emulator.models_plain import Spec
from cstar_emulator.repositories.table import ScopedTable

__all__ = [
    "Categories",
    "CommunityComments",
    "CommunityPosts",
    "CommunityTopics",
    "CommunityVotes",
    "CustomFields",
    "CustomerGroups",
    "GroupMemberships",
    "Invites",
    "Members",
    "Notifications",
    "PlainTable",
    "SavedViews",
    "SlaRules",
    "Tags",
    "TeamSettings",
    "boss_battles_enabled",
]


class PlainTable(ScopedTable):
    """A partitioned table whose rows map to API objects by :attr:`spec`. Lists are ordered by
    :attr:`order` (SQL over the alias; newest first by default) unless a caller names another."""

    spec: ClassVar[Spec]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "spec" in cls.__dict__ and "defaults" not in cls.__dict__:
            cls.defaults = cls.spec.defaults()

    def resource(self, row: sqlite3.Row) -> Resource:
        return self.spec.resource(row)

    def new_id(self) -> str:
        """As :meth:`ScopedTable.new_id`; a table without an :attr:`id_prefix` gets UUIDs, as the
        reference shows for its objects."""
        return super().new_id() if self.id_prefix else str(uuid.uuid4())

    def all_of(self, scope: Scope) -> list[Resource]:
        """Every object of ``scope``, in :attr:`order`."""
        a = self.alias
        rows = self.db.all(
            f"{self.select} WHERE {a}.team_id = ? AND {a}.mode = ? ORDER BY {self.order or f'{a}.rowid DESC'}", *scope
        )
        return [self.resource(r) for r in rows]

    def slug_taken(self, scope: Scope, slug: str, except_id: str | None = None) -> bool:
        """Whether another row of ``scope`` has ``slug`` (for tables with a ``slug`` column)."""
        row = self.db.one(
            f"SELECT 1 FROM {self.table} WHERE team_id = ? AND mode = ? AND slug = ? AND id IS NOT ?",
            *scope,
            slug,
            except_id,
        )
        return row is not None


class CustomerGroups(PlainTable):
    """Customer groups, each with its ``customerCount`` (existing customers only); searched by name."""

    table = "customer_groups"
    alias = "g"
    spec = models_plain.CUSTOMER_GROUP
    id_prefix = ""
    select = (
        "SELECT g.*, (SELECT COUNT(*) FROM customer_group_members m JOIN customers c ON c.id = m.customer_id "
        "WHERE m.group_id = g.id) AS customer_count FROM customer_groups g"
    )
    searched = ("g.name {like}",)


class GroupMemberships:
    """Which customers are in which group (``customer_group_members``)."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def add(self, scope: Scope, group_id: str, customer_ids: Sequence[str]) -> int:
        """Add the customers not yet in the group; returns how many were added."""
        now = iso_now()
        added = 0
        for cid in customer_ids:
            cur = self.db.run(
                "INSERT OR IGNORE INTO customer_group_members (team_id, mode, group_id, customer_id, joined_at) "
                "VALUES (?, ?, ?, ?, ?)",
                *scope,
                group_id,
                cid,
                now,
            )
            added += cur.rowcount
        return added

    def remove(self, group_id: str, customer_id: str) -> bool:
        """Take one customer out of the group; False when it was not in it."""
        cur = self.db.run(
            "DELETE FROM customer_group_members WHERE group_id = ? AND customer_id = ?", group_id, customer_id
        )
        return cur.rowcount > 0

    def clear(self, group_id: str) -> None:
        """Empty the group (its customers stay)."""
        self.db.run("DELETE FROM customer_group_members WHERE group_id = ?", group_id)

    def page(self, scope: Scope, group_id: str, page: int, page_size: int) -> tuple[list[Resource], int]:
        """The group's customers (oldest member first), each a Customers object plus ``object:
        "customer"`` and ``joinedGroupAt``, and how many there are."""
        base = (
            "FROM customer_group_members m JOIN customers c ON c.id = m.customer_id "
            "WHERE m.group_id = ? AND m.team_id = ? AND m.mode = ?"
        )
        total = int(self.db.scalar(f"SELECT COUNT(*) {base}", group_id, *scope))
        rows = self.db.all(
            "SELECT c.*, m.joined_at, (SELECT COUNT(*) FROM tickets t WHERE t.customer_id = c.id) AS ticket_count "
            f"{base} ORDER BY m.rowid LIMIT ? OFFSET ?",
            group_id,
            *scope,
            page_size,
            (page - 1) * page_size,
        )
        return [{"object": "customer", **models.customer(r), "joinedGroupAt": r["joined_at"]} for r in rows], total

    def existing_customers(self, scope: Scope, customer_ids: Sequence[str]) -> set[str]:
        """Which of ``customer_ids`` are customers of ``scope``."""
        if not customer_ids:
            return set()
        marks = ", ".join("?" * len(customer_ids))
        rows = self.db.all(
            f"SELECT id FROM customers WHERE team_id = ? AND mode = ? AND id IN ({marks})", *scope, *customer_ids
        )
        return {r["id"] for r in rows}


class Categories(PlainTable):
    """Article categories, by sort order then name."""

    table = "categories"
    alias = "c"
    spec = models_plain.CATEGORY
    id_prefix = ""
    select = "SELECT c.* FROM categories c"
    order = "c.sort_order, c.name COLLATE NOCASE, c.rowid"

    def uncategorize(self, scope: Scope, names: Sequence[str]) -> int:
        """Clear ``category`` on the articles of ``scope`` filed under any of ``names`` (a category's
        name or slug); returns how many were changed."""
        marks = ", ".join("?" * len(names))
        cur = self.db.run(
            f"UPDATE articles SET category = NULL, updated_at = ? WHERE team_id = ? AND mode = ? "
            f"AND category COLLATE NOCASE IN ({marks})",
            iso_now(),
            *scope,
            *names,
        )
        return cur.rowcount


class CommunityTopics(PlainTable):
    """Community topics, each with its ``postCount``, oldest first."""

    table = "community_topics"
    alias = "t"
    spec = models_plain.COMMUNITY_TOPIC
    id_prefix = ""
    select = (
        "SELECT t.*, (SELECT COUNT(*) FROM community_posts p WHERE p.topic_id = t.id) AS post_count "
        "FROM community_topics t"
    )
    order = "t.rowid"

    def id_by_slug(self, scope: Scope, slug: str) -> str | None:
        """The id of the topic of ``scope`` with ``slug``, or None."""
        row = self.db.one("SELECT id FROM community_topics WHERE team_id = ? AND mode = ? AND slug = ?", *scope, slug)
        return None if row is None else str(row["id"])


class CommunityPosts(PlainTable):
    """Community posts with their ``vote_count`` and ``comment_count``; pinned ones first."""

    table = "community_posts"
    alias = "p"
    spec = models_plain.COMMUNITY_POST
    id_prefix = ""
    select = (
        "SELECT p.*, (SELECT COUNT(*) FROM community_votes v WHERE v.post_id = p.id) AS vote_count, "
        "(SELECT COUNT(*) FROM community_comments c WHERE c.post_id = p.id) AS comment_count "
        "FROM community_posts p"
    )
    defaults = {**models_plain.COMMUNITY_POST.defaults(), "custom_fields": {}}
    #: ``sort`` query value → ORDER BY (after pinned posts).
    SORTS: ClassVar[dict[str, str]] = {
        "recent": "p.is_pinned DESC, p.rowid DESC",
        "votes": "p.is_pinned DESC, vote_count DESC, p.rowid DESC",
        "comments": "p.is_pinned DESC, comment_count DESC, p.rowid DESC",
    }
    order = SORTS["recent"]

    def custom_fields(self, scope: Scope, post_id: str) -> dict[str, Any]:
        """The post's stored custom field values (not part of its API object)."""
        value = self.db.scalar(
            "SELECT custom_fields FROM community_posts WHERE id = ? AND team_id = ? AND mode = ?", post_id, *scope
        )
        return loads_obj(value)

    def delete_children(self, post_id: str) -> None:
        """Delete the post's comments and votes."""
        self.db.run("DELETE FROM community_comments WHERE post_id = ?", post_id)
        self.db.run("DELETE FROM community_votes WHERE post_id = ?", post_id)


class CommunityComments(PlainTable):
    """Comments on community posts, oldest first."""

    table = "community_comments"
    alias = "c"
    spec = models_plain.COMMENT
    id_prefix = ""
    select = "SELECT c.* FROM community_comments c"
    order = "c.rowid"
    updatable = False


class CommunityVotes:
    """One upvote per voter per post (``community_votes``)."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def add(self, scope: Scope, vote_id: str, post_id: str, voter: str) -> bool:
        """Record ``voter``'s vote; False when they had voted on that post already."""
        cur = self.db.run(
            "INSERT OR IGNORE INTO community_votes (id, team_id, mode, post_id, voter, created_at) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            vote_id,
            *scope,
            post_id,
            voter,
            iso_now(),
        )
        return cur.rowcount > 0


class Members(PlainTable):
    """Team members (agents and admins), oldest first."""

    table = "members"
    alias = "m"
    spec = models_plain.MEMBER
    id_prefix = "mem_"
    id_hex = 24
    select = "SELECT m.* FROM members m"
    order = "m.rowid"

    def resource(self, row: sqlite3.Row) -> Resource:
        return models_plain.member(row)

    def boring_mode(self, scope: Scope, member_id: str) -> bool | None:
        """The member's boring-mode switch, or None when ``scope`` has no such member."""
        value = self.db.scalar(
            "SELECT boring_mode FROM members WHERE id = ? AND team_id = ? AND mode = ?", member_id, *scope
        )
        return None if value is None else bool(value)

    def count(self, scope: Scope) -> int:
        """How many members ``scope`` has."""
        return int(self.db.scalar("SELECT COUNT(*) FROM members WHERE team_id = ? AND mode = ?", *scope))

    def email_taken(self, scope: Scope, email: str) -> bool:
        """Whether a member of ``scope`` has ``email`` (any case)."""
        row = self.db.one(
            "SELECT 1 FROM members WHERE team_id = ? AND mode = ? AND email = ? COLLATE NOCASE", *scope, email
        )
        return row is not None


class Invites(PlainTable):
    """Team invitations, newest first."""

    table = "invites"
    alias = "i"
    spec = models_plain.INVITE
    id_prefix = "inv_"
    id_hex = 24
    select = "SELECT i.* FROM invites i"
    updatable = False

    def pending_for(self, scope: Scope, email: str) -> bool:
        """Whether ``email`` (any case) has a pending invite in ``scope``."""
        row = self.db.one(
            "SELECT 1 FROM invites WHERE team_id = ? AND mode = ? AND status = 'pending' AND email = ? COLLATE NOCASE",
            *scope,
            email,
        )
        return row is not None


class Notifications(PlainTable):
    """In-app notifications, newest first."""

    table = "notifications"
    alias = "n"
    spec = models_plain.NOTIFICATION
    id_prefix = "ntf_"
    id_hex = 24
    select = "SELECT n.* FROM notifications n"
    updatable = False

    def unread(self, scope: Scope) -> int:
        """How many notifications of ``scope`` are unread."""
        return int(
            self.db.scalar("SELECT COUNT(*) FROM notifications WHERE team_id = ? AND mode = ? AND read = 0", *scope)
        )

    def mark_all_read(self, scope: Scope) -> int:
        """Mark every unread notification of ``scope`` read; returns how many changed."""
        return self.db.run(
            "UPDATE notifications SET read = 1 WHERE team_id = ? AND mode = ? AND read = 0", *scope
        ).rowcount


class CustomFields(PlainTable):
    """Custom field definitions, by entity type and position."""

    table = "custom_fields"
    alias = "f"
    spec = models_plain.CUSTOM_FIELD
    id_prefix = "cf_"
    id_hex = 24
    select = "SELECT f.* FROM custom_fields f"
    order = "f.entity_type, f.position, f.rowid"

    def next_position(self, scope: Scope, entity_type: str) -> int:
        """The position after the last field of ``entity_type`` (0 for the first)."""
        top = self.db.scalar(
            "SELECT MAX(position) FROM custom_fields WHERE team_id = ? AND mode = ? AND entity_type = ?",
            *scope,
            entity_type,
        )
        return 0 if top is None else int(top) + 1

    def key_taken(self, scope: Scope, entity_type: str, key: str) -> bool:
        """Whether ``entity_type`` already has a field ``key`` in ``scope``."""
        row = self.db.one(
            "SELECT 1 FROM custom_fields WHERE team_id = ? AND mode = ? AND entity_type = ? AND key = ?",
            *scope,
            entity_type,
            key,
        )
        return row is not None


class SlaRules(PlainTable):
    """SLA rules, oldest first."""

    table = "sla_rules"
    alias = "s"
    spec = models_plain.SLA_RULE
    id_prefix = "sla_"
    id_hex = 24
    select = "SELECT s.* FROM sla_rules s"
    order = "s.rowid"


class SavedViews(PlainTable):
    """Saved views, oldest first."""

    table = "saved_views"
    alias = "v"
    spec = models_plain.SAVED_VIEW
    id_prefix = "view_"
    id_hex = 24
    select = "SELECT v.* FROM saved_views v"
    order = "v.rowid"


class Tags:
    """Tags: the ones created explicitly plus every tag some ticket carries, with ticket counts."""

    def __init__(self, db: Database) -> None:
        self.db = db

    _COUNTS = (
        "SELECT name, SUM(n) AS count FROM ("
        " SELECT j.value AS name, 1 AS n FROM tickets t, json_each(t.tags) j WHERE t.team_id = ? AND t.mode = ?"
        " UNION ALL SELECT name, 0 FROM tags WHERE team_id = ? AND mode = ?"
        ") GROUP BY name"
    )

    def page(self, scope: Scope, page: int, page_size: int) -> tuple[list[Resource], int]:
        """Tags by ticket count (most used first), then name, and how many there are."""
        total = int(self.db.scalar(f"SELECT COUNT(*) FROM ({self._COUNTS})", *scope, *scope))
        rows = self.db.all(
            f"{self._COUNTS} ORDER BY count DESC, name LIMIT ? OFFSET ?",
            *scope,
            *scope,
            page_size,
            (page - 1) * page_size,
        )
        return [{"object": "tag", "name": r["name"], "count": r["count"]} for r in rows], total

    def get(self, scope: Scope, name: str) -> Resource | None:
        """The tag ``name`` with its count, or None when neither created nor used."""
        row = self.db.one(f"SELECT * FROM ({self._COUNTS}) WHERE name = ?", *scope, *scope, name)
        return None if row is None else {"object": "tag", "name": row["name"], "count": row["count"]}

    def insert(self, scope: Scope, name: str) -> None:
        """Create the tag ``name``. Raises ``sqlite3.IntegrityError`` when it was created before."""
        self.db.run("INSERT INTO tags (team_id, mode, name, created_at) VALUES (?, ?, ?, ?)", *scope, name, iso_now())


class TeamSettings:
    """One settings row per team and mode: name, slug, the Boss Battles switch, business hours and
    widget settings (created from the team's row on first use)."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def row(self, scope: Scope) -> sqlite3.Row:
        """The settings of ``scope``, created with the defaults when missing."""
        row = self.db.one("SELECT * FROM team_settings WHERE team_id = ? AND mode = ?", *scope)
        if row is None:
            team = self.db.one("SELECT name, slug FROM teams WHERE id = ?", scope.team_id)
            name, slug = (team["name"], team["slug"]) if team is not None else ("cStar team", "team")
            self.db.run(
                "INSERT OR IGNORE INTO team_settings (team_id, mode, team_name, team_slug, boss_battles_enabled, "
                "business_hours, widget) VALUES (?, ?, ?, ?, 1, ?, ?)",
                *scope,
                name,
                slug,
                dumps(_BUSINESS_HOURS),
                dumps(_WIDGET),
            )
            row = self.db.one("SELECT * FROM team_settings WHERE team_id = ? AND mode = ?", *scope)
        assert row is not None
        return row

    def update(self, scope: Scope, **columns: Any) -> None:
        """Set ``columns`` (name → value; dicts stored as JSON) on the settings of ``scope``."""
        self.row(scope)
        assignments = ", ".join(f"{col} = ?" for col in columns)
        values = [dumps(v) if isinstance(v, dict) else v for v in columns.values()]
        self.db.run(f"UPDATE team_settings SET {assignments} WHERE team_id = ? AND mode = ?", *values, *scope)

    def boss_battles_enabled(self, scope: Scope) -> bool:
        """Whether Boss Battles are on for ``scope`` (the default: on)."""
        value = self.db.scalar("SELECT boss_battles_enabled FROM team_settings WHERE team_id = ? AND mode = ?", *scope)
        return True if value is None else bool(value)


def boss_battles_enabled(db: Database, scope: Scope) -> bool:
    """Whether Boss Battles are on for ``scope`` (``PATCH /settings/feature-flags`` or
    ``/preferences`` flips it; default on): what the game reads."""
    return TeamSettings(db).boss_battles_enabled(scope)


_DAY = {"enabled": True, "start": "09:00", "end": "17:00"}
_OFF = {"enabled": False, "start": "09:00", "end": "17:00"}
_BUSINESS_HOURS = {
    "enabled": True,
    "timezone": "UTC",
    "schedule": {
        **{d: _DAY for d in ("monday", "tuesday", "wednesday", "thursday", "friday")},
        "saturday": _OFF,
        "sunday": _OFF,
    },
}
_WIDGET = {
    "position": "bottom-right",
    "primaryColor": "#F87171",
    "greeting": "Hi! How can we help?",
    "showOnMobile": True,
}
