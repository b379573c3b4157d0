"""One set of field rules for tickets, customers and articles: their own endpoints, bulk ``data`` and
import ``records`` check a field the same way; a create takes only what its document declares."""

from __future__ import annotations

import pytest

from tests.support.emulator import EmulatorThread

pytestmark = pytest.mark.e2e


def test_a_field_is_refused_alike_by_its_endpoint_by_bulk_and_by_import(emulator: EmulatorThread) -> None:
    with emulator.client() as api:
        ticket = api.post("/tickets", json={"title": "Rules"}).json()["data"]
        direct = api.patch(f"/tickets/{ticket['id']}", json={"priority": "whenever"}).json()["error"]
        bulk = api.post(
            "/bulk",
            json={"action": "update", "resource": "tickets", "ids": [ticket["id"]], "data": {"priority": "whenever"}},
        ).json()["error"]
        imported = api.post(
            "/import", json={"resource": "tickets", "records": [{"title": "T", "priority": "whenever"}]}
        ).json()["data"]
    assert direct["field"] == "priority"
    assert bulk["field"] == "data.priority" and bulk["message"] == f"data: {direct['message']}"
    assert imported["errors"] == [
        {"index": 0, "field": "records[0].priority", "message": f"records[0]: {direct['message']}"}
    ]


def test_a_ticket_finds_its_customer_by_email_alone(emulator: EmulatorThread) -> None:
    with emulator.client() as api:
        customer = api.post("/customers", json={"name": "Ada", "email": "ada.fields@example.com"}).json()["data"]
        ticket = api.post("/tickets", json={"title": "By email", "customerEmail": "ada.fields@example.com"})
    assert ticket.status_code == 201
    assert ticket.json()["data"]["customerId"] == customer["id"]


def test_a_create_ignores_fields_its_body_does_not_declare(emulator: EmulatorThread) -> None:
    with emulator.client() as api:
        ticket = api.post("/tickets", json={"title": "Fresh", "status": "closed", "assignedTo": "usr_x"}).json()
        customer = api.post("/customers", json={"name": "Bo", "email": "bo.fields@example.com", "status": "churned"})
    assert ticket["data"]["status"] == "new" and ticket["data"]["assignedTo"] is None
    assert customer.json()["data"]["status"] == "active"
