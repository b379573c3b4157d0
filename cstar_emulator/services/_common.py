"""Small helpers the resource services share."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from cstar_emulator import validate as v
from cstar_emulator.db import Scope
from cstar_emulator.envelope import ApiError
from cstar_emulator.models import Resource
from cstar_emulator.repositories.table import ScopedTable

__all__ = ["api_name", "changed", "found"]


def found(repo: ScopedTable, scope: Scope, row_id: str, what: str) -> Resource:
    """The object ``row_id`` of ``repo`` in ``scope``; 404 ``not_found`` naming ``what`` otherwise."""
    obj = repo.get(scope, row_id)
    if obj is None:
        raise ApiError.not_found(what, row_id)
    return obj


def api_name(column: str) -> str:
    """A column's name in API objects: ``assigned_to`` → ``assignedTo``."""
    head, *rest = column.split("_")
    return head + "".join(part.title() for part in rest)


def changed(before: Resource, fields: Mapping[str, Any]) -> dict[str, Any]:
    """The ``fields`` (column → value) whose value differs from the ``before`` object's. A
    ``metadata`` field is a patch: merged into ``before``'s (a null value removes its key) and
    checked against the metadata limits (400 ``metadata``) first."""
    if fields.get("metadata") is not None:
        fields = {**fields, "metadata": v.metadata(fields["metadata"], before["metadata"])}
    return {col: val for col, val in fields.items() if before[api_name(col)] != val}
