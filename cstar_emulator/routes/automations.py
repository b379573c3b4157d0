"""``/automations`` (reference: "Automations"): list, create and the dry-run test; plus, beyond the
reference, get, update and delete of one rule."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from cstar_cli.protocol import events as catalog
from cstar_emulator import validate as v
from cstar_emulator.db import dumps
from cstar_emulator.envelope import ApiError, ok, page_meta
from cstar_emulator.models_computed import ACTION_TYPES, CONDITION_OPERATORS, RESOURCE_KINDS
from cstar_emulator.repositories.table import ListQuery
from cstar_emulator.routes._http import TEAM, api_routes, caller
from cstar_emulator.routes._records import checked_body

__all__ = ["MAX_ACTIONS", "MAX_CONDITIONS", "MAX_RULE_BYTES", "ROUTES"]

#: Conditions per group (``all``, ``any``) and actions per rule.
MAX_CONDITIONS = 50
MAX_ACTIONS = 20
#: ``conditions`` and ``actions`` each, as compact JSON (UTF-8 bytes).
MAX_RULE_BYTES = 16 * 1024

_NO_VALUE = ("is_empty", "is_not_empty")


def _trigger(value: Any) -> str:
    name = v.text(value, "triggerEvent") or ""
    if catalog.get(name) is None:
        close = catalog.suggest(name)
        hint = f" Did you mean {close[0]}?" if close else ""
        raise ApiError.invalid("triggerEvent", f"Unknown event type {name!r}.{hint}")
    return name


def _bounded(value: Any, field: str) -> None:
    size = len(dumps(value).encode("utf-8"))
    if size > MAX_RULE_BYTES:
        raise ApiError.invalid(field, f"{field} must be at most {MAX_RULE_BYTES:,} bytes as JSON (got {size:,}).")


def _conditions(value: Any) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ApiError.invalid("conditions", 'conditions must be an object: {"all": [...], "any": [...]}.')
    _bounded(value, "conditions")
    out: dict[str, Any] = {}
    for group, items in value.items():
        where = f"conditions.{group}"
        if group not in ("all", "any"):
            raise ApiError.invalid(where, f"{where}: conditions take only 'all' and 'any'.")
        if not isinstance(items, list) or len(items) > MAX_CONDITIONS:
            raise ApiError.invalid(where, f"{where} must be a list of at most {MAX_CONDITIONS} conditions.")
        parsed = []
        for i, cond in enumerate(items):
            at = f"{where}[{i}]"
            if not isinstance(cond, dict):
                raise ApiError.invalid(at, f'{at} must be an object {{"field", "operator", "value"}}.')
            if not isinstance(cond.get("field"), str) or not cond["field"].strip():
                raise ApiError.invalid(f"{at}.field", f"{at}.field is required: the resource field to test.")
            field = v.text(cond["field"], f"{at}.field", max_len=100)
            operator = v.choice(cond.get("operator", "equals"), f"{at}.operator", CONDITION_OPERATORS)
            if operator not in _NO_VALUE and "value" not in cond:
                raise ApiError.invalid(f"{at}.value", f"{at}.value is required for {operator}.")
            if operator in ("in", "not_in") and not isinstance(cond.get("value"), list):
                raise ApiError.invalid(f"{at}.value", f"{at}.value must be a list for {operator}.")
            item: dict[str, Any] = {"field": field, "operator": operator}
            if "value" in cond:
                item["value"] = cond["value"]
            parsed.append(item)
        out[group] = parsed
    return out


def _actions(value: Any) -> list[dict[str, Any]]:
    if value is None:
        return []
    if not isinstance(value, list) or len(value) > MAX_ACTIONS:
        raise ApiError.invalid("actions", f"actions must be a list of at most {MAX_ACTIONS} actions.")
    _bounded(value, "actions")
    out = []
    for i, action in enumerate(value):
        at = f"actions[{i}]"
        if not isinstance(action, dict):
            raise ApiError.invalid(at, f'{at} must be an object {{"type", …}}.')
        kind = v.choice(action.get("type"), f"{at}.type", ACTION_TYPES)
        param = ACTION_TYPES[kind]
        if param is not None and param not in action and "value" not in action:
            raise ApiError.invalid(f"{at}.{param}", f"{at}.{param} is required for {kind}.")
        out.append(dict(action))
    return out


def _rule_fields(body: dict[str, Any], *, creating: bool) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    if creating or "name" in body:
        fields["name"] = v.text(v.require(body, "name"), "name")
    if creating or "triggerEvent" in body:
        fields["trigger_event"] = _trigger(v.require(body, "triggerEvent"))
    if "conditions" in body:
        fields["conditions"] = _conditions(body["conditions"])
    if "actions" in body:
        fields["actions"] = _actions(body["actions"])
    if body.get("enabled") is not None:
        fields["enabled"] = v.flag(body["enabled"], "enabled")
    return fields


async def list_automations(request: Request) -> Response:
    """``GET /automations?search&page&pageSize``, newest first."""
    c = caller(request)
    page, size = v.page_params(request)
    data, total = c.emulator.automations.page(c.scope, ListQuery(search=request.query_params.get("search")), page, size)
    return ok(request, data, pagination=page_meta(page, size, total))


async def create_automation(request: Request) -> Response:
    """``POST /automations {"name", "triggerEvent", "conditions"?, "actions"?, "enabled"?}`` (enabled
    by default); ``triggerEvent`` is a catalog event type."""
    c = caller(request)
    body = checked_body(await v.body(request), "createAutomation")
    return ok(request, c.emulator.automations.create(c.scope, _rule_fields(body, creating=True)), status=201)


async def get_automation(request: Request) -> Response:
    """``GET /automations/{id}``."""
    c = caller(request)
    return ok(request, c.emulator.automations.get(c.scope, request.path_params["rule_id"]))


async def update_automation(request: Request) -> Response:
    """``PATCH /automations/{id}``: any field of create; conditions and actions replaced whole."""
    c = caller(request)
    fields = _rule_fields(await v.body(request), creating=False)
    return ok(request, c.emulator.automations.update(c.scope, request.path_params["rule_id"], fields))


async def delete_automation(request: Request) -> Response:
    """``DELETE /automations/{id}``."""
    c = caller(request)
    return ok(request, c.emulator.automations.delete(c.scope, request.path_params["rule_id"]))


async def test_automation(request: Request) -> Response:
    """``POST /automations/{id}/test {"resourceType": "ticket"|"customer"|"article", "resourceId"}``:
    the dry run; nothing changes."""
    c = caller(request)
    body = checked_body(await v.body(request), "testAutomation")
    raw = v.text(body["resourceType"], "resourceType") or ""
    kind = RESOURCE_KINDS.get(raw, raw)
    if kind not in RESOURCE_KINDS.values():
        raise ApiError.invalid("resourceType", f"resourceType must be one of: ticket, customer, article (got {raw!r}).")
    resource_id = v.text(v.require(body, "resourceId"), "resourceId", max_len=100) or ""
    return ok(request, c.emulator.automations.test(c.scope, request.path_params["rule_id"], kind, resource_id))


ROUTES = api_routes(
    TEAM,
    [
        ("GET", "/automations", list_automations),
        ("POST", "/automations", create_automation),
        ("GET", "/automations/{rule_id}", get_automation),
        ("PATCH", "/automations/{rule_id}", update_automation),
        ("DELETE", "/automations/{rule_id}", delete_automation),
        ("POST", "/automations/{rule_id}/test", test_automation),
    ],
)
