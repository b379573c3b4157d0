"""The cStar OpenAPI 3.1 document (``openapi.json`` beside this module) and small queries on it.

``load()`` reads it once (importlib.resources, so it works from a wheel or a zip); everything else
works on that one parsed copy, which callers must not modify. ``jsonschema`` is imported only when a
validator is asked for, so importing this module costs no more than the standard library.

Typical use::

    op, params = match("GET", "/api/v1/teams/abc/tickets/tkt_1")   # or None
    schema = request_body_schema("createTicket")                 # JSON Schema or None
    problems = validate({"title": ""}, schema)                   # [] when valid
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable, Mapping
from importlib import resources
from typing import TYPE_CHECKING, Any, NamedTuple
from urllib.parse import unquote

if TYPE_CHECKING:
    from jsonschema.protocols import Validator  # type: ignore[import-untyped]
    from referencing import Registry

__all__ = [
    "DOCUMENT_URI",
    "Match",
    "Operation",
    "event_types",
    "load",
    "match",
    "operation",
    "operations",
    "query_parameters",
    "request_body_schema",
    "resolve",
    "response_schema",
    "validate",
    "validator",
]

#: The base URI the document's ``#/components/...`` references resolve against in validators.
DOCUMENT_URI = "urn:cstar:openapi"

_METHODS = ("get", "put", "post", "patch", "delete", "head", "options", "trace")


class Operation(NamedTuple):
    """One endpoint: ``method`` upper-case (``GET``), ``path`` the template
    (``/api/v1/teams/{teamId}/tickets/{ticketId}``), its ``operation_id`` and first ``tag``."""

    method: str
    path: str
    operation_id: str
    tag: str


class Match(NamedTuple):
    """What :func:`match` found: the ``operation`` and the concrete ``params`` (name → decoded value)."""

    operation: Operation
    params: dict[str, str]


@functools.cache
def load() -> dict[str, Any]:
    """The parsed document (a dict; shared, do not modify). Raises ``OSError`` or
    ``json.JSONDecodeError`` only for a broken installation."""
    text = resources.files(__package__).joinpath("openapi.json").read_text(encoding="utf-8")
    document: dict[str, Any] = json.loads(text)
    return document


@functools.cache
def _operations() -> tuple[Operation, ...]:
    out = []
    for path, item in load()["paths"].items():
        for method in _METHODS:
            op = item.get(method)
            if op is not None:
                out.append(Operation(method.upper(), path, op["operationId"], op["tags"][0]))
    return tuple(out)


def operations() -> list[Operation]:
    """Every operation in the document's ``paths`` (not the webhook events), in document order."""
    return list(_operations())


@functools.cache
def _by_id() -> dict[str, Operation]:
    return {op.operation_id: op for op in _operations()}


@functools.cache
def _templates() -> dict[int, tuple[tuple[tuple[str | None, ...], tuple[str, ...], Operation], ...]]:
    """Operations by segment count: (literal segment or None for a parameter, parameter names, op)."""
    table: dict[int, list[tuple[tuple[str | None, ...], tuple[str, ...], Operation]]] = {}
    for op in _operations():
        segs = op.path.split("/")
        literals = tuple(None if s.startswith("{") and s.endswith("}") else s for s in segs)
        names = tuple(s[1:-1] for s in segs if s.startswith("{") and s.endswith("}"))
        table.setdefault(len(segs), []).append((literals, names, op))
    return {n: tuple(v) for n, v in table.items()}


def match(method: str, path: str) -> Match | None:
    """The operation serving ``method`` (any case) on the concrete ``path`` (no query string), with
    its path parameters percent-decoded; None when nothing matches — an unknown path, a trailing
    slash, an empty segment, or a method the path does not have. Literal segments win over
    parameters, as OpenAPI requires (``/game/achievements/recent`` is not an achievement id)."""
    if not path.startswith("/"):
        return None
    want = method.upper()
    segs = path.split("/")
    best: tuple[tuple[int, ...], Match] | None = None
    for literals, names, op in _templates().get(len(segs), ()):
        if op.method != want:
            continue
        values: list[str] = []
        for lit, seg in zip(literals, segs, strict=True):
            if lit is None:
                if not seg:
                    break
                values.append(seg)
            elif lit != seg:
                break
        else:
            rank = tuple(1 if lit is None else 0 for lit in literals)
            if best is None or rank < best[0]:
                best = (rank, Match(op, {n: unquote(v) for n, v in zip(names, values, strict=True)}))
    return best[1] if best else None


def operation(operation_id: str) -> dict[str, Any]:
    """The OpenAPI operation object (a dict; do not modify). Raises ``KeyError`` for an unknown id."""
    op = _by_id().get(operation_id)
    if op is None:
        raise KeyError(f"no operation {operation_id!r} in the cStar OpenAPI document")
    found: dict[str, Any] = load()["paths"][op.path][op.method.lower()]
    return found


def resolve(node: Any) -> Any:
    """``node`` itself, or what its local ``$ref`` (``#/components/...``) points to, followed until
    it is not a reference. Raises ``KeyError`` for a dangling reference."""
    seen = 0
    while isinstance(node, Mapping) and isinstance(node.get("$ref"), str) and node["$ref"].startswith("#/"):
        target: Any = load()
        for part in node["$ref"][2:].split("/"):
            target = target[part.replace("~1", "/").replace("~0", "~")]
        node = target
        seen += 1
        if seen > 32:
            raise KeyError("reference cycle")
    return node


def _parameters(operation_id: str, location: str) -> list[dict[str, Any]]:
    params = (resolve(p) for p in operation(operation_id).get("parameters", []))
    return [p for p in params if p.get("in") == location]


def query_parameters(operation_id: str) -> list[dict[str, Any]]:
    """The operation's query parameter objects (``name``, ``required``, ``description``, ``schema``
    with type, enum, default, minimum/maximum…), in document order; [] when it has none."""
    return _parameters(operation_id, "query")


def request_body_schema(operation_id: str, media_type: str = "application/json") -> dict[str, Any] | None:
    """The JSON Schema of the operation's request body, or None when it takes no body."""
    body = resolve(operation(operation_id).get("requestBody"))
    if not body:
        return None
    media = body.get("content", {}).get(media_type)
    return None if media is None else media.get("schema")


def response_schema(
    operation_id: str, status: int | str | None = None, media_type: str = "application/json"
) -> dict[str, Any] | None:
    """The JSON Schema of a response body: of ``status`` (e.g. 404), or by default the success
    response (the first 2xx). None when that response has no body of ``media_type``."""
    responses = operation(operation_id)["responses"]
    if status is None:
        key = next((k for k in responses if k.startswith("2") or k == "101"), None)
    else:
        key = str(status) if str(status) in responses else None
    if key is None:
        return None
    media = resolve(responses[key]).get("content", {}).get(media_type)
    return None if media is None else media.get("schema")


def event_types() -> list[str]:
    """The webhook event types (the document's ``webhooks`` keys), in the reference's order."""
    hooks = load()["webhooks"]
    return sorted(hooks, key=lambda name: hooks[name]["post"].get("x-cstar-order", 0))


@functools.cache
def _registry() -> Registry:
    from referencing import Registry, Resource
    from referencing.jsonschema import DRAFT202012

    registry: Registry = Registry().with_resource(
        DOCUMENT_URI, Resource.from_contents(load(), default_specification=DRAFT202012)
    )
    return registry


def _absolute(node: Any) -> Any:
    if isinstance(node, Mapping):
        return {
            k: (DOCUMENT_URI + v if k == "$ref" and isinstance(v, str) and v.startswith("#") else _absolute(v))
            for k, v in node.items()
        }
    if isinstance(node, list):
        return [_absolute(v) for v in node]
    return node


def validator(schema: Mapping[str, Any], *, formats: Iterable[str] | None = None) -> Validator:
    """A JSON Schema (Draft 2020-12) validator for ``schema``, a schema taken from the document: its
    ``#/components/...`` references resolve against the document. ``formats`` names the formats to
    assert (e.g. ``("date-time",)``); by default formats are annotations only, as 2020-12 says.
    Raises ``ValueError`` for a format this installation cannot check (``date-time`` needs the
    ``rfc3339-validator`` package)."""
    from jsonschema import Draft202012Validator, FormatChecker  # type: ignore[import-untyped]

    checker = None
    if formats is not None:
        wanted = list(formats)
        missing = [f for f in wanted if f not in FormatChecker.checkers]
        if missing:
            raise ValueError(f"cannot check format {', '.join(missing)}: its checker's package is not installed")
        checker = FormatChecker(wanted)
    return Draft202012Validator(_absolute(schema), registry=_registry(), format_checker=checker)


def validate(instance: Any, schema: Mapping[str, Any], *, formats: Iterable[str] | None = None) -> list[str]:
    """Every way ``instance`` violates ``schema``, as ``"<json path>: <message>"`` lines sorted by
    path; [] when it conforms. See :func:`validator` for ``formats``."""
    errors = validator(schema, formats=formats).iter_errors(instance)
    return sorted(f"{e.json_path}: {e.message}" for e in errors)
