"""``/webhooks`` and ``/webhooks/trigger-test`` (reference: "Webhooks")."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import Response

from cstar_cli.protocol.urls import is_loopback
from cstar_emulator import validate as v
from cstar_emulator.envelope import ApiError, ok, page_meta
from cstar_emulator.routes._http import TEAM, api_routes, caller

__all__ = ["ROUTES"]


def _webhook_url(value: Any) -> str:
    url = v.text(value, "url") or ""
    parts = urlsplit(url)
    if parts.scheme == "https" and parts.hostname:
        return url
    if parts.scheme == "http" and is_loopback(parts.hostname):
        return url
    raise ApiError.invalid("url", "url must be an https:// URL (http:// is accepted for localhost receivers).")


async def list_webhooks(request: Request) -> Response:
    """``GET /webhooks`` (page/pageSize accepted), newest first; secrets are never listed."""
    c = caller(request)
    page, size = v.page_params(request)
    data, total = c.emulator.webhooks.page(c.scope, page, size)
    return ok(request, data, pagination=page_meta(page, size, total))


async def get_webhook(request: Request) -> Response:
    """``GET /webhooks/{id}`` (no secret)."""
    c = caller(request)
    return ok(request, c.emulator.webhooks.get(c.scope, request.path_params["webhook_id"]))


async def create_webhook(request: Request) -> Response:
    """``POST /webhooks {"name", "url", "events", "isActive"?}`` → 201 with the ``whsec_`` secret
    (shown only here). ``events``: list or comma-separated; exact types, ``resource.*`` or ``*``."""
    c = caller(request)
    body = await v.body(request)
    webhook = c.emulator.webhooks.create(
        c.scope,
        name=v.text(v.require(body, "name"), "name") or "",
        url=_webhook_url(v.require(body, "url")),
        events=v.event_patterns(v.require(body, "events")),
        is_active=v.flag(body["isActive"], "isActive") if body.get("isActive") is not None else True,
    )
    return ok(request, webhook, status=201)


async def update_webhook(request: Request) -> Response:
    """``PATCH /webhooks/{id}``: name, url, events, isActive."""
    c = caller(request)
    body = await v.body(request)
    fields: dict[str, Any] = {}
    if "name" in body:
        fields["name"] = v.text(v.require(body, "name"), "name")
    if "url" in body:
        fields["url"] = _webhook_url(v.require(body, "url"))
    if "events" in body:
        fields["events"] = v.event_patterns(v.require(body, "events"))
    if "isActive" in body:
        fields["is_active"] = int(v.flag(body["isActive"], "isActive"))
    return ok(request, c.emulator.webhooks.update(c.scope, request.path_params["webhook_id"], fields))


async def delete_webhook(request: Request) -> Response:
    """``DELETE /webhooks/{id}``; queued deliveries to it are dropped."""
    c = caller(request)
    return ok(request, c.emulator.webhooks.delete(c.scope, request.path_params["webhook_id"]))


async def trigger_test(request: Request) -> Response:
    """``POST /webhooks/trigger-test {"event", "data"?}``: a synthetic event to every matching target;
    ``data`` (a JSON object, within the body limit) replaces the synthetic sample."""
    c = caller(request)
    body = await v.body(request)
    data = body.get("data")
    if "data" in body and not isinstance(data, dict):
        raise ApiError.invalid("data", "data must be a JSON object (the event's data), or left out for the sample.")
    return ok(request, c.emulator.webhooks.trigger_test(c.scope, c.request_id, v.require(body, "event"), data))


async def trigger_sample(request: Request) -> Response:
    """``GET /webhooks/trigger-test/sample?event=…``: ``{"event", "data"}``, the synthetic ``data`` a
    trigger-test would send, for ``cstar trigger --override …`` to shape."""
    c = caller(request)
    return ok(request, c.emulator.webhooks.trigger_sample(request.query_params.get("event")))


ROUTES = api_routes(
    TEAM,
    [
        ("GET", "/webhooks", list_webhooks),
        ("POST", "/webhooks", create_webhook),
        ("POST", "/webhooks/trigger-test", trigger_test),
        ("GET", "/webhooks/trigger-test/sample", trigger_sample),
        ("GET", "/webhooks/{webhook_id}", get_webhook),
        ("PATCH", "/webhooks/{webhook_id}", update_webhook),
        ("DELETE", "/webhooks/{webhook_id}", delete_webhook),
    ],
)
