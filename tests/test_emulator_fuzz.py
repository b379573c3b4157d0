"""Property: whatever the body of ``POST /tickets`` or ``POST /customers`` (any JSON value, JSON with
NaN or deep nesting, any bytes, any content type), the emulator answers a 2xx or 4xx with strict JSON
in its envelope, never a 500 — and what it stores and sends stays strict JSON. In process."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.testclient import TestClient

from cstar_emulator import Emulator, Settings, create_app

FIELDS = [
    "title", "priority", "customerId", "customerName", "customerEmail", "tags", "notes", "metadata",
    "name", "email", "status", "sentiment", "assignedTo",
]  # fmt: skip
CONTENT_TYPES = [None, "application/json", "application/x-www-form-urlencoded", "text/plain; charset=utf-8"]

scalars = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30)
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=12,
)
objects = st.dictionaries(st.sampled_from(FIELDS) | st.text(max_size=8), values, max_size=8)


def _json_bytes(value: Any) -> bytes:
    # allow_nan: NaN and Infinity are exactly what the emulator must refuse.
    return json.dumps(value, allow_nan=True).encode()


def _nested(depth: int) -> bytes:
    return b'{"title": "t", "metadata": {"a": ' + b"[" * depth + b"]" * depth + b"}}"


bodies = st.one_of(
    objects.map(_json_bytes),
    values.map(_json_bytes),
    st.binary(max_size=200),
    st.integers(min_value=60, max_value=3000).map(_nested),
    st.text(max_size=100).map(lambda t: t.encode("utf-8", "surrogatepass")),
)


def _strict(text: str | bytes) -> Any:
    def refuse(name: str) -> Any:
        raise AssertionError(f"{name} in emulator output")

    return json.loads(text, parse_constant=refuse)


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Emulator, TestClient]]:
    path: Path = tmp_path_factory.mktemp("fuzz") / "emulator.db"
    emulator = Emulator(path, Settings(rate_limit=0))
    with TestClient(create_app(emulator), base_url="http://127.0.0.1", raise_server_exceptions=True) as c:
        c.headers["Authorization"] = f"Bearer {emulator.seed.keys['sk_test']}"
        yield emulator, c


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    resource=st.sampled_from(["/tickets", "/customers"]),
    body=bodies,
    content_type=st.sampled_from(CONTENT_TYPES),
    idempotent=st.booleans(),
)
def test_any_body_gets_a_json_answer_below_500(
    client: tuple[Emulator, TestClient], resource: str, body: bytes, content_type: str | None, idempotent: bool
) -> None:
    emulator, c = client
    headers = {"content-type": content_type} if content_type else {}
    if idempotent:
        headers["Idempotency-Key"] = f"fuzz-{hash((resource, body, content_type))}"
    resp = c.post(f"/api/v1/teams/{emulator.seed.team_id}{resource}", content=body, headers=headers)
    assert resp.status_code < 500, resp.text
    assert resp.headers["content-type"].startswith("application/json")
    envelope = _strict(resp.content)
    assert envelope["success"] is (resp.status_code < 400)
    if resp.status_code >= 400:
        assert envelope["error"]["type"] and envelope["error"]["code"]


def test_stored_events_are_strict_json(client: tuple[Emulator, TestClient]) -> None:
    """Runs after the property (same module emulator): every payload it caused is strict JSON."""
    emulator, _ = client
    for row in emulator.db.all("SELECT payload FROM events"):
        _strict(row["payload"])
