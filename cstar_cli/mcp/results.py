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

from cstar_cli.errors import CStarError, CStarValidationError
from cstar_cli.mcp.sanitize import clean, clean_text

__all__ = ["error_text", "failure", "invalid_arguments", "success"]

Scrub = Callable[[str], str]

_PREFIX_PATTERN = re.compile(r"^\^([a-z]+_)")


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


def _show(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False) if not isinstance(value, str) else repr(value)
    return text if len(text) <= 60 else text[:59] + "…"


def invalid_arguments(tool: str, exc: ValidationError, input_schema: Mapping[str, Any] | None) -> CStarValidationError:
    """Arguments that failed the input schema → one :class:`CStarValidationError` (code
    ``INVALID_FIELD``, the reference's code for a bad field) naming each bad argument, the value given
    and, for an enum, the closest allowed value."""
    props: Mapping[str, Any] = (input_schema or {}).get("properties") or {}
    by_field: dict[str, dict[str, Any]] = {}
    for e in exc.errors(include_url=False):
        field = str(e["loc"][0]) if e["loc"] else "arguments"
        # A `X | None` argument reports a second, useless "Input should be None" error.
        if field not in by_field or by_field[field]["type"] == "none_required":
            by_field[field] = dict(e)
    problems: list[str] = []
    hints: list[str] = []
    for field, e in by_field.items():
        prop = props.get(field) or {}
        given = e.get("input")
        if e["type"] == "missing":
            problems.append(f"{field} is required")
            continue
        if e["type"] == "string_pattern_mismatch" and (m := _PREFIX_PATTERN.match(str(prop.get("pattern", "")))):
            problems.append(f"{field} must be an ID starting with {m.group(1)} (got {_show(given)})")
            continue
        problems.append(f"{field}: {e['msg']} (got {_show(given)})")
        if enum := prop.get("enum"):
            close = difflib.get_close_matches(str(given).lower(), [str(v) for v in enum], n=1, cutoff=0.5)
            if close:
                hints.append(f"Did you mean {field}={close[0]!r}?")
    first = next(iter(by_field), None)
    hints.append(
        f"Fix the argument{'s' if len(problems) > 1 else ''} and call {tool} again; its input schema lists what is allowed."
    )
    return CStarValidationError(
        f"Invalid arguments for {tool}: " + "; ".join(problems) + ".",
        field=first,
        hint=" ".join(hints),
    )
