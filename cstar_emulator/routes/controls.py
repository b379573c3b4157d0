"""Test controls under ``/_emulator/`` — not part of the cStar API. No key needed, loopback clients only,
and never for a web page: a foreign ``Origin`` or a write whose body is not JSON gets a 403
(:func:`cstar_emulator.hosts.control_refusal`).

- ``GET  /_emulator/health`` → ``{"ok": true}``
- ``POST /_emulator/drop-websockets {"code": 1011}`` → ``{"closed": n}`` (1006: drop without a close frame)
- ``POST /_emulator/fail-next {"count": 1, "status": 500, "path": "/api/v1/…", "method": "POST"}``
- ``POST /_emulator/burst {"count": N, "event": "ticket.created", "mode": "test", "teamId"?}``
  → ``{"count", "event", "firstEventId", "lastEventId"}``
- ``POST /_emulator/expire-sessions`` → ``{"expired": n}``
- ``GET  /_emulator/deliveries?kind=webhook|cli&target=&eventId=`` → recorded attempts and acks
- ``POST /_emulator/reset`` → ``{"teamId", "rows"}``: the team's data back to the seed, keys kept
- ``GET|POST /_emulator/export`` → a snapshot (:mod:`cstar_emulator.snapshot`)
- ``POST /_emulator/import <snapshot>`` → ``{"teamId", "keys", "rows"}``: the team's data replaced
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import Response

from cstar_cli.protocol import frames
from cstar_cli.protocol.urls import is_loopback
from cstar_emulator import snapshot
from cstar_emulator import validate as v
from cstar_emulator.db import Scope
from cstar_emulator.envelope import ApiError, JSONText
from cstar_emulator.hosts import control_refusal
from cstar_emulator.ids import request_id
from cstar_emulator.routes._http import Endpoint, RouteSpec
from cstar_emulator.seed import Seed
from cstar_emulator.services.controls import Fault, burst
from cstar_emulator.state import Emulator

__all__ = ["ROUTES"]


def _ok(data: object) -> Response:
    return JSONText({"success": True, "data": data})


def _local(handler: Callable[[Request, Emulator], Awaitable[Response]]) -> Endpoint:
    async def endpoint(request: Request) -> Response:
        rid = request.state.request_id = request_id()
        try:
            host = request.client.host if request.client else None
            if not is_loopback(host):
                raise ApiError(403, "forbidden", "Emulator controls answer loopback clients only.")
            refusal = await control_refusal(request)
            if refusal is not None:
                raise refusal
            return await handler(request, request.app.state.emulator)
        except ApiError as err:
            # As on /api/v1, an error's x-cstar-request-id matches its meta.requestId.
            err.headers.setdefault("x-cstar-request-id", rid)
            raise

    endpoint.__name__ = handler.__name__
    endpoint.__doc__ = handler.__doc__
    return endpoint


async def health(request: Request, emulator: Emulator) -> Response:
    """Liveness: ``{"ok": true, "teamId"}``."""
    return _ok({"ok": True, "teamId": emulator.seed.team_id})


async def drop_websockets(request: Request, emulator: Emulator) -> Response:
    """Close every listen WebSocket with ``code`` (default 1011; 1006 drops the TCP connection)."""
    body = await v.body(request)
    code = v.integer(body.get("code", frames.CLOSE_SERVER_ERROR), "code", minimum=1000, maximum=4999)
    if code != frames.CLOSE_ABRUPT and code in (1004, 1005, 1015):
        raise ApiError.invalid("code", f"{code} cannot be sent in a close frame.")
    return _ok({"closed": emulator.listeners.close(code), "code": code})


async def fail_next(request: Request, emulator: Emulator) -> Response:
    """Arm a fault: the next ``count`` API requests matching ``path`` (prefix) and ``method`` fail
    with ``status`` (400–599; 429 adds ``Retry-After: 1``)."""
    body = await v.body(request)
    count = v.integer(body.get("count", 1), "count", minimum=1, maximum=100_000)
    status = v.integer(body.get("status", 500), "status", minimum=400, maximum=599)
    path = v.text(body.get("path"), "path", max_len=500, nullable=True) or None
    if path is not None and not path.startswith("/"):
        raise ApiError.invalid("path", "path must start with '/'.")
    method = v.text(body.get("method"), "method", max_len=10, nullable=True) or None
    fault = Fault(count, status, path, method.upper() if method else None)
    emulator.faults.arm(fault)
    return _ok({"armed": {"count": count, "status": status, "path": path, "method": fault.method}})


async def burst_events(request: Request, emulator: Emulator) -> Response:
    """Emit ``count`` synthetic ``event`` events into ``mode`` of ``teamId`` (default: the seeded
    team) in one transaction, for throughput tests."""
    body = await v.body(request)
    count = v.integer(body.get("count", 100), "count", minimum=1, maximum=100_000)
    event_type = v.text(body.get("event", "ticket.created"), "event", max_len=100) or ""
    mode = v.choice(body.get("mode", "test"), "mode", ("test", "live"))
    team_id = v.text(body.get("teamId") or emulator.seed.team_id, "teamId", max_len=100) or ""
    return _ok(burst(emulator.bus, Scope(team_id, mode), event_type, count, request.state.request_id))


async def expire_sessions(request: Request, emulator: Emulator) -> Response:
    """Make every CLI session unknown: the next connect to any of them is closed with 4404."""
    return _ok({"expired": emulator.sessions.expire_all()})


async def deliveries(request: Request, emulator: Emulator) -> Response:
    """Recorded webhook attempts and listen-session acks, oldest first."""
    q = request.query_params
    kind = v.query_choice(request, "kind", ("webhook", "cli"))
    limit = v.integer(q.get("limit", "1000"), "limit", minimum=1, maximum=100_000)
    rows = emulator.deliveries.list(kind=kind, target=q.get("target"), event_id=q.get("eventId"), limit=limit)
    return _ok(rows)


def _replaced(emulator: Emulator, old: Seed, new: Seed) -> None:
    """After a reset or import has committed: what the running emulator holds about the old data."""
    emulator.seed = new
    # The event log was replaced, so the next sequence number is read from it again.
    emulator.bus._seq.clear()
    for team_id in {old.team_id, new.team_id}:
        for mode in ("test", "live"):
            emulator.dispatcher.invalidate(Scope(team_id, mode))
    # Their sessions are gone: 4404 makes `cstar listen` create a new one.
    emulator.listeners.close(frames.CLOSE_SESSION_UNKNOWN)
    emulator.log_hub.close()


async def reset_data(request: Request, emulator: Emulator) -> Response:
    """Replace the team's data by the seed (same team id and seeded keys), in one transaction."""
    await v.body(request)
    emulator.deliveries.flush()
    old = emulator.seed
    new = snapshot.reset(emulator.db, old, emulator.seed_data)
    _replaced(emulator, old, new)
    return _ok({"teamId": new.team_id, "rows": snapshot.counts(emulator.db, new.team_id)})


async def export_data(request: Request, emulator: Emulator) -> Response:
    """The team's data as a snapshot (it holds the team's API keys and webhook secrets)."""
    if request.method == "POST":
        await v.body(request)
    emulator.deliveries.flush()
    return _ok(snapshot.export(emulator.db, emulator.seed.team_id))


async def import_data(request: Request, emulator: Emulator) -> Response:
    """Replace the team's data by the snapshot in the body, in one transaction; 400
    ``invalid_snapshot`` (nothing changed) when it does not fit this emulator."""
    body = await v.body(request)
    emulator.deliveries.flush()
    old = emulator.seed
    try:
        new = snapshot.restore(emulator.db, emulator.seed_tables, body)
    except snapshot.SnapshotError as e:
        raise ApiError(400, "invalid_snapshot", f"{e}.") from None
    _replaced(emulator, old, new)
    rows = snapshot.counts(emulator.db, new.team_id)
    return _ok({"teamId": new.team_id, "keys": dict(new.keys), "rows": rows})


#: ``(method, path, endpoint)`` of every control.
ROUTES: list[RouteSpec] = [
    ("GET", "/_emulator/health", _local(health)),
    ("POST", "/_emulator/drop-websockets", _local(drop_websockets)),
    ("POST", "/_emulator/fail-next", _local(fail_next)),
    ("POST", "/_emulator/burst", _local(burst_events)),
    ("POST", "/_emulator/expire-sessions", _local(expire_sessions)),
    ("GET", "/_emulator/deliveries", _local(deliveries)),
    ("POST", "/_emulator/reset", _local(reset_data)),
    ("GET", "/_emulator/export", _local(export_data)),
    ("POST", "/_emulator/export", _local(export_data)),
    ("POST", "/_emulator/import", _local(import_data)),
]
