"""Pieces of a fake cStar API for tests that script the listen WebSocket themselves: the routes a
``cstar listen`` run calls before and after it (``GET /api/v1/me``, creating and deleting a CLI
session), the response envelope, and uvicorn started in a thread on a bound socket."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable
from typing import Any

import uvicorn
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

__all__ = ["TEAM", "envelope", "session_routes", "start_uvicorn"]

TEAM = "11111111-2222-3333-4444-555555555555"


def envelope(data: Any) -> dict[str, Any]:
    """``data`` in the API's success envelope."""
    return {"success": True, "data": data, "meta": {"requestId": "req_fake", "timestamp": "2026-01-01T00:00:00.000Z"}}


def session_routes(session_id: str, secret: str, websocket_url: Callable[[], str]) -> list[Route]:
    """``/api/v1/me`` (a secret test key of :data:`TEAM`) and the CLI session routes: a created
    session is ``session_id`` with ``secret``, its ``websocketUrl`` is ``websocket_url()`` then."""

    async def me(request: Request) -> JSONResponse:
        team = {"id": TEAM, "name": "Fake", "slug": "fake", "plan": "pro", "memberCount": 1}
        return JSONResponse(
            envelope({"object": "api_key_context", "keyId": "key_x", "keyType": "secret", "mode": "test", "team": team})
        )

    async def create(request: Request) -> JSONResponse:
        session = {"id": session_id, "object": "cli_session", "websocketUrl": websocket_url(), "secret": secret,
                   "events": ["*"], "expiresAt": "2030-01-01T00:00:00.000Z"}
        return JSONResponse(envelope(session), status_code=201)

    async def delete(request: Request) -> JSONResponse:
        return JSONResponse(envelope({"id": session_id, "object": "cli_session", "deleted": True}))

    return [
        Route("/api/v1/me", me),
        Route(f"/api/v1/teams/{TEAM}/cli/sessions", create, methods=["POST"]),
        Route(f"/api/v1/teams/{TEAM}/cli/sessions/{{sid}}", delete, methods=["DELETE"]),
    ]


def start_uvicorn(config: uvicorn.Config, sock: socket.socket) -> tuple[uvicorn.Server, threading.Thread]:
    """Serve ``config`` on the bound ``sock`` in a daemon thread, once it has started (AssertionError
    after 10 s). Stop it with ``server.should_exit = True`` and join the thread."""
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "the fake API did not start"
        time.sleep(0.01)
    return server, thread
