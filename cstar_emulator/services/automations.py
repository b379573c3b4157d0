"""Automation rules (reference: "Automations"): stored rules and the dry-run test.

A rule's ``conditions`` is ``{"all": [condition…], "any": [condition…]}`` (either may be left
out), each condition ``{"field", "operator", "value"}`` on an API field of the resource
(``priority``, ``tags``, ``metadata.plan``…); it matches when every ``all`` condition passes and,
if there are ``any`` conditions, at least one of them does. ``actions`` are ``{"type", …}`` objects
(:data:`~cstar_emulator.models_computed.ACTION_TYPES`).

The emulator stores rules and evaluates them in the dry run only: it never executes them when
their trigger event fires, so ``executionCount`` stays 0. No event type in the catalog describes a
rule change, so creating, updating or deleting one fires nothing.
"""

from __future__ import annotations

from typing import Any

from cstar_emulator import models
from cstar_emulator.db import Database, Scope
from cstar_emulator.models import Resource
from cstar_emulator.repositories.articles import Articles
from cstar_emulator.repositories.automations import Automations
from cstar_emulator.repositories.customers import Customers
from cstar_emulator.repositories.table import ListQuery, ScopedTable
from cstar_emulator.repositories.tickets import Tickets
from cstar_emulator.services._common import changed, found

__all__ = ["AutomationService", "evaluate"]

_MISSING = object()

#: The statuses each resource kind allows (for ``set_status``).
_STATUSES = {
    "ticket": models.TICKET_STATUSES,
    "customer": models.CUSTOMER_STATUSES,
    "article": models.ARTICLE_STATUSES,
}


def _value_of(resource: Resource, field: str) -> Any:
    """The resource's value at ``field`` (``metadata.plan`` walks into objects; ``assigned_to`` is
    read as ``assignedTo``); a missing field is None."""
    node: Any = resource
    for part in field.split("."):
        if not isinstance(node, dict):
            return None
        head, *rest = part.split("_")
        camel = head + "".join(p.title() for p in rest)
        node = node.get(part, node.get(camel, _MISSING))
        if node is _MISSING:
            return None
    return node


def _empty(value: Any) -> bool:
    return value is None or value == "" or value == [] or value == {}


def _fold(value: Any) -> Any:
    return value.casefold() if isinstance(value, str) else value


def _compare(actual: Any, expected: Any) -> float | None:
    """``actual - expected`` for numbers (or ISO timestamps compared as text: -1, 0, 1)."""
    if isinstance(actual, (int, float)) and isinstance(expected, (int, float)) and not isinstance(actual, bool):
        return float(actual - expected)
    if isinstance(actual, str) and isinstance(expected, str):
        return float((actual > expected) - (actual < expected))
    return None


def evaluate(operator: str, actual: Any, expected: Any) -> bool:
    """Whether ``actual`` satisfies ``operator`` with ``expected``. Strings compare case-insensitively;
    ``contains`` on a list means "has this item"."""
    a, e = _fold(actual), _fold(expected)
    if operator == "equals":
        return bool(a == e)
    if operator == "not_equals":
        return bool(a != e)
    if operator in ("contains", "not_contains"):
        if isinstance(a, list):
            has = e in [_fold(x) for x in a]
        elif isinstance(a, str) and isinstance(e, str):
            has = e in a
        else:
            has = False
        return has if operator == "contains" else not has
    if operator == "starts_with":
        return isinstance(a, str) and isinstance(e, str) and a.startswith(e)
    if operator == "ends_with":
        return isinstance(a, str) and isinstance(e, str) and a.endswith(e)
    if operator in ("in", "not_in"):
        inside = isinstance(e, list) and a in [_fold(x) for x in e]
        return inside if operator == "in" else not inside
    if operator in ("greater_than", "less_than"):
        diff = _compare(actual, expected)
        return diff is not None and (diff > 0 if operator == "greater_than" else diff < 0)
    if operator == "is_empty":
        return _empty(actual)
    if operator == "is_not_empty":
        return not _empty(actual)
    return False


class AutomationService:
    """Rules of one partition, and dry runs against its tickets, customers and articles."""

    def __init__(
        self, db: Database, rules: Automations, tickets: Tickets, customers: Customers, articles: Articles
    ) -> None:
        self.db = db
        self.rules = rules
        self.targets: dict[str, ScopedTable] = {"ticket": tickets, "customer": customers, "article": articles}

    def page(self, scope: Scope, query: ListQuery, page: int, page_size: int) -> tuple[list[Resource], int]:
        """A page of rules (newest first; ``query.search`` looks in names) and the total."""
        return self.rules.page(scope, query, page, page_size)

    def get(self, scope: Scope, rule_id: str) -> Resource:
        """The rule; 404 when ``scope`` has none."""
        return found(self.rules, scope, rule_id, "automation rule")

    def create(self, scope: Scope, fields: dict[str, Any]) -> Resource:
        """Store a rule of ``fields`` (columns: ``name``, ``trigger_event``, ``conditions``,
        ``actions``, ``enabled`` (default true))."""
        with self.db.transaction():
            return found(self.rules, scope, self.rules.insert(scope, fields), "automation rule")

    def update(self, scope: Scope, rule_id: str, fields: dict[str, Any]) -> Resource:
        """Set ``fields`` (the columns of :meth:`create`; conditions and actions replaced whole)."""
        with self.db.transaction():
            before = self.get(scope, rule_id)
            diff = changed(before, fields)
            if diff:
                self.rules.update(scope, rule_id, diff)
            return self.get(scope, rule_id)

    def delete(self, scope: Scope, rule_id: str) -> Resource:
        """Delete the rule; returns ``{"id", "deleted": true}``."""
        with self.db.transaction():
            self.get(scope, rule_id)
            self.rules.delete(scope, rule_id)
        return {"id": rule_id, "deleted": True}

    def test(self, scope: Scope, rule_id: str, resource_type: str, resource_id: str) -> Resource:
        """Dry-run the rule against the ``resource_type`` (``ticket``, ``customer``, ``article``)
        ``resource_id`` (404 when either is unknown); changes nothing, fires nothing. Returns
        ``{"ruleId", "enabled", "triggerEvent", "resourceType", "resourceId", "wouldMatch",
        "conditionResults": {"all": [{"field", "operator", "value", "actual", "passed"}], "any": […]},
        "actionsWouldExecute": [{"action", "success", "detail", "changes"?}]}`` (empty when it would
        not match)."""
        rule = self.get(scope, rule_id)
        target = found(self.targets[resource_type], scope, resource_id, resource_type)
        results: dict[str, list[dict[str, Any]]] = {}
        for group in ("all", "any"):
            results[group] = []
            for cond in rule["conditions"].get(group, []):
                actual = _value_of(target, cond["field"])
                passed = evaluate(cond["operator"], actual, cond.get("value"))
                results[group].append(
                    {
                        "field": cond["field"],
                        "operator": cond["operator"],
                        "value": cond.get("value"),
                        "actual": actual,
                        "passed": passed,
                    }
                )
        match = all(r["passed"] for r in results["all"]) and (
            not results["any"] or any(r["passed"] for r in results["any"])
        )
        actions = [_dry_action(a, resource_type, target) for a in rule["actions"]] if match else []
        return {
            "ruleId": rule_id,
            "enabled": rule["enabled"],
            "triggerEvent": rule["triggerEvent"],
            "resourceType": resource_type,
            "resourceId": resource_id,
            "wouldMatch": match,
            "conditionResults": results,
            "actionsWouldExecute": actions,
        }


def _dry_action(action: dict[str, Any], kind: str, target: Resource) -> dict[str, Any]:
    """What one action would do to ``target``: ``{"action", "success", "detail", "changes"?}``."""
    kind_of = action["type"]

    def out(success: bool, detail: str, changes: dict[str, Any] | None = None) -> dict[str, Any]:
        result: dict[str, Any] = {"action": kind_of, "success": success, "detail": detail}
        if changes:
            result["changes"] = changes
        return result

    param = action.get("value")
    for name in ("agentId", "status", "priority", "tag", "note", "content"):
        if name in action:
            param = action[name]
    tickets_only = kind_of in ("assign", "set_priority", "add_note", "send_reply")
    if tickets_only and kind != "ticket":
        return out(False, f"{kind_of} applies to tickets only, not to a {kind}.")
    if kind_of == "assign":
        return out(
            True, f"Would assign the ticket to {param}.", {"assignedTo": {"from": target["assignedTo"], "to": param}}
        )
    if kind_of == "set_status":
        if param not in _STATUSES[kind]:
            return out(False, f"{param!r} is not a {kind} status ({', '.join(_STATUSES[kind])}).")
        return out(True, f"Would set the status to {param}.", {"status": {"from": target["status"], "to": param}})
    if kind_of == "set_priority":
        if param not in models.PRIORITIES:
            return out(False, f"{param!r} is not a priority ({', '.join(models.PRIORITIES)}).")
        return out(True, f"Would set the priority to {param}.", {"priority": {"from": target["priority"], "to": param}})
    if kind_of in ("add_tag", "remove_tag"):
        if "tags" not in target:
            return out(False, f"A {kind} has no tags.")
        tags = list(target["tags"])
        after = [*tags, param] if kind_of == "add_tag" and param not in tags else [t for t in tags if t != param]
        if kind_of == "add_tag" and param in tags:
            after = tags
        verb = "add" if kind_of == "add_tag" else "remove"
        return out(True, f"Would {verb} the tag {param!r}.", {"tags": {"from": tags, "to": after}})
    if kind_of == "add_note":
        return out(True, "Would add an internal note to the ticket.")
    return out(True, "Would send a reply to the customer on the ticket.")
