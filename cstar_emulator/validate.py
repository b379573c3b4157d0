"""Request parsing and field validation. Every failure is a 400 :class:`ApiError` naming its ``field``
(reference: "Error shape", ``INVALID_FIELD``).

Bodies are JSON objects; ``application/x-www-form-urlencoded`` is accepted too, so
``curl -d title=… -d tags=a,b`` works as the reference's curl notes suggest.

Every input is bounded (docs/emulator.md, "Limits"): the body (:data:`MAX_BODY_BYTES`, enforced by the
middleware as it is received), its nesting depth, each query parameter, each text field, tag lists and
metadata. The field limits are chosen so that the largest event the emulator can produce stays far
below the 4 MiB frame bound of the server contract (tests/test_emulator_limits.py checks it).
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from typing import Any
from urllib.parse import parse_qsl

from starlette.requests import Request

from cstar_cli.protocol import events as catalog
from cstar_emulator.db import dumps
from cstar_emulator.envelope import ApiError

__all__ = [
    "DEFAULT_MAX_TEXT",
    "MAX_ARTICLE_CONTENT",
    "MAX_BODY_BYTES",
    "MAX_DEPTH",
    "MAX_METADATA_BYTES",
    "MAX_METADATA_KEYS",
    "MAX_METADATA_KEY_LENGTH",
    "MAX_PAGE_SIZE",
    "MAX_QUERY_NAME_LENGTH",
    "MAX_QUERY_VALUE_LENGTH",
    "MAX_TAGS",
    "MAX_TAG_LENGTH",
    "MAX_TEXT",
    "body",
    "choice",
    "event_patterns",
    "flag",
    "integer",
    "metadata",
    "page_params",
    "parse_json",
    "payload_too_large",
    "query_choice",
    "query_limits",
    "require",
    "tag_list",
    "text",
]

MAX_PAGE_SIZE = 100
#: Request bodies, in bytes as received (1 MiB).
MAX_BODY_BYTES = 1024 * 1024
#: Nesting of arrays and objects in a JSON body (the body object itself is depth 1).
MAX_DEPTH = 64
#: Query parameters: characters of a name and of a value.
MAX_QUERY_NAME_LENGTH = 100
MAX_QUERY_VALUE_LENGTH = 1000
#: Metadata: keys (the reference's 50), characters per key, and the whole object as compact JSON in
#: UTF-8 bytes (after merging with the stored metadata on update).
MAX_METADATA_KEYS = 50
MAX_METADATA_KEY_LENGTH = 100
MAX_METADATA_BYTES = 16 * 1024
#: Tags: at most this many per resource, each at most this many characters.
MAX_TAGS = 50
MAX_TAG_LENGTH = 100
#: Characters of each text field (after stripping), by field name. Fields not listed get 10,000.
MAX_TEXT = {
    "title": 500,
    "name": 200,
    "customerName": 200,
    "senderName": 200,
    "category": 200,
    "email": 320,
    "customerEmail": 320,
    "customerId": 100,
    "assignedTo": 100,
    "notes": 10_000,
    "content": 100_000,
    "url": 2000,
}
#: An article's ``content`` (a message's is ``MAX_TEXT["content"]``).
MAX_ARTICLE_CONTENT = 200_000
#: Text fields without an entry in :data:`MAX_TEXT`.
DEFAULT_MAX_TEXT = 10_000


def payload_too_large() -> ApiError:
    """413 ``payload_too_large`` (type ``validation_error``) for a body over :data:`MAX_BODY_BYTES`."""
    return ApiError(
        413,
        "payload_too_large",
        f"The request body exceeds {MAX_BODY_BYTES:,} bytes (1 MiB); send less data per request.",
    )


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"number {text[:40]} is out of range")
    return value


def _depth(value: Any) -> int:
    """How deeply arrays and objects nest in ``value`` (a scalar is 0), without recursion."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict):
            children: Iterable[Any] = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        deepest = max(deepest, level)
        if deepest > MAX_DEPTH:
            break
        stack.extend((child, level + 1) for child in children)
    return deepest


def parse_json(raw: bytes | str) -> Any:
    """``raw`` parsed as strict JSON: no ``NaN``/``Infinity``, no number too large for a double, at
    most :data:`MAX_DEPTH` levels of nesting. Raises 400 ``invalid_json`` otherwise."""
    try:
        value = json.loads(raw, parse_constant=_no_constant, parse_float=_finite_float)
    except RecursionError:
        value = None
        deep = True
    except (ValueError, UnicodeDecodeError) as e:
        raise ApiError(400, "invalid_json", f"The request body is not valid JSON: {e}.") from e
    else:
        deep = _depth(value) > MAX_DEPTH
    if deep:
        raise ApiError(400, "invalid_json", f"The request body nests more than {MAX_DEPTH} levels deep.")
    return value


def query_limits(params: Iterable[tuple[str, str]]) -> None:
    """400 ``INVALID_FIELD`` for a query parameter whose name or value is too long (see
    :data:`MAX_QUERY_VALUE_LENGTH`); ``params`` are the decoded ``(name, value)`` pairs."""
    for name, value in params:
        if len(name) > MAX_QUERY_NAME_LENGTH:
            raise ApiError(
                400, "bad_request", f"Query parameter names must be at most {MAX_QUERY_NAME_LENGTH} characters."
            )
        if len(value) > MAX_QUERY_VALUE_LENGTH:
            raise ApiError.invalid(
                name, f"{name} must be at most {MAX_QUERY_VALUE_LENGTH:,} characters (got {len(value):,})."
            )


async def body(request: Request) -> dict[str, Any]:
    """The request body as a dict (``{}`` when empty). 400 ``invalid_json`` when it is not an object."""
    raw = await request.body()
    if not raw.strip():
        return {}
    # curl -d sends JSON labelled as a form unless told otherwise; a leading "{" settles it.
    is_form = request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded")
    if is_form and not raw.lstrip().startswith(b"{"):
        return dict(parse_qsl(raw.decode("utf-8", "replace"), keep_blank_values=True))
    value = parse_json(raw)
    if not isinstance(value, dict):
        raise ApiError(400, "invalid_json", "The request body must be a JSON object.")
    try:
        # JSON may spell a lone surrogate (\\ud800) that no UTF-8 text, and so no database, can hold.
        json.dumps(value, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        raise ApiError(
            400, "invalid_json", "The request body contains an unpaired surrogate (\\ud800–\\udfff)."
        ) from None
    return value


def require(data: dict[str, Any], field: str) -> Any:
    """``data[field]``, or 400 "<field> is required" when absent, null or blank."""
    value = data.get(field)
    if value is None or (isinstance(value, str) and not value.strip()):
        raise ApiError.invalid(field, f"{field} is required.")
    return value


def text(value: Any, field: str, *, max_len: int | None = None, nullable: bool = False) -> str | None:
    """A string (stripped) of at most ``max_len`` characters (default: the field's
    :data:`MAX_TEXT` entry, else :data:`DEFAULT_MAX_TEXT`); None only when ``nullable``."""
    if max_len is None:
        max_len = MAX_TEXT.get(field, DEFAULT_MAX_TEXT)
    if value is None and nullable:
        return None
    if not isinstance(value, str):
        raise ApiError.invalid(field, f"{field} must be a string.")
    stripped: str = value.strip()
    if len(stripped) > max_len:
        raise ApiError.invalid(field, f"{field} must be at most {max_len:,} characters (got {len(stripped):,}).")
    return stripped


def choice(value: Any, field: str, allowed: Iterable[str]) -> str:
    """One of ``allowed``; the message lists them."""
    options = tuple(allowed)
    if value not in options:
        raise ApiError.invalid(field, f"{field} must be one of: {', '.join(options)} (got {value!r}).")
    chosen: str = value
    return chosen


def flag(value: Any, field: str) -> bool:
    """A boolean; ``"true"``/``"false"`` strings are accepted for query strings and form bodies."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise ApiError.invalid(field, f"{field} must be true or false.")


def integer(value: Any, field: str, *, minimum: int, maximum: int) -> int:
    """An integer in ``[minimum, maximum]``; digit strings are accepted."""
    if isinstance(value, bool):
        value = None
    elif (isinstance(value, float) and value.is_integer()) or (
        isinstance(value, str) and value.strip().lstrip("-").isdigit()
    ):
        value = int(value)
    if not isinstance(value, int):
        raise ApiError.invalid(field, f"{field} must be an integer.")
    if not minimum <= value <= maximum:
        raise ApiError.invalid(field, f"{field} must be between {minimum} and {maximum} (got {value}).")
    return value


def tag_list(value: Any, field: str = "tags", *, max_items: int = MAX_TAGS) -> list[str]:
    """A list of tags from a list of strings or a comma-separated string; blanks and repeats dropped,
    order kept. At most ``max_items`` tags of at most :data:`MAX_TAG_LENGTH` characters each."""
    if isinstance(value, str):
        items: list[Any] = value.split(",")
    elif isinstance(value, list):
        items = value
    else:
        raise ApiError.invalid(field, f"{field} must be an array of strings or a comma-separated string.")
    tags: list[str] = []
    for item in items:
        if not isinstance(item, str):
            raise ApiError.invalid(field, f"{field} must contain only strings.")
        item = item.strip()
        if len(item) > MAX_TAG_LENGTH:
            raise ApiError.invalid(field, f"Each of {field} must be at most {MAX_TAG_LENGTH} characters.")
        if item and item not in tags:
            tags.append(item)
            if len(tags) > max_items:
                raise ApiError.invalid(field, f"{field} may hold at most {max_items} items.")
    return tags


def metadata(value: Any, existing: dict[str, Any] | None = None, field: str = "metadata") -> dict[str, Any]:
    """``existing`` merged with the object ``value`` (a null value removes its key). The result has at
    most :data:`MAX_METADATA_KEYS` keys of at most :data:`MAX_METADATA_KEY_LENGTH` characters, and is
    at most :data:`MAX_METADATA_BYTES` as compact JSON."""
    if not isinstance(value, dict):
        raise ApiError.invalid(field, f"{field} must be an object.")
    merged = dict(existing or {})
    for k, v in value.items():
        if len(k) > MAX_METADATA_KEY_LENGTH:
            raise ApiError.invalid(field, f"{field} keys must be at most {MAX_METADATA_KEY_LENGTH} characters.")
        if v is None:
            merged.pop(k, None)
        else:
            merged[k] = v
    if len(merged) > MAX_METADATA_KEYS:
        raise ApiError.invalid(field, f"{field} may hold at most {MAX_METADATA_KEYS} keys.")
    size = len(dumps(merged).encode("utf-8"))
    if size > MAX_METADATA_BYTES:
        raise ApiError.invalid(
            field, f"{field} must be at most {MAX_METADATA_BYTES:,} bytes as JSON (got {size:,}); store less in it."
        )
    return merged


def event_patterns(value: Any, field: str = "events") -> list[str]:
    """Event filters (exact type, ``resource.*`` or ``*``) from a list or a comma-separated string."""
    # Each catalog type, each resource.* and * — more is a repeat.
    patterns = tag_list(value, field, max_items=2 * len(catalog.CATALOG) + 1)
    if not patterns:
        raise ApiError.invalid(field, f"{field} must name at least one event type.")
    for p in patterns:
        if not catalog.is_valid_pattern(p):
            close = catalog.suggest(p)
            hint = f" Did you mean {close[0]}?" if close else ""
            raise ApiError.invalid(field, f"Unknown event type {p!r}.{hint}")
    return patterns


def query_choice(request: Request, name: str, allowed: Iterable[str]) -> str | None:
    """An optional enum query parameter."""
    value = request.query_params.get(name)
    return None if value in (None, "") else choice(value, name, allowed)


def page_params(request: Request) -> tuple[int, int]:
    """``(page, pageSize)`` from the query: page ≥ 1 (default 1), pageSize 1–100 (default 20)."""
    q = request.query_params
    page = integer(q.get("page", "1"), "page", minimum=1, maximum=1_000_000)
    size = integer(q.get("pageSize", "20"), "pageSize", minimum=1, maximum=MAX_PAGE_SIZE)
    return page, size
