"""Export and import (reference: "Export", "Import").

Export reads real rows through the resource repositories: every matching object, in the shape
the resource's own list endpoint answers with, newest first, at most :data:`MAX_EXPORT_ROWS` per
resource. JSON holds one list per resource; CSV (one resource only) one text with a header row,
list and object fields as JSON text.

Import writes through the resource services, so each record fires the events its single create
or update would (``customer.created``, ``ticket.created``, ``article.published``…), all in one
transaction together with the history entry ``GET /import`` lists. A record is a duplicate when its
``id`` names an existing object of the partition, or (customers) when its email is taken; the
``mergeStrategy`` then says what happens: ``skip`` (default) leaves the stored one, ``overwrite``
sets every field the record has (tags and metadata replaced), ``merge`` sets them too but adds
tags to the stored ones and merges metadata. New records get fresh ids.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from cstar_emulator.db import Database, Scope, dumps
from cstar_emulator.envelope import ApiError
from cstar_emulator.models import Resource
from cstar_emulator.repositories.customers import Customers
from cstar_emulator.repositories.imports import ImportLogs
from cstar_emulator.repositories.table import ListQuery, ScopedTable
from cstar_emulator.services.articles import ArticleService
from cstar_emulator.services.bulk import ResourceService
from cstar_emulator.services.customers import CustomerService
from cstar_emulator.services.tickets import InlineCustomer, TicketService

__all__ = ["MAX_EXPORT_ROWS", "ExportSpec", "ImportRecord", "TransferService"]

#: Rows per resource in one export (the reference's synchronous limit).
MAX_EXPORT_ROWS = 10_000


@dataclass(frozen=True)
class ExportSpec:
    """One resource to export: ``type`` (``tickets``, ``customers``, ``articles``) and the rows'
    ``query`` (the resource's list filters)."""

    type: str
    query: ListQuery


@dataclass(frozen=True)
class ImportRecord:
    """One parsed import record: its ``index`` in ``records``, the ``record_id`` it carried (finds a
    duplicate), the create ``fields`` and the update ``patch`` (columns, the latter only of the
    fields it holds), and for tickets the ``customer_id`` or ``inline_customer`` it names. When it
    is invalid, ``error`` (``{"index", "field", "message"}``) instead."""

    index: int
    record_id: str | None = None
    fields: dict[str, Any] | None = None
    patch: dict[str, Any] | None = None
    customer_id: str | None = None
    inline_customer: InlineCustomer | None = None
    error: dict[str, Any] | None = None


class TransferService:
    """Export and import of one partition's tickets, customers and articles."""

    def __init__(
        self,
        db: Database,
        repositories: dict[str, ScopedTable],
        customers: Customers,
        imports: ImportLogs,
        tickets_service: TicketService,
        customers_service: CustomerService,
        articles_service: ArticleService,
    ) -> None:
        self.db = db
        self.repositories = repositories
        self.customers = customers
        self.imports = imports
        self.tickets_service = tickets_service
        self.customers_service = customers_service
        self.articles_service = articles_service

    # -- export -----------------------------------------------------------------------------------

    def export(self, scope: Scope, specs: Sequence[ExportSpec], fmt: str) -> Resource:
        """The reference's export object: ``{"object": "export", "format", "totalRows",
        "resources": {type: [objects] (json) or CSV text (csv)}, "truncated": {type: bool}}``. 400
        ``resources`` when ``fmt`` is csv and more than one resource is asked for."""
        if fmt == "csv" and len(specs) != 1:
            raise ApiError.invalid("resources", "CSV exports hold exactly one resource; ask for one type, or use json.")
        resources: dict[str, Any] = {}
        truncated: dict[str, bool] = {}
        total = 0
        for spec in specs:
            rows, matching = self.repositories[spec.type].page(scope, spec.query, 1, MAX_EXPORT_ROWS)
            total += len(rows)
            truncated[spec.type] = matching > len(rows)
            resources[spec.type] = _csv(rows) if fmt == "csv" else rows
        return {"object": "export", "format": fmt, "totalRows": total, "resources": resources, "truncated": truncated}

    # -- import -----------------------------------------------------------------------------------

    def import_records(
        self, scope: Scope, request_id: str | None, resource: str, records: Sequence[ImportRecord], strategy: str
    ) -> Resource:
        """Create or merge ``records`` of ``resource`` (see the module docstring). Invalid records
        are counted in ``failed`` and listed in ``errors``; the rest still apply. Returns the
        reference's import result ``{"object": "import_result", "id", "resource", "total",
        "created", "updated", "skipped", "failed", "errors"}``."""
        counts = {"created": 0, "updated": 0, "skipped": 0}
        errors: list[dict[str, Any]] = []
        with self.db.transaction():
            for record in records:
                if record.error is not None:
                    errors.append(record.error)
                    continue
                try:
                    counts[self._import_one(scope, request_id, resource, record, strategy)] += 1
                except ApiError as e:
                    if e.status >= 500:
                        raise
                    field = f"records[{record.index}].{e.field}" if e.field else f"records[{record.index}]"
                    errors.append({"index": record.index, "field": field, "message": e.message})
            failed = len(errors)
            status = "failed" if records and failed == len(records) else "completed"
            log_id = self.imports.insert(
                scope,
                {
                    "resource": resource,
                    "status": status,
                    "merge_strategy": strategy,
                    "total_records": len(records),
                    "created_count": counts["created"],
                    "updated_count": counts["updated"],
                    "skipped_count": counts["skipped"],
                    "failed_count": failed,
                    "errors": errors,
                },
            )
        return {
            "object": "import_result",
            "id": log_id,
            "resource": resource,
            "status": status,
            "total": len(records),
            **counts,
            "failed": failed,
            "errors": errors,
        }

    def history(self, scope: Scope, page: int, page_size: int) -> tuple[list[Resource], int]:
        """A page of past imports, newest first, and how many there are."""
        return self.imports.page(scope, ListQuery(), page, page_size)

    def _existing(self, scope: Scope, resource: str, record: ImportRecord) -> Resource | None:
        if record.record_id is not None:
            found = self.repositories[resource].get(scope, record.record_id)
            if found is not None:
                return found
        if resource == "customers" and record.fields is not None:
            customer_id = self.customers.id_by_email(scope, record.fields["email"])
            if customer_id is not None:
                return self.customers.get(scope, customer_id)
        return None

    def _import_one(
        self, scope: Scope, request_id: str | None, resource: str, record: ImportRecord, strategy: str
    ) -> str:
        """Apply one valid record; returns which count it adds to. Raises ApiError before writing."""
        assert record.fields is not None and record.patch is not None
        existing = self._existing(scope, resource, record)
        if existing is None:
            if resource == "tickets":
                if record.customer_id is not None and self.customers.get(scope, record.customer_id) is None:
                    raise ApiError.invalid("customerId", f"No customer with id {record.customer_id!r}.")
                self.tickets_service.create(
                    scope,
                    request_id,
                    record.fields,
                    customer_id=record.customer_id,
                    inline_customer=record.inline_customer,
                )
            elif resource == "customers":
                self.customers_service.create(scope, request_id, record.fields)
            else:
                self.articles_service.create(scope, request_id, record.fields)
            return "created"
        if strategy == "skip":
            return "skipped"
        patch = dict(record.patch)
        if strategy == "overwrite" and "metadata" in patch:
            # A patch that also drops every stored key the record does not have.
            patch["metadata"] = {k: None for k in existing["metadata"] if k not in patch["metadata"]} | patch[
                "metadata"
            ]
        if strategy == "merge" and "tags" in patch:
            patch["tags"] = list(dict.fromkeys([*existing["tags"], *patch["tags"]]))
        services: dict[str, ResourceService] = {
            "tickets": self.tickets_service,
            "customers": self.customers_service,
            "articles": self.articles_service,
        }
        services[resource].update(scope, existing["id"], request_id, patch)
        return "updated"


def _csv(rows: Sequence[Resource]) -> str:
    """``rows`` as CSV text (RFC 4180, ``\\r\\n`` line ends): a header of the objects' fields, then
    one line per object; lists and objects as JSON, None as an empty cell."""
    out = io.StringIO()
    if rows:
        writer = csv.DictWriter(out, fieldnames=list(rows[0]))
        writer.writeheader()
        for row in rows:
            writer.writerow({k: _cell(val) for k, val in row.items()})
    return out.getvalue()


def _cell(value: Any) -> Any:
    if isinstance(value, (list, dict)):
        return dumps(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else value
