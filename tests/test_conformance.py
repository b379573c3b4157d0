"""Conformance of the emulator to the OpenAPI document and the developer reference.

Generic checks over every operation of ``cstar_cli/protocol/openapi.json``, driven by the case
table in tests/conformance/cases.py (no per-endpoint test code): each operation answers a valid
request with the envelope and a ``data`` its response schema accepts; lists paginate; no key is
401, a publishable key on a write 403, an unknown id 404, a missing required field or a wrong enum
400 ``INVALID_FIELD`` naming the field; created ids carry the reference's prefix; test data is
invisible to live keys; an ``Idempotency-Key`` replays; every event with an API cause fires from
it. Checks of endpoints in ``cases.NOT_SERVED`` (or needing one) are expected to fail. The run
ends with the line ``conformance: N/M checks pass; K of 118 reference endpoints served``.

All checks share one emulator (``emulator_session``) and create what they need themselves.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Iterator
from typing import Any

import pytest

from cstar_cli.protocol import openapi
from tests.conformance import builder, cases
from tests.conformance.harness import (
    OPERATIONS,
    REFERENCE_OPERATIONS,
    Api,
    EventListener,
    Prepared,
    Scoreboard,
    check_error,
    check_success,
    dependencies,
    path_params,
    success_status,
)
from tests.support.emulator import EmulatorThread

pytestmark = pytest.mark.e2e

WRITES = frozenset({"POST", "PATCH", "PUT", "DELETE"})
_EVENTS_NEED = ("createCliSession", "connectCliSession")

# -- the case lists, all from the document ------------------------------------------------------


def _info(operation_id: str) -> dict[str, Any]:
    return openapi.operation(operation_id)


#: Operations answered with a JSON envelope (not the listen WebSocket or the log stream).
HTTP_OPS = [oid for oid in OPERATIONS if "x-cstar-transport" not in _info(oid)]


def _query(operation_id: str) -> dict[str, dict[str, Any]]:
    return {p["name"]: p for p in openapi.query_parameters(operation_id)}


def _data_schema(operation_id: str) -> dict[str, Any]:
    schema = openapi.response_schema(operation_id) or {}
    for part in reversed(schema.get("allOf", [])):  # the envelope's own ``data`` comes first
        data = openapi.resolve(part).get("properties", {}).get("data")
        if data is not None:
            return dict(openapi.resolve(data))
    return {}


def _id_rule(operation_id: str) -> dict[str, Any] | None:
    """The id schema (with ``x-id-prefix`` or ``format: uuid``) of the object a create returns."""
    ident: dict[str, Any] = openapi.resolve(_data_schema(operation_id).get("properties", {}).get("id", {}))
    return ident if ident.get("x-id-prefix") or ident.get("format") == "uuid" else None


def _case(case_id: str, operations: Iterable[str], *values: Any) -> Any:
    """A ``pytest.param`` marked xfail when it needs an operation of ``cases.NOT_SERVED``."""
    needed: set[str] = set()
    for operation_id in operations:
        needed |= dependencies(operation_id)
    blocked = sorted(needed & cases.NOT_SERVED)
    marks = [pytest.mark.xfail(strict=False, reason=f"not served yet: {', '.join(blocked)}")] if blocked else []
    return pytest.param(*values, id=case_id, marks=marks)


PAGED = [oid for oid in HTTP_OPS if "pageSize" in _query(oid)]
PAGE_CAPPED = [oid for oid in PAGED if _query(oid)["pageSize"]["schema"].get("maximum") == 100]
#: Every write, and the reads the document reserves for secret keys.
SECRET_ONLY = [
    oid for oid in HTTP_OPS if OPERATIONS[oid].method in WRITES or _info(oid)["x-cstar-key-types"] == ["secret"]
]
PUBLIC_READS = [oid for oid in HTTP_OPS if "publishable" in _info(oid)["x-cstar-key-types"]]
LOOKUPS = [(oid, name) for oid in HTTP_OPS for name in path_params(oid) if name not in cases.NOT_A_LOOKUP]
REQUIRED = [(oid, name) for oid in HTTP_OPS for name in builder.required_fields(oid)]
BODY_ENUMS = [(oid, name) for oid in HTTP_OPS for name in builder.enum_fields(oid)]
QUERY_ENUMS = [(oid, p["name"]) for oid in HTTP_OPS for p in _query(oid).values() if p["schema"].get("enum")]
CREATES = [
    oid
    for oid in HTTP_OPS
    if OPERATIONS[oid].method == "POST"
    and success_status(oid) == 201
    and "id" in _data_schema(oid).get("properties", {})
]
PREFIXED = [oid for oid in CREATES if _id_rule(oid)]
PARTITIONED = [oid for oid in CREATES if oid not in cases.PARTITION_EXEMPT]
MUTATIONS = [oid for oid in HTTP_OPS if OPERATIONS[oid].method in WRITES]


def _reader(create_id: str) -> tuple[str, str | None] | None:
    """The GET that reads what ``create_id`` made: ``(op, id param)`` at ``<path>/{id}``, else the
    list at the create's own path ``(op, None)``; None when there is neither."""
    base = OPERATIONS[create_id].path
    for op in OPERATIONS.values():
        if op.method == "GET" and op.path.startswith(base + "/{") and op.path.count("/") == base.count("/") + 1:
            return op.operation_id, op.path.rsplit("/", 1)[1][1:-1]
    return next(((op.operation_id, None) for op in OPERATIONS.values() if op.method == "GET" and op.path == base), None)


# -- fixtures -----------------------------------------------------------------------------------


@pytest.fixture(scope="module", autouse=True)
def scoreboard(request: pytest.FixtureRequest) -> Scoreboard:
    manager = request.config.pluginmanager
    board = manager.get_plugin("cstar-conformance")
    if board is None:
        board = Scoreboard(request.node.nodeid)
        manager.register(board, "cstar-conformance")
    assert isinstance(board, Scoreboard)
    return board


@pytest.fixture(scope="module")
def api(emulator_session: EmulatorThread, scoreboard: Scoreboard) -> Iterator[Api]:
    client = Api(emulator_session)
    yield client
    # Probed here too, so the summary has the served count whichever checks were selected.
    scoreboard.served = {oid for oid in HTTP_OPS if client.served(oid)}
    scoreboard.stale = sorted(scoreboard.served & cases.NOT_SERVED)
    client.close()


@pytest.fixture(scope="module")
def listener(api: Api) -> Iterator[EventListener]:
    events = EventListener(api)
    yield events
    events.close()


# -- the endpoints answer -------------------------------------------------------------------------


def test_served_endpoints(api: Api) -> None:
    """Probe every operation with placeholder ids and no usable body (so nothing is created): an
    unserved one answers the server's "No route". Operations outside ``cases.NOT_SERVED`` must be
    served; served ones still listed there are named after the summary line."""
    served = {oid for oid in HTTP_OPS if api.served(oid)}
    missing = sorted(set(HTTP_OPS) - served - cases.NOT_SERVED)
    assert missing == [], f"not served, and not in cases.NOT_SERVED: {missing}"


@pytest.mark.parametrize("operation_id", [_case(oid, [oid], oid) for oid in HTTP_OPS if oid not in cases.RUN_LAST])
def test_answers_with_the_documented_envelope(api: Api, operation_id: str) -> None:
    fresh = OPERATIONS[operation_id].method == "DELETE"
    _, response = api.call(operation_id, fresh=fresh)
    check_success(operation_id, response)


@pytest.mark.parametrize("operation_id", [_case(oid, [oid], oid) for oid in PAGED])
def test_lists_paginate(api: Api, operation_id: str) -> None:
    _, first = api.call(operation_id, query={"page": 1, "pageSize": 1})
    body = check_success(operation_id, first)
    pagination = body["meta"].get("pagination")
    assert isinstance(pagination, dict), f"{operation_id}: no meta.pagination"
    items = _items(body["data"])
    assert len(items) <= 1, f"{operation_id}: pageSize=1 gave {len(items)} items"
    assert (pagination.get("page"), pagination.get("pageSize")) == (1, 1), pagination
    _, second = api.call(operation_id, query={"page": 2, "pageSize": 1})
    later = check_success(operation_id, second)
    assert later["meta"]["pagination"].get("page") == 2, later["meta"]["pagination"]
    if pagination.get("total", 0) >= 2 and items and _items(later["data"]):
        assert items[0] != _items(later["data"])[0], f"{operation_id}: pages 1 and 2 start with the same item"


def _items(data: Any) -> list[Any]:
    """A list's items: ``data`` itself, or the ``data`` list inside it (``{"object": "list", "data": […]}``)."""
    return list(data if isinstance(data, list) else data.get("data", []))


@pytest.mark.parametrize("operation_id", [_case(oid, [oid], oid) for oid in PAGE_CAPPED])
def test_page_size_is_capped_at_100(api: Api, operation_id: str) -> None:
    _, largest = api.call(operation_id, query={"pageSize": 100})
    check_success(operation_id, largest)
    _, over = api.call(operation_id, query={"pageSize": 101})
    check_error(operation_id, over, 400, code="INVALID_FIELD", field="pageSize")


# -- keys -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("operation_id", [_case(oid, [oid], oid) for oid in HTTP_OPS])
def test_no_key_is_401(api: Api, operation_id: str) -> None:
    api.require_served(operation_id)
    placeholder = {name: "conformance_probe" for name in path_params(operation_id)}
    response = api.send(Prepared(operation_id, placeholder, {}, builder.body_for(operation_id)), None)
    check_error(operation_id, response, 401)


@pytest.mark.parametrize("operation_id", [_case(oid, [oid], oid) for oid in SECRET_ONLY])
def test_publishable_key_is_403_where_a_secret_key_is_required(api: Api, operation_id: str) -> None:
    api.require_served(operation_id)
    fresh = OPERATIONS[operation_id].method == "DELETE"
    prepared = api.prepare(operation_id, fresh=fresh)
    check_error(operation_id, api.send(prepared, "pk_test"), 403)


@pytest.mark.parametrize("operation_id", [_case(oid, [oid], oid) for oid in PUBLIC_READS])
def test_publishable_key_may_read(api: Api, operation_id: str) -> None:
    _, response = api.call(operation_id, "pk_test")
    check_success(operation_id, response)


# -- bad input --------------------------------------------------------------------------------------


def _unknown_id(operation_id: str, name: str) -> str:
    param = next(
        openapi.resolve(p)
        for p in _info(operation_id).get("parameters", [])
        if openapi.resolve(p).get("name") == name and openapi.resolve(p).get("in") == "path"
    )
    schema = param.get("schema", {})
    if schema.get("format") == "uuid":
        return str(uuid.uuid4())
    return str(schema.get("x-id-prefix", "")) + "conformance0missing"


@pytest.mark.parametrize("operation_id,name", [_case(f"{o}-{n}", [o], o, n) for o, n in LOOKUPS])
def test_unknown_id_in_the_path_is_404(api: Api, operation_id: str, name: str) -> None:
    prepared = api.prepare(operation_id, params={name: _unknown_id(operation_id, name)})
    check_error(operation_id, api.send(prepared), 404)


@pytest.mark.parametrize("operation_id,name", [_case(f"{o}-{n}", [o], o, n) for o, n in REQUIRED])
def test_missing_required_field_is_400(api: Api, operation_id: str, name: str) -> None:
    prepared = api.prepare(operation_id)
    prepared.body = {k: v for k, v in prepared.body.items() if k != name}
    check_error(operation_id, api.send(prepared), 400, code="INVALID_FIELD", field=name)


@pytest.mark.parametrize("operation_id,name", [_case(f"{o}-{n}", [o], o, n) for o, n in BODY_ENUMS])
def test_wrong_enum_in_the_body_is_400(api: Api, operation_id: str, name: str) -> None:
    schema = openapi.resolve(openapi.resolve(openapi.request_body_schema(operation_id))["properties"][name])
    prepared = api.prepare(operation_id, body={name: builder.bogus_enum_value(schema["enum"])})
    check_error(operation_id, api.send(prepared), 400, code="INVALID_FIELD", field=name)


@pytest.mark.parametrize("operation_id,name", [_case(f"{o}-{n}", [o], o, n) for o, n in QUERY_ENUMS])
def test_wrong_enum_in_the_query_is_400(api: Api, operation_id: str, name: str) -> None:
    values = _query(operation_id)[name]["schema"]["enum"]
    prepared = api.prepare(operation_id, query={name: builder.bogus_enum_value(values)})
    check_error(operation_id, api.send(prepared), 400, code="INVALID_FIELD", field=name)


# -- created objects ------------------------------------------------------------------------------


@pytest.mark.parametrize("operation_id", [_case(oid, [oid], oid) for oid in PREFIXED])
def test_created_ids_have_the_reference_prefix(api: Api, operation_id: str) -> None:
    _, response = api.call(operation_id)
    created = check_success(operation_id, response)["data"]["id"]
    rule = _id_rule(operation_id)
    assert rule is not None
    if rule.get("x-id-prefix"):
        assert str(created).startswith(rule["x-id-prefix"]), f"{operation_id}: id {created!r}"
    else:
        assert uuid.UUID(str(created)), f"{operation_id}: id {created!r} is not a UUID"


def _partition_case(create_id: str) -> Any:
    reader = _reader(create_id)
    ops = [create_id] + ([reader[0]] if reader else [])
    return _case(create_id, ops, create_id)


@pytest.mark.parametrize("operation_id", [_partition_case(oid) for oid in PARTITIONED])
def test_test_mode_objects_are_404_for_live_keys(api: Api, operation_id: str) -> None:
    reader = _reader(operation_id)
    if reader is None:
        pytest.skip(f"{operation_id}: nothing reads what it creates")
    prepared, response = api.call(operation_id)
    created = check_success(operation_id, response)["data"]["id"]
    reader_id, param = reader
    params = dict(prepared.params)
    if param is not None:
        params[param] = created
        check_error(reader_id, api.send(api.prepare(reader_id, params=params), "sk_live"), 404)
        return
    query = {"pageSize": 100} if "pageSize" in _query(reader_id) else {}
    live = api.send(Prepared(reader_id, params, query), "sk_live")
    if live.status_code == 404:
        check_error(reader_id, live, 404)
        return
    listed = check_success(reader_id, live)["data"]
    ids = [item.get("id") for item in listed] if isinstance(listed, list) else []
    assert created not in ids, f"{operation_id}: the live list shows test object {created}"


# -- idempotency ----------------------------------------------------------------------------------


@pytest.mark.parametrize("operation_id", [_case(oid, [oid], oid) for oid in MUTATIONS if oid not in cases.RUN_LAST])
def test_idempotency_key_replays_the_first_response(api: Api, operation_id: str) -> None:
    fresh = OPERATIONS[operation_id].method == "DELETE"
    headers = {"Idempotency-Key": f"conformance-{uuid.uuid4()}"}
    prepared, first = api.call(operation_id, headers=headers, fresh=fresh)
    check_success(operation_id, first)
    again = api.send(prepared, headers=headers)
    assert again.status_code == first.status_code, f"{operation_id}: replay {again.status_code} {again.text[:200]}"
    assert again.headers.get("Idempotent-Replayed") == "true", f"{operation_id}: no Idempotent-Replayed: true"
    assert again.json() == first.json(), f"{operation_id}: the replay's body differs from the first response"


# -- events -----------------------------------------------------------------------------------------


def _run(api: Api, call: cases.Call, saved: dict[str, Any]) -> tuple[Prepared, Any]:
    def fill(values: Any) -> Any:
        if values is None:
            return None
        return {k: saved[v[1:]] if isinstance(v, str) and v.startswith("$") else v for k, v in values.items()}

    prep: dict[str, Any] = {"params": fill(call.params)}
    if call.body is not None:
        prep["body"] = fill(call.body)
    for _ in range(2000 if call.until else 1):
        prepared, response = api.call(call.operation, **prep)
        assert response.is_success, f"{call.operation}: {response.status_code} {response.text[:300]}"
        if call.until is None or call.until(response.json()["data"]):
            break
    else:
        raise AssertionError(f"{call.operation} never reached its condition")
    if call.save:
        saved[call.save] = response.json()["data"]["id"]
    return prepared, response


def _event_case(event_type: str, cause: cases.Cause) -> Any:
    ops = [c.operation for c in (*cause.setup, cause.fires)] + list(cause.needs) + list(_EVENTS_NEED)
    return _case(event_type, ops, event_type)


def test_every_event_type_has_a_cause_or_a_reason() -> None:
    listed = set(cases.EVENT_CAUSES) | set(cases.NO_API_CAUSE)
    assert sorted(listed) == sorted(openapi.event_types())
    assert not set(cases.EVENT_CAUSES) & set(cases.NO_API_CAUSE)


@pytest.mark.parametrize("event_type", [_event_case(t, c) for t, c in cases.EVENT_CAUSES.items()])
def test_api_cause_fires_the_event(api: Api, listener: EventListener, event_type: str) -> None:
    cause = cases.EVENT_CAUSES[event_type]
    if cause.before is not None:
        cause.before(api)
    saved: dict[str, Any] = {}
    for call in cause.setup:
        _run(api, call, saved)
    _, response = _run(api, cause.fires, saved)
    request_id = response.headers["x-cstar-request-id"]
    payload = listener.wait(request_id, event_type)
    schema = openapi.load()["webhooks"][event_type]["post"]["requestBody"]["content"]["application/json"]["schema"]
    problems = openapi.validate(payload, schema, formats=("date-time",))
    assert problems == [], f"{event_type}: the payload does not match the document:\n" + "\n".join(problems[:10])


# -- last: checks that use up seeded objects ---------------------------------------------------------


@pytest.mark.parametrize("operation_id", [_case(oid, [oid], oid) for oid in cases.RUN_LAST])
def test_answers_with_the_documented_envelope_last(api: Api, operation_id: str) -> None:
    test_answers_with_the_documented_envelope(api, operation_id)


@pytest.mark.parametrize("operation_id", [_case(oid, [oid], oid) for oid in cases.RUN_LAST if oid in MUTATIONS])
def test_idempotency_key_replays_the_first_response_last(api: Api, operation_id: str) -> None:
    test_idempotency_key_replays_the_first_response(api, operation_id)


def test_summary_counts_every_reference_endpoint() -> None:
    assert len(REFERENCE_OPERATIONS) == 118
    assert set(cases.NOT_SERVED) <= set(OPERATIONS), sorted(set(cases.NOT_SERVED) - set(OPERATIONS))
