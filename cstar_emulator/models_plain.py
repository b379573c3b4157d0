"""Rows → API objects for the plain resources: customer groups, categories, community, members,
invites, notifications, custom fields, SLA rules, saved views (reference: each section's "object").

Each resource is a :class:`Spec`: its fields in the reference's order, each naming the API field, the
column holding it and how the column is stored. The one mapping (:meth:`Spec.resource`), the
repositories' defaults and the services' change detection all come from it, so a field is declared
once.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from cstar_emulator.db import loads_list, loads_obj
from cstar_emulator.models import PRIORITIES, TICKET_STATUSES, Resource

__all__ = [
    "CATEGORY",
    "COMMENT",
    "COMMUNITY_POST",
    "COMMUNITY_TOPIC",
    "CUSTOMER_GROUP",
    "CUSTOM_FIELD",
    "CUSTOM_FIELD_TYPES",
    "ENTITY_TYPES",
    "INVITE",
    "MEMBER",
    "NOTIFICATION",
    "PERMISSIONS",
    "POST_STATUSES",
    "POST_VISIBILITIES",
    "ROLES",
    "ROLE_PERMISSIONS",
    "ROLE_TITLES",
    "SAVED_VIEW",
    "SLA_RULE",
    "VIEW_ENTITY_TYPES",
    "Field",
    "Spec",
]

Kind = Literal["text", "int", "bool", "object", "list"]

ROLES = ("owner", "admin", "manager", "librarian", "agent", "spectator")
#: The game title shown for each role (``roleDisplayName``).
ROLE_TITLES = {
    "owner": "The Founder",
    "admin": "The Sage",
    "manager": "The Captain",
    "librarian": "The Librarian",
    "agent": "The Hero",
    "spectator": "The Spectator",
}
#: Every permission key; an emulator secret key holds all of them.
PERMISSIONS = (
    "manage_settings",
    "manage_members",
    "manage_billing",
    "manage_tickets",
    "manage_customers",
    "manage_articles",
    "manage_community",
    "view_analytics",
)
ROLE_PERMISSIONS: dict[str, tuple[str, ...]] = {
    "owner": PERMISSIONS,
    "admin": tuple(p for p in PERMISSIONS if p != "manage_billing"),
    "manager": ("manage_members", "manage_tickets", "manage_customers", "manage_articles", "view_analytics"),
    "librarian": ("manage_articles", "manage_community"),
    "agent": ("manage_tickets", "manage_customers"),
    "spectator": (),
}
POST_STATUSES = ("open", "answered", "officially_answered", "planned", "not_planned", "completed", "under_review")
POST_VISIBILITIES = ("public", "members_only")
CUSTOM_FIELD_TYPES = ("text", "number", "select", "multiselect", "date", "boolean")
ENTITY_TYPES = ("tickets", "customers")
VIEW_ENTITY_TYPES = ("tickets", "customers", "articles", "community_posts")
#: What a saved tickets view may filter on (``filters`` keys) and sort by (``sortField``).
TICKET_VIEW_FILTERS = ("status", "priority", "assignedTo", "customerId", "tags", "search")
TICKET_VIEW_SORTS = ("createdAt", "updatedAt", "title", "status", "priority")
#: Ticket statuses and priorities, for the settings' status list and SLA rules.
STATUSES = TICKET_STATUSES
SLA_PRIORITIES = PRIORITIES


@dataclass(frozen=True)
class Field:
    """One field of an API object: its ``api`` name, the ``column`` holding it (default: the API
    name in snake_case), how the column stores it (``kind``: booleans as 0/1, objects and lists as
    JSON text), the ``default`` of a new row and whether it may be null (``nullable``)."""

    api: str
    kind: Kind = "text"
    column: str = ""
    default: Any = None
    nullable: bool = False

    @property
    def col(self) -> str:
        return self.column or _snake(self.api)

    def to_api(self, value: Any) -> Any:
        """The column's ``value`` as the API shows it."""
        if self.kind == "bool":
            return bool(value)
        if self.kind == "object":
            return loads_obj(value)
        if self.kind == "list":
            return loads_list(value)
        return value


def _snake(name: str) -> str:
    return "".join("_" + c.lower() if c.isupper() else c for c in name)


@dataclass(frozen=True)
class Spec:
    """An API object: its ``object`` name (the reference's ``"object"`` field, None when it shows
    none), its stored ``fields`` and ``computed`` ones (API name → column of the table's select)."""

    object: str | None
    fields: tuple[Field, ...]
    computed: Mapping[str, str] = field(default_factory=dict)

    def by_api(self, name: str) -> Field:
        """The field called ``name`` in API objects and bodies; KeyError when there is none."""
        for f in self.fields:
            if f.api == name:
                return f
        raise KeyError(name)

    def defaults(self) -> dict[str, Any]:
        """Column → value of a new row, for every field without a generated value."""
        generated = {"id", "created_at", "updated_at"}
        return {f.col: f.default for f in self.fields if f.col not in generated}

    def resource(self, row: sqlite3.Row) -> Resource:
        """The API object of one row (``object`` first, as the reference shows it)."""
        obj: Resource = {"id": row["id"]}
        if self.object is not None:
            obj["object"] = self.object
        for f in self.fields:
            if f.api != "id":
                obj[f.api] = f.to_api(row[f.col])
        for name, column in self.computed.items():
            obj[name] = row[column]
        return obj


def _f(api: str, kind: Kind = "text", default: Any = None, *, column: str = "", nullable: bool = False) -> Field:
    return Field(api, kind, column, default, nullable)


_ID = _f("id")
_CREATED = _f("createdAt", column="created_at")
_UPDATED = _f("updatedAt", column="updated_at")

CUSTOMER_GROUP = Spec(
    "customer_group",
    (
        _ID,
        _f("name"),
        _f("slug"),
        _f("description", nullable=True),
        _f("externalId", nullable=True),
        _f("customFields", "object", {}),
        _CREATED,
        _UPDATED,
    ),
    {"customerCount": "customer_count"},
)
CATEGORY = Spec(
    "category",
    (
        _ID,
        _f("name"),
        _f("slug"),
        _f("description", nullable=True),
        _f("icon", nullable=True),
        _f("color", nullable=True),
        _f("sortOrder", "int", 0),
        _f("isPublic", "bool", False),
        _CREATED,
        _UPDATED,
    ),
)
#: Community posts are snake_case in the reference. ``custom_fields`` is stored but, as the
#: reference says, not returned by the API.
COMMUNITY_POST = Spec(
    None,
    (
        _ID,
        _f("title"),
        _f("slug"),
        _f("body", default=""),
        _f("topic_id"),
        _f("status", default="open"),
        _f("visibility", default="public"),
        _f("is_pinned", "bool", False),
        _f("is_locked", "bool", False),
        _f("attachments", "list", []),
        _f("created_at"),
    ),
    {"vote_count": "vote_count", "comment_count": "comment_count"},
)
COMMUNITY_TOPIC = Spec(
    None,
    (_ID, _f("name"), _f("slug"), _f("description", nullable=True), _f("customFieldConfig", "list", [])),
    {"postCount": "post_count"},
)
COMMENT = Spec(None, (_ID, _f("post_id"), _f("body"), _f("author_name", nullable=True), _f("created_at")))
MEMBER = Spec(
    None,
    (
        _ID,
        _f("userId"),
        _f("name"),
        _f("email"),
        _f("avatarUrl", nullable=True),
        _f("role", default="agent"),
        _f("level", "int", 1),
        _f("xp", "int", 0),
        _f("joinedAt", column="created_at"),
    ),
)
INVITE = Spec(None, (_ID, _f("email"), _f("role", default="agent"), _f("status", default="pending"), _CREATED))
NOTIFICATION = Spec(None, (_ID, _f("type"), _f("title"), _f("body", default=""), _f("read", "bool", False), _CREATED))
CUSTOM_FIELD = Spec(
    None,
    (
        _ID,
        _f("name"),
        _f("key"),
        _f("type"),
        _f("entityType"),
        _f("required", "bool", False),
        _f("options", "list", []),
        _f("position", "int", 0),
    ),
)
SLA_RULE = Spec(
    None,
    (
        _ID,
        _f("name"),
        _f("priority"),
        _f("responseTarget", "int"),
        _f("resolutionTarget", "int"),
        _f("businessHoursOnly", "bool", False),
        _f("enabled", "bool", True),
    ),
)
SAVED_VIEW = Spec(
    None,
    (
        _ID,
        _f("name"),
        _f("entityType"),
        _f("filters", "object", {}),
        _f("sortField", default="createdAt"),
        _f("sortDirection", default="desc"),
        _f("visibility", default="private"),
    ),
)


def member(row: sqlite3.Row) -> Resource:
    """A member row as the reference's Members object (``roleDisplayName`` and ``permissions`` follow
    from the role)."""
    obj = MEMBER.resource(row)
    role = obj["role"]
    # The reference's order: role, then its title and permissions, then the game stats.
    return {
        **{k: obj[k] for k in ("id", "userId", "name", "email", "avatarUrl", "role")},
        "roleDisplayName": ROLE_TITLES[role],
        "permissions": list(ROLE_PERMISSIONS[role]),
        **{k: obj[k] for k in ("level", "xp", "joinedAt")},
    }
