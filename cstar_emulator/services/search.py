"""Search across tickets, customers and articles (reference: "Search").

Each kind is searched through its repository's own list search (tickets: title, notes and message
text; customers: name and email; articles: title and content), case-insensitively. Results whose
title (or name) holds the term come first, then the rest; within each, tickets before customers
before articles, newest first. ``snippet`` is the matching text with up to
:data:`SNIPPET_CONTEXT` characters either side, ``…`` marking a cut.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from cstar_emulator.db import Scope
from cstar_emulator.models import Resource
from cstar_emulator.repositories.articles import Articles
from cstar_emulator.repositories.customers import Customers
from cstar_emulator.repositories.messages import Messages
from cstar_emulator.repositories.table import ListQuery
from cstar_emulator.repositories.tickets import Tickets

__all__ = ["SEARCH_TYPES", "SNIPPET_CONTEXT", "SearchService", "snippet"]

#: What ``types`` may name, in result order.
SEARCH_TYPES = ("tickets", "customers", "articles")
SNIPPET_CONTEXT = 60


def snippet(text: str, term: str) -> str | None:
    """The part of ``text`` around the first case-insensitive occurrence of ``term``, on one line;
    None when ``text`` does not hold it."""
    match = re.search(re.escape(term), text, re.IGNORECASE)
    if match is None:
        return None
    start, end = max(0, match.start() - SNIPPET_CONTEXT), min(len(text), match.end() + SNIPPET_CONTEXT)
    body = " ".join(text[start:end].split())
    return ("…" if start > 0 else "") + body + ("…" if end < len(text) else "")


class SearchService:
    """Searches one partition."""

    def __init__(self, tickets: Tickets, customers: Customers, articles: Articles, messages: Messages) -> None:
        self.tickets = tickets
        self.customers = customers
        self.articles = articles
        self.messages = messages

    def search(self, scope: Scope, term: str, types: Sequence[str], limit: int) -> list[Resource]:
        """Up to ``limit`` results ``{"object": "search_result", "type", "id", "title", "snippet"}``
        for ``term`` in the ``types`` asked for (a subset of :data:`SEARCH_TYPES`); [] for a blank
        term."""
        term = term.strip()
        if not term:
            return []
        query = ListQuery(search=term)
        found: list[tuple[int, Resource]] = []
        if "tickets" in types:
            for t in self.tickets.page(scope, query, 1, limit)[0]:
                texts = [t["title"], t["notes"] or ""]
                texts += [m["content"] for m in self.messages.of_ticket(scope, t["id"])]
                found.append(self._result("ticket", t["id"], t["title"], texts, term))
        if "customers" in types:
            for c in self.customers.page(scope, query, 1, limit)[0]:
                found.append(self._result("customer", c["id"], c["name"], [c["name"], c["email"] or ""], term))
        if "articles" in types:
            for a in self.articles.page(scope, query, 1, limit)[0]:
                found.append(self._result("article", a["id"], a["title"], [a["title"], a["content"]], term))
        found.sort(key=lambda pair: pair[0])
        return [result for _, result in found[:limit]]

    @staticmethod
    def _result(kind: str, row_id: str, title: str, texts: list[str], term: str) -> tuple[int, Resource]:
        excerpt = next((s for s in (snippet(t, term) for t in texts) if s is not None), title)
        rank = 0 if re.search(re.escape(term), title, re.IGNORECASE) else 1
        return rank, {"object": "search_result", "type": kind, "id": row_id, "title": title, "snippet": excerpt}
