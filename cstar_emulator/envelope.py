"""Response envelopes and API errors (reference: "Response shape", "Error shape", "HTTP status codes").

Success: ``{"success": true, "data": …, "meta": {"requestId", "timestamp"[, "pagination"]}}``.
Error: ``{"success": false, "error": {"type", "code", "message", "field"?, "doc_url"}, "meta"}``.
The ``x-cstar-request-id`` and rate-limit headers are added by the middleware, not here.
"""

from __future__ import annotations

import math
from typing import Any

from starlette.requests import HTTPConnection
from starlette.responses import Response

from cstar_emulator.db import dumps
from cstar_emulator.ids import iso_now

__all__ = ["DOCS", "ApiError", "JSONText", "error_body", "error_type", "ok", "page_meta"]

DOCS = "https://www.cstar.help/developers/errors"

_TYPES = {
    400: "validation_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    405: "invalid_request_error",
    409: "conflict_error",
    413: "validation_error",
    429: "rate_limit_error",
}

_DEFAULT_CODES = {
    400: "bad_request",
    401: "invalid_api_key",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    429: "rate_limit_exceeded",
    500: "internal_error",
    502: "bad_gateway",
    503: "service_unavailable",
    504: "gateway_timeout",
}


class ApiError(Exception):
    """An error response: HTTP ``status``, machine ``code``, human ``message``, offending ``field``
    (body or query parameter) and extra ``headers`` (e.g. ``Retry-After``)."""

    def __init__(
        self,
        status: int,
        code: str | None,
        message: str,
        *,
        field: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code or _DEFAULT_CODES.get(status, "error")
        self.message = message
        self.field = field
        self.headers = headers or {}

    @classmethod
    def invalid(cls, field: str, message: str) -> ApiError:
        """400 ``INVALID_FIELD`` naming ``field``."""
        return cls(400, "INVALID_FIELD", message, field=field)

    @classmethod
    def not_found(cls, what: str, ident: str) -> ApiError:
        """404 ``not_found`` for the ``what`` with id ``ident``."""
        return cls(404, "not_found", f"No {what} with id {ident!r}.")

    def response(self, request_id: str) -> Response:
        """The error envelope as a response, with ``meta.requestId`` = ``request_id``."""
        return JSONText(error_body(self, request_id), status_code=self.status, headers=self.headers)


def error_type(status: int) -> str:
    """The error envelope's ``type`` for an HTTP status (``server_error`` for any 5xx)."""
    return _TYPES.get(status) or ("server_error" if status >= 500 else "invalid_request_error")


def error_body(err: ApiError, request_id: str) -> dict[str, Any]:
    """The error envelope of ``err``; ``doc_url`` deep-links the code on the errors page. ``meta`` (as
    on success) is an addition to the reference's shape: every response carries ``meta.requestId``."""
    body: dict[str, Any] = {"type": error_type(err.status), "code": err.code, "message": err.message}
    if err.field:
        body["field"] = err.field
    body["doc_url"] = f"{DOCS}#{err.code.lower()}"
    return {"success": False, "error": body, "meta": {"requestId": request_id, "timestamp": iso_now()}}


class JSONText(Response):
    """JSON in the emulator's one serialisation (:func:`cstar_emulator.db.dumps`)."""

    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return dumps(content).encode("utf-8")


def ok(
    conn: HTTPConnection,
    data: Any,
    *,
    status: int = 200,
    pagination: dict[str, Any] | None = None,
) -> Response:
    """The success envelope for ``data`` with this request's ``meta.requestId``."""
    meta: dict[str, Any] = {"requestId": conn.state.request_id, "timestamp": iso_now()}
    if pagination is not None:
        meta["pagination"] = pagination
    return JSONText({"success": True, "data": data, "meta": meta}, status_code=status)


def page_meta(page: int, page_size: int, total: int) -> dict[str, int]:
    """The reference's ``meta.pagination``: ``{page, pageSize, total, totalPages}``."""
    return {"page": page, "pageSize": page_size, "total": total, "totalPages": math.ceil(total / page_size)}
