"""Transcribe the developer reference into cstar_cli/protocol/openapi.json (OpenAPI 3.1).

Usage: python scripts/gen_openapi.py [REFERENCE.md] [--check]

The reference's markdown is regular enough to parse for the bulk: ``### Name`` resource sections,
``#### X object`` field lists and ``##### METHOD /path`` endpoints with their parameter lists and
example responses. What the markdown does not carry in a parseable form is added from the tables
below (operation ids, which object each endpoint returns, limits stated in prose) and from
docs/protocol.md (the contract-only endpoints, the error codes, idempotency and rate limits).
The JSON is the artifact; this script is how it was made and how to redo it after the reference
changes. ``--check`` exits 1 when the committed JSON differs from what the script would write.
"""

from __future__ import annotations

import copy
import json
import posixpath
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_REFERENCE = ROOT.parent / "shared" / "reference" / "cstar-developer-reference.md"
OUTPUT = ROOT / "cstar_cli" / "protocol" / "openapi.json"

TEAM = "/api/v1/teams/{teamId}"
EXAMPLE_META = {"requestId": "req_abc123", "timestamp": "2025-12-10T14:30:00Z"}

# --------------------------------------------------------------------------------------------------
# Parsing the markdown


@dataclass
class Field:
    name: str
    type: str
    required: bool
    default: str | None
    description: str
    enum: list[str] | None


@dataclass
class Endpoint:
    method: str
    heading_path: str
    text: str = ""
    params: dict[str, list[Field]] = field(default_factory=dict)
    status: int = 200
    example: Any = None
    js: str = ""

    @property
    def path(self) -> str:
        """The path requests go to: the reference writes two as ``…/members/../invites`` and states
        the actual path in a note; ``normpath`` of the heading gives the same."""
        return posixpath.normpath(self.heading_path)


@dataclass
class Section:
    name: str
    intro: str = ""
    object_name: str | None = None
    fields: list[Field] = field(default_factory=list)
    endpoints: list[Endpoint] = field(default_factory=list)


@dataclass
class Event:
    name: str
    category: str
    description: str


@dataclass
class Reference:
    sections: list[Section]
    events: list[Event]
    payload_example: Any
    prose: str


_HEADING = re.compile(r"^##### (GET|POST|PATCH|PUT|DELETE) (\S+)\s*(.*)$")
_FIELD = re.compile(r"^- \*\*(?P<name>[^*]+)\*\* \((?P<type>[^)]+)\)(?P<flags>(?: \([^)]*\))*): (?P<desc>.*)$")
_EVENT = re.compile(r"^- \*\*(?P<name>[a-z_]+\.[a-z_]+)\*\*: (?P<desc>.*)$")
_VALUES = re.compile(r"\s*Values: (.*)$")


def _field(line: str) -> Field | None:
    m = _FIELD.match(line.strip())
    if not m:
        return None
    flags = m.group("flags")
    desc = m.group("desc").strip()
    enum = None
    v = _VALUES.search(desc)
    if v:
        enum = [x.strip() for x in v.group(1).split(",")]
        desc = desc[: v.start()].strip()
    default = None
    d = re.search(r"\(default: ([^)]*)\)", flags)
    if d:
        default = d.group(1).strip()
    return Field(m.group("name").strip(), m.group("type").strip(), "(required)" in flags, default, desc, enum)


def _json_block(lines: list[str], i: int) -> tuple[Any, int]:
    while not lines[i].startswith("```"):
        i += 1
    j = i + 1
    while not lines[j].startswith("```"):
        j += 1
    return json.loads("\n".join(lines[i + 1 : j])), j + 1


def parse_reference(text: str) -> Reference:
    lines = text.splitlines()
    sections: list[Section] = []
    events: list[Event] = []
    payload: Any = None
    i = 0
    mode = "prose"
    section: Section | None = None
    endpoint: Endpoint | None = None
    plist: list[Field] | None = None
    category = ""
    prose: list[str] = []
    while i < len(lines):
        line = lines[i]
        if line.startswith("## "):
            mode = (
                "api"
                if line.startswith("## API Reference")
                else "webhooks"
                if line.startswith("## Webhooks")
                else "prose"
            )
            section = endpoint = plist = None
            if mode == "prose":
                prose.append(line)
            i += 1
            continue
        if mode == "prose":
            prose.append(line)
            i += 1
            continue
        if mode == "webhooks":
            if line.startswith("#### Payload format"):
                payload, i = _json_block(lines, i)
                mode = "prose"
                continue
            if line.startswith("#### "):
                category = line[5:].strip()
            else:
                m = _EVENT.match(line.strip())
                if m:
                    events.append(Event(m.group("name"), category, m.group("desc").strip()))
            i += 1
            continue
        # API reference
        if line.startswith("### "):
            section = Section(line[4:].strip())
            sections.append(section)
            endpoint = plist = None
        elif section is None:
            pass
        elif line.startswith("#### ") and line.rstrip().endswith(" object"):
            section.object_name = line[5:].strip()
            plist = section.fields
        elif line.startswith("#### Endpoints"):
            plist = None
        elif m := _HEADING.match(line):
            endpoint = Endpoint(m.group(1), m.group(2), text=m.group(3).strip())
            section.endpoints.append(endpoint)
            plist = None
        elif plist is not None and (f := _field(line)):
            plist.append(f)
        elif endpoint is None:
            if line.strip().startswith("Base path:") and not section.intro:
                section.intro = line.strip()
        elif re.match(r"^(Path|Query|Body) parameters:$", line.strip()):
            plist = endpoint.params.setdefault(line.strip().split()[0].lower(), [])
        elif line.strip().startswith("JavaScript example:"):
            plist = None
            endpoint.js, i = _code_block(lines, i)
            continue
        elif r := re.match(r"^Response \((\d+)\):", line.strip()):
            endpoint.status = int(r.group(1))
            endpoint.example, i = _json_block(lines, i)
            continue
        elif line.strip() and not line.startswith("---") and not endpoint.text:
            endpoint.text = line.strip()
        i += 1
    return Reference(sections, events, payload, "\n".join(prose))


def _code_block(lines: list[str], i: int) -> tuple[str, int]:
    while not lines[i].startswith("```"):
        i += 1
    j = i + 1
    while not lines[j].startswith("```"):
        j += 1
    return "\n".join(lines[i + 1 : j]), j + 1


# --------------------------------------------------------------------------------------------------
# What the markdown does not say in a parseable form

#: Reference section → (tag, schema name of its ``#### X object``).
SECTIONS: dict[str, str] = {
    "Tickets": "Ticket",
    "Customers": "Customer",
    "Customer Groups": "CustomerGroup",
    "Articles": "Article",
    "Messages": "Message",
    "Webhooks": "Webhook",
    "Categories": "Category",
    "Community": "CommunityPost",
    "Members": "Member",
    "Settings": "Settings",
    "Notifications": "Notification",
    "Custom Fields": "CustomField",
    "SLA Rules": "SlaRule",
    "Analytics": "AnalyticsOverview",
    "Bulk Operations": "BulkResult",
    "Export": "Export",
    "Import": "ImportResult",
    "Audit Log": "AuditLogEntry",
    "Search": "SearchResult",
    "Tags": "Tag",
    "Game": "PlayerStats",
    "AI Actions": "AiResult",
    "Automations": "AutomationRule",
    "Saved Views": "SavedView",
    "Billing": "Subscription",
}

#: Sections whose introduction says every endpoint needs a secret key (publishable keys are
#: read-only everywhere else, so only their GETs differ).
SECRET_SECTIONS = {"Settings", "Analytics", "Billing"}

#: (method, path) → (operationId, data): ``data`` names the component schema of the envelope's
#: ``data`` ("X", a list "[X]"), or None when the reference documents the shape only by its example.
OPERATIONS: dict[tuple[str, str], tuple[str, str | None]] = {
    ("GET", "/tickets"): ("listTickets", "[Ticket]"),
    ("GET", "/tickets/{ticketId}"): ("getTicket", "Ticket"),
    ("POST", "/tickets"): ("createTicket", "Ticket"),
    ("PATCH", "/tickets/{ticketId}"): ("updateTicket", "Ticket"),
    ("DELETE", "/tickets/{ticketId}"): ("deleteTicket", "Deleted"),
    ("GET", "/customers"): ("listCustomers", "[Customer]"),
    ("GET", "/customers/{customerId}"): ("getCustomer", "Customer"),
    ("POST", "/customers"): ("createCustomer", "Customer"),
    ("PATCH", "/customers/{customerId}"): ("updateCustomer", "Customer"),
    ("DELETE", "/customers/{customerId}"): ("deleteCustomer", "Deleted"),
    ("GET", "/customer-groups"): ("listCustomerGroups", "[CustomerGroup]"),
    ("POST", "/customer-groups"): ("createCustomerGroup", "CustomerGroup"),
    ("GET", "/customer-groups/{groupId}"): ("getCustomerGroup", "CustomerGroup"),
    ("PATCH", "/customer-groups/{groupId}"): ("updateCustomerGroup", "CustomerGroup"),
    ("DELETE", "/customer-groups/{groupId}"): ("deleteCustomerGroup", "Deleted"),
    ("GET", "/customer-groups/{groupId}/members"): ("listCustomerGroupMembers", None),
    ("POST", "/customer-groups/{groupId}/members"): ("addCustomerGroupMembers", None),
    ("DELETE", "/customer-groups/{groupId}/members"): ("removeCustomerGroupMember", None),
    ("GET", "/articles"): ("listArticles", "[Article]"),
    ("GET", "/articles/{articleId}"): ("getArticle", "Article"),
    ("POST", "/articles"): ("createArticle", "Article"),
    ("PATCH", "/articles/{articleId}"): ("updateArticle", "Article"),
    ("DELETE", "/articles/{articleId}"): ("deleteArticle", "Deleted"),
    ("GET", "/tickets/{ticketId}/messages"): ("listTicketMessages", "[Message]"),
    ("POST", "/tickets/{ticketId}/messages"): ("createTicketMessage", "Message"),
    ("GET", "/webhooks"): ("listWebhooks", "[Webhook]"),
    ("GET", "/webhooks/{webhookId}"): ("getWebhook", "Webhook"),
    ("POST", "/webhooks"): ("createWebhook", "Webhook"),
    ("PATCH", "/webhooks/{webhookId}"): ("updateWebhook", "Webhook"),
    ("DELETE", "/webhooks/{webhookId}"): ("deleteWebhook", "Deleted"),
    ("POST", "/webhooks/trigger-test"): ("triggerTestWebhook", "TriggerResult"),
    ("GET", "/categories"): ("listCategories", "[Category]"),
    ("POST", "/categories"): ("createCategory", "Category"),
    ("PATCH", "/categories/{categoryId}"): ("updateCategory", "Category"),
    ("DELETE", "/categories/{categoryId}"): ("deleteCategory", "Deleted"),
    ("GET", "/community/posts"): ("listCommunityPosts", "[CommunityPost]"),
    ("POST", "/community/posts"): ("createCommunityPost", "CommunityPost"),
    ("PATCH", "/community/posts/{postId}"): ("updateCommunityPost", "CommunityPost"),
    ("GET", "/community/topics"): ("listCommunityTopics", None),
    ("GET", "/members"): ("listMembers", "[Member]"),
    ("GET", "/members/{memberId}"): ("getMember", "Member"),
    ("PATCH", "/members/{memberId}"): ("updateMember", "Member"),
    ("DELETE", "/members/{memberId}"): ("deleteMember", "Deleted"),
    ("GET", "/invites"): ("listInvites", None),
    ("POST", "/invites"): ("createInvite", None),
    ("GET", "/members/{memberId}/preferences"): ("getMemberPreferences", None),
    ("PATCH", "/members/{memberId}/preferences"): ("updateMemberPreferences", None),
    ("GET", "/settings"): ("getSettings", "Settings"),
    ("GET", "/preferences"): ("getTeamPreferences", None),
    ("PATCH", "/preferences"): ("updateTeamPreferences", None),
    ("PATCH", "/settings"): ("updateSettings", "Settings"),
    ("GET", "/settings/statuses"): ("listStatuses", None),
    ("GET", "/settings/business-hours"): ("getBusinessHours", None),
    ("GET", "/settings/widget"): ("getWidgetSettings", None),
    ("GET", "/notifications"): ("listNotifications", "[Notification]"),
    ("GET", "/notifications/unread-count"): ("getUnreadNotificationCount", None),
    ("POST", "/notifications/mark-all-read"): ("markAllNotificationsRead", None),
    ("GET", "/custom-fields"): ("listCustomFields", "[CustomField]"),
    ("POST", "/custom-fields"): ("createCustomField", "CustomField"),
    ("GET", "/sla/rules"): ("listSlaRules", "[SlaRule]"),
    ("POST", "/sla/rules"): ("createSlaRule", "SlaRule"),
    ("GET", "/analytics/overview"): ("getAnalyticsOverview", "AnalyticsOverview"),
    ("GET", "/analytics/agents"): ("listAgentStats", None),
    ("POST", "/bulk"): ("runBulkOperation", "BulkResult"),
    ("POST", "/export"): ("createExport", "Export"),
    ("POST", "/import"): ("createImport", "ImportResult"),
    ("GET", "/import"): ("listImports", None),
    ("GET", "/audit-log"): ("listAuditLog", "[AuditLogEntry]"),
    ("GET", "/search"): ("search", "[SearchResult]"),
    ("GET", "/tags"): ("listTags", "[Tag]"),
    ("POST", "/tags"): ("createTag", "Tag"),
    ("GET", "/game/player"): ("getPlayer", "PlayerStats"),
    ("GET", "/game/player/{memberId}"): ("getMemberPlayer", "PlayerStats"),
    ("GET", "/game/boss"): ("getBoss", None),
    ("GET", "/game/boss/active"): ("getBossActive", None),
    ("POST", "/game/boss/damage"): ("damageBoss", None),
    ("POST", "/game/boss/spawn"): ("spawnBoss", None),
    ("GET", "/game/boss/defeats"): ("listBossDefeats", None),
    ("GET", "/game/boss/defeats/{defeatId}"): ("getBossDefeat", None),
    ("GET", "/game/leaderboard"): ("getLeaderboard", None),
    ("GET", "/game/leaderboard/me"): ("getMyLeaderboardRank", None),
    ("GET", "/game/achievements"): ("listAchievements", None),
    ("GET", "/game/achievements/{achievementId}"): ("getAchievement", None),
    ("GET", "/game/achievements/recent"): ("listRecentAchievements", None),
    ("GET", "/game/quests/today"): ("getTodaysQuests", None),
    ("GET", "/game/quests/history"): ("getQuestHistory", None),
    ("GET", "/game/skills"): ("getSkillTree", None),
    ("POST", "/game/skills/allocate"): ("allocateSkillPoint", None),
    ("POST", "/game/skills/reset"): ("resetSkills", None),
    ("GET", "/game/seasons/current"): ("getCurrentSeason", None),
    ("GET", "/game/seasons"): ("listSeasons", None),
    ("GET", "/game/seasons/{seasonId}/stats"): ("getSeasonStats", None),
    ("GET", "/game/one-ups"): ("listOneUps", None),
    ("POST", "/game/one-ups"): ("sendOneUp", None),
    ("GET", "/game/one-ups/remaining"): ("getRemainingOneUps", None),
    ("GET", "/game/high-fives"): ("listHighFives", None),
    ("POST", "/game/high-fives"): ("sendHighFive", None),
    ("GET", "/game/high-fives/can-send/{recipientTeamId}"): ("canSendHighFive", None),
    ("GET", "/game/cosmetics"): ("listCosmetics", None),
    ("GET", "/game/cosmetics/preferences"): ("getCosmeticPreferences", None),
    ("PATCH", "/game/cosmetics/preferences"): ("updateCosmeticPreferences", None),
    ("GET", "/game/puzzles/today"): ("getTodaysPuzzle", None),
    ("POST", "/game/puzzles/complete"): ("completePuzzle", None),
    ("GET", "/game/puzzles/leaderboard"): ("getPuzzleLeaderboard", None),
    ("GET", "/game/puzzles/streak"): ("getPuzzleStreak", None),
    ("GET", "/game/activity"): ("listActivity", None),
    ("GET", "/game/activity/member/{memberId}"): ("listMemberActivity", None),
    ("GET", "/game/config"): ("getGameConfig", None),
    ("POST", "/ai"): ("runAiAction", "AiResult"),
    ("GET", "/automations"): ("listAutomations", "[AutomationRule]"),
    ("POST", "/automations"): ("createAutomation", "AutomationRule"),
    ("POST", "/automations/{ruleId}/test"): ("testAutomation", None),
    ("GET", "/views"): ("listViews", "[SavedView]"),
    ("POST", "/views"): ("createView", "SavedView"),
    ("GET", "/views/{viewId}/tickets"): ("executeView", "[Ticket]"),
    ("GET", "/billing/subscription"): ("getSubscription", "Subscription"),
    ("POST", "/billing/portal"): ("createBillingPortalSession", None),
}

#: Limits the reference states in a section's prose rather than on the field: (operationId, body
#: field) → schema keywords.
BODY_LIMITS: dict[tuple[str, str], dict[str, Any]] = {
    ("runBulkOperation", "ids"): {"maxItems": 100, "minItems": 1},
    ("createImport", "records"): {"maxItems": 500, "items": {"type": "object"}},
    ("createExport", "resources"): {
        "items": {
            "type": "object",
            "properties": {
                "type": {"type": "string", "enum": ["tickets", "customers", "articles"]},
                "filters": {"type": "object"},
            },
            "required": ["type"],
        }
    },
    ("createAutomation", "actions"): {"items": {"type": "object"}},
}

#: Body fields the server contract adds to a reference endpoint (docs/protocol.md): operationId → properties.
CONTRACT_BODY_FIELDS: dict[str, dict[str, Any]] = {
    "triggerTestWebhook": {
        "data": {
            "type": "object",
            "x-cstar-source": "contract",
            "description": "The event's whole `data`, replacing the synthetic sample (`cstar trigger --override`, "
            "`--payload`); the sample's shape is `GET …/webhooks/trigger-test/sample`.",
        }
    },
}

#: Permissions stated only in the reference's prose ("Requires `manage_x` permission" is parsed).
PERMISSION = re.compile(r"[Rr]equires `([a-z_]+)` permission")

ATTACHMENT = {
    "type": "object",
    "properties": {
        "filename": {"type": "string"},
        "content_type": {"type": "string", "enum": ["image/jpeg", "image/png", "image/gif", "image/webp"]},
        "size_bytes": {"type": "integer", "minimum": 0, "maximum": 5 * 1024 * 1024},
        "storage_path": {"type": "string"},
    },
}


# --------------------------------------------------------------------------------------------------
# Fields → JSON Schema

_TYPES: dict[str, dict[str, Any]] = {
    "string": {"type": "string"},
    "integer": {"type": "integer"},
    "number": {"type": "number"},
    "boolean": {"type": "boolean"},
    "datetime": {"type": "string", "format": "date-time"},
    "uuid": {"type": "string", "format": "uuid"},
    "string[]": {"type": "array", "items": {"type": "string"}},
    "object": {"type": "object"},
    "array": {"type": "array"},
}
_MAX = re.compile(r"\bmax:? (\d[\d,]*)(?:\s*(chars?|keys)\b)?(?!\s*each)")
_RANGE = re.compile(r"\((\d+)-(\d+)\)")
_PREFIX = re.compile(r"\(([a-z0-9]+_) prefix\b")
_DEFAULT = re.compile(r"\bdefault: ([\w.-]+)")


def _coerce(value: str, schema: dict[str, Any]) -> Any:
    kind = schema.get("type")
    if kind == "integer":
        return int(value)
    if kind == "number":
        return float(value)
    if kind == "boolean":
        return value == "true"
    return value


def field_schema(f: Field, *, response: bool, op_id: str = "") -> dict[str, Any]:
    """The JSON Schema of one documented field. ID prefixes become ``x-id-prefix`` everywhere and a
    ``pattern`` in response objects only: a request naming an id of the wrong shape is a 404 for the
    server to give, not a schema violation."""
    s = copy.deepcopy(_TYPES[f.type])
    desc = f.description
    if f.enum:
        if s["type"] == "array":
            s["items"]["enum"] = f.enum
        else:
            s["enum"] = f.enum
    for m in _MAX.finditer(desc):
        n = int(m.group(1).replace(",", ""))
        unit = m.group(2)
        if unit and unit.startswith("char"):
            s["maxLength"] = n
        elif unit == "keys" or s["type"] == "object":
            s["maxProperties"] = n
        elif s["type"] == "array":
            s["maxItems"] = n
        elif s["type"] in ("integer", "number"):
            s["maximum"] = n
        else:
            s["maxLength"] = n
    if (r := _RANGE.search(desc)) and s["type"] in ("integer", "number"):
        s["minimum"], s["maximum"] = int(r.group(1)), int(r.group(2))
    if s["type"] == "integer" and f.name in ("page", "pageSize", "limit"):
        s["minimum"] = 1
    if (p := _PREFIX.search(desc)) or (p := _PREFIX.search(f.description)):
        s["x-id-prefix"] = p.group(1)
        if response:
            s["pattern"] = "^" + p.group(1)
    if "(UUID)" in desc or "(UUID)" in f.description:
        s["format"] = "uuid"
    default = f.default
    if default is None and (d := _DEFAULT.search(desc)):
        default = d.group(1)
    if default is not None:
        s["default"] = _coerce(default, s)
    if f.name == "tags" and "comma-separated" in desc:
        # "Also accepts comma-separated string via curl."
        s["type"] = ["array", "string"]
    if f.name == "events" and "Comma-separated" in desc:
        # The field list says a comma-separated string, the Webhooks object says string[]: accept both.
        s["type"] = ["string", "array"]
        s["items"] = {"type": "string"}
    if f.name == "attachments":
        s["items"] = copy.deepcopy(ATTACHMENT)
    if f.name == "url" and "HTTPS" in desc:
        s["format"] = "uri"
        s["pattern"] = "^https://"
    if f.name == "metadata":
        s["additionalProperties"] = True
    s.update(copy.deepcopy(BODY_LIMITS.get((op_id, f.name), {})))
    s["description"] = desc
    return s


def object_schema(fields: list[Field], *, response: bool, op_id: str = "") -> dict[str, Any]:
    """An object schema from a field list; dotted names (``tickets.total``) nest."""
    props: dict[str, Any] = {}
    required: list[str] = []
    for f in fields:
        head, _, rest = f.name.partition(".")
        if rest:
            inner = props.setdefault(head, {"type": "object", "properties": {}})
            inner["properties"][rest] = field_schema(f, response=response, op_id=op_id)
            continue
        props[f.name] = field_schema(f, response=response, op_id=op_id)
        if f.required:
            required.append(f.name)
    out: dict[str, Any] = {"type": "object", "properties": props}
    if required:
        out["required"] = required
    return out


_DATETIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d(:\d\d(\.\d+)?)?(Z|[+-]\d\d:\d\d)$")
_DATE = re.compile(r"^\d{4}-\d\d-\d\d$")


def infer_schema(value: Any) -> dict[str, Any]:
    """A permissive schema describing an example value: types, nested properties, ``object``
    discriminators as ``const``. Numbers are ``number`` (an example's 1 may be a ratio elsewhere);
    a null says nothing about the type, so it gives ``{}``."""
    if value is None:
        return {}
    if isinstance(value, bool):
        return {"type": "boolean"}
    if isinstance(value, (int, float)):
        return {"type": "number"}
    if isinstance(value, str):
        if _DATETIME.match(value):
            return {"type": "string", "format": "date-time"}
        if _DATE.match(value):
            return {"type": "string", "format": "date"}
        return {"type": "string"}
    if isinstance(value, list):
        out: dict[str, Any] = {"type": "array"}
        if value:
            items = infer_schema(value[0])
            for more in value[1:]:
                items = _merge(items, infer_schema(more))
            out["items"] = items
        return out
    props = {}
    for k, v in value.items():
        props[k] = {"const": v, "type": "string"} if k == "object" and isinstance(v, str) else infer_schema(v)
    return {"type": "object", "properties": props}


def _merge(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    if a.get("type") == "object" and b.get("type") == "object":
        props = dict(a.get("properties", {}))
        for k, v in b.get("properties", {}).items():
            props[k] = _merge(props[k], v) if k in props else v
        return {"type": "object", "properties": props}
    return a if a == b else {}


# --------------------------------------------------------------------------------------------------
# Shared components: envelope, errors, headers, security (reference "Authentication", "Response
# shape", "Error shape", "HTTP status codes"; docs/protocol.md "Conventions")


def _ref(kind: str, name: str) -> dict[str, str]:
    return {"$ref": f"#/components/{kind}/{name}"}


ERROR_TYPES = [
    {"status": 400, "type": "validation_error", "description": "Bad request (validation error)"},
    {"status": 401, "type": "authentication_error", "description": "Unauthorized (invalid or missing API key)"},
    {"status": 403, "type": "permission_error", "description": "Forbidden (wrong key type or team access)"},
    {"status": 404, "type": "not_found_error", "description": "Not found"},
    {"status": 405, "type": "invalid_request_error", "description": "Method not allowed on a known path"},
    {"status": 409, "type": "conflict_error", "description": "Conflict (duplicate, idempotency key reuse)"},
    {"status": 429, "type": "rate_limit_error", "description": "Rate limited"},
    {"status": 500, "type": "server_error", "description": "Server error"},
]

ERROR_CODES = [
    {"code": "INVALID_FIELD", "status": 400, "description": "A body or query field is invalid; `field` names it."},
    {"code": "invalid_json", "status": 400, "description": "The body is not a JSON object."},
    {"code": "invalid_api_key", "status": 401, "description": "Missing, malformed or unknown key."},
    {"code": "key_revoked", "status": 401, "description": "The key was revoked."},
    {"code": "publishable_key_read_only", "status": 403, "description": "A publishable key attempted a write."},
    {"code": "secret_key_required", "status": 403, "description": "A read that needs a secret key."},
    {"code": "team_access_denied", "status": 403, "description": "The key belongs to another team."},
    {"code": "not_found", "status": 404, "description": "Unknown resource or route."},
    {"code": "method_not_allowed", "status": 405, "description": "Unknown method on a known path."},
    {"code": "email_already_exists", "status": 409, "description": "A customer with this email exists."},
    {"code": "idempotency_key_reused", "status": 409, "description": "Same Idempotency-Key, different request."},
    {
        "code": "idempotency_key_in_use",
        "status": 409,
        "description": "The first request with this key is still running.",
    },
    {"code": "rate_limit_exceeded", "status": 429, "description": "Hourly request limit reached; see Retry-After."},
    {"code": "internal_error", "status": 500, "description": "Unexpected server error."},
]

RESPONSES = {
    "BadRequest": (400, "Bad request (validation error).", "validation_error", "INVALID_FIELD"),
    "Unauthorized": (401, "Unauthorized (invalid or missing API key).", "authentication_error", "invalid_api_key"),
    "Forbidden": (403, "Forbidden (wrong key type or team access).", "permission_error", "publishable_key_read_only"),
    "NotFound": (404, "Not found.", "not_found_error", "not_found"),
    "Conflict": (
        409,
        "Conflict: a duplicate, or an Idempotency-Key reused with another request.",
        "conflict_error",
        "idempotency_key_reused",
    ),
    "RateLimited": (429, "Rate limited.", "rate_limit_error", "rate_limit_exceeded"),
    "ServerError": (500, "Server error.", "server_error", "internal_error"),
}

COMMON_HEADERS = [
    "x-cstar-request-id",
    "X-RateLimit-Limit",
    "X-RateLimit-Remaining",
    "X-RateLimit-Reset",
    "X-RateLimit-Window",
]
REPLAY_HEADERS = ["Idempotent-Replayed", "Original-Request"]


def headers() -> dict[str, Any]:
    return {
        "x-cstar-request-id": {
            "description": "This request's id (`req_` prefix); the same value as `meta.requestId`. Quote it to support.",
            "schema": {"type": "string", "pattern": "^req_"},
        },
        "X-RateLimit-Limit": {
            "description": "Maximum requests in the window (secret keys 1000/h, publishable 100/h). Omitted when there is no limit.",
            "schema": {"type": "integer", "minimum": 0},
        },
        "X-RateLimit-Remaining": {
            "description": "Requests left in the current window.",
            "schema": {"type": "integer", "minimum": 0},
        },
        "X-RateLimit-Reset": {
            "description": "Unix timestamp (seconds) when the window resets.",
            "schema": {"type": "integer", "minimum": 0},
        },
        "X-RateLimit-Window": {
            "description": "Window duration in seconds (defaults to 3600).",
            "schema": {"type": "integer", "minimum": 1, "default": 3600},
        },
        "Retry-After": {
            "description": "Seconds to wait before retrying (429 only).",
            "schema": {"type": "integer", "minimum": 0},
        },
        "Idempotent-Replayed": {
            "description": "`true` when this is the stored response of an earlier request with the same Idempotency-Key.",
            "schema": {"type": "string", "enum": ["true"]},
        },
        "Original-Request": {
            "description": "On a replay: the request id of the first request with this Idempotency-Key.",
            "schema": {"type": "string", "pattern": "^req_"},
        },
    }


def _header_refs(names: list[str]) -> dict[str, Any]:
    return {n: _ref("headers", n) for n in names}


def envelope_schemas() -> dict[str, Any]:
    return {
        "SuccessEnvelope": {
            "type": "object",
            "description": "Every successful response: `data` is the resource (or list of them); `meta` carries the request id, the server time and, on list endpoints, pagination.",
            "properties": {
                "success": {"const": True},
                "data": {"description": "The payload; its shape is the operation's."},
                "meta": _ref("schemas", "Meta"),
            },
            "required": ["success", "data", "meta"],
        },
        "Meta": {
            "type": "object",
            "properties": {
                "requestId": {
                    "type": "string",
                    "pattern": "^req_",
                    "description": "Same value as the `x-cstar-request-id` header.",
                },
                "timestamp": {"type": "string", "format": "date-time", "description": "Server time of the response."},
                "pagination": {"anyOf": [_ref("schemas", "PagePagination"), _ref("schemas", "CursorPagination")]},
            },
            "required": ["requestId", "timestamp"],
        },
        "PagePagination": {
            "type": "object",
            "description": "Page-numbered lists (`page`, `pageSize` query parameters). The reference shows `totalPages` on most lists and `hasMore` on categories and customer groups.",
            "properties": {
                "page": {"type": "integer", "minimum": 1},
                "pageSize": {"type": "integer", "minimum": 1, "maximum": 100},
                "total": {"type": "integer", "minimum": 0},
                "totalPages": {"type": "integer", "minimum": 0},
                "hasMore": {"type": "boolean"},
            },
            "required": ["page", "pageSize", "total"],
        },
        "CursorPagination": {
            "type": "object",
            "description": "Cursor lists (`limit`, `before` query parameters; request logs).",
            "properties": {
                "limit": {"type": "integer", "minimum": 1, "maximum": 100},
                "hasMore": {"type": "boolean"},
                "nextCursor": {
                    "type": ["string", "null"],
                    "description": "Pass as `before` for the next page; the last entry's id when `hasMore`.",
                },
            },
            "required": ["limit", "hasMore"],
        },
        "ErrorEnvelope": {
            "type": "object",
            "description": "Every error response. `meta` (request id and time) is sent on errors too by servers of the contract; the reference's error example leaves it out.",
            "properties": {
                "success": {"const": False},
                "error": _ref("schemas", "Error"),
                "meta": _ref("schemas", "Meta"),
            },
            "required": ["success", "error"],
        },
        "Error": {
            "type": "object",
            "properties": {
                "type": {
                    "type": "string",
                    "description": "Error class, one per HTTP status (see `x-cstar-error-types`).",
                    "examples": ["validation_error"],
                },
                "code": {
                    "type": "string",
                    "description": "Machine-readable code (see `x-cstar-error-codes`).",
                    "examples": ["INVALID_FIELD"],
                },
                "message": {"type": "string", "description": "Human-readable explanation."},
                "field": {"type": "string", "description": "The offending body or query field, on validation errors."},
                "doc_url": {
                    "type": "string",
                    "format": "uri",
                    "description": "Deep link into https://www.cstar.help/developers/errors.",
                },
            },
            "required": ["type", "code", "message"],
            "x-cstar-error-types": ERROR_TYPES,
            "x-cstar-error-codes": ERROR_CODES,
        },
        "Deleted": {
            "type": "object",
            "properties": {"deleted": {"const": True}, "id": {"type": "string"}},
            "required": ["deleted"],
        },
    }


def error_responses() -> dict[str, Any]:
    out = {}
    for name, (status, desc, etype, code) in RESPONSES.items():
        hdrs = _header_refs(COMMON_HEADERS)
        if status == 429:
            hdrs["Retry-After"] = _ref("headers", "Retry-After")
        example = {
            "success": False,
            "error": {
                "type": etype,
                "code": code,
                "message": "Title is required" if status == 400 else desc,
                "doc_url": f"https://www.cstar.help/developers/errors#{code.lower()}",
            },
            "meta": EXAMPLE_META,
        }
        if status == 400:
            example["error"]["field"] = "title"
        out[name] = {
            "description": desc,
            "headers": hdrs,
            "content": {"application/json": {"schema": _ref("schemas", "ErrorEnvelope"), "example": example}},
        }
    return out


def common_parameters() -> dict[str, Any]:
    return {
        "TeamId": {
            "name": "teamId",
            "in": "path",
            "required": True,
            "description": "Your team's UUID (Settings → General → Team ID, or `cstar status`).",
            "schema": {"type": "string", "format": "uuid"},
        },
        "IdempotencyKey": {
            "name": "Idempotency-Key",
            "in": "header",
            "required": False,
            "description": "Deduplicates retries for 24 h: the same key with the same request returns the first response (header `Idempotent-Replayed: true`); the same key with a different request is 409 `idempotency_key_reused`.",
            "schema": {"type": "string"},
        },
    }


SECURITY_SCHEMES = {
    "apiKey": {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "sk_test_…, sk_live_…, pk_test_…, pk_live_… followed by 24+ base62 characters",
        "description": "`Authorization: Bearer <key>`. Secret keys (`sk_live_*`, `sk_test_*`): full CRUD, 1000 req/hour, server-side only. Publishable keys (`pk_live_*`, `pk_test_*`): read-only, 100 req/hour, safe in browsers. The prefix sets the mode; test and live data never mix. Operations list the key types they accept in `x-cstar-key-types`.",
        "x-cstar-key-types": {
            "secret": {"prefixes": ["sk_test_", "sk_live_"], "access": "read-write", "rateLimitPerHour": 1000},
            "publishable": {"prefixes": ["pk_test_", "pk_live_"], "access": "read-only", "rateLimitPerHour": 100},
        },
        "x-cstar-key-pattern": "^(sk|pk)_(test|live)_[A-Za-z0-9]{24,}$",
    }
}


# --------------------------------------------------------------------------------------------------
# The server contract's endpoints (docs/protocol.md), which the reference leaves out

_KEY_ID = {"type": "string", "pattern": "^key_", "x-id-prefix": "key_"}
_SESSION_ID = {"type": "string", "pattern": "^cls_", "x-id-prefix": "cls_"}
_EVENT_ID = {"type": "string", "pattern": "^evt_", "x-id-prefix": "evt_"}
_REQUEST_ID = {"type": "string", "pattern": "^req_", "x-id-prefix": "req_"}


def contract_schemas() -> dict[str, Any]:
    mode = {"type": "string", "enum": ["test", "live"]}
    key_type = {"type": "string", "enum": ["secret", "publishable"]}
    when = {"type": "string", "format": "date-time"}
    return {
        "ApiKeyContext": {
            "type": "object",
            "x-cstar-source": "contract",
            "description": "What `GET /api/v1/me` says about the calling key.",
            "properties": {
                "object": {"const": "api_key_context"},
                "keyId": _KEY_ID,
                "keyType": key_type,
                "mode": mode,
                "team": {
                    "type": "object",
                    "properties": {
                        "id": {"type": "string", "format": "uuid"},
                        "name": {"type": "string"},
                        "slug": {"type": "string"},
                        "plan": {"type": "string"},
                        "memberCount": {"type": "integer", "minimum": 0},
                    },
                    "required": ["id", "name"],
                },
            },
            "required": ["object", "keyId", "keyType", "mode", "team"],
        },
        "ApiKey": {
            "type": "object",
            "x-cstar-source": "contract",
            "description": "An API key as listed: never the key itself, only its redacted form.",
            "properties": {
                "id": _KEY_ID,
                "name": {"type": "string", "minLength": 1, "maxLength": 100},
                "type": key_type,
                "mode": mode,
                "redacted": {"type": "string", "description": "Prefix and last four characters, e.g. `sk_test_…a1b2`."},
                "createdAt": when,
                "lastUsedAt": {"type": ["string", "null"], "format": "date-time"},
                "revokedAt": {"type": ["string", "null"], "format": "date-time"},
            },
            "required": ["id", "name", "type", "mode", "redacted", "createdAt"],
        },
        "CreatedApiKey": {
            "x-cstar-source": "contract",
            "description": "A new key: the listed fields plus `key`, the only time the full key is returned.",
            "allOf": [
                _ref("schemas", "ApiKey"),
                {
                    "type": "object",
                    "properties": {"key": {"type": "string", "pattern": "^(sk|pk)_(test|live)_[A-Za-z0-9]{24,}$"}},
                    "required": ["key"],
                },
            ],
        },
        "RevokedApiKey": {
            "type": "object",
            "x-cstar-source": "contract",
            "properties": {"id": _KEY_ID, "revoked": {"const": True}},
            "required": ["id", "revoked"],
        },
        "CliSession": {
            "type": "object",
            "x-cstar-source": "contract",
            "description": "A new listen session. `secret` is stable per (team, mode, deviceName).",
            "properties": {
                "id": _SESSION_ID,
                "object": {"const": "cli_session"},
                "websocketUrl": {
                    "type": "string",
                    "format": "uri",
                    "description": "Where to open the listen WebSocket (`connectCliSession`).",
                },
                "secret": {"type": "string", "pattern": "^whsec_", "x-id-prefix": "whsec_"},
                "events": {"type": "array", "items": {"type": "string"}},
                "expiresAt": when,
            },
            "required": ["id", "object", "websocketUrl", "secret", "events", "expiresAt"],
        },
        "CliSessionSummary": {
            "type": "object",
            "x-cstar-source": "contract",
            "description": "A live listen session as listed (no secret).",
            "properties": {
                "id": _SESSION_ID,
                "object": {"const": "cli_session"},
                "deviceName": {"type": "string"},
                "events": {"type": "array", "items": {"type": "string"}},
                "createdAt": when,
                "expiresAt": when,
                "connected": {"type": "boolean"},
            },
            "required": ["id", "object", "events", "createdAt", "expiresAt", "connected"],
        },
        "DeletedCliSession": {
            "type": "object",
            "x-cstar-source": "contract",
            "properties": {"id": _SESSION_ID, "object": {"const": "cli_session"}, "deleted": {"const": True}},
            "required": ["id", "object", "deleted"],
        },
        "LogEntry": {
            "type": "object",
            "x-cstar-source": "contract",
            "description": "One API request as logged, newest first.",
            "properties": {
                "id": _REQUEST_ID,
                "method": {"type": "string"},
                "path": {"type": "string", "description": "The full request path."},
                "status": {"type": "integer", "minimum": 100, "maximum": 599},
                "durationMs": {"type": "number", "minimum": 0},
                "createdAt": when,
                "keyId": {"type": ["string", "null"], "pattern": "^key_", "description": "null for an unknown key."},
                "ip": {"type": ["string", "null"]},
                "userAgent": {"type": ["string", "null"]},
                "errorCode": {
                    "type": ["string", "null"],
                    "description": "The error envelope's `code` for 4xx/5xx, else null.",
                },
            },
            "required": ["id", "method", "path", "status", "durationMs", "createdAt"],
        },
        "TriggerResult": {
            "type": "object",
            "description": "A synthetic event was sent to every active webhook and every listening CLI session whose filter matches.",
            "properties": {
                "event": {"type": "string"},
                "eventId": _EVENT_ID,
                "test": {"const": True},
                "deliveries": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "properties": {
                            "target": {
                                "type": "string",
                                "pattern": "^(whk|cls)_",
                                "description": "A webhook (`whk_`) or CLI session (`cls_`) id.",
                            },
                            "queued": {"type": "boolean"},
                        },
                        "required": ["target", "queued"],
                    },
                },
            },
            "required": ["event", "eventId", "test", "deliveries"],
        },
        "TriggerSample": {
            "x-cstar-source": "contract",
            "type": "object",
            "description": "The synthetic `data` a trigger-test of `event` sends when the request gives none.",
            "properties": {"event": {"type": "string"}, "data": {"type": "object"}},
            "required": ["event", "data"],
        },
        "ListenFrame": {
            "x-cstar-source": "contract",
            "description": "A JSON text frame on the listen WebSocket, by `type`.",
            "oneOf": [
                _ref("schemas", "ListenWelcome"),
                _ref("schemas", "ListenEvent"),
                _ref("schemas", "ListenEventTooLarge"),
                _ref("schemas", "ListenAck"),
            ],
        },
        "ListenWelcome": {
            "type": "object",
            "x-cstar-source": "contract",
            "description": "Server → CLI, first frame. `lastEventId`: the event this socket's stream starts after.",
            "properties": {
                "type": {"const": "welcome"},
                "sessionId": _SESSION_ID,
                "resumedAfter": {"type": ["string", "null"], "pattern": "^evt_"},
                "lastEventId": {"type": ["string", "null"], "pattern": "^evt_"},
            },
            "required": ["type", "sessionId", "resumedAfter"],
        },
        "ListenEvent": {
            "type": "object",
            "x-cstar-source": "contract",
            "description": "Server → CLI: one event. `payload` is the exact JSON text to deliver (an `Event`).",
            "properties": {
                "type": {"const": "event"},
                "eventId": _EVENT_ID,
                "eventType": {"type": "string"},
                "payload": {"type": "string", "contentMediaType": "application/json"},
                "headers": {
                    "type": "object",
                    "properties": {
                        "X-Event-Type": {"type": "string"},
                        "X-Event-ID": _EVENT_ID,
                        "X-Webhook-ID": _SESSION_ID,
                        "x-cstar-request-id": _REQUEST_ID,
                    },
                    "additionalProperties": {"type": "string"},
                },
            },
            "required": ["type", "eventId", "eventType", "payload", "headers"],
        },
        "ListenEventTooLarge": {
            "type": "object",
            "x-cstar-source": "contract",
            "description": "Server → CLI, instead of an event frame larger than the client's `X-Max-Frame-Bytes`.",
            "properties": {
                "type": {"const": "event_too_large"},
                "eventId": _EVENT_ID,
                "eventType": {"type": "string"},
                "size": {"type": "integer", "minimum": 0, "description": "UTF-8 bytes of the event frame."},
            },
            "required": ["type", "eventId", "eventType", "size"],
        },
        "ListenAck": {
            "type": "object",
            "x-cstar-source": "contract",
            "description": "CLI → server, once the local delivery has its final outcome. Unacked events are replayed on resume.",
            "properties": {
                "type": {"const": "ack"},
                "eventId": _EVENT_ID,
                "status": {
                    "type": ["integer", "null"],
                    "description": "The local server's HTTP status; null when it was not reached.",
                },
                "durationMs": {"type": "number", "minimum": 0},
                "attempts": {"type": "integer", "minimum": 0},
                "error": {"type": ["string", "null"]},
            },
            "required": ["type", "eventId", "status", "attempts", "error"],
        },
    }


def _contract_op(
    op_id: str,
    tag: str,
    summary: str,
    data: Any,
    *,
    status: int = 200,
    keys: tuple[str, ...] = ("secret",),
    query: list[dict[str, Any]] | None = None,
    body: dict[str, Any] | None = None,
    headers_in: list[dict[str, Any]] | None = None,
    cli: str | None = None,
    description: str | None = None,
    example: Any = None,
) -> dict[str, Any]:
    op: dict[str, Any] = {
        "operationId": op_id,
        "tags": [tag],
        "summary": summary,
        "x-cstar-source": "contract",
        "x-cstar-key-types": list(keys),
        "parameters": list(query or []) + list(headers_in or []),
        "_data": data,
        "_status": status,
    }
    if description:
        op["description"] = description
    if cli:
        op["x-cstar-cli"] = cli
    if body is not None:
        op["requestBody"] = {"required": bool(body.get("required")), "content": {"application/json": {"schema": body}}}
    if example is not None:
        op["_example"] = example
    return op


def _q(name: str, schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "description": description, "schema": schema}


def _page_params() -> list[dict[str, Any]]:
    return [
        _q("page", {"type": "integer", "minimum": 1, "default": 1}, "Page number (1-indexed)"),
        _q("pageSize", {"type": "integer", "minimum": 1, "maximum": 100, "default": 20}, "Results per page (max 100)"),
    ]


def _log_filters() -> list[dict[str, Any]]:
    return [
        _q(
            "method",
            {"type": "string", "enum": ["GET", "POST", "PATCH", "PUT", "DELETE"]},
            "Only requests with this HTTP method.",
        ),
        _q(
            "status",
            {"type": "string", "pattern": "^[1-5]([0-9]{2}|xx)$"},
            "An exact status (`404`) or a class (`4xx`).",
        ),
        _q(
            "path",
            {"type": "string"},
            "Path prefix, matched against the full path, the path after `/api/v1`, or after `/api/v1/teams/{teamId}`.",
        ),
    ]


def contract_operations() -> dict[tuple[str, str], dict[str, Any]]:
    last_event = {
        "name": "Last-Event-ID",
        "in": "header",
        "required": False,
        "description": "Resume after this id: matching entries after it first, then live ones.",
        "schema": {"type": "string"},
    }
    return {
        ("GET", "/api/v1/me"): _contract_op(
            "getMe",
            "Account",
            "Describe the calling key: its id, type, mode and team.",
            "ApiKeyContext",
            keys=("secret", "publishable"),
            cli="cstar login, cstar status",
        ),
        ("GET", TEAM + "/api-keys"): _contract_op(
            "listApiKeys",
            "API Keys",
            "List the team's API keys, newest first.",
            "[ApiKey]",
            query=_page_params(),
            cli="cstar keys list",
        ),
        ("POST", TEAM + "/api-keys"): _contract_op(
            "createApiKey",
            "API Keys",
            "Create an API key; the response is the only time the full key is shown.",
            "CreatedApiKey",
            status=201,
            body={
                "type": "object",
                "properties": {
                    "name": {
                        "type": "string",
                        "minLength": 1,
                        "maxLength": 100,
                        "description": "Key name (1–100 chars)",
                    },
                    "type": {"type": "string", "enum": ["secret", "publishable"], "default": "secret"},
                    "mode": {
                        "type": "string",
                        "enum": ["test", "live"],
                        "description": "Default: the calling key's mode.",
                    },
                },
                "required": ["name"],
            },
            cli="cstar keys create",
        ),
        ("DELETE", TEAM + "/api-keys/{keyId}"): _contract_op(
            "revokeApiKey",
            "API Keys",
            "Revoke an API key; from then on it gets 401 `key_revoked`.",
            "RevokedApiKey",
            cli="cstar keys revoke",
        ),
        ("POST", TEAM + "/cli/sessions"): _contract_op(
            "createCliSession",
            "CLI Sessions",
            "Create a listen session: a WebSocket URL and the signing secret for local deliveries.",
            "CliSession",
            status=201,
            body={
                "type": "object",
                "properties": {
                    "events": {
                        "type": "array",
                        "items": {"type": "string"},
                        "default": ["*"],
                        "description": "Event filters: exact type, `resource.*`, or `*`.",
                    },
                    "deviceName": {
                        "type": "string",
                        "description": "Names the device; the secret is stable per (team, mode, deviceName).",
                    },
                },
            },
            cli="cstar listen",
        ),
        ("GET", TEAM + "/cli/sessions"): _contract_op(
            "listCliSessions",
            "CLI Sessions",
            "List the team and mode's live listen sessions, newest first.",
            "[CliSessionSummary]",
        ),
        ("DELETE", TEAM + "/cli/sessions/{sessionId}"): _contract_op(
            "deleteCliSession",
            "CLI Sessions",
            "Delete a listen session; its open sockets close with 4404.",
            "DeletedCliSession",
            cli="cstar listen (on exit)",
        ),
        ("GET", TEAM + "/cli/sessions/{sessionId}/ws"): _contract_op(
            "connectCliSession",
            "CLI Sessions",
            "Open the listen WebSocket: a welcome frame, replayed then live events, acks back.",
            None,
            status=101,
            headers_in=[
                {
                    "name": "Last-Event-ID",
                    "in": "header",
                    "required": False,
                    "description": "Resume: replay, in order, every matching event after this id that the server still holds, then stream live ones.",
                    "schema": {"type": "string", "pattern": "^evt_"},
                },
                {
                    "name": "X-Max-Frame-Bytes",
                    "in": "header",
                    "required": False,
                    "description": "The largest message the client accepts, in UTF-8 bytes; larger events come as `event_too_large` notices.",
                    "schema": {"type": "integer", "minimum": 1},
                },
            ],
            cli="cstar listen",
            description=(
                "A WebSocket upgrade (`ws://`/`wss://`). Frames are JSON text (`ListenFrame`). Keep-alive is "
                "ping/pong every 20 s. Close codes: 4401 key invalid or revoked (do not retry), 4403 the key may "
                "not read this session (do not retry), 4404 session unknown, expired or deleted (create a new "
                "session and resume), 1001/1006/1011 (reconnect with backoff and resume)."
            ),
        ),
        ("GET", TEAM + "/webhooks/trigger-test/sample"): _contract_op(
            "getTriggerTestSample",
            "Webhooks",
            "Get the synthetic `data` a trigger-test of `event` sends, to shape and send back as `data`.",
            "TriggerSample",
            keys=("secret", "publishable"),
            query=[
                {
                    "name": "event",
                    "in": "query",
                    "required": True,
                    "description": "A triggerable event type.",
                    "schema": {"type": "string", "enum": "TRIGGERABLE"},
                }
            ],
            cli="cstar trigger --override, --dry-run",
        ),
        ("GET", TEAM + "/logs"): _contract_op(
            "listLogs",
            "Request Logs",
            "List the team and mode's API request log entries, newest first.",
            "[LogEntry]",
            query=_log_filters()
            + [
                _q(
                    "limit",
                    {"type": "integer", "minimum": 1, "maximum": 100, "default": 50},
                    "Entries per page (1–100)",
                ),
                _q(
                    "before",
                    {"type": "string", "pattern": "^req_", "x-id-prefix": "req_"},
                    "Cursor: entries older than this request id.",
                ),
            ],
            cli="cstar logs",
        ),
        ("GET", TEAM + "/logs/stream"): _contract_op(
            "streamLogs",
            "Request Logs",
            "Stream new request log entries as server-sent events.",
            None,
            query=_log_filters(),
            headers_in=[last_event],
            cli="cstar logs --tail",
            description="`text/event-stream`: each entry as `id: req_…`, `event: request`, `data: <LogEntry JSON>`; a `: ping` comment every 15 s. The stream request itself is not logged.",
        ),
    }


# --------------------------------------------------------------------------------------------------
# Assembling the document

#: Response fields that may be null although the reference types them plainly: a ticket with no
#: customer or agent, one not yet resolved, optional texts left out on create. (Nulls in the reference's examples are
#: added to this automatically.)
NULLABLE = {
    "Ticket": ["customerId", "assignedTo", "notes", "resolvedAt"],
    # A customer created inline by a ticket's customerName has no email.
    "Customer": ["email", "notes"],
    "Article": ["category"],
    "Message": ["senderName"],
    "CustomerGroup": ["description", "externalId"],
    "Category": ["description", "icon", "color"],
    "Member": ["avatarUrl"],
    "Webhook": [],
}


def _enrich_objects(schemas: dict[str, Any]) -> None:
    """What the reference says about its objects outside the field lists."""
    meta = {
        "type": "object",
        "additionalProperties": True,
        "description": "Arbitrary key-value metadata (max 50 keys)",
        "maxProperties": 50,
    }
    for name in ("Ticket", "Customer", "Article"):
        schemas[name]["properties"]["metadata"] = copy.deepcopy(meta)
    schemas["Ticket"]["properties"]["messages"] = {
        "type": "array",
        "items": _ref("schemas", "Message"),
        "description": "The full message thread; on `getTicket` only.",
    }
    schemas["CustomerGroup"]["properties"]["object"] = {"type": "string", "const": "customer_group"}
    schemas["Category"]["properties"]["object"] = {"type": "string", "const": "category"}
    schemas["Settings"]["properties"]["object"] = {
        "type": "string",
        "const": "settings",
        "description": 'Always "settings"',
    }
    schemas["SearchResult"]["properties"]["type"]["enum"] = ["ticket", "customer", "article"]
    schemas["SearchResult"]["properties"]["object"] = {"type": "string", "const": "search_result"}
    schemas["Export"]["properties"]["format"]["enum"] = ["json", "csv"]
    schemas["Tag"]["properties"]["object"] = {"type": "string", "const": "tag"}
    for obj, names in NULLABLE.items():
        for n in names:
            _nullable(schemas[obj]["properties"][n])


def _nullable(s: dict[str, Any]) -> None:
    t = s.get("type")
    if isinstance(t, str):
        s["type"] = [t, "null"]
    elif isinstance(t, list) and "null" not in t:
        t.append("null")


def _summary(text: str) -> str:
    m = re.match(r"(.+?[.!?])(\s|$)", text)
    return (m.group(1) if m else text).strip()


def normalize_example(example: Any) -> tuple[Any, list[str]]:
    """The reference's example as a complete envelope, and what had to be added: some examples are
    bare objects (Customer Groups, with ``pagination`` at the top level) and many leave out
    ``meta``, which the reference says every response carries."""
    notes: list[str] = []
    value = copy.deepcopy(example)
    if not isinstance(value, dict) or "success" not in value:
        if isinstance(value, dict) and "data" in value and set(value) <= {"data", "pagination"}:
            data, pagination = value["data"], value.get("pagination")
        else:
            data, pagination = value, None
        meta = dict(EXAMPLE_META)
        if pagination is not None:
            meta["pagination"] = pagination
        notes.append(
            "enveloped: the reference shows the bare data" + (" with top-level pagination" if pagination else "")
        )
        return {"success": True, "data": data, "meta": meta}, notes
    if "meta" not in value:
        value["meta"] = dict(EXAMPLE_META)
        notes.append("meta added: the reference's example leaves it out")
    elif not {"requestId", "timestamp"} <= set(value["meta"]):
        value["meta"] = {**EXAMPLE_META, **value["meta"]}
        notes.append("meta completed: the reference's example has only pagination")
    return value, notes


def _data_schema(spec: Any, example_data: Any) -> tuple[dict[str, Any], str]:
    if isinstance(spec, dict):
        return spec, "unstated"
    if spec is None:
        return infer_schema(example_data), "example"
    if spec.startswith("["):
        return {"type": "array", "items": _ref("schemas", spec[1:-1])}, "object"
    return _ref("schemas", spec), "object"


def _mark_nulls(schemas: dict[str, Any], spec: Any, data: Any) -> None:
    if not isinstance(spec, str):
        return
    name = spec.strip("[]")
    items = data if isinstance(data, list) else [data]
    props = schemas.get(name, {}).get("properties", {})
    for item in items:
        if isinstance(item, dict):
            for k, v in item.items():
                if v is None and k in props:
                    _nullable(props[k])


def _path_params(path: str, documented: list[Field]) -> list[dict[str, Any]]:
    by_name = {f.name: f for f in documented}
    out: list[dict[str, Any]] = []
    for name in re.findall(r"\{(\w+)\}", path):
        if name == "teamId":
            out.append(_ref("parameters", "TeamId"))
            continue
        f = by_name.get(name)
        schema = field_schema(f, response=False) if f else {"type": "string"}
        desc = schema.pop("description", None) or f"The {name[:-2] if name.endswith('Id') else name} ID"
        out.append({"name": name, "in": "path", "required": True, "description": desc, "schema": schema})
    return out


def _finish(op: dict[str, Any], method: str, path: str, schemas: dict[str, Any]) -> dict[str, Any]:
    """Parameters, responses and examples common to every operation."""
    spec = op.pop("_data", None)
    status = op.pop("_status", 200)
    raw_example = op.pop("_example", None)
    documented_path = op.pop("_path_fields", [])
    params = _path_params(path, documented_path) + op.get("parameters", [])
    mutation = method in ("POST", "PATCH", "PUT", "DELETE")
    if mutation:
        params.append(_ref("parameters", "IdempotencyKey"))
    op["parameters"] = params
    if not params:
        del op["parameters"]
    responses: dict[str, Any] = {}
    if status == 101:
        responses["101"] = {"description": "Switching Protocols: the listen WebSocket is open (frames: `ListenFrame`)."}
        op["x-cstar-transport"] = "websocket"
    elif op["operationId"] == "streamLogs":
        responses["200"] = {
            "description": "A server-sent event stream of `LogEntry` objects.",
            "headers": _header_refs(COMMON_HEADERS),
            "content": {
                "text/event-stream": {"schema": {"type": "string"}, "x-cstar-event-schema": _ref("schemas", "LogEntry")}
            },
        }
        op["x-cstar-transport"] = "sse"
    else:
        media: dict[str, Any] = {}
        example_value, notes = (None, [])
        if raw_example is not None:
            example_value, notes = normalize_example(raw_example)
        data_schema, source = _data_schema(spec, example_value["data"] if example_value else None)
        if example_value is not None:
            _mark_nulls(schemas, spec, example_value["data"])
        media["schema"] = {
            "allOf": [_ref("schemas", "SuccessEnvelope"), {"type": "object", "properties": {"data": data_schema}}]
        }
        if example_value is not None:
            ex: dict[str, Any] = {"summary": "The reference's example", "value": example_value}
            if notes:
                ex["x-cstar-normalized"] = notes
            media["examples"] = {"reference": ex}
        op["x-cstar-data-schema"] = source
        hdrs = _header_refs(COMMON_HEADERS + (REPLAY_HEADERS if mutation else []))
        responses[str(status)] = {
            "description": {200: "Success.", 201: "Created."}.get(status, "Success."),
            "headers": hdrs,
            "content": {"application/json": media},
        }
    has_input = any(isinstance(p, dict) and p.get("in") == "query" for p in params) or "requestBody" in op
    if has_input:
        responses["400"] = _ref("responses", "BadRequest")
    responses["401"] = _ref("responses", "Unauthorized")
    responses["403"] = _ref("responses", "Forbidden")
    responses["404"] = _ref("responses", "NotFound")
    if mutation:
        responses["409"] = _ref("responses", "Conflict")
    responses["429"] = _ref("responses", "RateLimited")
    responses["500"] = _ref("responses", "ServerError")
    op["responses"] = responses
    return op


def _reference_operation(section: Section, e: Endpoint) -> tuple[str, dict[str, Any]]:
    rel = e.path[len(TEAM) :]
    op_id, data = OPERATIONS[(e.method, rel)]
    main, _, notes = e.text.partition(" > ")
    main = main.strip()
    notes = notes.strip()
    actual = re.search(r"Actual path: (\S+)", notes)
    if actual:
        if actual.group(1) != e.path:
            raise SystemExit(f"{e.heading_path}: the note says {actual.group(1)}")
        notes = notes[: actual.start()].strip()
    secret_note = "Requires a secret API key." in notes
    op: dict[str, Any] = {
        "operationId": op_id,
        "tags": [section.name],
        "summary": _summary(main),
        "description": " ".join(x for x in (main, notes) if x),
        "x-cstar-source": "reference",
    }
    if e.heading_path != e.path:
        op["x-cstar-reference-path"] = e.heading_path
    readonly = e.method == "GET" and not secret_note and section.name not in SECRET_SECTIONS
    op["x-cstar-key-types"] = ["secret", "publishable"] if readonly else ["secret"]
    if "destructive operation" in notes:
        op["x-cstar-destructive"] = True
    if perm := PERMISSION.findall(main):
        op["x-cstar-permission"] = perm[0] if len(perm) == 1 else perm
    if cli := re.search(r"Also available via CLI: `(cstar \w+)", notes):
        op["x-cstar-cli"] = cli.group(1).strip()
    sdk = list(dict.fromkeys(re.findall(r"\b(cstar\.[\w.]+)\(", e.js)))
    if sdk:
        op["x-cstar-sdk-methods"] = sdk
    op["parameters"] = [
        {
            "name": f.name,
            "in": "query",
            "required": f.required,
            "description": (s := field_schema(f, response=False)).pop("description"),
            "schema": s,
        }
        for f in e.params.get("query", [])
    ]
    body = e.params.get("body")
    if op_id == "updateSettings":
        # No body list in the reference; its example sends teamName, a field of the Settings object.
        body = [Field("teamName", "string", False, None, "Team display name", None)]
    if body:
        schema = object_schema(body, response=False, op_id=op_id)
        schema["properties"].update(copy.deepcopy(CONTRACT_BODY_FIELDS.get(op_id, {})))
        op["requestBody"] = {"required": "required" in schema, "content": {"application/json": {"schema": schema}}}
    op["_path_fields"] = e.params.get("path", [])
    op["_data"] = data
    op["_status"] = e.status
    op["_example"] = e.example
    return op_id, op


def _prose_operations() -> dict[tuple[str, str], dict[str, Any]]:
    """Endpoints the reference names only in its prose (The Code of cStar, 10)."""
    return {
        ("PATCH", TEAM + "/settings/feature-flags"): {
            "operationId": "updateFeatureFlags",
            "tags": ["Settings"],
            "summary": "Flip team-level feature switches such as Boss Battles.",
            "description": '`PATCH /api/v1/teams/{teamId}/settings/feature-flags` with `{ "bossBattlesEnabled": false }` flips the team-level switch (requires `manage_settings`). Named only in the reference\'s prose; `updateTeamPreferences` documents the same switch.',
            "x-cstar-source": "reference-prose",
            "x-cstar-key-types": ["secret"],
            "x-cstar-permission": "manage_settings",
            "requestBody": {
                "required": True,
                "content": {
                    "application/json": {
                        "schema": {
                            "type": "object",
                            "properties": {
                                "bossBattlesEnabled": {
                                    "type": "boolean",
                                    "description": "When false, the team-wide boss feature is dormant.",
                                }
                            },
                        }
                    }
                },
            },
            "_data": {"type": "object", "description": "Not shown by the reference."},
        }
    }


def _events(ref: Reference, triggerable: list[str]) -> tuple[dict[str, Any], dict[str, Any]]:
    names = [e.name for e in ref.events]
    ticket_data = {
        "type": "object",
        "properties": {"ticket": _ref("schemas", "Ticket"), "customer": _ref("schemas", "Customer")},
        "required": ["ticket"],
    }
    message_data = copy.deepcopy(ticket_data)
    message_data["properties"]["message"] = _ref("schemas", "Message")
    message_data["required"].append("message")
    data_by_resource = {
        "ticket": ticket_data,
        "customer": {
            "type": "object",
            "properties": {"customer": _ref("schemas", "Customer")},
            "required": ["customer"],
        },
        "article": {"type": "object", "properties": {"article": _ref("schemas", "Article")}, "required": ["article"]},
    }
    event_schema = {
        "type": "object",
        "description": "A webhook delivery's body (the reference's payload format). The same bytes are signed and sent through `cstar listen`.",
        "properties": {
            "id": {**_EVENT_ID, "description": "Unique event id; use it as your idempotency key."},
            "type": {"type": "string", "enum": names},
            "created_at": {"type": "string", "format": "date-time"},
            "team_id": {"type": "string"},
            "data": {
                "type": "object",
                "description": "The resource objects the event is about, shaped as the API returns them.",
            },
        },
        "required": ["id", "type", "created_at", "team_id", "data"],
        "examples": [ref.payload_example],
    }
    hooks: dict[str, Any] = {}
    categories = {c.lower(): c for c in dict.fromkeys(e.category for e in ref.events)}
    for order, e in enumerate(ref.events):
        resource = e.name.partition(".")[0]
        data = data_by_resource.get(resource)
        if e.name == "ticket.message_added":
            data = message_data
        body: dict[str, Any] = {
            "allOf": [_ref("schemas", "Event"), {"type": "object", "properties": {"type": {"const": e.name}}}]
        }
        if data:
            body["allOf"][1]["properties"]["data"] = data
        media: dict[str, Any] = {"schema": body}
        if e.name == ref.payload_example.get("type"):
            media["examples"] = {
                "reference": {"summary": "The reference's payload example", "value": ref.payload_example}
            }
        op_id = "on" + "".join(p.capitalize() for p in re.split(r"[._]", e.name))
        hooks[e.name] = {
            "post": {
                "operationId": op_id,
                "tags": ["Events"],
                "summary": e.description,
                "x-cstar-category": e.category.lower(),
                "x-cstar-category-title": categories[e.category.lower()],
                "x-cstar-triggerable": e.name in triggerable,
                "x-cstar-order": order,
                "parameters": [_ref("parameters", n) for n in DELIVERY_HEADERS],
                "requestBody": {"required": True, "content": {"application/json": media}},
                "responses": {
                    "2XX": {
                        "description": "Delivered. Any other status, or no answer in time, is retried with exponential backoff."
                    }
                },
            }
        }
    return hooks, event_schema


DELIVERY_HEADERS = {
    "X-Signature": (
        '`t=<unix s>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`. Verify over the raw body with a 300 s tolerance. The legacy `sha256=<hex HMAC-SHA256(secret, body)>` form is still accepted by verifiers but no longer emitted.',
        {"type": "string", "pattern": "^t=\\d+,v1=[0-9a-f]{64}$"},
        True,
    ),
    "X-Event-Type": ("Event type (e.g. `ticket.created`).", {"type": "string"}, True),
    "X-Event-ID": ("Unique event ID — use as your idempotency key.", dict(_EVENT_ID), True),
    "X-Webhook-ID": (
        "Your webhook subscription ID (`whk_…`), or the CLI session's (`cls_…`) through `cstar listen`.",
        {"type": "string", "pattern": "^(whk|cls)_"},
        True,
    ),
    "X-Timestamp": ("ISO 8601 delivery timestamp.", {"type": "string", "format": "date-time"}, True),
    "X-Delivery-Attempt": ("Attempt number (starts at 1).", {"type": "integer", "minimum": 1}, True),
    "x-cstar-request-id": ("The request ID of the API call that caused the event.", dict(_REQUEST_ID), False),
}


def build(ref: Reference) -> dict[str, Any]:
    schemas: dict[str, Any] = envelope_schemas()
    tags: list[dict[str, Any]] = []
    for s in ref.sections:
        name = SECTIONS[s.name]
        if s.object_name != f"{s.name} object":
            raise SystemExit(f"section {s.name}: object heading {s.object_name!r}")
        obj = object_schema(s.fields, response=True)
        obj["x-cstar-reference-object"] = s.object_name
        schemas[name] = obj
        m = re.match(r"Base path: `([^`]+)`\s*(.*)", s.intro)
        tag: dict[str, Any] = {"name": s.name, "x-cstar-source": "reference"}
        if m:
            tag["description"] = m.group(2).strip()
            tag["x-cstar-base-path"] = m.group(1)
        tags.append(tag)
    _enrich_objects(schemas)
    schemas.update(contract_schemas())

    raw: dict[tuple[str, str], dict[str, Any]] = {}
    triggerable: list[str] = []
    for s in ref.sections:
        for e in s.endpoints:
            _, op = _reference_operation(s, e)
            if (e.method, e.path) in raw:
                raise SystemExit(f"duplicate endpoint {e.method} {e.path}")
            raw[(e.method, e.path)] = op
            if op["operationId"] == "triggerTestWebhook":
                triggerable = next(f.enum for f in e.params["body"] if f.name == "event") or []
    if len(raw) != len(OPERATIONS):
        missing = set(OPERATIONS) - {(m, p[len(TEAM) :]) for m, p in raw}
        raise SystemExit(f"operations table lists endpoints the reference does not have: {sorted(missing)}")
    raw.update(_prose_operations())
    raw.update(contract_operations())
    for p in raw[("GET", TEAM + "/webhooks/trigger-test/sample")]["parameters"]:
        if p["name"] == "event":
            p["schema"]["enum"] = list(triggerable)
    for t, desc in (
        ("Account", "Key introspection: who and where the calling key is."),
        ("API Keys", "The team's API keys (secret key only)."),
        ("CLI Sessions", "What `cstar listen` uses: sessions, and the WebSocket that relays events."),
        ("Request Logs", "The team's API request log, listed or streamed (`cstar logs`)."),
    ):
        tags.append({"name": t, "description": desc, "x-cstar-source": "contract"})
    tags.append(
        {
            "name": "Events",
            "description": "Webhook event types (the `webhooks` section); delivered to webhooks and through `cstar listen`.",
            "x-cstar-source": "reference",
        }
    )

    paths: dict[str, dict[str, Any]] = {}
    for (method, path), op in raw.items():
        paths.setdefault(path, {})[method.lower()] = _finish(op, method, path, schemas)

    hooks, event_schema = _events(ref, triggerable)
    schemas["Event"] = event_schema
    parameters = common_parameters()
    for n, (desc, schema, required) in DELIVERY_HEADERS.items():
        parameters[n] = {"name": n, "in": "header", "required": required, "description": desc, "schema": schema}

    return {
        "openapi": "3.1.0",
        "jsonSchemaDialect": "https://json-schema.org/draft/2020-12/schema",
        "info": {
            "title": "cStar API",
            "version": "1",
            "summary": "cStar's REST API, webhooks and the endpoints behind the cstar CLI.",
            "description": (
                "Transcribed from the cStar developer reference (every `##### METHOD /path` endpoint, "
                "`#### X object`, and the Webhooks section), plus the endpoints of the server contract "
                "(docs/protocol.md) that the reference leaves out, marked `x-cstar-source: contract`. "
                "See docs/api.md for the extensions."
            ),
            "license": {"name": "MIT", "identifier": "MIT"},
        },
        "servers": [
            {
                "url": "https://www.cstar.help",
                "description": "cStar (test and live data are partitioned by the key's prefix).",
            },
            {
                "url": "http://127.0.0.1:{port}",
                "description": "The local emulator (`cstar emulator start`).",
                "variables": {"port": {"default": "8787"}},
            },
        ],
        "security": [{"apiKey": []}],
        "tags": tags,
        "paths": paths,
        "webhooks": hooks,
        "components": {
            "schemas": schemas,
            "parameters": parameters,
            "headers": headers(),
            "responses": error_responses(),
            "securitySchemes": SECURITY_SCHEMES,
        },
    }


def render(doc: dict[str, Any]) -> str:
    """The committed form: 2-space indent, keys sorted, UTF-8, trailing newline."""
    return json.dumps(doc, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def main(argv: list[str]) -> int:
    args = [a for a in argv if not a.startswith("--")]
    source = Path(args[0]) if args else DEFAULT_REFERENCE
    text = render(build(parse_reference(source.read_text(encoding="utf-8"))))
    if "--check" in argv:
        current = OUTPUT.read_text(encoding="utf-8") if OUTPUT.exists() else ""
        if current != text:
            print(f"{OUTPUT} is out of date; run python scripts/gen_openapi.py", file=sys.stderr)
            return 1
        return 0
    OUTPUT.write_text(text, encoding="utf-8")
    print(f"wrote {OUTPUT} ({len(text):,} bytes)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
