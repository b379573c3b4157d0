"""Sending the case table's requests to a running emulator, checking envelopes, keeping score.

:class:`Api` prepares a request for any operation of the OpenAPI document (path parameters,
query and body from ``cases`` and ``builder``), creates the objects it needs first and sends it
with one of the seeded keys. :class:`EventListener` holds a listen WebSocket open for the whole
run and indexes the events it receives by the request id that caused them. :class:`Scoreboard`
is a pytest plugin that counts the conformance checks and prints the summary line.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from cstar_cli.protocol import openapi
from tests.conformance import builder, cases, extensions
from tests.support.emulator import LocalEmulator

__all__ = [
    "OPERATIONS",
    "REFERENCE_OPERATIONS",
    "Api",
    "EventListener",
    "Prepared",
    "Scoreboard",
    "Unavailable",
    "check_error",
    "check_success",
    "dependencies",
    "is_unrouted",
    "path_params",
    "success_status",
]

OPERATIONS: dict[str, openapi.Operation] = {op.operation_id: op for op in openapi.operations()}
#: The reference's endpoints (its headings and the one named in its prose), in document order.
REFERENCE_OPERATIONS: list[str] = [
    op.operation_id
    for op in openapi.operations()
    if openapi.operation(op.operation_id).get("x-cstar-source") in ("reference", "reference-prose")
]
#: The document's operations and the emulator's additions (:mod:`tests.conformance.extensions`),
#: for building and sending requests; the generic checks cover :data:`OPERATIONS` only.
_CALLABLE: dict[str, openapi.Operation] = {**extensions.OPERATIONS, **OPERATIONS}
_MISSING: Any = object()
WAIT_SECONDS = 10.0


class Unavailable(AssertionError):
    """A value a check needs could not be had (an empty list to pick from, an unserved creator)."""


@dataclass
class Prepared:
    """A request ready to send: the operation, its path ``params`` (without ``teamId``), ``query``
    and JSON ``body`` (None: no body)."""

    operation_id: str
    params: dict[str, str] = field(default_factory=dict)
    query: dict[str, Any] = field(default_factory=dict)
    body: Any = None

    @property
    def method(self) -> str:
        return _CALLABLE[self.operation_id].method


def path_params(operation_id: str) -> list[str]:
    """The operation's path parameter names other than ``teamId``, in path order."""
    path = _CALLABLE[operation_id].path
    return [seg[1:-1] for seg in path.split("/") if seg.startswith("{") and seg != "{teamId}"]


def success_status(operation_id: str) -> int:
    """The documented success status (the first 2xx response)."""
    return int(next(k for k in openapi.operation(operation_id)["responses"] if k.startswith("2")))


def _param_source(operation_id: str, name: str) -> cases.Source:
    source = cases.OP_PARAM_SOURCES.get((operation_id, name)) or cases.PARAM_SOURCES.get(name)
    if source is None:
        raise KeyError(f"cases.PARAM_SOURCES has no source for path parameter {name!r} ({operation_id})")
    return source


def _sources_in(value: Any) -> list[cases.Source]:
    if isinstance(value, (cases.Created, cases.Found, cases.Fixed, cases.Generated)):
        return [value]
    if isinstance(value, Mapping):
        return [s for v in value.values() for s in _sources_in(v)]
    if isinstance(value, (list, tuple)):
        return [s for v in value for s in _sources_in(v)]
    return []


def _field_sources(operation_id: str) -> list[cases.Source]:
    overridden = cases.BODY_OVERRIDES.get(operation_id, {})
    fields = [f for f in builder.required_fields(operation_id) if f not in overridden]
    return [cases.FIELD_SOURCES[f] for f in fields if f in cases.FIELD_SOURCES]


def dependencies(operation_id: str, _seen: frozenset[str] = frozenset()) -> set[str]:
    """Every operation a check of ``operation_id`` calls: itself, the creators and lists of its
    path parameters, body fields and query, and its precondition's — transitively."""
    if operation_id in _seen:
        return set()
    seen = _seen | {operation_id}
    sources = [_param_source(operation_id, name) for name in path_params(operation_id)]
    sources += _sources_in(cases.BODY_OVERRIDES.get(operation_id, {}))
    sources += _sources_in(cases.QUERY.get(operation_id, {}))
    sources += _field_sources(operation_id)
    out = {operation_id}
    pre = cases.PRECONDITIONS.get(operation_id)
    for needed in pre.needs if pre else ():
        out |= dependencies(needed, seen)
    for source in sources:
        if isinstance(source, (cases.Created, cases.Found)):
            out |= dependencies(source.operation, seen)
    return out


class Api:
    """Requests to ``emulator`` (a :class:`LocalEmulator`) for operations of the document.

    ``prepare`` builds a request; ``send`` sends one with a seeded key (``"sk_test"``,
    ``"sk_live"``, ``"pk_test"``, ``"pk_live"``, or None for no key); ``call`` does both, running
    the operation's precondition first; ``ok`` also requires a 2xx and returns the JSON body.
    Objects created for path parameters are cached for the run unless ``fresh`` is asked for."""

    def __init__(self, emulator: LocalEmulator) -> None:
        self.emulator = emulator
        self._http = httpx.Client(base_url=emulator.url(), trust_env=False, timeout=15.0)
        self._cache: dict[cases.Source, Any] = {}
        self._served: dict[str, bool] = {}

    def close(self) -> None:
        self._http.close()

    # -- building ---------------------------------------------------------------------------------

    def value(self, source: cases.Source, *, fresh: bool = False) -> Any:
        """The value ``source`` names; raises :class:`Unavailable` when there is none to be had."""
        if isinstance(source, cases.Fixed):
            return source.value
        if isinstance(source, cases.Generated):
            return source.factory()
        if isinstance(source, cases.Created):
            if not fresh and source in self._cache:
                return self._cache[source]
            made = self._must(source.operation)["data"][source.field]
            if not fresh:  # a fresh object is the caller's to consume (delete), never shared
                self._cache[source] = made
            return made
        data = self._must(source.operation)["data"]
        items = data.get(source.within, []) if source.within and isinstance(data, Mapping) else data
        if isinstance(items, Mapping):  # a single object (getTodaysPuzzle's ``puzzle``)
            items = [items]
        items = [item for item in items if source.where is None or source.where(item)]
        if not items:
            raise Unavailable(f"{source.operation} listed nothing to take {source.field!r} from")
        item = items[source.index]
        if source.field not in item:
            raise Unavailable(f"{source.operation}'s items have no {source.field!r}")
        return item[source.field]

    def materialize(self, value: Any, *, fresh: bool = False) -> Any:
        """``value`` with every source in it (nested in dicts and lists) replaced by its value."""
        if isinstance(value, (cases.Created, cases.Found, cases.Fixed, cases.Generated)):
            return self.value(value, fresh=fresh)
        if isinstance(value, Mapping):
            return {k: self.materialize(v, fresh=fresh) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [self.materialize(v, fresh=fresh) for v in value]
        return value

    def prepare(
        self,
        operation_id: str,
        *,
        params: Mapping[str, Any] | None = None,
        query: Mapping[str, Any] | None = None,
        body: Any = _MISSING,
        fresh: bool = False,
    ) -> Prepared:
        """A valid request for ``operation_id``: path parameters from ``params`` or their sources
        (new objects when ``fresh``), query from ``cases.QUERY`` and ``query``, the schema-built body
        with ``cases`` overrides and then ``body`` (a dict merged over it; anything else replaces it)."""
        given = dict(params or {})
        resolved = {
            name: given[name] if name in given else self.value(_param_source(operation_id, name), fresh=fresh)
            for name in path_params(operation_id)
        }
        q = self.materialize({**cases.QUERY.get(operation_id, {}), **(query or {})})
        built = builder.body_for(operation_id)
        if built is not None:
            for name in list(built):
                if name in cases.FIELD_SOURCES and name not in cases.BODY_OVERRIDES.get(operation_id, {}):
                    built[name] = cases.FIELD_SOURCES[name]
            built.update(cases.BODY_OVERRIDES.get(operation_id, {}))
        if body is _MISSING:
            final = built
        elif isinstance(body, Mapping) and built is not None:
            final = {**built, **body}
        else:
            final = body
        return Prepared(operation_id, resolved, q, self.materialize(final))

    def url(self, prepared: Prepared) -> str:
        """The request path (``/api/v1/...``) with the parameters filled in."""
        path = _CALLABLE[prepared.operation_id].path.replace("{teamId}", self.emulator.team_id)
        for name, value in prepared.params.items():
            path = path.replace("{" + name + "}", str(value))
        return path

    # -- sending ----------------------------------------------------------------------------------

    def send(
        self,
        prepared: Prepared,
        kind: str | None = "sk_test",
        *,
        headers: Mapping[str, str] | None = None,
        content: bytes | None = None,
    ) -> httpx.Response:
        """Send ``prepared`` with the seeded key ``kind`` (None: no Authorization header);
        ``content`` replaces the JSON body with raw bytes."""
        sent = dict(headers or {})
        if kind is not None:
            sent.update(self.emulator.auth(kind))
        kwargs: dict[str, Any] = {"params": prepared.query, "headers": sent}
        if content is not None:
            kwargs["content"] = content
            sent.setdefault("Content-Type", "application/json")
        elif prepared.body is not None:
            kwargs["json"] = prepared.body
        return self._http.request(prepared.method, self.url(prepared), **kwargs)

    def call(
        self, operation_id: str, kind: str | None = "sk_test", *, headers: Mapping[str, str] | None = None, **prep: Any
    ) -> tuple[Prepared, httpx.Response]:
        """Prepare (``prep``: as :meth:`prepare`), run the precondition, send."""
        pre = cases.PRECONDITIONS.get(operation_id)
        if pre is not None and pre.early:
            pre.run(self, None)
        prepared = self.prepare(operation_id, **prep)
        if pre is not None and not pre.early:
            pre.run(self, prepared)
        return prepared, self.send(prepared, kind, headers=headers)

    def ok(self, operation_id: str, kind: str = "sk_test", **prep: Any) -> dict[str, Any]:
        """:meth:`call`, requiring a 2xx JSON answer (AssertionError naming the response if not)."""
        _, response = self.call(operation_id, kind, **prep)
        assert response.is_success, f"{operation_id}: {response.status_code} {response.text[:300]}"
        body: dict[str, Any] = response.json()
        return body

    def served(self, operation_id: str) -> bool:
        """Whether the server routes the operation at all: probed once with placeholder ids and,
        on writes, a body that is not JSON, so that nothing is created or changed."""
        if operation_id not in self._served:
            placeholder = {name: "conformance_probe" for name in path_params(operation_id)}
            writes = OPERATIONS[operation_id].method in ("POST", "PATCH", "PUT", "DELETE")
            response = self.send(Prepared(operation_id, placeholder), content=b"{" if writes else None)
            self._served[operation_id] = not is_unrouted(response)
        return self._served[operation_id]

    def require_served(self, operation_id: str) -> None:
        """Fail the check when the operation is not routed: an answer from a layer before routing
        (authentication, key type) says nothing about the endpoint."""
        assert self.served(operation_id), f"{operation_id} is not served (the probe got the server's No route)"

    def _must(self, operation_id: str, **prep: Any) -> dict[str, Any]:
        try:
            return self.ok(operation_id, **prep)
        except Unavailable:
            raise
        except AssertionError as exc:
            raise Unavailable(f"needed first: {exc}") from None


# -- checks ---------------------------------------------------------------------------------------


def is_unrouted(response: httpx.Response) -> bool:
    """Whether the answer is the server's "no such route" (404 ``No route for …``, or 405)."""
    if response.status_code not in (404, 405):
        return False
    try:
        error = response.json().get("error", {})
    except ValueError:
        return True
    return response.status_code == 405 or str(error.get("message", "")).startswith("No route")


def _json(response: httpx.Response, what: str) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        raise AssertionError(f"{what}: the body is not JSON: {response.text[:200]!r}") from None
    assert isinstance(body, dict), f"{what}: the body is not a JSON object"
    return body


def check_success(operation_id: str, response: httpx.Response) -> dict[str, Any]:
    """Assert the documented success status, the envelope (``success``, ``data``, ``meta.requestId``
    equal to ``x-cstar-request-id``, ``meta.timestamp``) and that the body validates against the
    operation's response schema (date-times checked). Returns the body."""
    what = f"{operation_id} {response.request.method} {response.request.url.path}"
    assert not is_unrouted(response), f"{what}: not served ({response.status_code})"
    expected = success_status(operation_id)
    assert response.status_code == expected, f"{what}: {response.status_code}, not {expected}: {response.text[:300]}"
    body = _json(response, what)
    assert body.get("success") is True, f"{what}: success is {body.get('success')!r}"
    assert "data" in body, f"{what}: no data"
    meta = body.get("meta") or {}
    assert str(meta.get("requestId", "")).startswith("req_"), f"{what}: meta.requestId {meta.get('requestId')!r}"
    assert meta.get("timestamp"), f"{what}: no meta.timestamp"
    assert response.headers.get("x-cstar-request-id") == meta["requestId"], f"{what}: header and meta.requestId differ"
    schema = openapi.response_schema(operation_id)
    assert schema is not None, f"{operation_id} documents no JSON success response"
    problems = openapi.validate(body, schema, formats=("date-time",))
    assert problems == [], f"{what}: the body does not match the document:\n" + "\n".join(problems[:10])
    return body


def check_error(
    operation_id: str, response: httpx.Response, status: int, *, code: str | None = None, field: str | None = None
) -> dict[str, Any]:
    """Assert an error answer: ``status``, the error envelope (``success: false``, ``error.type``,
    ``code``, ``message``, ``doc_url``) valid against the document's response for that status,
    ``x-cstar-request-id``, and ``code`` / ``field`` when given. Returns the body."""
    what = f"{operation_id} {response.request.method} {response.request.url.path}"
    assert not is_unrouted(response), f"{what}: not served ({response.status_code})"
    assert response.status_code == status, f"{what}: {response.status_code}, not {status}: {response.text[:300]}"
    body = _json(response, what)
    schema = openapi.response_schema(operation_id, status) or {"$ref": "#/components/schemas/ErrorEnvelope"}
    problems = openapi.validate(body, schema)
    assert problems == [], f"{what}: the error body does not match the document:\n" + "\n".join(problems[:10])
    assert response.headers.get("x-cstar-request-id", "").startswith("req_"), f"{what}: no x-cstar-request-id"
    error = body["error"]
    if code is not None:
        assert error.get("code") == code, f"{what}: code {error.get('code')!r}, not {code!r}"
    if field is not None:
        assert error.get("field") == field, f"{what}: field {error.get('field')!r}, not {field!r}"
    return body


# -- events ---------------------------------------------------------------------------------------


class EventListener:
    """A listen session for every event (``events: ["*"]``) with its WebSocket read by a thread
    that acks each event; :meth:`wait` finds the event a request caused, by its request id."""

    def __init__(self, api: Api) -> None:
        from websockets.sync.client import connect

        self.api = api
        session = api.ok(
            "createCliSession", body={"events": ["*"], "deviceName": f"conformance-{uuid.uuid4().hex[:8]}"}
        )
        self.session = session["data"]
        self._by_request: dict[str, list[tuple[str, dict[str, Any]]]] = {}
        self._cond = threading.Condition()
        self._ws = connect(
            self.session["websocketUrl"], additional_headers=api.emulator.auth(), proxy=None, open_timeout=10
        ).__enter__()  # left in close(); the reader thread outlives this call, a with block cannot
        self._thread = threading.Thread(target=self._read, name="conformance-events", daemon=True)
        self._thread.start()

    def _read(self) -> None:
        from websockets.exceptions import ConnectionClosed

        try:
            for message in self._ws:
                frame = json.loads(message)
                if frame.get("type") not in ("event", "event_too_large"):
                    continue
                if frame["type"] == "event":
                    rid = frame.get("headers", {}).get("x-cstar-request-id", "")
                    with self._cond:
                        self._by_request.setdefault(rid, []).append((frame["eventType"], json.loads(frame["payload"])))
                        self._cond.notify_all()
                ack = {
                    "type": "ack",
                    "eventId": frame["eventId"],
                    "status": 200,
                    "durationMs": 0,
                    "attempts": 1,
                    "error": None,
                }
                self._ws.send(json.dumps(ack))
        except ConnectionClosed:
            pass

    def wait(self, request_id: str, event_type: str, timeout: float = WAIT_SECONDS) -> dict[str, Any]:
        """The payload of the ``event_type`` event caused by request ``request_id``; AssertionError
        naming what that request did fire when none arrives within ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for kind, payload in self._by_request.get(request_id, []):
                    if kind == event_type:
                        return payload
                left = deadline - time.monotonic()
                if left <= 0 or not self._thread.is_alive():
                    seen = [kind for kind, _ in self._by_request.get(request_id, [])]
                    raise AssertionError(f"no {event_type} event from {request_id} (it fired {seen or 'nothing'})")
                self._cond.wait(left)

    def close(self) -> None:
        self._ws.__exit__(None, None, None)
        self._thread.join(5)
        prepared = self.api.prepare("deleteCliSession", params={"sessionId": self.session["id"]})
        self.api.send(prepared)


# -- the score --------------------------------------------------------------------------------------


class Scoreboard:
    """A pytest plugin counting the outcomes of the checks in ``module`` (a test file's node id
    prefix) and printing ``conformance: N/M checks pass; K of 118 reference endpoints served``."""

    def __init__(self, module: str) -> None:
        self.module = module
        self.outcomes: dict[str, str] = {}
        self.served: set[str] | None = None
        self.stale: list[str] = []

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if not report.nodeid.startswith(self.module):
            return
        if report.when == "call" or (report.when == "setup" and not report.passed):
            if hasattr(report, "wasxfail"):
                outcome = "xpassed" if report.passed else "xfailed"
            else:
                outcome = report.outcome
            self.outcomes[report.nodeid] = outcome

    def line(self) -> str:
        """The summary line (the served count is ``?`` when the probe did not run)."""
        counted = [o for o in self.outcomes.values() if o != "skipped"]
        passing = sum(o in ("passed", "xpassed") for o in counted)
        served = "?" if self.served is None else str(len(self.served & set(REFERENCE_OPERATIONS)))
        return (
            f"conformance: {passing}/{len(counted)} checks pass; "
            f"{served} of {len(REFERENCE_OPERATIONS)} reference endpoints served"
        )

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if not self.outcomes:
            return
        terminalreporter.write_line(self.line())
        if self.stale:
            terminalreporter.write_line(
                "conformance: served but still in cases.NOT_SERVED (remove them): " + ", ".join(self.stale)
            )
