"""Endpoints driven by the OpenAPI document (``cstar_cli/protocol/openapi.json``): the operation
names which keys may call it, its query parameters (types, enums, defaults, bounds), its body schema
and its success status, so the route only says what the call does.

A body is checked against the operation's JSON Schema (400 ``INVALID_FIELD`` naming the first bad
field), then bounded like every other input (docs/emulator.md, "Limits"): strings trimmed and capped,
free-form objects held to the metadata limits, nested strings to :data:`NESTED_TEXT`.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from cstar_cli.protocol import openapi
from cstar_emulator import validate as v
from cstar_emulator.envelope import ApiError, ok
from cstar_emulator.models import Resource
from cstar_emulator.routes._http import Caller, RouteSpec, caller
from cstar_emulator.services.auth import require_secret

__all__ = ["NESTED_TEXT", "Call", "Op", "Page", "endpoint", "parse_body", "parse_query", "route"]

#: Characters of a string inside an array or object of a body (attachment names, options…).
NESTED_TEXT = 2000
#: Integers without bounds in the document stay within these.
INT_RANGE = (-1_000_000_000, 1_000_000_000)
#: Text limits of fields the shared table (``validate.MAX_TEXT``) does not name.
TEXT_LIMITS = {"slug": 200, "key": 100, "icon": 100, "color": 50, "externalId": 200, "sortField": 100}


@dataclass(frozen=True)
class Page:
    """A list answer: ``items`` of page ``page`` (of ``size``) out of ``total``."""

    items: list[Resource]
    total: int
    page: int
    size: int


@dataclass(frozen=True)
class Call:
    """What a handler gets: the ``caller``, the ``request``, its path ``params``, its checked
    ``query`` (every declared parameter, defaults filled) and checked ``body`` (fields present)."""

    caller: Caller
    request: Request
    params: dict[str, str]
    query: dict[str, Any]
    body: dict[str, Any]


Handler = Callable[[Call], Any]


@dataclass(frozen=True)
class Op:
    """One operation as an endpoint needs it: its ``name`` (operationId), ``summary``, the key
    ``key_types`` that may call it, success ``status``, ``body_schema`` (JSON Schema or None) and
    ``query`` parameter objects."""

    name: str
    summary: str
    key_types: tuple[str, ...]
    status: int
    body_schema: dict[str, Any] | None
    query: tuple[dict[str, Any], ...]

    @classmethod
    def of(cls, operation_id: str) -> Op:
        """The document's operation ``operation_id`` (KeyError when it has none)."""
        op = openapi.operation(operation_id)
        status = int(next(k for k in op["responses"] if k.startswith("2")))
        return cls(
            operation_id,
            op.get("summary", operation_id).rstrip("."),
            tuple(op.get("x-cstar-key-types", ["secret"])),
            status,
            openapi.request_body_schema(operation_id),
            tuple(openapi.query_parameters(operation_id)),
        )

    @functools.cached_property
    def validator(self) -> Any:
        return None if self.body_schema is None else openapi.validator(self.body_schema)


def _coerce(schema: dict[str, Any], value: Any) -> Any:
    """Form bodies and query strings carry text: ``"true"`` for booleans, digits for integers."""
    kind = schema.get("type")
    if kind == "boolean" and isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    if kind == "integer" and isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value)
    if kind == "integer" and isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _field_error(error: Any) -> ApiError:
    path = list(error.absolute_path)
    if error.validator == "required":
        missing = next(n for n in error.validator_value if n not in error.instance)
        return ApiError.invalid(missing, f"{missing} is required.")
    name = str(path[0]) if path else "body"
    where = name + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in path[1:])
    if error.validator == "enum":
        options = ", ".join(map(str, error.validator_value))
        return ApiError.invalid(name, f"{where} must be one of: {options} (got {error.instance!r}).")
    if error.validator == "type":
        kind = error.validator_value
        noun = (
            {
                "string": "a string",
                "integer": "an integer",
                "boolean": "true or false",
                "object": "an object",
                "array": "an array",
                "number": "a number",
            }.get(kind, str(kind))
            if isinstance(kind, str)
            else str(kind)
        )
        return ApiError.invalid(name, f"{where} must be {noun}.")
    if error.validator == "maxItems":
        return ApiError.invalid(name, f"{where} may hold at most {error.validator_value} items.")
    if error.validator in ("minimum", "maximum"):
        return ApiError.invalid(
            name,
            f"{where} must be {'at least' if error.validator == 'minimum' else 'at most'} "
            f"{error.validator_value} (got {error.instance}).",
        )
    return ApiError.invalid(name, f"{where}: {error.message}")


def _bounded(name: str, value: Any, *, top: bool) -> Any:
    if isinstance(value, str):
        return v.text(
            value, name, max_len=None if top and name not in TEXT_LIMITS else TEXT_LIMITS.get(name, NESTED_TEXT)
        )
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        lo, hi = INT_RANGE
        return v.integer(value, name, minimum=lo, maximum=hi)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ApiError.invalid(name, f"{name} must be a finite number.")
        return value
    if isinstance(value, list):
        if len(value) > v.MAX_PAGE_SIZE:
            raise ApiError.invalid(name, f"{name} may hold at most {v.MAX_PAGE_SIZE} items.")
        return [_bounded(name, item, top=False) for item in value]
    if isinstance(value, dict):
        if top:
            return v.metadata(value, field=name)
        return {k: _bounded(name, item, top=False) for k, item in value.items()}
    return value


def parse_body(op: Op, raw: dict[str, Any]) -> dict[str, Any]:
    """The fields of ``raw`` the operation's body schema declares, checked against it and bounded;
    a null leaves the field null (the service decides whether it may be). Fields it does not
    declare are ignored. Raises 400 ``INVALID_FIELD`` naming the field."""
    schema = op.body_schema or {}
    props: dict[str, Any] = schema.get("properties", {})
    present = {k: _coerce(openapi.resolve(props[k]), val) for k, val in raw.items() if k in props}
    checked = {k: val for k, val in present.items() if val is not None}
    for name in schema.get("required", []):
        v.require(present, name)
    validator = op.validator
    if validator is not None:
        errors = sorted(validator.iter_errors(checked), key=lambda e: [str(p) for p in e.absolute_path])
        if errors:
            raise _field_error(errors[0])
    return {k: None if val is None else _bounded(k, val, top=True) for k, val in present.items()}


def parse_query(op: Op, request: Request) -> dict[str, Any]:
    """Every query parameter the operation declares, by name: the request's value checked against
    its schema (enum, boolean, integer bounds; ``pageSize`` at most 100), else its default (or None)."""
    out: dict[str, Any] = {}
    for param in op.query:
        name, schema = param["name"], openapi.resolve(param.get("schema", {}))
        raw = request.query_params.get(name)
        if raw in (None, ""):
            out[name] = schema.get("default")
            continue
        kind = schema.get("type")
        if "enum" in schema:
            out[name] = v.choice(raw, name, schema["enum"])
        elif kind == "boolean":
            out[name] = v.flag(raw, name)
        elif kind == "integer":
            hi = schema.get("maximum", v.MAX_PAGE_SIZE if name == "pageSize" else 1_000_000)
            out[name] = v.integer(raw, name, minimum=schema.get("minimum", 0), maximum=hi)
        else:
            out[name] = raw
    return out


def endpoint(op: Op | str, handler: Handler) -> Callable[[Request], Awaitable[Response]]:
    """The Starlette endpoint of ``op`` (an :class:`Op` or a document operationId): refuses
    publishable keys where only secret ones may call it (403 ``secret_key_required``), parses query
    and body, runs ``handler`` and answers with the operation's success status; a :class:`Page`
    answers with ``meta.pagination`` (``page``, ``pageSize``, ``total``, ``totalPages``,
    ``hasMore``)."""
    if isinstance(op, str):
        op = Op.of(op)
    spec = op

    async def serve(request: Request) -> Response:
        c = caller(request)
        if "publishable" not in spec.key_types:
            require_secret(c.key, spec.summary)
        query = parse_query(spec, request)
        body = parse_body(spec, await v.body(request)) if request.method != "GET" else {}
        result = handler(Call(c, request, dict(request.path_params), query, body))
        if isinstance(result, Page):
            pages = math.ceil(result.total / result.size)
            meta = {
                "page": result.page,
                "pageSize": result.size,
                "total": result.total,
                "totalPages": pages,
                "hasMore": result.page < pages,
            }
            return ok(request, result.items, status=spec.status, pagination=meta)
        return ok(request, result, status=spec.status)

    serve.__name__ = spec.name
    serve.__doc__ = f"{spec.summary} (operation ``{spec.name}``)."
    return serve


def route(method: str, path: str, op: Op | str, handler: Handler) -> RouteSpec:
    """A route table entry serving ``op`` at ``path`` (under the team prefix)."""
    return (method, path, endpoint(op, handler))
