"""What the plain resources' endpoints do (reference: "Customer Groups", "Categories", "Community",
"Members", "Settings", "Notifications", "Custom Fields", "SLA Rules", "Tags", "Saved Views",
"Billing"), one partition per call.

:class:`Collection` is the shared create/get/list/update/delete of a :class:`PlainTable`, with its
events when the resource has any; the classes below add each resource's own rules.

Events (data keyed by the event's resource name): ``customer_group.created``/``updated``/``deleted``
``{"customer_group"}`` (adding or removing customers is an update); ``community_post.created``,
``updated`` (then ``status_changed`` with ``previous_status`` when the status changed), ``deleted``
``{"community_post"}``, ``commented`` (+ ``"comment"``), ``voted`` (+ ``"vote"``);
``agent.preferences_updated`` ``{"agent", "preferences"}``; ``team.preferences_updated``
``{"team", "preferences"}``. Nothing is written or fired when an update changes nothing.
"""

from __future__ import annotations

import re
import sqlite3
import unicodedata
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from typing import Any

from cstar_emulator import models, models_plain
from cstar_emulator.db import Database, Scope, loads_obj
from cstar_emulator.envelope import ApiError
from cstar_emulator.ids import new_id
from cstar_emulator.models import Resource
from cstar_emulator.repositories import plain as repo
from cstar_emulator.repositories.table import ListQuery, like
from cstar_emulator.repositories.tickets import Tickets
from cstar_emulator.services._common import found
from cstar_emulator.services.events import EventBus

__all__ = [
    "BillingService",
    "CategoryService",
    "Collection",
    "CommunityService",
    "CustomFieldService",
    "CustomerGroupService",
    "MemberService",
    "PlainServices",
    "SettingsService",
    "SlaRuleService",
    "TagService",
    "ViewService",
    "slugify",
]

_SLUG_RE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
_KEY_RE = re.compile(r"^[a-z][a-z0-9_]*$")
_EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def slugify(text: str, fallback: str = "item") -> str:
    """``text`` as a URL slug: ASCII lower case, runs of anything else as one ``-`` (``fallback``
    when nothing is left), at most 80 characters."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")[:80].strip("-")
    return slug or fallback


class Collection:
    """Create, read, list, update and delete one :class:`~repo.PlainTable`'s objects; ``what``
    names the resource in errors, ``event`` (e.g. ``customer_group``) prefixes its events."""

    def __init__(self, db: Database, table: repo.PlainTable, bus: EventBus, what: str, event: str | None = None):
        self.db = db
        self.table = table
        self.bus = bus
        self.what = what
        self.event = event

    def columns(self, body: Mapping[str, Any]) -> dict[str, Any]:
        """A checked body (API name → value) as columns; 400 for a null where the field is not
        nullable."""
        out: dict[str, Any] = {}
        for name, value in body.items():
            f = self.table.spec.by_api(name)
            if value is None and not f.nullable:
                raise ApiError.invalid(name, f"{name} cannot be null.")
            out[f.col] = value
        return out

    def get(self, scope: Scope, row_id: str) -> Resource:
        """The object; 404 when ``scope`` has none."""
        return found(self.table, scope, row_id, self.what)

    def page(
        self, scope: Scope, query: ListQuery, page: int, size: int, order: str | None = None
    ) -> tuple[list[Resource], int]:
        """A page of objects matching ``query`` and the total."""
        return self.table.page(scope, query, page, size, order=order)

    def create(self, scope: Scope, request_id: str | None, fields: Mapping[str, Any]) -> Resource:
        """Insert a row of ``fields`` (columns) and fire ``<event>.created``."""
        with self.db.transaction():
            obj = self.get(scope, self.table.insert(scope, fields))
            self._emit(scope, "created", obj, request_id)
        return obj

    def update(
        self, scope: Scope, row_id: str, request_id: str | None, fields: Mapping[str, Any]
    ) -> tuple[Resource, dict[str, Any]]:
        """Apply ``fields`` (columns) and fire ``<event>.updated``; returns the object and the
        columns that changed (nothing is written when none did)."""
        with self.db.transaction():
            before = self.get(scope, row_id)
            diff = self.diff(before, fields)
            if not diff:
                return before, {}
            self.table.update(scope, row_id, diff)
            obj = self.get(scope, row_id)
            self._emit(scope, "updated", obj, request_id)
        return obj, diff

    def delete(self, scope: Scope, row_id: str, request_id: str | None) -> Resource:
        """Delete the object, fire ``<event>.deleted``; returns ``{"deleted": true, "id"}``."""
        with self.db.transaction():
            obj = self.get(scope, row_id)
            self.table.delete(scope, row_id)
            self._emit(scope, "deleted", obj, request_id)
        return {"deleted": True, "id": row_id}

    def diff(self, before: Resource, fields: Mapping[str, Any]) -> dict[str, Any]:
        """The columns of ``fields`` whose value differs from the ``before`` object's."""
        by_col = {f.col: f for f in self.table.spec.fields}
        return {c: val for c, val in fields.items() if c not in by_col or before.get(by_col[c].api) != val}

    def _emit(self, scope: Scope, action: str, obj: Resource, request_id: str | None, **extra: Any) -> None:
        if self.event is not None:
            self.bus.emit(scope, f"{self.event}.{action}", {self.event: obj, **extra}, request_id)

    def unique_slug(self, scope: Scope, base: str, except_id: str | None = None) -> str:
        """``base``, or ``base-2``, ``base-3``… the first that no other row of ``scope`` has."""
        slug, n = base, 1
        while self.table.slug_taken(scope, slug, except_id):
            n += 1
            slug = f"{base[: 80 - len(str(n)) - 1]}-{n}"
        return slug

    def checked_slug(self, scope: Scope, slug: str, except_id: str | None = None) -> str:
        """An explicit ``slug``: 400 unless lower-case words joined by ``-``, 409 ``slug_taken``
        when another row of ``scope`` has it."""
        if not _SLUG_RE.match(slug):
            raise ApiError.invalid("slug", "slug must be lower-case letters and digits joined by single hyphens.")
        if self.table.slug_taken(scope, slug, except_id):
            raise ApiError(409, "slug_taken", f"Another {self.what} already has the slug {slug!r}.")
        return slug


class CustomerGroupService(Collection):
    """Customer groups and their customers (a customer may be in many groups)."""

    def __init__(self, db: Database, table: repo.CustomerGroups, memberships: repo.GroupMemberships, bus: EventBus):
        super().__init__(db, table, bus, "customer group", "customer_group")
        self.memberships = memberships

    def create_group(self, scope: Scope, request_id: str | None, body: Mapping[str, Any]) -> Resource:
        """Create a group of a checked ``body``; the slug defaults to the name's."""
        fields = self.columns(body)
        if fields.get("slug"):
            fields["slug"] = self.checked_slug(scope, fields["slug"])
        else:
            fields["slug"] = self.unique_slug(scope, slugify(fields["name"], "group"))
        return self.create(scope, request_id, fields)

    def update_group(self, scope: Scope, group_id: str, request_id: str | None, body: Mapping[str, Any]) -> Resource:
        """Apply a checked ``body``; ``customFields`` replaces the stored object."""
        fields = self.columns(body)
        if "slug" in fields:
            fields["slug"] = self.checked_slug(scope, fields["slug"], group_id)
        return self.update(scope, group_id, request_id, fields)[0]

    def delete_group(self, scope: Scope, group_id: str, request_id: str | None) -> Resource:
        """Delete the group; its customers stay, they just leave it."""
        with self.db.transaction():
            self.memberships.clear(group_id)
            return self.delete(scope, group_id, request_id)

    def members(self, scope: Scope, group_id: str, page: int, size: int) -> tuple[list[Resource], int]:
        """The group's customers (with ``joinedGroupAt``); 404 for an unknown group."""
        self.get(scope, group_id)
        return self.memberships.page(scope, group_id, page, size)

    def add(self, scope: Scope, group_id: str, request_id: str | None, customer_ids: Sequence[str]) -> Resource:
        """Add customers (repeats and customers already in the group are skipped); 400
        ``customerIds`` naming any id ``scope`` has no customer for. Returns ``{"added", "total",
        "skipped"}``: ``total`` is how many distinct customers the request named."""
        wanted = list(dict.fromkeys(customer_ids))
        if not wanted:
            raise ApiError.invalid("customerIds", "Give customerId or a non-empty customerIds.")
        with self.db.transaction():
            self.get(scope, group_id)
            unknown = [c for c in wanted if c not in self.memberships.existing_customers(scope, wanted)]
            if unknown:
                raise ApiError.invalid("customerIds", f"No customer with id {unknown[0]!r}.")
            added = self.memberships.add(scope, group_id, wanted)
            if added:
                self._emit(scope, "updated", self.get(scope, group_id), request_id)
        return {"added": added, "total": len(wanted), "skipped": len(wanted) - added}

    def remove(self, scope: Scope, group_id: str, request_id: str | None, customer_id: str) -> Resource:
        """Take a customer out of the group; 404 when it is not in it."""
        with self.db.transaction():
            self.get(scope, group_id)
            if not self.memberships.remove(group_id, customer_id):
                raise ApiError(404, "not_found", f"Customer {customer_id!r} is not in group {group_id!r}.")
            self._emit(scope, "updated", self.get(scope, group_id), request_id)
        return {"removed": True, "customerId": customer_id, "groupId": group_id}


class CategoryService(Collection):
    """Article categories. Deleting one leaves its articles uncategorized."""

    def __init__(self, db: Database, table: repo.Categories, bus: EventBus) -> None:
        super().__init__(db, table, bus, "category")
        self.categories = table

    def create_category(self, scope: Scope, request_id: str | None, body: Mapping[str, Any]) -> Resource:
        """Create a category of a checked ``body``; its slug comes from the name."""
        fields = self.columns(body)
        fields["slug"] = self.unique_slug(scope, slugify(fields["name"], "category"))
        return self.create(scope, request_id, fields)

    def update_category(
        self, scope: Scope, category_id: str, request_id: str | None, body: Mapping[str, Any]
    ) -> Resource:
        """Apply a checked ``body`` (the slug stays as created)."""
        return self.update(scope, category_id, request_id, self.columns(body))[0]

    def delete_category(self, scope: Scope, category_id: str, request_id: str | None) -> Resource:
        """Delete the category; articles filed under its name or slug get ``category: null``."""
        with self.db.transaction():
            category = self.get(scope, category_id)
            self.categories.uncategorize(scope, [category["name"], category["slug"]])
            return self.delete(scope, category_id, request_id)


class CommunityService(Collection):
    """Community posts in topics, with comments and votes."""

    def __init__(
        self,
        db: Database,
        posts: repo.CommunityPosts,
        topics: repo.CommunityTopics,
        comments: repo.CommunityComments,
        votes: repo.CommunityVotes,
        bus: EventBus,
    ) -> None:
        super().__init__(db, posts, bus, "community post", "community_post")
        self.posts = posts
        self.topics = topics
        self.comments = comments
        self.votes = votes

    def list_posts(
        self, scope: Scope, topic: str | None, status: str | None, sort: str, page: int, size: int
    ) -> tuple[list[Resource], int]:
        """Posts (pinned first) of the topic with slug ``topic`` and of ``status``, by ``sort``
        (``recent``, ``votes``, ``comments``); an unknown topic lists nothing."""
        order = repo.CommunityPosts.SORTS.get(sort)
        if order is None:
            raise ApiError.invalid(
                "sort", f"sort must be one of: {', '.join(repo.CommunityPosts.SORTS)} (got {sort!r})."
            )
        if status is not None and status not in models_plain.POST_STATUSES:
            raise ApiError.invalid(
                "status", f"status must be one of: {', '.join(models_plain.POST_STATUSES)} (got {status!r})."
            )
        topic_id = None
        if topic is not None:
            topic_id = self.topics.id_by_slug(scope, topic)
            if topic_id is None:
                return [], 0
        return self.posts.page(scope, ListQuery({"topic_id": topic_id, "status": status}), page, size, order=order)

    def _custom_fields(self, topic: Resource, values: Mapping[str, Any], field: str = "customFields") -> dict[str, Any]:
        config = {c.get("fieldId"): bool(c.get("required")) for c in topic["customFieldConfig"]}
        for key in values:
            if key not in config:
                raise ApiError.invalid(field, f"Custom field {key!r} is not assigned to topic {topic['slug']!r}.")
        for key, required in config.items():
            if required and values.get(key) in (None, ""):
                raise ApiError.invalid(field, f"Custom field {key!r} is required in topic {topic['slug']!r}.")
        return {k: val for k, val in values.items() if val is not None}

    def create_post(self, scope: Scope, request_id: str | None, body: Mapping[str, Any]) -> Resource:
        """Create a post of a checked ``body`` (``title``, ``topicId``, ``body``, ``visibility``,
        ``customFields``, ``attachments``); 400 ``topicId`` for an unknown topic."""
        topic = self.topics.get(scope, body["topicId"])
        if topic is None:
            raise ApiError.invalid("topicId", f"No community topic with id {body['topicId']!r}.")
        visibility = body.get("visibility") or "public"
        if visibility not in models_plain.POST_VISIBILITIES:
            raise ApiError.invalid(
                "visibility", f"visibility must be one of: {', '.join(models_plain.POST_VISIBILITIES)}."
            )
        fields = {
            "title": body["title"],
            "topic_id": topic["id"],
            "body": body.get("body") or "",
            "visibility": visibility,
            "attachments": body.get("attachments") or [],
            "custom_fields": self._custom_fields(topic, body.get("customFields") or {}),
            "slug": self.unique_slug(scope, slugify(body["title"], "post")),
        }
        return self.create(scope, request_id, fields)

    def update_post(self, scope: Scope, post_id: str, request_id: str | None, body: Mapping[str, Any]) -> Resource:
        """Apply a checked ``body`` (``status``, ``is_pinned``, ``is_locked``, ``customFields``
        merged into the stored values, ``attachments`` replaced); fires ``updated`` and, when the
        status changed, ``status_changed``."""
        with self.db.transaction():
            before = self.get(scope, post_id)
            fields: dict[str, Any] = {}
            for name in ("status", "is_pinned", "is_locked", "attachments"):
                if body.get(name) is not None:
                    fields[name] = body[name]
            if "status" in fields and fields["status"] not in models_plain.POST_STATUSES:
                raise ApiError.invalid(
                    "status",
                    f"status must be one of: {', '.join(models_plain.POST_STATUSES)} (got {fields['status']!r}).",
                )
            diff = self.diff(before, fields)
            if body.get("customFields") is not None:
                stored = self.posts.custom_fields(scope, post_id)
                topic = found(self.topics, scope, before["topic_id"], "community topic")
                merged = self._custom_fields(topic, {**stored, **body["customFields"]})
                if merged != stored:
                    diff["custom_fields"] = merged
            if not diff:
                return before
            self.posts.update(scope, post_id, diff)
            post = self.get(scope, post_id)
            self._emit(scope, "updated", post, request_id)
            if "status" in diff:
                self._emit(scope, "status_changed", post, request_id, previous_status=before["status"])
        return post

    def delete_post(self, scope: Scope, post_id: str, request_id: str | None) -> Resource:
        """Delete the post with its comments and votes."""
        with self.db.transaction():
            self.get(scope, post_id)
            self.posts.delete_children(post_id)
            return self.delete(scope, post_id, request_id)

    def comments_of(self, scope: Scope, post_id: str, page: int, size: int) -> tuple[list[Resource], int]:
        """The post's comments, oldest first."""
        self.get(scope, post_id)
        return self.comments.page(scope, ListQuery({"post_id": post_id}), page, size)

    def comment(self, scope: Scope, post_id: str, request_id: str | None, body: str, author: str | None) -> Resource:
        """Add a comment; 409 ``post_locked`` on a locked post. Fires ``commented``."""
        with self.db.transaction():
            post = self.get(scope, post_id)
            if post["is_locked"]:
                raise ApiError(409, "post_locked", f"Post {post_id!r} is locked; it takes no new comments.")
            comment = found(
                self.comments,
                scope,
                self.comments.insert(scope, {"post_id": post_id, "body": body, "author_name": author}),
                "comment",
            )
            self._emit(scope, "commented", self.get(scope, post_id), request_id, comment=comment)
        return comment

    def vote(self, scope: Scope, post_id: str, request_id: str | None, voter: str) -> Resource:
        """Upvote the post as ``voter`` (once per voter: a repeat changes nothing and fires nothing).
        Returns ``{"postId", "voter", "voted", "vote_count"}``; fires ``voted``."""
        with self.db.transaction():
            self.get(scope, post_id)
            vote_id = new_id("vote_")
            voted = self.votes.add(scope, vote_id, post_id, voter)
            post = self.get(scope, post_id)
            vote = {"id": vote_id, "postId": post_id, "voter": voter}
            if voted:
                self._emit(scope, "voted", post, request_id, vote=vote)
        return {"postId": post_id, "voter": voter, "voted": voted, "vote_count": post["vote_count"]}


class MemberService(Collection):
    """Team members, their per-agent preferences, and invites."""

    def __init__(self, db: Database, members: repo.Members, invites: repo.Invites, bus: EventBus) -> None:
        super().__init__(db, members, bus, "member")
        self.members = members
        self.invites = invites

    def _not_owner(self, member: Resource, doing: str) -> None:
        if member["role"] == "owner":
            raise ApiError(403, "owner_protected", f"The team owner cannot be {doing}.")

    def set_role(self, scope: Scope, member_id: str, request_id: str | None, role: str | None) -> Resource:
        """Change a member's role (not the owner's: 403 ``owner_protected``)."""
        with self.db.transaction():
            self._not_owner(self.get(scope, member_id), "given another role")
            fields = {} if role is None else {"role": role}
            return self.update(scope, member_id, request_id, fields)[0]

    def remove(self, scope: Scope, member_id: str, request_id: str | None) -> Resource:
        """Remove a member (not the owner: 403 ``owner_protected``)."""
        with self.db.transaction():
            self._not_owner(self.get(scope, member_id), "removed")
            return self.delete(scope, member_id, request_id)

    def preferences(self, scope: Scope, member_id: str) -> Resource:
        """``{"boringMode"}`` of the member; 404 for an unknown one."""
        value = self.members.boring_mode(scope, member_id)
        if value is None:
            raise ApiError.not_found("member", member_id)
        return {"boringMode": value}

    def boring_mode(self, scope: Scope, member_id: str) -> bool:
        """Whether the member has Boring Mode on (False for an unknown member)."""
        return bool(self.members.boring_mode(scope, member_id))

    def set_preferences(
        self, scope: Scope, member_id: str, request_id: str | None, boring_mode: bool | None
    ) -> Resource:
        """Set the member's Boring Mode; fires ``agent.preferences_updated`` when it changed. It only
        hides the game from that agent's screens: nothing in the API changes."""
        with self.db.transaction():
            before = self.preferences(scope, member_id)
            if boring_mode is None or before["boringMode"] == boring_mode:
                return before
            self.members.update(scope, member_id, {"boring_mode": boring_mode})
            prefs = {"boringMode": boring_mode}
            data = {"agent": self.get(scope, member_id), "preferences": prefs}
            self.bus.emit(scope, "agent.preferences_updated", data, request_id)
        return prefs

    def invite(self, scope: Scope, request_id: str | None, email: str, role: str | None) -> Resource:
        """Invite ``email`` (400 unless an address) as ``role`` (default agent); 409
        ``already_member`` or ``invite_pending`` when it is a member's or has a pending invite."""
        if not _EMAIL_RE.match(email):
            raise ApiError.invalid("email", "email must be an email address.")
        with self.db.transaction():
            if self.members.email_taken(scope, email):
                raise ApiError(409, "already_member", f"{email} is already a member of this team.")
            if self.invites.pending_for(scope, email):
                raise ApiError(409, "invite_pending", f"{email} already has a pending invite.")
            invite_id = self.invites.insert(scope, {"email": email, "role": role or "agent", "status": "pending"})
            return found(self.invites, scope, invite_id, "invite")


class SettingsService:
    """Team settings, the Boss Battles switch, ticket statuses, business hours and widget."""

    def __init__(self, db: Database, settings: repo.TeamSettings, bus: EventBus) -> None:
        self.db = db
        self.settings = settings
        self.bus = bus

    def get(self, scope: Scope) -> Resource:
        """``{"object": "settings", "teamName", "teamSlug"}``."""
        row = self.settings.row(scope)
        return {"object": "settings", "teamName": row["team_name"], "teamSlug": row["team_slug"]}

    def update(self, scope: Scope, team_name: str | None) -> Resource:
        """Rename the team (in this partition's settings); 400 for a blank name."""
        if team_name is not None:
            if not team_name:
                raise ApiError.invalid("teamName", "teamName cannot be blank.")
            with self.db.transaction():
                self.settings.update(scope, team_name=team_name)
        return self.get(scope)

    def boss_battles_enabled(self, scope: Scope) -> bool:
        """Whether Boss Battles are on for ``scope`` (what the game reads; default on)."""
        return self.settings.boss_battles_enabled(scope)

    def preferences(self, scope: Scope) -> Resource:
        """``{"bossBattlesEnabled"}``."""
        return {"bossBattlesEnabled": bool(self.settings.row(scope)["boss_battles_enabled"])}

    def set_preferences(self, scope: Scope, request_id: str | None, enabled: bool | None) -> Resource:
        """Flip Boss Battles; fires ``team.preferences_updated`` when it changed."""
        with self.db.transaction():
            before = self.preferences(scope)
            if enabled is None or before["bossBattlesEnabled"] == enabled:
                return before
            self.settings.update(scope, boss_battles_enabled=enabled)
            prefs = {"bossBattlesEnabled": enabled}
            settings = self.get(scope)
            team = {"id": scope.team_id, "name": settings["teamName"], "slug": settings["teamSlug"]}
            self.bus.emit(scope, "team.preferences_updated", {"team": team, "preferences": prefs}, request_id)
        return prefs

    def statuses(self) -> list[Resource]:
        """The ticket statuses with their labels, colours and order; new and resolved are protected
        (tickets start and end there)."""
        colors = {"new": "#8B5CF6", "open": "#3B82F6", "pending": "#F59E0B", "resolved": "#10B981", "closed": "#6B7280"}
        return [
            {
                "key": s,
                "label": s.title(),
                "color": colors[s],
                "position": i,
                "isProtected": s in ("new", "open", "resolved"),
            }
            for i, s in enumerate(models.TICKET_STATUSES, start=1)
        ]

    def business_hours(self, scope: Scope) -> Resource:
        """``{"object": "business_hours", "enabled", "timezone", "schedule"}``."""
        return {"object": "business_hours", **loads_obj(self.settings.row(scope)["business_hours"])}

    def widget(self, scope: Scope) -> Resource:
        """``{"object": "widget_settings", "position", "primaryColor", …}``."""
        return {"object": "widget_settings", **loads_obj(self.settings.row(scope)["widget"])}


class CustomFieldService(Collection):
    """Custom field definitions for tickets and customers."""

    def __init__(self, db: Database, table: repo.CustomFields, bus: EventBus) -> None:
        super().__init__(db, table, bus, "custom field")
        self.fields = table

    def create_field(self, scope: Scope, request_id: str | None, body: Mapping[str, Any]) -> Resource:
        """Create a definition: ``key`` lower-case snake case and unique per entity type (409
        ``custom_field_key_taken``); select types need ``options``, others take none."""
        fields = self.columns(body)
        key, kind, entity = fields["key"], fields["type"], fields["entity_type"]
        if not _KEY_RE.match(key):
            raise ApiError.invalid("key", "key must start with a letter and hold only a-z, 0-9 and _.")
        options = list(dict.fromkeys(o for o in fields.get("options") or [] if o))
        if kind in ("select", "multiselect") and not options:
            raise ApiError.invalid("options", f"A {kind} field needs at least one option.")
        if kind not in ("select", "multiselect") and options:
            raise ApiError.invalid("options", f"Only select and multiselect fields take options, not {kind}.")
        fields["options"] = options
        with self.db.transaction():
            if self.fields.key_taken(scope, entity, key):
                raise ApiError(409, "custom_field_key_taken", f"The {entity} custom field {key!r} exists already.")
            fields["position"] = self.fields.next_position(scope, entity)
            return self.create(scope, request_id, fields)


class ViewService(Collection):
    """Saved views; a tickets view runs against the tickets of its partition."""

    def __init__(self, db: Database, table: repo.SavedViews, tickets: Tickets, bus: EventBus) -> None:
        super().__init__(db, table, bus, "saved view")
        self.tickets = tickets

    def create_view(self, scope: Scope, request_id: str | None, body: Mapping[str, Any]) -> Resource:
        """Create a view. A tickets view's ``filters`` may hold ``status``, ``priority`` (a value or a
        list of them), ``assignedTo``, ``customerId``, ``tags`` (tickets with all of them) and
        ``search``; it sorts by ``createdAt``, ``updatedAt``, ``title``, ``status`` or ``priority``."""
        fields = self.columns(body)
        if fields["entity_type"] == "tickets":
            _ticket_filters(fields.get("filters") or {})
            sort = fields.get("sort_field") or "createdAt"
            if sort not in models_plain.TICKET_VIEW_SORTS:
                raise ApiError.invalid(
                    "sortField", f"sortField must be one of: {', '.join(models_plain.TICKET_VIEW_SORTS)}."
                )
        return self.create(scope, request_id, fields)

    def run(self, scope: Scope, view_id: str, page: int, size: int) -> tuple[list[Resource], int]:
        """The tickets the view selects, in its order; 400 ``not_a_tickets_view`` for a view of
        another entity type."""
        view = self.get(scope, view_id)
        if view["entityType"] != "tickets":
            raise ApiError(400, "not_a_tickets_view", f"View {view_id!r} lists {view['entityType']}, not tickets.")
        where, params = _ticket_filters(view["filters"])
        column = {
            "createdAt": "t.rowid",
            "updatedAt": "t.updated_at",
            "title": "t.title COLLATE NOCASE",
            "status": "t.status",
            "priority": _PRIORITY_ORDER,
        }[view["sortField"]]
        direction = "ASC" if view["sortDirection"] == "asc" else "DESC"
        sql_where = " WHERE t.team_id = ? AND t.mode = ?" + "".join(f" AND {w}" for w in where)
        total = int(self.db.scalar(f"SELECT COUNT(*) FROM tickets t{sql_where}", *scope, *params))
        rows = self.db.all(
            f"{self.tickets.select}{sql_where} ORDER BY {column} {direction}, t.rowid {direction} LIMIT ? OFFSET ?",
            *scope,
            *params,
            size,
            (page - 1) * size,
        )
        return [self.tickets.resource(r) for r in rows], total


_PRIORITY_ORDER = (
    "CASE t.priority " + " ".join(f"WHEN '{p}' THEN {i}" for i, p in enumerate(models.PRIORITIES)) + " END"
)


def _ticket_filters(filters: Mapping[str, Any]) -> tuple[list[str], list[Any]]:
    """A tickets view's ``filters`` as SQL conditions on ``tickets t``; 400 ``filters`` for an unknown
    key or a value of the wrong kind."""
    where: list[str] = []
    params: list[Any] = []

    def strings(name: str, value: Any, allowed: Sequence[str] | None = None) -> list[str]:
        values = value if isinstance(value, list) else [value]
        if not values or not all(isinstance(x, str) for x in values):
            raise ApiError.invalid("filters", f"filters.{name} must be a string or a list of strings.")
        if allowed is not None and any(x not in allowed for x in values):
            raise ApiError.invalid("filters", f"filters.{name} must be among: {', '.join(allowed)}.")
        return values

    for name, value in filters.items():
        if name not in models_plain.TICKET_VIEW_FILTERS:
            raise ApiError.invalid(
                "filters", f"Unknown tickets filter {name!r}; use {', '.join(models_plain.TICKET_VIEW_FILTERS)}."
            )
        if name == "search":
            if not isinstance(value, str):
                raise ApiError.invalid("filters", "filters.search must be a string.")
            where.append("(t.title LIKE ? ESCAPE '\\' OR t.notes LIKE ? ESCAPE '\\')")
            params += [like(value.strip())] * 2
        elif name == "tags":
            for tag in strings(name, value):
                where.append("EXISTS (SELECT 1 FROM json_each(t.tags) j WHERE j.value = ?)")
                params.append(tag)
        else:
            allowed = {"status": models.TICKET_STATUSES, "priority": models.PRIORITIES}.get(name)
            values = strings(name, value, allowed)
            column = {"assignedTo": "assigned_to", "customerId": "customer_id"}.get(name, name)
            where.append(f"t.{column} IN ({', '.join('?' * len(values))})")
            params += values
    return where, params


class SlaRuleService(Collection):
    """SLA rules: response and resolution targets per ticket priority."""

    def __init__(self, db: Database, table: repo.SlaRules, bus: EventBus) -> None:
        super().__init__(db, table, bus, "SLA rule")

    def create_rule(self, scope: Scope, request_id: str | None, body: Mapping[str, Any]) -> Resource:
        """Create a rule: ``priority`` a ticket priority, targets 1 minute to 1 year."""
        fields = self.columns(body)
        if fields["priority"] not in models.PRIORITIES:
            raise ApiError.invalid("priority", f"priority must be one of: {', '.join(models.PRIORITIES)}.")
        for name in ("responseTarget", "resolutionTarget"):
            value = body[name]
            if not 1 <= value <= _YEAR_MINUTES:
                raise ApiError.invalid(name, f"{name} must be between 1 and {_YEAR_MINUTES} minutes (got {value}).")
        return self.create(scope, request_id, fields)


_YEAR_MINUTES = 366 * 24 * 60


class TagService:
    """Tags of tickets, with usage counts."""

    def __init__(self, db: Database, tags: repo.Tags) -> None:
        self.db = db
        self.tags = tags

    def create(self, scope: Scope, name: str) -> Resource:
        """Create the tag; 409 ``tag_exists`` when it exists (created before or on some ticket)."""
        if "," in name:
            raise ApiError.invalid("name", "A tag name cannot contain a comma.")
        with self.db.transaction():
            if self.tags.get(scope, name) is not None:
                raise ApiError(409, "tag_exists", f"The tag {name!r} exists already.")
            try:
                self.tags.insert(scope, name)
            except sqlite3.IntegrityError:
                raise ApiError(409, "tag_exists", f"The tag {name!r} exists already.") from None
            tag = self.tags.get(scope, name)
        assert tag is not None
        return tag


class BillingService:
    """The subscription as the emulator fakes it: always active on the team's plan."""

    def __init__(self, db: Database, members: repo.Members) -> None:
        self.db = db
        self.members = members

    def subscription(self, scope: Scope) -> Resource:
        """``{"object": "subscription", "status": "active", "plan", "memberCount", "currentPeriodEnd"
        (the next first of a month, UTC), "cancelAtPeriodEnd": false}``."""
        plan = self.db.scalar("SELECT plan FROM teams WHERE id = ?", scope.team_id) or "pro"
        now = datetime.now(timezone.utc)
        end = datetime(now.year + now.month // 12, now.month % 12 + 1, 1, tzinfo=timezone.utc)
        return {
            "object": "subscription",
            "status": "active",
            "plan": plan,
            "memberCount": self.members.count(scope),
            "currentPeriodEnd": end.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "cancelAtPeriodEnd": False,
        }

    def portal(self, return_url: str | None) -> Resource:
        """A billing portal session: ``{"object": "billing_portal", "url"}``. The emulator bills
        nobody; the URL is well-formed but leads nowhere. 400 ``returnUrl`` unless http(s)."""
        if return_url is not None and not re.match(r"^https?://[^\s/]+", return_url):
            raise ApiError.invalid("returnUrl", "returnUrl must be an http:// or https:// URL.")
        return {"object": "billing_portal", "url": f"https://billing.stripe.com/session/emu_{new_id('', 24)}"}


class PlainServices:
    """Every plain resource's service (and the repositories the routes read directly), built once
    on ``db`` with the event ``bus``; ``tickets`` serves saved views."""

    def __init__(self, db: Database, bus: EventBus, tickets: Tickets) -> None:
        members = repo.Members(db)
        self.customer_groups = CustomerGroupService(db, repo.CustomerGroups(db), repo.GroupMemberships(db), bus)
        self.categories = CategoryService(db, repo.Categories(db), bus)
        topics = repo.CommunityTopics(db)
        self.community = CommunityService(
            db, repo.CommunityPosts(db), topics, repo.CommunityComments(db), repo.CommunityVotes(db), bus
        )
        self.community_topics = Collection(db, topics, bus, "community topic")
        self.members = MemberService(db, members, repo.Invites(db), bus)
        self.invites = Collection(db, self.members.invites, bus, "invite")
        self.settings = SettingsService(db, repo.TeamSettings(db), bus)
        self.notification_rows = repo.Notifications(db)
        self.notifications = Collection(db, self.notification_rows, bus, "notification")
        self.custom_fields = CustomFieldService(db, repo.CustomFields(db), bus)
        self.sla_rules = SlaRuleService(db, repo.SlaRules(db), bus)
        self.tag_rows = repo.Tags(db)
        self.tags = TagService(db, self.tag_rows)
        self.views = ViewService(db, repo.SavedViews(db), tickets, bus)
        self.billing = BillingService(db, members)
