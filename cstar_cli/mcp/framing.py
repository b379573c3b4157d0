"""JSON-RPC 2.0 framing for the MCP stdio transport: bytes in, one decision per line out.

The SDK's own stdio reader reads whole lines of any length and silently drops a line it cannot
parse, so a client that sends a malformed request waits for an answer forever. This layer sits in
front of the SDK and makes sure every line gets the answer JSON-RPC 2.0 prescribes:

- :class:`LineSplitter` cuts the byte stream into lines, holding at most :data:`MAX_LINE_BYTES`
  of one line; the rest of a longer line is discarded as it arrives and the line is answered
  -32600 with ``"id": null`` (an ID read from a cut line cannot be trusted).
- :func:`decode_line` turns one line into a :class:`Decoded`: a message for the SDK, an error answer
  to write back, or nothing (a blank line, a valid notification the SDK should see anyway, a
  client's response).

Answers (``code``, when):

- -32700 Parse error, id null: not UTF-8, not JSON (NaN and Infinity included), a lone surrogate
  escape such as ``"\\ud800"``, nesting deeper than the parser's limit.
- -32600 Invalid Request, with the ID when it is a string or an integer, else null: a top level
  that is not an object; ``jsonrpc`` missing or not ``"2.0"``; ``method`` not a string; a request's
  ``params`` neither an object nor an array; an ``id`` that is neither a string nor an integer; an object that
  is neither a request, a notification nor a response. A batch (a JSON array, which MCP no longer
  allows) is answered with an array holding one -32600 error per element that is not a
  notification (an empty array: a single -32600 error).
- -32602 Invalid params: a request's ``params`` given as an array (MCP's params are always an
  object); an ``initialize`` whose params do not fit MCP's ``InitializeRequestParams``, with what
  is wrong in the message (``missing protocolVersion, capabilities``) and ``data.errors`` (each
  ``field`` and ``problem``, never the value). The SDK alone would say only "Invalid request
  parameters".

A notification (``jsonrpc`` "2.0", a string ``method``, no ``id``) never gets an answer, as JSON-RPC
requires, whatever its params: ``params`` that are not an object (an array, a string, a number,
null) drop it with a warning on stderr; nor does a response from the client. A notification the client may send (``notifications/cancelled``,
``…/progress``, ``…/initialized``, ``…/roots/list_changed``: MCP's ``ClientNotification``) whose
params do not match its schema (a ``requestId`` that is an object, a list or a fraction, a
``progressToken`` of the wrong type, ``_meta`` that is not an object …) is dropped here with a
warning on stderr, so nothing behind the framing ever sees one. Other notifications pass as they
are. Unknown methods and bad params of known request methods are left to the SDK (-32601, -32602).
"""

from __future__ import annotations

import json
import logging
import typing
from dataclasses import dataclass
from typing import Any

import pydantic_core
from mcp_types import (
    INVALID_PARAMS,
    INVALID_REQUEST,
    PARSE_ERROR,
    ClientNotification,
    InitializeRequestParams,
    JSONRPCMessage,
    jsonrpc_message_adapter,
)
from pydantic import BaseModel, ValidationError

__all__ = [
    "MAX_LINE_BYTES",
    "Decoded",
    "LineSplitter",
    "Overflow",
    "decode_line",
    "overflow_reply",
    "readable_id",
]

logger = logging.getLogger("cstar.mcp")

#: The longest line (one JSON-RPC message, newline excluded) the server reads, in bytes: 4 MiB.
MAX_LINE_BYTES = 4 * 1024 * 1024


@dataclass(frozen=True)
class Overflow:
    """A line longer than the limit: its first ``limit`` bytes were read; the rest is being discarded."""

    limit: int


class LineSplitter:
    """Splits a byte stream into lines (``\\n``-terminated; a ``\\r`` before it stays and reads as JSON
    whitespace) and never holds more than ``limit`` bytes of one line.

    :meth:`feed` takes the next chunk and returns the complete lines in it (``bytes``, newline
    removed) and, once per over-long line, an :class:`Overflow` in that line's place; the overlong
    line's remaining bytes, up to and including its newline, are dropped as they come. :meth:`end`
    returns the last, unterminated line, if any.
    """

    def __init__(self, limit: int = MAX_LINE_BYTES) -> None:
        if limit < 1:
            raise ValueError("limit must be at least 1 byte")
        self.limit = limit
        self._buffer = bytearray()
        self._discarding = False

    def feed(self, chunk: bytes) -> list[bytes | Overflow]:
        out: list[bytes | Overflow] = []
        start = 0
        while start < len(chunk):
            newline = chunk.find(b"\n", start)
            stop = len(chunk) if newline < 0 else newline
            if not self._discarding:
                self._buffer += chunk[start:stop]
                if len(self._buffer) > self.limit:
                    out.append(Overflow(self.limit))
                    self._buffer = bytearray()  # a fresh buffer: clear() would keep the grown allocation
                    self._discarding = True
            if newline < 0:
                break
            if self._discarding:
                self._discarding = False
            else:
                out.append(bytes(self._buffer))
                self._buffer = bytearray()
            start = newline + 1
        return out

    def end(self) -> list[bytes | Overflow]:
        """The unterminated last line (when stdin closes), as ``[line]``, or ``[]``."""
        rest, self._buffer = bytes(self._buffer), bytearray()
        discarding, self._discarding = self._discarding, False
        return [] if discarding or not rest.strip() else [rest]


@dataclass(frozen=True)
class Decoded:
    """What to do with one line: hand ``message`` to the SDK, write ``reply`` (one JSON text, no
    newline) back to the client, or neither."""

    message: JSONRPCMessage | None = None
    reply: str | None = None


def overflow_reply(limit: int = MAX_LINE_BYTES) -> str:
    """The answer to a line longer than ``limit`` bytes."""
    message = f"Invalid Request: message longer than {limit:,} bytes (the line was discarded)"
    return _error_json(None, INVALID_REQUEST, message, {"maxLineBytes": limit})


def _error_json(request_id: Any, code: int, message: str, data: Any = None) -> str:
    """One JSON-RPC error response as JSON text (no newline); ``request_id`` None is ``"id": null``."""
    error: dict[str, Any] = {"code": code, "message": message}
    if data is not None:
        error["data"] = data
    return json.dumps({"jsonrpc": "2.0", "id": request_id, "error": error}, ensure_ascii=False, separators=(",", ":"))


def readable_id(value: Any) -> str | int | None:
    """``value`` when it can be an MCP request ID (a string, or an integer that is not a boolean)."""
    if isinstance(value, str) or (isinstance(value, int) and not isinstance(value, bool)):
        return value
    return None


def _invalid(obj: dict[str, Any], problem: str) -> str:
    return _error_json(readable_id(obj.get("id")), INVALID_REQUEST, f"Invalid Request: {problem}")


def _envelope_problem(obj: dict[str, Any]) -> str | None:
    """Why ``obj`` is not a valid JSON-RPC 2.0 request, notification or response, or None."""
    if obj.get("jsonrpc") != "2.0":
        return '"jsonrpc" must be "2.0"' if "jsonrpc" in obj else 'missing "jsonrpc": "2.0"'
    if "id" in obj and readable_id(obj["id"]) is None:
        return '"id" must be a string or an integer'
    if "method" in obj:
        if not isinstance(obj["method"], str):
            return '"method" must be a string'
        if "id" in obj and "params" in obj and not isinstance(obj["params"], (dict, list)):
            return '"params" must be an object'
        return None
    if "result" in obj or "error" in obj:
        return None if "id" in obj else 'a response needs an "id"'
    return 'missing "method"'


def _notification_models() -> dict[str, type[BaseModel]]:
    """Method name → model of each notification a client may send (MCP's ``ClientNotification``)."""
    models: dict[str, type[BaseModel]] = {}
    for model in typing.get_args(ClientNotification):
        for method in typing.get_args(model.model_fields["method"].annotation):
            models[method] = model
    return models


_CLIENT_NOTIFICATIONS = _notification_models()


def _notification_problem(obj: dict[str, Any]) -> str | None:
    """Why a client notification's params do not fit its schema (locations and reasons, never the
    values, which may hold anything), or None: it fits, or its method is not a client notification."""
    model = _CLIENT_NOTIFICATIONS.get(obj["method"])
    if model is None:
        return None
    try:
        model.model_validate(obj, by_name=False)
    except ValidationError as e:
        first = e.errors(include_url=False, include_input=False, include_context=False)[0]
        where = ".".join(str(part) for part in first["loc"]) or "the message"
        return f"{where}: {first['msg']}"
    return None


def _initialize_problem(obj: dict[str, Any]) -> str | None:
    """The -32602 answer to an ``initialize`` whose params do not fit ``InitializeRequestParams``
    (what is missing or wrong, by field; never the values), or None when they fit."""
    try:
        InitializeRequestParams.model_validate(obj.get("params") or {}, by_name=False)
    except ValidationError as e:
        errors = e.errors(include_url=False, include_input=False, include_context=False)
        fields = [".".join(str(part) for part in err["loc"]) or "params" for err in errors]
        missing = [f for f, err in zip(fields, errors, strict=True) if err["type"] == "missing"]
        wrong = [f"{f}: {err['msg']}" for f, err in zip(fields, errors, strict=True) if err["type"] != "missing"]
        problems = ([f"missing {', '.join(missing)}"] if missing else []) + wrong
        data = {"errors": [{"field": f, "problem": err["msg"]} for f, err in zip(fields, errors, strict=True)]}
        return _error_json(obj["id"], INVALID_PARAMS, f"Invalid params for initialize: {'; '.join(problems)}", data)
    return None


def _is_notification(item: Any) -> bool:
    return isinstance(item, dict) and "method" in item and "id" not in item


def _decode_object(obj: dict[str, Any]) -> Decoded:
    problem = _envelope_problem(obj)
    if problem is not None:
        return Decoded(reply=_invalid(obj, problem))
    is_request = "method" in obj and "id" in obj
    if "method" in obj and not is_request and "params" in obj and not isinstance(obj["params"], dict):
        logger.warning("dropped notification %r: params must be an object", obj["method"][:100])
        return Decoded()
    if is_request and isinstance(obj.get("params"), list):
        return Decoded(
            reply=_error_json(obj["id"], INVALID_PARAMS, "Invalid params: MCP params must be an object, not an array")
        )
    if is_request and obj["method"] == "initialize" and (reply := _initialize_problem(obj)) is not None:
        return Decoded(reply=reply)
    if "method" in obj and not is_request and (problem := _notification_problem(obj)) is not None:
        logger.warning("dropped notification %r: invalid params (%s)", obj["method"], problem)
        return Decoded()
    try:
        message = jsonrpc_message_adapter.validate_python(obj, by_name=False)
    except ValidationError:
        # The envelope checks above are what the message types require; kept as a safety net.
        if is_request:
            return Decoded(reply=_invalid(obj, "not a valid JSON-RPC 2.0 message"))
        logger.debug("dropped an invalid message without an id")
        return Decoded()
    return Decoded(message=message)


def decode_line(line: bytes) -> Decoded:
    """Decide what to do with one line (newline removed); never raises for any input."""
    if not line.strip():
        return Decoded()
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError as e:
        return Decoded(reply=_error_json(None, PARSE_ERROR, f"Parse error: not valid UTF-8 (byte {e.start})"))
    try:
        # pydantic's parser, like the SDK's: strict UTF-8 strings (a lone surrogate escape is an
        # error), no NaN/Infinity, bounded nesting.
        value = pydantic_core.from_json(text, allow_inf_nan=False)
    except ValueError as e:
        return Decoded(reply=_error_json(None, PARSE_ERROR, f"Parse error: {e}"))
    if isinstance(value, dict):
        return _decode_object(value)
    if isinstance(value, list):
        if not value:
            return Decoded(reply=_error_json(None, INVALID_REQUEST, "Invalid Request: empty batch"))
        answers = [
            {
                "jsonrpc": "2.0",
                "id": readable_id(item.get("id")) if isinstance(item, dict) else None,
                "error": {"code": INVALID_REQUEST, "message": "Invalid Request: batches are not supported by MCP"},
            }
            for item in value
            if not _is_notification(item)
        ]
        return Decoded(reply=json.dumps(answers, ensure_ascii=False, separators=(",", ":"))) if answers else Decoded()
    return Decoded(reply=_error_json(None, INVALID_REQUEST, "Invalid Request: a message must be a JSON object"))
