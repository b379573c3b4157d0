"""What the request-log tests of the emulator and of ``cstar logs`` both check against."""

from __future__ import annotations

from cstar_cli.protocol import openapi

__all__ = ["LOG_ENTRY_FIELDS"]

#: The fields of a request-log entry, as the OpenAPI document's ``LogEntry`` declares them.
LOG_ENTRY_FIELDS: frozenset[str] = frozenset(
    openapi.resolve(openapi.load()["components"]["schemas"]["LogEntry"])["properties"]
)
