"""The emulator's operations beyond the OpenAPI document (``cstar_emulator.routes.plain.EXTENSIONS``:
community comments, votes, reading and deleting one post), described as the harness describes the
document's own, so an event cause may call them.

They are taken from the emulator's route table (method and path) and its :class:`Op` (body
schema), so they cannot drift from what it serves. They are not part of the generic checks: those
cover the document's operations only.
"""

from __future__ import annotations

import re
from typing import Any

from cstar_cli.protocol import openapi
from cstar_emulator.routes import plain

__all__ = ["OPERATIONS", "request_body_schema"]


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def _document_path(path: str) -> str:
    """``/api/v1/teams/{team_id}/…/{post_id}`` as the document spells it (``{teamId}``, ``{postId}``)."""
    return re.sub(r"\{(\w+)\}", lambda m: "{" + _camel(m[1]) + "}", path)


#: operationId → the operation's method, path (document style) and tag.
OPERATIONS: dict[str, openapi.Operation] = {
    endpoint.__name__: openapi.Operation(method, _document_path(path), endpoint.__name__, "Community")
    for method, path, endpoint in plain.ROUTES
    if endpoint.__name__ in plain.EXTENSIONS
}


def request_body_schema(operation_id: str) -> dict[str, Any] | None:
    """The request body schema of ``operation_id``: the document's, or an extension's (None: no
    body). Raises ``KeyError`` for an operation neither knows."""
    if operation_id in OPERATIONS:
        return plain.EXTENSIONS[operation_id].body_schema
    return openapi.request_body_schema(operation_id)
