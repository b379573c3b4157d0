"""The Starlette application: every route, the API middleware, error envelopes and the lifespan."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route, WebSocketRoute

from cstar_emulator.envelope import ApiError
from cstar_emulator.hosts import HostGuard, HostPolicy
from cstar_emulator.ids import request_id
from cstar_emulator.middleware import ApiMiddleware
from cstar_emulator.routes import (
    account,
    ai,
    articles,
    automations,
    controls,
    customers,
    events,
    game,
    insights,
    logs,
    sessions,
    tickets,
    transfer,
    webhooks,
)
from cstar_emulator.routes import plain as plain_routes
from cstar_emulator.state import Emulator

__all__ = ["create_app"]


def _request_id(request: Request) -> str:
    rid = getattr(request.state, "request_id", None)
    if rid is None:
        rid = request.state.request_id = request_id()
    return str(rid)


async def _api_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    request.state.error_code = exc.code
    return exc.response(_request_id(request))


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if exc.status_code == 404:
        err = ApiError(404, "not_found", f"No route for {request.method} {request.url.path}.")
    elif exc.status_code == 405:
        err = ApiError(405, "method_not_allowed", f"{request.method} is not allowed on {request.url.path}.")
    else:
        err = ApiError(exc.status_code, None, str(exc.detail))
    return await _api_error(request, err)


def create_app(emulator: Emulator, hosts: HostPolicy | None = None) -> Starlette:
    """The ASGI app serving ``emulator``: the reference's and the server contract's ``/api/v1``
    routes, the listen WebSocket and the ``/_emulator`` controls. Its lifespan starts background
    pruning and, on shutdown, closes streams, webhook workers and the database. Requests whose
    ``Host`` ``hosts`` does not allow (default: loopback names only) get a 403 before anything else."""
    table = [
        *account.ROUTES,
        *tickets.ROUTES,
        *customers.ROUTES,
        *articles.ROUTES,
        *webhooks.ROUTES,
        *events.ROUTES,
        *sessions.ROUTES,
        *logs.ROUTES,
        *controls.ROUTES,
        *insights.ROUTES,
        *transfer.ROUTES,
        *ai.ROUTES,
        *automations.ROUTES,
        *plain_routes.ROUTES,
        *game.ROUTES,
    ]
    routes: list[BaseRoute] = [Route(path, endpoint, methods=[method]) for method, path, endpoint in table]
    routes.append(WebSocketRoute(sessions.WEBSOCKET_PATH, sessions.listen))

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await emulator.start()
        try:
            yield
        finally:
            await emulator.aclose()

    app = Starlette(
        routes=routes,
        middleware=[
            Middleware(HostGuard, policy=hosts or HostPolicy()),
            Middleware(ApiMiddleware, emulator=emulator),
        ],
        exception_handlers={ApiError: _api_error, HTTPException: _http_error},
        lifespan=lifespan,
    )
    app.state.emulator = emulator
    # A redirect is not JSON; the API middleware serves /api/v1 paths with a trailing slash as
    # without, anything else unknown gets the JSON 404.
    app.router.redirect_slashes = False
    return app
