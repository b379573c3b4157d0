"""cstar_cli/protocol/openapi.json: a valid OpenAPI 3.1 document that is the developer reference
transcribed (checked here against the markdown itself, with a parser of this file's own), plus the
server contract's endpoints; and the loader's queries (match, schemas, validation)."""

from __future__ import annotations

import copy
import json
import posixpath
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from cstar_cli.protocol import events as catalog
from cstar_cli.protocol import openapi

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[1]
REFERENCE = ROOT.parent / "shared" / "reference" / "cstar-developer-reference.md"
JSON_PATH = ROOT / "cstar_cli" / "protocol" / "openapi.json"

HEADING = re.compile(r"^##### (GET|POST|PATCH|PUT|DELETE) (\S+)")
FIELD = re.compile(r"^- \*\*(?P<name>[^*]+)\*\* \((?P<type>[^)]+)\)(?P<flags>(?: \([^)]*\))*): (?P<desc>.*)$")
SOURCES = {"reference", "reference-prose", "contract"}
MUTATIONS = {"POST", "PATCH", "PUT", "DELETE"}


@pytest.fixture(scope="module")
def reference() -> str:
    if not REFERENCE.is_file():
        pytest.skip(f"the developer reference is not at {REFERENCE} (a copy of shared/ beside the repository)")
    return REFERENCE.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def doc() -> dict[str, Any]:
    return openapi.load()


def _ops(doc: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(m.upper(), path, op) for path, item in doc["paths"].items() for m, op in item.items()]


def _endpoints(text: str) -> list[dict[str, Any]]:
    """Each ``##### METHOD /path`` of the reference with its parameter lists and example response."""
    out: list[dict[str, Any]] = []
    lines = text.splitlines()
    cur: dict[str, Any] | None = None
    kind: str | None = None
    i = 0
    while i < len(lines):
        line = lines[i].strip()
        if m := HEADING.match(lines[i]):
            cur = {"method": m.group(1), "heading": m.group(2), "fields": {}, "status": None, "example": None}
            out.append(cur)
            kind = None
        elif lines[i].startswith(("## ", "### ")):
            cur = None
        elif cur is not None:
            if p := re.match(r"^(Path|Query|Body) parameters:$", line):
                kind = p.group(1).lower()
                cur["fields"][kind] = []
            elif line.startswith("JavaScript example"):
                kind = None
            elif (r := re.match(r"^Response \((\d+)\):", line)) and cur["example"] is None:
                start = next(j for j in range(i + 1, len(lines)) if lines[j].startswith("```"))
                end = next(j for j in range(start + 1, len(lines)) if lines[j].startswith("```"))
                cur["status"] = int(r.group(1))
                cur["example"] = json.loads("\n".join(lines[start + 1 : end]))
                i = end
            elif kind and (f := FIELD.match(line)):
                cur["fields"][kind].append(f.groupdict())
        i += 1
    return out


def _by_heading(doc: dict[str, Any]) -> dict[tuple[str, str], tuple[str, dict[str, Any]]]:
    return {(m, posixpath.normpath(p)): (p, op) for m, p, op in _ops(doc)}


# -- the document ---------------------------------------------------------------------------------


def test_is_valid_openapi_31(doc: dict[str, Any]) -> None:
    from openapi_spec_validator import validate

    assert doc["openapi"].startswith("3.1.")
    validate(doc)


def test_committed_json_is_pretty_printed_and_sorted() -> None:
    text = JSON_PATH.read_text(encoding="utf-8")
    assert text == json.dumps(json.loads(text), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def test_json_ships_as_package_data() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert "openapi.json" in config["tool"]["setuptools"]["package-data"]["cstar_cli.protocol"]
    deps = " ".join(config["project"]["dependencies"])
    assert "jsonschema>=" in deps


def test_every_operation_is_well_formed(doc: dict[str, Any]) -> None:
    ids = [op["operationId"] for _, _, op in _ops(doc)]
    assert len(ids) == len(set(ids)), "operationIds must be unique"
    tags = {t["name"] for t in doc["tags"]}
    for method, path, op in _ops(doc):
        where = f"{method} {path}"
        assert re.fullmatch(r"[a-z][a-zA-Z0-9]*", op["operationId"]), where
        assert op["tags"] and op["tags"][0] in tags, where
        assert op["summary"].strip(), where
        assert op["x-cstar-source"] in SOURCES, where
        assert op["x-cstar-key-types"] in (["secret"], ["secret", "publishable"]), where
        if method != "GET":
            assert op["x-cstar-key-types"] == ["secret"], f"{where}: publishable keys are read-only"
        params = [openapi.resolve(p) for p in op.get("parameters", [])]
        assert ("Idempotency-Key" in {p["name"] for p in params}) == (method in MUTATIONS), where
        declared = {p["name"] for p in params if p["in"] == "path"}
        assert declared == set(re.findall(r"\{(\w+)\}", path)), where
        responses = op["responses"]
        for status, name in (
            ("401", "Unauthorized"),
            ("403", "Forbidden"),
            ("429", "RateLimited"),
            ("500", "ServerError"),
        ):
            assert responses[status] == {"$ref": f"#/components/responses/{name}"}, where
        transport = op.get("x-cstar-transport")
        success = [s for s in responses if s.startswith("2") or s == "101"]
        assert len(success) == 1, where
        if transport is None:
            schema = openapi.response_schema(op["operationId"])
            assert schema["allOf"][0] == {"$ref": "#/components/schemas/SuccessEnvelope"}, where
            assert "x-cstar-request-id" in responses[success[0]]["headers"], where
            assert "X-RateLimit-Remaining" in responses[success[0]]["headers"], where
        else:
            assert transport in ("websocket", "sse") and op["x-cstar-source"] == "contract", where
    for name in ("BadRequest", "NotFound", "Conflict", "RateLimited"):
        resp = doc["components"]["responses"][name]
        assert resp["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/ErrorEnvelope"}
    assert "Retry-After" in doc["components"]["responses"]["RateLimited"]["headers"]


def test_envelopes_match_the_reference_shapes(doc: dict[str, Any]) -> None:
    schemas = doc["components"]["schemas"]
    ok = {
        "success": True,
        "data": {"deleted": True},
        "meta": {"requestId": "req_1", "timestamp": "2026-04-27T18:42:11.000Z"},
    }
    assert openapi.validate(ok, schemas["SuccessEnvelope"]) == []
    assert openapi.validate({"success": True, "data": {}}, schemas["SuccessEnvelope"])  # meta is required
    error = {
        "success": False,
        "error": {
            "type": "validation_error",
            "code": "INVALID_FIELD",
            "message": "Title is required",
            "field": "title",
            "doc_url": "https://www.cstar.help/developers/api-reference/tickets",
        },
    }
    assert openapi.validate(error, schemas["ErrorEnvelope"]) == []
    codes = {c["code"]: c["status"] for c in schemas["Error"]["x-cstar-error-codes"]}
    assert codes["INVALID_FIELD"] == 400 and codes["key_revoked"] == 401 and codes["rate_limit_exceeded"] == 429
    types = {t["status"]: t["type"] for t in schemas["Error"]["x-cstar-error-types"]}
    assert {400, 401, 403, 404, 429, 500} <= set(types)
    scheme = doc["components"]["securitySchemes"]["apiKey"]
    assert (scheme["type"], scheme["scheme"]) == ("http", "bearer")
    assert scheme["x-cstar-key-types"]["publishable"]["access"] == "read-only"
    for name in (
        "X-RateLimit-Limit",
        "X-RateLimit-Remaining",
        "X-RateLimit-Reset",
        "X-RateLimit-Window",
        "x-cstar-request-id",
    ):
        assert name in doc["components"]["headers"]


# -- against the reference ------------------------------------------------------------------------


def test_every_reference_heading_is_an_operation_and_back(reference: str, doc: dict[str, Any]) -> None:
    headings = [(m.group(1), m.group(2)) for line in reference.splitlines() if (m := HEADING.match(line))]
    assert len(headings) == len(set(headings)) == 117
    ops = _by_heading(doc)
    for method, heading in headings:
        assert (method, posixpath.normpath(heading)) in ops, f"{method} {heading} is missing"
        path, op = ops[(method, posixpath.normpath(heading))]
        assert op["x-cstar-source"] == "reference"
        if heading != path:  # …/members/../invites: the reference notes the actual path
            assert op["x-cstar-reference-path"] == heading
            assert f"Actual path: {path}" in reference
    wanted = {(m, posixpath.normpath(h)) for m, h in headings}
    for method, path, op in _ops(doc):
        if op["x-cstar-source"] == "reference":
            assert (method, path) in wanted, f"{method} {path} is not in the reference"
        elif op["x-cstar-source"] == "reference-prose":
            assert f"`{method} {path}`" in reference, f"{method} {path} is not named in the reference"
        else:
            assert op["x-cstar-source"] == "contract"  # the set is pinned by the next test


def test_contract_endpoints_are_all_there(doc: dict[str, Any]) -> None:
    contract = {(m, p) for m, p, op in _ops(doc) if op["x-cstar-source"] == "contract"}
    team = "/api/v1/teams/{teamId}"
    assert contract == {
        ("GET", "/api/v1/me"),
        ("GET", team + "/api-keys"),
        ("POST", team + "/api-keys"),
        ("DELETE", team + "/api-keys/{keyId}"),
        ("POST", team + "/cli/sessions"),
        ("GET", team + "/cli/sessions"),
        ("DELETE", team + "/cli/sessions/{sessionId}"),
        ("GET", team + "/cli/sessions/{sessionId}/ws"),
        ("GET", team + "/logs"),
        ("GET", team + "/logs/stream"),
        ("GET", team + "/webhooks/trigger-test/sample"),
    }


def test_parameters_match_the_reference(reference: str, doc: dict[str, Any]) -> None:
    """Every documented path, query and body field: present, same required flag, enum and default,
    and each stated limit ("max 100", "(0-100)", "max 140 chars") as a schema keyword."""
    ops = _by_heading(doc)
    checked = 0
    for e in _endpoints(reference):
        path, op = ops[(e["method"], posixpath.normpath(e["heading"]))]
        oid = op["operationId"]
        body = openapi.request_body_schema(oid) or {}
        by_kind = {
            "path": {p["name"]: p for p in map(openapi.resolve, op.get("parameters", [])) if p["in"] == "path"},
            "query": {p["name"]: p for p in openapi.query_parameters(oid)},
        }
        for kind, fields in e["fields"].items():
            for f in fields:
                where = f"{oid} {kind} {f['name']}"
                if kind == "body":
                    schema = body["properties"][f["name"]]
                    required = f["name"] in body.get("required", [])
                else:
                    param = by_kind[kind][f["name"]]
                    schema, required = param["schema"], param["required"]
                assert required == ("(required)" in f["flags"] or kind == "path"), where
                desc = f["desc"]
                if v := re.search(r"Values: (.*)$", desc):
                    values = [x.strip() for x in v.group(1).split(",")]
                    assert (schema.get("enum") or schema.get("items", {}).get("enum")) == values, where
                if d := re.search(r"default: ([\w.-]+)", f["flags"] + " " + desc):
                    assert str(schema["default"]).lower() == d.group(1).lower(), where
                limits = {schema.get(k) for k in ("maximum", "maxLength", "maxItems", "maxProperties")}
                for m in re.finditer(r"\bmax:? (\d[\d,]*)(?!\s*each)", desc):
                    assert int(m.group(1).replace(",", "")) in limits, f"{where}: {m.group(0)}"
                if r := re.search(r"\((\d+)-(\d+)\)", desc):
                    assert (schema["minimum"], schema["maximum"]) == (int(r.group(1)), int(r.group(2))), where
                if p := re.search(r"\(([a-z0-9]+_) prefix", desc):
                    assert schema["x-id-prefix"] == p.group(1), where
                checked += 1
    assert checked > 250


def test_object_schemas_cover_every_reference_object(reference: str, doc: dict[str, Any]) -> None:
    schemas = doc["components"]["schemas"]
    by_object = {s["x-cstar-reference-object"]: s for s in schemas.values() if "x-cstar-reference-object" in s}
    lines = reference.splitlines()
    objects = [
        (i, line[5:].strip())
        for i, line in enumerate(lines)
        if line.startswith("#### ") and line.rstrip().endswith(" object")
    ]
    assert len(objects) == 25 and set(by_object) == {name for _, name in objects}
    types = {"datetime": ("string", "date-time"), "uuid": ("string", "uuid")}
    for i, name in objects:
        schema = by_object[name]
        for line in lines[i + 1 :]:
            if not line.startswith("- "):
                break
            f = FIELD.match(line.strip())
            assert f, line
            head, _, rest = f["name"].partition(".")
            prop = schema["properties"][head]["properties"][rest] if rest else schema["properties"][f["name"]]
            kind = prop["type"][0] if isinstance(prop["type"], list) else prop["type"]
            want = types.get(f["type"], (f["type"].replace("string[]", "array"), None))
            assert kind == want[0], f"{name}.{f['name']}"
            if want[1]:
                assert prop["format"] == want[1], f"{name}.{f['name']}"
            if p := re.search(r"\(([a-z0-9]+_) prefix", f["desc"]):
                assert prop["pattern"] == "^" + p.group(1), f"{name}.{f['name']}"


def _normalized(example: Any) -> tuple[Any, list[str]]:
    """What the document's example should be: the reference's, completed into the envelope the
    reference's "Response shape" describes (a few examples are bare data, many omit ``meta``)."""
    meta = {"requestId": "req_abc123", "timestamp": "2025-12-10T14:30:00Z"}
    value = copy.deepcopy(example)
    if "success" not in value:
        if set(value) <= {"data", "pagination"} and "data" in value:
            wrapped = {"success": True, "data": value["data"], "meta": {**meta, "pagination": value["pagination"]}}
        else:
            wrapped = {"success": True, "data": value, "meta": meta}
        return wrapped, ["enveloped"]
    if "meta" not in value:
        value["meta"] = meta
        return value, ["meta added"]
    if "requestId" not in value["meta"]:
        value["meta"] = {**meta, **value["meta"]}
        return value, ["meta completed"]
    return value, []


def test_reference_examples_validate_against_their_response_schemas(reference: str, doc: dict[str, Any]) -> None:
    ops = _by_heading(doc)
    enveloped: set[str] = set()
    for e in _endpoints(reference):
        path, op = ops[(e["method"], posixpath.normpath(e["heading"]))]
        oid = op["operationId"]
        response = op["responses"][str(e["status"])]
        example = response["content"]["application/json"]["examples"]["reference"]
        want, notes = _normalized(e["example"])
        assert example["value"] == want, oid
        assert [n.split(":")[0] for n in example.get("x-cstar-normalized", [])] == notes, oid
        if notes == ["enveloped"]:
            enveloped.add(oid)
        problems = openapi.validate(example["value"], openapi.response_schema(oid), formats=("date-time",))
        assert problems == [], f"{oid}: {problems}"
    # Only Customer Groups' examples drop the envelope; anything else doing so is a new discrepancy.
    assert enveloped == {op["operationId"] for _, _, op in _ops(doc) if op["tags"] == ["Customer Groups"]}


def test_event_types_match_the_reference_and_the_catalog(reference: str, doc: dict[str, Any]) -> None:
    section = reference.split("\n## Webhooks", 1)[1].split("#### Payload format", 1)[0]
    listed = re.findall(r"^- \*\*([a-z_]+\.[a-z_]+)\*\*: (.*)$", section, re.M)
    assert len(listed) == 35
    assert openapi.event_types() == [name for name, _ in listed] == list(catalog.CATALOG)
    hooks = doc["webhooks"]
    for name, desc in listed:
        post = hooks[name]["post"]
        assert post["summary"] == desc.strip() == catalog.CATALOG[name].description
        assert post["x-cstar-category"] == catalog.CATALOG[name].category
        assert post["x-cstar-triggerable"] == (name in catalog.TRIGGERABLE)
    trigger = openapi.request_body_schema("triggerTestWebhook")["properties"]["event"]["enum"]
    assert tuple(trigger) == catalog.TRIGGERABLE
    event = doc["components"]["schemas"]["Event"]
    assert event["properties"]["type"]["enum"] == list(catalog.CATALOG)
    payload = json.loads(re.search(r"#### Payload format\s*```json\n(.*?)```", reference, re.S).group(1))
    body = hooks["ticket.created"]["post"]["requestBody"]["content"]["application/json"]
    assert body["examples"]["reference"]["value"] == payload
    assert openapi.validate(payload, body["schema"], formats=("date-time",)) == []
    assert openapi.validate({**payload, "type": "ticket.updated"}, body["schema"])  # type is pinned


def test_stated_permissions_and_key_rules_are_kept(reference: str) -> None:
    assert openapi.operation("updateTeamPreferences")["x-cstar-permission"] == "manage_settings"
    assert openapi.operation("updateMemberPreferences")["x-cstar-permission"] == "manage_members"
    assert openapi.operation("updateFeatureFlags")["x-cstar-permission"] == "manage_settings"
    stated = len(re.findall(r"Requires `manage_\w+` permission", reference))
    kept = sum(
        1
        for op in openapi.operations()
        if "x-cstar-permission" in openapi.operation(op.operation_id)
        and openapi.operation(op.operation_id)["x-cstar-source"] == "reference"
    )
    assert kept == stated == 4
    assert openapi.operation("search")["x-cstar-key-types"] == ["secret", "publishable"]
    assert openapi.operation("getSettings")["x-cstar-key-types"] == ["secret"]  # "Secret key required."
    assert openapi.operation("getAnalyticsOverview")["x-cstar-key-types"] == ["secret"]
    assert openapi.operation("listApiKeys")["x-cstar-key-types"] == ["secret"]
    assert openapi.operation("getMe")["x-cstar-key-types"] == ["secret", "publishable"]
    assert openapi.operation("deleteTicket")["x-cstar-destructive"] is True


# -- the loader -----------------------------------------------------------------------------------


def test_load_is_cached_and_operations_are_listed() -> None:
    assert openapi.load() is openapi.load()
    ops = openapi.operations()
    assert len(ops) == 129  # 117 reference headings, 1 named in its prose, 11 of the contract
    first = next(o for o in ops if o.operation_id == "listTickets")
    assert first == openapi.Operation("GET", "/api/v1/teams/{teamId}/tickets", "listTickets", "Tickets")


@pytest.mark.parametrize(
    ("method", "path", "operation_id", "params"),
    [
        ("GET", "/api/v1/teams/abc/tickets/tkt_1", "getTicket", {"teamId": "abc", "ticketId": "tkt_1"}),
        ("patch", "/api/v1/teams/abc/tickets/tkt_1", "updateTicket", {"teamId": "abc", "ticketId": "tkt_1"}),
        ("GET", "/api/v1/teams/abc/tickets", "listTickets", {"teamId": "abc"}),
        (
            "POST",
            "/api/v1/teams/abc/tickets/tkt_1/messages",
            "createTicketMessage",
            {"teamId": "abc", "ticketId": "tkt_1"},
        ),
        ("GET", "/api/v1/teams/abc/game/achievements/recent", "listRecentAchievements", {"teamId": "abc"}),
        (
            "GET",
            "/api/v1/teams/abc/game/achievements/centurion",
            "getAchievement",
            {"teamId": "abc", "achievementId": "centurion"},
        ),
        ("POST", "/api/v1/teams/abc/webhooks/trigger-test", "triggerTestWebhook", {"teamId": "abc"}),
        (
            "GET",
            "/api/v1/teams/abc/webhooks/trigger-test",
            "getWebhook",
            {"teamId": "abc", "webhookId": "trigger-test"},
        ),
        ("GET", "/api/v1/teams/abc/invites", "listInvites", {"teamId": "abc"}),
        ("GET", "/api/v1/me", "getMe", {}),
        (
            "GET",
            "/api/v1/teams/abc/cli/sessions/cls_9/ws",
            "connectCliSession",
            {"teamId": "abc", "sessionId": "cls_9"},
        ),
        ("GET", "/api/v1/teams/a%20b/customers/cus%2F1", "getCustomer", {"teamId": "a b", "customerId": "cus/1"}),
    ],
)
def test_match_finds_the_operation(method: str, path: str, operation_id: str, params: dict[str, str]) -> None:
    found = openapi.match(method, path)
    assert found is not None
    assert found.operation.operation_id == operation_id
    assert found.params == params


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/api/v1/teams/abc/tickets/"),  # trailing slash
        ("GET", "/api/v1/teams/abc/tickets/tkt_1/"),
        ("GET", "/api/v1/teams/abc/nope"),
        ("GET", "/api/v1/teams//tickets"),  # empty parameter
        ("PUT", "/api/v1/teams/abc/tickets/tkt_1"),  # method the path does not have
        ("GET", "api/v1/me"),
        ("GET", ""),
        ("GET", "/api/v1/teams/abc/members/../invites"),  # the reference's heading, not a request path
    ],
)
def test_match_gives_none(method: str, path: str) -> None:
    assert openapi.match(method, path) is None


def test_schema_helpers_and_validation() -> None:
    body = openapi.request_body_schema("createTicket")
    assert body is not None and body["required"] == ["title"]
    assert openapi.validate({"title": "Printer on fire", "tags": "a,b", "priority": "high"}, body) == []
    problems = openapi.validate({"priority": "extreme", "tags": 3}, body)
    assert any("'title' is a required property" in p for p in problems)
    assert any(p.startswith("$.priority:") for p in problems)
    assert any(p.startswith("$.tags:") for p in problems)
    assert openapi.request_body_schema("listTickets") is None
    names = [p["name"] for p in openapi.query_parameters("listTickets")]
    assert names == ["status", "priority", "search", "customerId", "page", "pageSize"]
    assert openapi.query_parameters("getTicket") == []
    page_size = next(p for p in openapi.query_parameters("listTickets") if p["name"] == "pageSize")
    assert {k: page_size["schema"][k] for k in ("type", "default", "minimum", "maximum")} == {
        "type": "integer",
        "default": 20,
        "minimum": 1,
        "maximum": 100,
    }
    assert openapi.response_schema("getTicket", 404) == {"$ref": "#/components/schemas/ErrorEnvelope"}
    assert openapi.response_schema("getTicket", 418) is None
    assert openapi.response_schema("connectCliSession") is None
    with pytest.raises(KeyError, match="noSuchOperation"):
        openapi.operation("noSuchOperation")
    ticket = openapi.resolve({"$ref": "#/components/schemas/Ticket"})
    assert openapi.validate({"id": "cus_1"}, ticket) != []  # ids carry their prefix
    assert openapi.validate({"id": "tkt_1", "createdAt": "yesterday"}, ticket, formats=("date-time",)) != []
    assert openapi.validate({"id": "tkt_1", "createdAt": "yesterday"}, ticket) == []  # formats annotate by default


@pytest.mark.e2e  # starts a fresh interpreter
def test_importing_the_loader_stays_light() -> None:
    code = "import sys, cstar_cli.protocol.openapi as o; o.match('GET', '/api/v1/me'); print(sorted(m for m in ('jsonschema', 'referencing', 'cstar_emulator', 'httpx') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert out.stdout.strip() == "[]"


# -- the emulator speaks the document ---------------------------------------------------------------


def test_emulator_responses_conform(emulator_session: Any) -> None:
    """Drive the real emulator through the endpoints it serves; every response (success and error)
    validates against the schema of the operation ``match`` finds for it."""
    emu = emulator_session
    seen: list[str] = []

    def call(method: str, url: str, kind: str = "sk_test", **kwargs: Any) -> dict[str, Any]:
        with emu.client(kind) as client:
            r = client.request(method, url, **kwargs)
        found = openapi.match(method, r.request.url.path)
        assert found is not None, f"{method} {r.request.url.path}"
        oid = found.operation.operation_id
        schema = openapi.response_schema(oid, r.status_code)
        assert schema is not None, f"{oid} has no {r.status_code} response"
        body = r.json()
        assert openapi.validate(body, schema, formats=("date-time",)) == [], f"{oid} {r.status_code}"
        assert r.headers["x-cstar-request-id"] == body["meta"]["requestId"]
        seen.append(f"{oid} {r.status_code}")
        return body

    t = emu.team_url
    call("GET", emu.url("/api/v1/me"))
    call("GET", emu.url("/api/v1/me"), kind="pk_test")
    ticket = call(
        "POST",
        t("/tickets"),
        json={"title": "Printer on fire", "tags": "a,b", "customerName": "Jane", "metadata": {"k": "v"}},
    )["data"]
    call("GET", t("/tickets"), params={"status": "new", "pageSize": 5})
    call("GET", t(f"/tickets/{ticket['id']}"))
    call("PATCH", t(f"/tickets/{ticket['id']}"), json={"status": "resolved"})
    call("POST", t(f"/tickets/{ticket['id']}/messages"), json={"content": "On it", "sender": "agent"})
    call("GET", t(f"/tickets/{ticket['id']}/messages"))
    customer = call("POST", t("/customers"), json={"name": "Ann", "email": f"ann-{ticket['id']}@example.com"})["data"]
    call("POST", t("/customers"), json={"name": "Ann", "email": customer["email"]})  # 409
    call("GET", t("/customers"))
    call("PATCH", t(f"/customers/{customer['id']}"), json={"sentiment": "positive"})
    article = call("POST", t("/articles"), json={"title": "Reset a password", "content": "…"})["data"]
    call("GET", t("/articles"))
    call("DELETE", t(f"/articles/{article['id']}"))
    hook = call("POST", t("/webhooks"), json={"name": "w", "url": "https://example.com/h", "events": "ticket.created"})[
        "data"
    ]
    call("GET", t(f"/webhooks/{hook['id']}"))
    call("POST", t("/webhooks/trigger-test"), json={"event": "ticket.created"})
    call("DELETE", t(f"/webhooks/{hook['id']}"))
    call("GET", t("/api-keys"))
    key = call("POST", t("/api-keys"), json={"name": "ci"})["data"]
    call("DELETE", t(f"/api-keys/{key['id']}"))
    session = call("POST", t("/cli/sessions"), json={"events": ["ticket.*"], "deviceName": "openapi-test"})["data"]
    call("GET", t("/cli/sessions"))
    call("DELETE", t(f"/cli/sessions/{session['id']}"))
    call("GET", t("/logs"), params={"limit": 5})
    call("GET", t("/tickets/tkt_missing"))  # 404
    call("POST", t("/tickets"), json={})  # 400
    call("POST", t("/tickets"), kind="pk_test", json={"title": "x"})  # 403
    call("DELETE", t(f"/tickets/{ticket['id']}"))
    assert {"createTicket 201", "getTicket 404", "createTicket 400", "createTicket 403", "createCustomer 409"} <= set(
        seen
    )
