"""Request parsing and field validation. Every failure is a 400 :class:`ApiError` naming its ``field``
(reference: "Error shape", ``INVALID_FIELD``).

Bodies are JSON objects; ``application/x-www-form-urlencoded`` is accepted too, so
``curl -d title=… -d tags=a,b`` works as the reference's curl notes suggest.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any
from urllib.parse import parse_qsl

from starlette.requests import Request

from cstar_cli import events as catalog
from cstar_cli.emulator.envelope import ApiError

__all__ = [
    "MAX_PAGE_SIZE",
    "body",
    "choice",
    "event_patterns",
    "flag",
    "integer",
    "metadata",
    "page_params",
    "query_choice",
    "require",
    "tag_list",
    "text",
]

MAX_PAGE_SIZE = 100
MAX_METADATA_KEYS = 50


async def body(request: Request) -> dict[str, Any]:
    """The request body as a dict (``{}`` when empty). 400 ``invalid_json`` when it is not an object."""
    raw = await request.body()
    if not raw.strip():
        return {}
    # curl -d sends JSON labelled as a form unless told otherwise; a leading "{" settles it.
    is_form = request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded")
    if is_form and not raw.lstrip().startswith(b"{"):
        return dict(parse_qsl(raw.decode("utf-8", "replace"), keep_blank_values=True))
    try:
        value = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as e:
        raise ApiError(400, "invalid_json", f"The request body is not valid JSON: {e}.") from e
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


def text(value: Any, field: str, *, max_len: int = 10_000, nullable: bool = False) -> str | None:
    """A string (stripped) of at most ``max_len`` characters; None only when ``nullable``."""
    if value is None and nullable:
        return None
    if not isinstance(value, str):
        raise ApiError.invalid(field, f"{field} must be a string.")
    value = value.strip()
    if len(value) > max_len:
        raise ApiError.invalid(field, f"{field} must be at most {max_len} characters.")
    return value


def choice(value: Any, field: str, allowed: Iterable[str]) -> str:
    """One of ``allowed``; the message lists them."""
    options = tuple(allowed)
    if value not in options:
        raise ApiError.invalid(field, f"{field} must be one of: {', '.join(options)} (got {value!r}).")
    return value


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


def tag_list(value: Any, field: str = "tags") -> list[str]:
    """A list of tags from a list of strings or a comma-separated string; blanks dropped, order kept."""
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
        if item and item not in tags:
            tags.append(item)
    return tags


def metadata(value: Any, existing: dict[str, Any] | None = None, field: str = "metadata") -> dict[str, Any]:
    """``existing`` merged with the object ``value`` (a null value removes its key), at most 50 keys."""
    if not isinstance(value, dict):
        raise ApiError.invalid(field, f"{field} must be an object.")
    merged = dict(existing or {})
    for k, v in value.items():
        if v is None:
            merged.pop(k, None)
        else:
            merged[k] = v
    if len(merged) > MAX_METADATA_KEYS:
        raise ApiError.invalid(field, f"{field} may hold at most {MAX_METADATA_KEYS} keys.")
    return merged


def event_patterns(value: Any, field: str = "events") -> list[str]:
    """Event filters (exact type, ``resource.*`` or ``*``) from a list or a comma-separated string."""
    patterns = tag_list(value, field)
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
