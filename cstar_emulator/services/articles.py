"""Knowledge-base articles (reference: "Articles"). Events: ``article.created`` (then
``article.published`` when created published), ``article.updated`` (then ``article.published`` when
the status became published), ``article.deleted``; data ``{"article"}``."""

from __future__ import annotations

from typing import Any

from cstar_emulator.db import Database, Scope
from cstar_emulator.models import Resource
from cstar_emulator.repositories.articles import Articles
from cstar_emulator.repositories.table import ListQuery
from cstar_emulator.services._common import changed, found
from cstar_emulator.services.events import EventBus

__all__ = ["ArticleService"]


class ArticleService:
    """What the article endpoints do, in one partition per call."""

    def __init__(self, db: Database, articles: Articles, bus: EventBus) -> None:
        self.db = db
        self.articles = articles
        self.bus = bus

    def page(self, scope: Scope, query: ListQuery, page: int, page_size: int) -> tuple[list[Resource], int]:
        """A page of articles (newest first; ``query.search`` looks in title and content) and the total."""
        return self.articles.page(scope, query, page, page_size)

    def get(self, scope: Scope, article_id: str) -> Resource:
        """The article with its full content; 404 when ``scope`` has none."""
        return found(self.articles, scope, article_id, "article")

    def create(self, scope: Scope, request_id: str | None, fields: dict[str, Any]) -> Resource:
        """Create an article of ``fields`` (columns: ``title``, ``content``, ``category``, ``status``
        (default draft), ``is_public``, ``tags``, ``metadata``)."""
        with self.db.transaction():
            article = found(self.articles, scope, self.articles.insert(scope, fields), "article")
            self.bus.emit(scope, "article.created", {"article": article}, request_id)
            if article["status"] == "published":
                self.bus.emit(scope, "article.published", {"article": article}, request_id)
        return article

    def update(self, scope: Scope, article_id: str, request_id: str | None, fields: dict[str, Any]) -> Resource:
        """Apply ``fields`` (the columns of :meth:`create`, ``metadata`` a patch merged into the
        stored one). Nothing is written or fired when nothing changed."""
        with self.db.transaction():
            before = found(self.articles, scope, article_id, "article")
            diff = changed(before, fields)
            if not diff:
                return before
            self.articles.update(scope, article_id, diff)
            article = found(self.articles, scope, article_id, "article")
            self.bus.emit(scope, "article.updated", {"article": article}, request_id)
            if diff.get("status") == "published":
                self.bus.emit(scope, "article.published", {"article": article}, request_id)
        return article

    def delete(self, scope: Scope, article_id: str, request_id: str | None) -> Resource:
        """Delete the article; returns ``{"id", "deleted": true}``."""
        with self.db.transaction():
            article = found(self.articles, scope, article_id, "article")
            self.articles.delete(scope, article_id)
            self.bus.emit(scope, "article.deleted", {"article": article}, request_id)
        return {"id": article_id, "deleted": True}
