"""``/articles`` (reference: "Articles")."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from cstar_emulator import models
from cstar_emulator import validate as v
from cstar_emulator.envelope import ok, page_meta
from cstar_emulator.repositories.table import ListQuery
from cstar_emulator.routes._fields import article_fields
from cstar_emulator.routes._http import TEAM, api_routes, caller

__all__ = ["ROUTES"]


async def list_articles(request: Request) -> Response:
    """``GET /articles?category&status&isPublic&search&page&pageSize``."""
    c = caller(request)
    page, size = v.page_params(request)
    q = request.query_params
    status = v.query_choice(request, "status", models.ARTICLE_STATUSES)
    query = ListQuery(
        {
            "status": status,
            "category": q.get("category") or None,
            "is_public": int(v.flag(q["isPublic"], "isPublic")) if q.get("isPublic") else None,
        },
        q.get("search"),
    )
    data, total = c.emulator.articles.page(c.scope, query, page, size)
    return ok(request, data, pagination=page_meta(page, size, total))


async def get_article(request: Request) -> Response:
    """``GET /articles/{id}`` with full content."""
    c = caller(request)
    return ok(request, c.emulator.articles.get(c.scope, request.path_params["article_id"]))


async def create_article(request: Request) -> Response:
    """``POST /articles``: ``title`` required; starts as a draft unless ``status`` says otherwise."""
    c = caller(request)
    fields = article_fields(await v.body(request), True)
    return ok(request, c.emulator.articles.create(c.scope, c.request_id, fields), status=201)


async def update_article(request: Request) -> Response:
    """``PATCH /articles/{id}``: any field of create; metadata merged."""
    c = caller(request)
    fields = article_fields(await v.body(request), False)
    return ok(request, c.emulator.articles.update(c.scope, request.path_params["article_id"], c.request_id, fields))


async def delete_article(request: Request) -> Response:
    """``DELETE /articles/{id}``."""
    c = caller(request)
    return ok(request, c.emulator.articles.delete(c.scope, request.path_params["article_id"], c.request_id))


ROUTES = api_routes(
    TEAM,
    [
        ("GET", "/articles", list_articles),
        ("POST", "/articles", create_article),
        ("GET", "/articles/{article_id}", get_article),
        ("PATCH", "/articles/{article_id}", update_article),
        ("DELETE", "/articles/{article_id}", delete_article),
    ],
)
