"""One error tree for the whole CLI, and the exit code each error ends the process with.

Implements the reference's "Errors carry their own docs" (Code of cStar 06) and "Error shape"::

    CStarError                          exit 1   anything else
    ├── CStarValidationError            exit 2   400, or bad input caught before any request
    │   └── CStarUsageError             exit 2   bad flag / argument value (never sent)
    ├── CStarAuthenticationError        exit 3   401, or no key configured
    ├── CStarPermissionError            exit 4   403
    ├── CStarNotFoundError              exit 5   404
    ├── CStarConflictError              exit 6   409
    ├── CStarRateLimitError             exit 7   429 (``retry_after`` seconds)
    ├── CStarServerError                exit 8   5xx
    ├── CStarConnectionError            exit 9   server unreachable, timeout, TLS failure
    ├── CStarFeatureNotConfiguredError  exit 10  501, or a feature the team has not set up
    ├── CStarOutputError                exit 11  stdout could not be written (full disk, closed stdout)
    ├── CStarDeliveryFailedError        exit 12  listen --exit-after / replay: a delivery was given up
    └── CStarMaxWaitError               exit 13  listen --max-wait: the time ran out first

`cstar webhooks verify` exits 14 when a signature does not verify. Ctrl-C exits 130. The table is :data:`EXIT_CODES`; the README repeats it.

Every error carries ``code``, ``message``, ``request_id``, ``doc_url``, ``status_code``, ``field``
and a one-line ``hint`` telling the user what to do next. Messages never contain a secret.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "EXIT_CODES",
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "EXIT_SIGNATURE_INVALID",
    "CStarAuthenticationError",
    "CStarConflictError",
    "CStarConnectionError",
    "CStarDeliveryFailedError",
    "CStarError",
    "CStarFeatureNotConfiguredError",
    "CStarMaxWaitError",
    "CStarNotFoundError",
    "CStarOutputError",
    "CStarPermissionError",
    "CStarRateLimitError",
    "CStarServerError",
    "CStarUsageError",
    "CStarValidationError",
    "error_from_response",
]

DOCS = "https://www.cstar.help/developers/errors"

EXIT_OK = 0
EXIT_INTERRUPTED = 130
#: ``cstar webhooks verify``: the delivery's signature does not verify (the output says why).
EXIT_SIGNATURE_INVALID = 14


class CStarError(Exception):
    """Base of every error cstar raises.

    Attributes mirror the reference's ``CStarError``: ``code`` (machine string, e.g. ``INVALID_FIELD``),
    ``message``, ``request_id`` (``req_…`` or None), ``doc_url``, ``status_code`` (HTTP status or None
    for local errors), ``field`` (the offending parameter, if any) and ``hint`` (what to do next).
    """

    type = "api_error"
    exit_code = 1
    default_code = "error"
    default_hint: str | None = None

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        request_id: str | None = None,
        doc_url: str | None = None,
        status_code: int | None = None,
        field: str | None = None,
        hint: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code or self.default_code
        self.request_id = request_id
        self.doc_url = doc_url
        self.status_code = status_code
        self.field = field
        self.hint = hint if hint is not None else self.default_hint

    @property
    def param(self) -> str | None:
        """The reference's JS name for :attr:`field`."""
        return self.field

    def to_dict(self) -> dict[str, Any]:
        """The ``--json`` error document's ``error`` object (documented in docs/json.md)."""
        return {
            "type": self.type,
            "code": self.code,
            "message": self.message,
            "requestId": self.request_id,
            "docUrl": self.doc_url,
            "hint": self.hint,
        }

    def __str__(self) -> str:
        return self.message


class CStarValidationError(CStarError):
    type = "validation_error"
    exit_code = 2
    default_code = "INVALID_FIELD"


class CStarUsageError(CStarValidationError):
    """Bad input caught locally, before any request was made."""

    type = "usage_error"
    default_code = "usage"


class CStarAuthenticationError(CStarError):
    type = "authentication_error"
    exit_code = 3
    default_code = "invalid_api_key"
    default_hint = "Run `cstar login` (or pass --api-key / set CSTAR_API_KEY)."


class CStarPermissionError(CStarError):
    type = "permission_error"
    exit_code = 4
    default_code = "forbidden"
    default_hint = "Publishable keys are read-only: use a secret key (sk_test_… or sk_live_…)."


class CStarNotFoundError(CStarError):
    type = "not_found_error"
    exit_code = 5
    default_code = "not_found"


class CStarConflictError(CStarError):
    type = "conflict_error"
    exit_code = 6
    default_code = "conflict"


class CStarRateLimitError(CStarError):
    """429. ``retry_after`` is the server's ``Retry-After`` in seconds (default 60)."""

    type = "rate_limit_error"
    exit_code = 7
    default_code = "rate_limit_exceeded"

    def __init__(self, message: str, *, retry_after: float = 60.0, **kwargs: Any) -> None:
        kwargs.setdefault("hint", f"Wait {retry_after:g} s and try again; `cstar status` shows your limit.")
        super().__init__(message, **kwargs)
        self.retry_after = retry_after


class CStarServerError(CStarError):
    type = "server_error"
    exit_code = 8
    default_code = "internal_error"
    default_hint = "Try again; if it persists, contact support with the request ID."


class CStarConnectionError(CStarError):
    type = "connection_error"
    exit_code = 9
    default_code = "connection_failed"
    default_hint = "Check your network and --base-url / CSTAR_BASE_URL."


class CStarFeatureNotConfiguredError(CStarError):
    type = "feature_not_configured"
    exit_code = 10
    default_code = "feature_not_configured"


class CStarOutputError(CStarError):
    """Standard output could not be written: a full disk, a closed stdout, an I/O error. (A reader
    that went away, EPIPE, is not an error: ``cstar … | head`` ends quietly with exit 0.)"""

    type = "output_error"
    exit_code = 11
    default_code = "output_failed"
    default_hint = "Check the disk or file that standard output goes to."


class CStarDeliveryFailedError(CStarError):
    """``cstar listen --exit-after`` or ``cstar replay``: the local receiver failed a delivery past
    the retry budget (non-2xx, refused, timed out on every attempt)."""

    type = "delivery_failed"
    exit_code = 12
    default_code = "delivery_failed"
    default_hint = "Check the receiver's own log; --retry-for gives it longer to recover."


class CStarMaxWaitError(CStarError):
    """``cstar listen --max-wait``: the run's time limit passed before ``--exit-after`` was reached."""

    type = "max_wait_elapsed"
    exit_code = 13
    default_code = "max_wait_elapsed"
    default_hint = "Check that the events were triggered and match --events, or raise --max-wait."


#: Exit code → what it means; printed in the README and `cstar --help`.
EXIT_CODES: dict[int, str] = {
    EXIT_OK: "success",
    1: "unexpected error",
    2: "usage or validation error (bad flag, argument or field, malformed key or URL)",
    3: "authentication: no key, unknown or revoked key",
    4: "permission: the key may not do this (e.g. publishable key on a write)",
    5: "not found",
    6: "conflict (e.g. idempotency key reused with a different body)",
    7: "rate limited",
    8: "server error (5xx)",
    9: "network: the API could not be reached, timed out, or is not a cStar API",
    10: "feature not configured for this team",
    11: "output could not be written (full disk, closed or failing stdout)",
    12: "delivery given up by the receiver (listen --exit-after, replay)",
    13: "time limit passed (listen --max-wait)",
    EXIT_SIGNATURE_INVALID: "webhook signature does not verify (webhooks verify)",
    EXIT_INTERRUPTED: "interrupted (Ctrl-C)",
}

_BY_STATUS: dict[int, type[CStarError]] = {
    400: CStarValidationError,
    401: CStarAuthenticationError,
    403: CStarPermissionError,
    404: CStarNotFoundError,
    409: CStarConflictError,
    422: CStarValidationError,
    429: CStarRateLimitError,
    501: CStarFeatureNotConfiguredError,
}


def error_from_response(
    status_code: int,
    body: Any,
    *,
    request_id: str | None = None,
    retry_after: float | None = None,
) -> CStarError:
    """Build the right :class:`CStarError` subclass from an HTTP error response.

    ``body`` is the decoded JSON (the reference's error envelope) or anything else for a non-JSON
    reply; ``request_id`` is the ``x-cstar-request-id`` header. Never raises.
    """
    err = body.get("error") if isinstance(body, dict) else None
    if not isinstance(err, dict):
        err = {}
    etype = err.get("type")
    if etype == "feature_not_configured":
        cls: type[CStarError] = CStarFeatureNotConfiguredError
    else:
        cls = _BY_STATUS.get(status_code, CStarServerError if status_code >= 500 else CStarError)
    message = str(err.get("message") or f"HTTP {status_code}")
    if isinstance(body, dict):
        request_id = request_id or (body.get("meta") or {}).get("requestId")
    kwargs: dict[str, Any] = {
        "code": err.get("code"),
        "request_id": request_id,
        "doc_url": err.get("doc_url") or DOCS,
        "status_code": status_code,
        "field": err.get("field"),
    }
    if cls is CStarRateLimitError:
        return CStarRateLimitError(message, retry_after=retry_after or 60.0, **kwargs)
    if cls is CStarAuthenticationError and err.get("code") == "key_revoked":
        kwargs["hint"] = "This key was revoked: create a new one and run `cstar login` again."
    return cls(message, **kwargs)
