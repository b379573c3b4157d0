"""The plain resources (reference: "Customer Groups", "Categories", "Community", "Members",
"Settings", "Notifications", "Custom Fields", "SLA Rules", "Tags", "Saved Views", "Billing").

Each route names its OpenAPI operation, which decides who may call it, how its query and body are
checked and its success status (:mod:`cstar_emulator.routes._openapi`); the handler only calls the
service. Community comments, votes, reading and deleting one post are the emulator's additions
(the reference fires events for them but documents no endpoint); their operations are described
here in the same shape.
"""

from __future__ import annotations

from typing import Any

from cstar_emulator import validate as v
from cstar_emulator.db import Scope
from cstar_emulator.envelope import ApiError
from cstar_emulator.models import Resource
from cstar_emulator.repositories.table import ListQuery
from cstar_emulator.routes._http import TEAM, RouteSpec, api_routes
from cstar_emulator.routes._openapi import Call, Op, Page, route
from cstar_emulator.services.plain import PlainServices

__all__ = ["EXTENSIONS", "ROUTES"]


def _paging(call: Call) -> tuple[int, int]:
    """``(page, pageSize)``: the declared parameters, else the query's (default page size 100, for
    the lists the reference returns whole)."""
    q = call.query
    if "pageSize" in q:
        return int(q.get("page") or 1), int(q["pageSize"])
    r = call.request.query_params
    page = v.integer(r.get("page", "1"), "page", minimum=1, maximum=1_000_000)
    return page, v.integer(r.get("pageSize", "100"), "pageSize", minimum=1, maximum=v.MAX_PAGE_SIZE)


def _listing(call: Call, lister: Any, query: ListQuery | None = None, **kw: Any) -> Page:
    page, size = _paging(call)
    items, total = lister(call.caller.scope, query or ListQuery(), page, size, **kw)
    return Page(items, total, page, size)


def _emu(call: Call) -> PlainServices:
    plain: PlainServices = call.caller.emulator.plain
    return plain


def _ctx(call: Call) -> tuple[PlainServices, Scope, str]:
    c = call.caller
    return _emu(call), c.scope, c.request_id


# -- customer groups -------------------------------------------------------------------------------


def _groups(call: Call) -> Page:
    return _listing(call, _emu(call).customer_groups.page, ListQuery({}, call.query.get("search")))


def _group(call: Call) -> Resource:
    result: Resource = _emu(call).customer_groups.get(call.caller.scope, call.params["group_id"])
    return result


def _create_group(call: Call) -> Resource:
    e, scope, rid = _ctx(call)
    result: Resource = e.customer_groups.create_group(scope, rid, call.body)
    return result


def _update_group(call: Call) -> Resource:
    e, scope, rid = _ctx(call)
    result: Resource = e.customer_groups.update_group(scope, call.params["group_id"], rid, call.body)
    return result


def _delete_group(call: Call) -> Resource:
    e, scope, rid = _ctx(call)
    result: Resource = e.customer_groups.delete_group(scope, call.params["group_id"], rid)
    return result


def _group_members(call: Call) -> Page:
    page, size = _paging(call)
    items, total = _emu(call).customer_groups.members(call.caller.scope, call.params["group_id"], page, size)
    return Page(items, total, page, size)


def _add_group_members(call: Call) -> Resource:
    e, scope, rid = _ctx(call)
    ids: list[str] = list(call.body.get("customerIds") or [])
    if call.body.get("customerId"):
        ids.insert(0, call.body["customerId"])
    result: Resource = e.customer_groups.add(scope, call.params["group_id"], rid, ids)
    return result


def _remove_group_member(call: Call) -> Resource:
    e, scope, rid = _ctx(call)
    customer_id = call.query.get("customerId")
    if not customer_id:
        raise ApiError.invalid("customerId", "customerId is required (a query parameter).")
    result: Resource = e.customer_groups.remove(scope, call.params["group_id"], rid, customer_id)
    return result


# -- categories ------------------------------------------------------------------------------------


def _categories(call: Call) -> Page:
    return _listing(call, _emu(call).categories.page, ListQuery({"is_public": call.query.get("isPublic")}))


def _create_category(call: Call) -> Resource:
    e, scope, rid = _ctx(call)
    result: Resource = e.categories.create_category(scope, rid, call.body)
    return result


def _update_category(call: Call) -> Resource:
    e, scope, rid = _ctx(call)
    result: Resource = e.categories.update_category(scope, call.params["category_id"], rid, call.body)
    return result


def _delete_category(call: Call) -> Resource:
    e, scope, rid = _ctx(call)
    result: Resource = e.categories.delete_category(scope, call.params["category_id"], rid)
    return result


# -- community -------------------------------------------------------------------------------------


def _posts(call: Call) -> Page:
    q = call.query
    page, size = _paging(call)
    found = _emu(call).community.list_posts(
        call.caller.scope, q["topic"], q["status"], q["sort"] or "recent", page, size
    )
    return Page(found[0], found[1], page, size)


def _post(call: Call) -> Resource:
    result: Resource = _emu(call).community.get(call.caller.scope, call.params["post_id"])
    return result


def _create_post(call: Call) -> Resource:
    e, scope, rid = _ctx(call)
    result: Resource = e.community.create_post(scope, rid, call.body)
    return result


def _update_post(call: Call) -> Resource:
    e, scope, rid = _ctx(call)
    result: Resource = e.community.update_post(scope, call.params["post_id"], rid, call.body)
    return result


def _delete_post(call: Call) -> Resource:
    e, scope, rid = _ctx(call)
    result: Resource = e.community.delete_post(scope, call.params["post_id"], rid)
    return result


def _topics(call: Call) -> Page:
    return _listing(call, _emu(call).community_topics.page)


def _comments(call: Call) -> Page:
    page, size = _paging(call)
    items, total = _emu(call).community.comments_of(call.caller.scope, call.params["post_id"], page, size)
    return Page(items, total, page, size)


def _comment(call: Call) -> Resource:
    e, scope, rid = _ctx(call)
    result: Resource = e.community.comment(
        scope, call.params["post_id"], rid, call.body["body"], call.body.get("author_name")
    )
    return result


def _vote(call: Call) -> Resource:
    e, scope, rid = _ctx(call)
    voter = call.body.get("voter") or call.caller.key.id
    result: Resource = e.community.vote(scope, call.params["post_id"], rid, voter)
    return result


# -- members, invites, preferences -----------------------------------------------------------------


def _members(call: Call) -> Page:
    return _listing(call, _emu(call).members.page, ListQuery({"role": call.query.get("role")}))


def _member(call: Call) -> Resource:
    result: Resource = _emu(call).members.get(call.caller.scope, call.params["member_id"])
    return result


def _update_member(call: Call) -> Resource:
    e, scope, rid = _ctx(call)
    result: Resource = e.members.set_role(scope, call.params["member_id"], rid, call.body.get("role"))
    return result


def _delete_member(call: Call) -> Resource:
    e, scope, rid = _ctx(call)
    result: Resource = e.members.remove(scope, call.params["member_id"], rid)
    return result


def _member_prefs(call: Call) -> Resource:
    result: Resource = _emu(call).members.preferences(call.caller.scope, call.params["member_id"])
    return result


def _update_member_prefs(call: Call) -> Resource:
    e, scope, rid = _ctx(call)
    result: Resource = e.members.set_preferences(scope, call.params["member_id"], rid, call.body.get("boringMode"))
    return result


def _invites(call: Call) -> Page:
    return _listing(call, _emu(call).invites.page, ListQuery({"status": "pending"}))


def _create_invite(call: Call) -> Resource:
    e, scope, rid = _ctx(call)
    result: Resource = e.members.invite(scope, rid, call.body["email"], call.body.get("role"))
    return result


# -- settings --------------------------------------------------------------------------------------


def _settings(call: Call) -> Resource:
    result: Resource = _emu(call).settings.get(call.caller.scope)
    return result


def _update_settings(call: Call) -> Resource:
    result: Resource = _emu(call).settings.update(call.caller.scope, call.body.get("teamName"))
    return result


def _team_prefs(call: Call) -> Resource:
    result: Resource = _emu(call).settings.preferences(call.caller.scope)
    return result


def _update_team_prefs(call: Call) -> Resource:
    e, scope, rid = _ctx(call)
    result: Resource = e.settings.set_preferences(scope, rid, call.body.get("bossBattlesEnabled"))
    return result


def _statuses(call: Call) -> list[Resource]:
    result: list[Resource] = _emu(call).settings.statuses()
    return result


def _business_hours(call: Call) -> Resource:
    result: Resource = _emu(call).settings.business_hours(call.caller.scope)
    return result


def _widget(call: Call) -> Resource:
    result: Resource = _emu(call).settings.widget(call.caller.scope)
    return result


# -- notifications ---------------------------------------------------------------------------------


def _notifications(call: Call) -> Page:
    unread = call.query.get("unreadOnly")
    return _listing(call, _emu(call).notifications.page, ListQuery({"read": 0 if unread else None}))


def _unread_count(call: Call) -> Resource:
    return {"object": "unread_count", "count": _emu(call).notification_rows.unread(call.caller.scope)}


def _mark_all_read(call: Call) -> Resource:
    return {"updated": _emu(call).notification_rows.mark_all_read(call.caller.scope)}


# -- custom fields, SLA rules, tags, views, billing ------------------------------------------------


def _custom_fields(call: Call) -> Page:
    return _listing(call, _emu(call).custom_fields.page, ListQuery({"entity_type": call.query.get("entityType")}))


def _create_custom_field(call: Call) -> Resource:
    e, scope, rid = _ctx(call)
    result: Resource = e.custom_fields.create_field(scope, rid, call.body)
    return result


def _sla_rules(call: Call) -> Page:
    return _listing(call, _emu(call).sla_rules.page)


def _create_sla_rule(call: Call) -> Resource:
    e, scope, rid = _ctx(call)
    result: Resource = e.sla_rules.create_rule(scope, rid, call.body)
    return result


def _tags(call: Call) -> Page:
    page, size = _paging(call)
    items, total = _emu(call).tag_rows.page(call.caller.scope, page, size)
    return Page(items, total, page, size)


def _create_tag(call: Call) -> Resource:
    name = v.tag_list([call.body["name"]], "name")
    result: Resource = _emu(call).tags.create(call.caller.scope, name[0])
    return result


def _views(call: Call) -> Page:
    return _listing(call, _emu(call).views.page, ListQuery({"entity_type": call.query.get("entityType")}))


def _create_view(call: Call) -> Resource:
    e, scope, rid = _ctx(call)
    result: Resource = e.views.create_view(scope, rid, call.body)
    return result


def _run_view(call: Call) -> Page:
    page, size = _paging(call)
    items, total = _emu(call).views.run(call.caller.scope, call.params["view_id"], page, size)
    return Page(items, total, page, size)


def _subscription(call: Call) -> Resource:
    result: Resource = _emu(call).billing.subscription(call.caller.scope)
    return result


def _portal(call: Call) -> Resource:
    result: Resource = _emu(call).billing.portal(call.body.get("returnUrl"))
    return result


_PAGING = (
    {"name": "page", "in": "query", "schema": {"type": "integer", "minimum": 1, "default": 1}},
    {"name": "pageSize", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 100, "default": 20}},
)
_TEXT = {"type": "string"}

#: The emulator's community operations beyond the reference, described as the document describes its own.
EXTENSIONS = {
    "getCommunityPost": Op("getCommunityPost", "Get one community post", ("secret", "publishable"), 200, None, ()),
    "deleteCommunityPost": Op("deleteCommunityPost", "Delete a community post", ("secret",), 200, None, ()),
    "listCommunityComments": Op(
        "listCommunityComments", "List a post's comments", ("secret", "publishable"), 200, None, _PAGING
    ),
    "createCommunityComment": Op(
        "createCommunityComment",
        "Comment on a community post",
        ("secret",),
        201,
        {"type": "object", "required": ["body"], "properties": {"body": _TEXT, "author_name": _TEXT}},
        (),
    ),
    "voteCommunityPost": Op(
        "voteCommunityPost",
        "Upvote a community post",
        ("secret",),
        201,
        {"type": "object", "properties": {"voter": _TEXT}},
        (),
    ),
}

ROUTES: list[RouteSpec] = api_routes(
    TEAM,
    [
        route("GET", "/customer-groups", "listCustomerGroups", _groups),
        route("POST", "/customer-groups", "createCustomerGroup", _create_group),
        route("GET", "/customer-groups/{group_id}", "getCustomerGroup", _group),
        route("PATCH", "/customer-groups/{group_id}", "updateCustomerGroup", _update_group),
        route("DELETE", "/customer-groups/{group_id}", "deleteCustomerGroup", _delete_group),
        route("GET", "/customer-groups/{group_id}/members", "listCustomerGroupMembers", _group_members),
        route("POST", "/customer-groups/{group_id}/members", "addCustomerGroupMembers", _add_group_members),
        route("DELETE", "/customer-groups/{group_id}/members", "removeCustomerGroupMember", _remove_group_member),
        route("GET", "/categories", "listCategories", _categories),
        route("POST", "/categories", "createCategory", _create_category),
        route("PATCH", "/categories/{category_id}", "updateCategory", _update_category),
        route("DELETE", "/categories/{category_id}", "deleteCategory", _delete_category),
        route("GET", "/community/posts", "listCommunityPosts", _posts),
        route("POST", "/community/posts", "createCommunityPost", _create_post),
        route("GET", "/community/posts/{post_id}", EXTENSIONS["getCommunityPost"], _post),
        route("PATCH", "/community/posts/{post_id}", "updateCommunityPost", _update_post),
        route("DELETE", "/community/posts/{post_id}", EXTENSIONS["deleteCommunityPost"], _delete_post),
        route("GET", "/community/posts/{post_id}/comments", EXTENSIONS["listCommunityComments"], _comments),
        route("POST", "/community/posts/{post_id}/comments", EXTENSIONS["createCommunityComment"], _comment),
        route("POST", "/community/posts/{post_id}/votes", EXTENSIONS["voteCommunityPost"], _vote),
        route("GET", "/community/topics", "listCommunityTopics", _topics),
        route("GET", "/members", "listMembers", _members),
        route("GET", "/members/{member_id}", "getMember", _member),
        route("PATCH", "/members/{member_id}", "updateMember", _update_member),
        route("DELETE", "/members/{member_id}", "deleteMember", _delete_member),
        route("GET", "/members/{member_id}/preferences", "getMemberPreferences", _member_prefs),
        route("PATCH", "/members/{member_id}/preferences", "updateMemberPreferences", _update_member_prefs),
        route("GET", "/invites", "listInvites", _invites),
        route("POST", "/invites", "createInvite", _create_invite),
        route("GET", "/settings", "getSettings", _settings),
        route("PATCH", "/settings", "updateSettings", _update_settings),
        route("PATCH", "/settings/feature-flags", "updateFeatureFlags", _update_team_prefs),
        route("GET", "/settings/statuses", "listStatuses", _statuses),
        route("GET", "/settings/business-hours", "getBusinessHours", _business_hours),
        route("GET", "/settings/widget", "getWidgetSettings", _widget),
        route("GET", "/preferences", "getTeamPreferences", _team_prefs),
        route("PATCH", "/preferences", "updateTeamPreferences", _update_team_prefs),
        route("GET", "/notifications", "listNotifications", _notifications),
        route("GET", "/notifications/unread-count", "getUnreadNotificationCount", _unread_count),
        route("POST", "/notifications/mark-all-read", "markAllNotificationsRead", _mark_all_read),
        route("GET", "/custom-fields", "listCustomFields", _custom_fields),
        route("POST", "/custom-fields", "createCustomField", _create_custom_field),
        route("GET", "/sla/rules", "listSlaRules", _sla_rules),
        route("POST", "/sla/rules", "createSlaRule", _create_sla_rule),
        route("GET", "/tags", "listTags", _tags),
        route("POST", "/tags", "createTag", _create_tag),
        route("GET", "/views", "listViews", _views),
        route("POST", "/views", "createView", _create_view),
        route("GET", "/views/{view_id}/tickets", "executeView", _run_view),
        route("GET", "/billing/subscription", "getSubscription", _subscription),
        route("POST", "/billing/portal", "createBillingPortalSession", _portal),
    ],
)
