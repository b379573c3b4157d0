"""Tool results: a structured success, or an ``isError`` result a model can act on.

Errors are results, never protocol errors or crashes (MCP "Tool execution errors"), so the agent
reads them and can tell the user what to do. Their text is::

    Error (not_found): Ticket tkt_123 not found.
    Field: ticketId
    Request ID: req_abc123
    Hint: Check the ID …

with the reference's error ``code``, the request ID to quote to support ("Every response has a
request ID"), and a hint such as "run `cstar login`" or "use a secret key". Every string passes
:func:`cstar_cli.mcp.sanitize.clean` and the secret scrubber, so neither invisible characters nor
the API key (only ever ``sk_test_…a1b2``) can reach the model.
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from mcp_types import CallToolResult, TextContent
from pydantic import ValidationError

from cstar_cli.errors import CStarConflictError, CStarError, CStarNotFoundError, CStarValidationError
from cstar_cli.mcp.sanitize import clean, clean_text
from cstar_cli.protocol.keys import scrub_secrets

__all__ = ["add_hint", "error_text", "expected_shape", "failure", "invalid_arguments", "success"]

Scrub = Callable[[str], str]

_PREFIX_PATTERN = re.compile(r"^\^([a-z]+_)")

# The tool that lists valid values for an ID argument.
_ID_LISTS = {"customerId": "cstar_list_customers", "ticketId": "cstar_list_tickets"}

_CONFLICT_HINTS = {
    "idempotency_key_reused": (
        "Use a new idempotencyKey for a different ticket; repeat a key only to retry the same call with the "
        "same arguments."
    ),
    "idempotency_key_in_use": (
        "The first call with this idempotencyKey is still running: wait a few seconds, then call again with the "
        "same key."
    ),
}


def success(data: Mapping[str, Any], scrub: Scrub | None = None) -> CallToolResult:
    """A successful result: ``structuredContent`` is ``data`` cleaned, and the text content is the same
    JSON (for clients that read only text)."""
    cleaned = clean(dict(data), scrub)
    return CallToolResult(
        content=[TextContent(type="text", text=json.dumps(cleaned, ensure_ascii=False))],
        structured_content=cleaned,
    )


def error_text(err: CStarError, extra: Iterable[str] = ()) -> str:
    """The lines of an error result (see the module docstring); ``extra`` lines go before the hint."""
    lines = [f"Error ({err.code}): {err.message}"]
    if err.field:
        lines.append(f"Field: {err.field}")
    if err.request_id:
        lines.append(f"Request ID: {err.request_id}")
    lines.extend(extra)
    if err.hint:
        lines.append(f"Hint: {err.hint}")
    return "\n".join(lines)


def failure(err: CStarError, scrub: Scrub | None = None, extra: Iterable[str] = ()) -> CallToolResult:
    """An ``isError`` result for ``err``."""
    text = clean_text(error_text(err, extra))
    return CallToolResult(content=[TextContent(type="text", text=scrub(text) if scrub else text)], is_error=True)


def add_hint(err: CStarError, tool: str, not_found_hint: str | None = None) -> CStarError:
    """Give ``err`` a next step by its class when it has none (the API's errors seldom carry one):
    for an unknown ID (a "not found", or a rejected ID argument) ``not_found_hint`` or "list first
    with cstar_list_…"; for another rejected argument, "check the argument named in the message"; for
    a conflict, what to do about its idempotency key. Returns ``err``."""
    if err.hint:
        return err
    lister = _ID_LISTS.get(err.field or "")
    if isinstance(err, CStarNotFoundError) or (isinstance(err, CStarValidationError) and lister):
        err.hint = not_found_hint or (
            f"List first with {lister} to get a valid {err.field}."
            if lister
            else "List first with cstar_list_tickets, cstar_list_customers or cstar_list_articles to get a valid ID."
        )
    elif isinstance(err, CStarValidationError):
        err.hint = (
            f"Check the argument named in the message and call {tool} again; its input schema lists what is allowed."
        )
    elif isinstance(err, CStarConflictError):
        err.hint = _CONFLICT_HINTS.get(err.code, "Something changed at the same time: read it again, then retry.")
    return err


def _plural(n: int, unit: str) -> str:
    return f"{n:,} {unit}" if n != 1 else f"1 {unit.removesuffix('s')}"


def _length_problem(field: str, e: Mapping[str, Any]) -> str | None:
    """A too-long or too-short value in plain words: characters for a string, items for a list (pydantic
    speaks of "items" for a string in an optional argument)."""
    if e["type"] not in ("too_long", "too_short", "string_too_long", "string_too_short"):
        return None
    given, ctx = e.get("input"), e.get("ctx") or {}
    unit, verb = ("characters", "be") if isinstance(given, str) else ("items", "have")
    try:
        size = len(given)  # type: ignore[arg-type]
    except TypeError:
        return None
    if "long" in e["type"] and "max_length" in ctx:
        return f"{field} must {verb} at most {_plural(ctx['max_length'], unit)} (got {size:,})"
    if "short" in e["type"] and "min_length" in ctx:
        if size == 0:
            return f"{field} must not be empty"
        return f"{field} must {verb} at least {_plural(ctx['min_length'], unit)} (got {size:,})"
    return None


def _cut(text: str, scrub: Scrub, limit: int = 60) -> str:
    """``text`` scrubbed, then cut to ``limit`` characters: in this order, so that a secret is
    redacted whole, never cut into a piece the scrubber no longer recognises."""
    text = scrub(text)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _show_name(name: str, scrub: Scrub) -> str:
    return repr(_cut(name, scrub))


def _show(value: Any, scrub: Scrub) -> str:
    return _cut(json.dumps(value, ensure_ascii=False) if not isinstance(value, str) else repr(value), scrub)


# What each JSON Schema type is called in a hint, and what a value of it is called when given instead.
_TAKES = {
    "array": "a list",
    "object": "a JSON object",
    "integer": "a whole number",
    "number": "a number",
    "boolean": "true or false",
    "string": "a string",
}
_MANY = {
    "array": "lists",
    "object": "JSON objects",
    "integer": "whole numbers",
    "number": "numbers",
    "boolean": "booleans",
    "string": "strings",
}
_GIVEN = {
    "array": "a list",
    "object": "an object",
    "integer": "a number",
    "number": "a number",
    "boolean": "true/false",
    "string": "a string",
}


def _json_type(value: Any) -> str | None:
    """The JSON Schema type of a decoded JSON value (None for null)."""
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    for kind, cls in (("number", float), ("string", str), ("array", list), ("object", dict)):
        if isinstance(value, cls):
            return kind
    return None


def _fits(value: Any, want: str) -> bool:
    kind = _json_type(value)
    return kind == want or (want == "number" and kind == "integer")


def _limits(schema: Mapping[str, Any]) -> str:
    """A number's bounds in words: " (1 to 100)", " (over 0, at most 60)", " (at least 1)"."""
    if "minimum" in schema and "maximum" in schema:
        return f" ({schema['minimum']:g} to {schema['maximum']:g})"
    words = {"minimum": "at least", "exclusiveMinimum": "over", "maximum": "at most", "exclusiveMaximum": "under"}
    parts = [f"{word} {schema[key]:g}" for key, word in words.items() if isinstance(schema.get(key), (int, float))]
    return f" ({', '.join(parts)})" if parts else ""


def _within(schema: Mapping[str, Any], value: Any) -> bool:
    """Whether a number ``value`` keeps ``schema``'s bounds (anything else: True)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return True
    low, high = schema.get("minimum"), schema.get("maximum")
    above, below = schema.get("exclusiveMinimum"), schema.get("exclusiveMaximum")
    return (
        (low is None or value >= low)
        and (high is None or value <= high)
        and (above is None or value > above)
        and (below is None or value < below)
    )


def _items(schema: Mapping[str, Any]) -> Mapping[str, Any]:
    items = schema.get("items")
    return items if isinstance(items, Mapping) else {}


def _placeholder(schema: Mapping[str, Any]) -> str:
    """An example value of ``schema``'s type, as JSON text: its default, a bound, or a stand-in."""
    want = schema.get("type")
    if want in ("integer", "number"):
        for key in ("default", "minimum", "maximum"):
            if isinstance(schema.get(key), (int, float)) and not isinstance(schema.get(key), bool):
                return json.dumps(schema[key])
        return "1"
    if want == "boolean":
        return "true"
    if want == "object":
        return '{"key": …}'
    if want == "array":
        return f"[{_placeholder(_items(schema))}, …]"
    if enum := schema.get("enum"):
        return json.dumps(enum[0], ensure_ascii=False)
    return '"…"'


def expected_shape(field: str, schema: Mapping[str, Any], given: Any, scrub: Scrub = scrub_secrets) -> str | None:
    """A hint showing what ``field`` takes, derived from its JSON ``schema``, when ``given`` is a value
    of another JSON type (None otherwise): ``override takes a list of strings, not a string:
    ["ticket.priority=urgent"]``. The example is ``given`` itself where it can be: decoded when it is
    text holding a value of the right type (``"5"`` → ``5``), wrapped in a list for a list argument;
    else the schema's default, a bound, or a stand-in. The example passes ``scrub`` before it is cut
    to 60 characters."""
    want = schema.get("type")
    given_type = _json_type(given)
    if not isinstance(want, str) or want not in _TAKES or given_type is None or _fits(given, want):
        return None
    takes = _TAKES[want]
    items = _items(schema)
    if want == "array" and items.get("type") in _MANY:
        takes = f"a list of {_MANY[items['type']]}"
    if want in ("integer", "number"):
        takes += _limits(schema)
    example: str | None = None
    decoded: Any = None
    if isinstance(given, str):
        try:
            decoded = json.loads(given)
        except ValueError:
            decoded = None
    if decoded is not None and _fits(decoded, want) and _within(schema, decoded):
        example = json.dumps(decoded, ensure_ascii=False)
    elif want == "array" and items.get("type") and _fits(given, str(items["type"])):
        example = json.dumps([given], ensure_ascii=False)
    elif want == "string" and given_type in ("integer", "number", "boolean") and (
        "enum" not in schema or json.dumps(given) in schema["enum"]
    ):
        example = json.dumps(json.dumps(given))
    if example is not None:
        example = _cut(example, scrub)
    instead = "a fraction" if want == "integer" and given_type == "number" else _GIVEN[given_type]
    return f"{field} takes {takes}, not {instead}: {example or _placeholder(schema)}."


def invalid_arguments(
    tool: str, exc: ValidationError, input_schema: Mapping[str, Any] | None, scrub: Scrub = scrub_secrets
) -> CStarValidationError:
    """Arguments that failed the input schema → one :class:`CStarValidationError` (code
    ``INVALID_FIELD``, the reference's code for a bad field) naming each bad argument, the value given
    and, for an enum or a misspelt argument name, the closest allowed one; for a value of the wrong
    JSON type, the shape the schema expects (:func:`expected_shape`). Every value and name quoted
    from the arguments passes ``scrub`` whole, before it is cut short."""
    props: Mapping[str, Any] = (input_schema or {}).get("properties") or {}
    by_field: dict[str, dict[str, Any]] = {}
    for detail in exc.errors(include_url=False):
        field = str(detail["loc"][0]) if detail["loc"] else "arguments"
        # A `X | None` argument reports a second, useless "Input should be None" error.
        if field not in by_field or by_field[field]["type"] == "none_required":
            by_field[field] = dict(detail)
    problems: list[str] = []
    hints: list[str] = []
    unknown = False  # an unknown argument not like any known one
    for field, e in by_field.items():
        prop = props.get(field) or {}
        given = e.get("input")
        if e["type"] == "missing":
            problems.append(f"{field} is required")
            continue
        if e["type"] == "extra_forbidden":
            problems.append(f"{_show_name(field, scrub)} is not an argument of {tool}")
            close = difflib.get_close_matches(field, list(props), n=1, cutoff=0.6)
            if close:
                hints.append(f"Did you mean {close[0]}?")
            else:
                unknown = True
            continue
        # A list item's problem names the item: tags[2] (the loc also holds pydantic's union arm names).
        indexes = [part for part in e["loc"][1:] if isinstance(part, int)]
        field = field + "".join(f"[{part}]" for part in indexes)
        schema: Mapping[str, Any] = prop
        for _ in indexes:
            schema = _items(schema)
        if e["type"] == "string_pattern_mismatch" and (m := _PREFIX_PATTERN.match(str(prop.get("pattern", "")))):
            problems.append(f"{field} must be an ID starting with {m.group(1)} (got {_show(given, scrub)})")
            continue
        if length := _length_problem(field, e):
            problems.append(length)
            continue
        problems.append(f"{field}: {e['msg']} (got {_show(given, scrub)})")
        if shape := expected_shape(field, schema, given, scrub):
            hints.append(shape)
        if enum := prop.get("enum"):
            close = difflib.get_close_matches(str(given).lower(), [str(v) for v in enum], n=1, cutoff=0.5)
            if close:
                hints.append(f"Did you mean {field}={close[0]!r}?")
    if unknown:
        hints.append(f"Its arguments: {', '.join(props)}." if props else f"{tool} takes no arguments.")
    first = next(iter(by_field), None)
    if first is not None:
        first = _cut(first, scrub)
    hints.append(
        f"Fix the argument{'s' if len(problems) > 1 else ''} and call {tool} again; its input schema lists what is allowed."
    )
    return CStarValidationError(
        f"Invalid arguments for {tool}: " + "; ".join(problems) + ".",
        field=first,
        hint=" ".join(hints),
    )
