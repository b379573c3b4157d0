"""The cStar API's endpoints as typed methods over one :class:`~cstar_cli.api._transport.Transport`.

Every method returns a :class:`~cstar_cli.api._transport.Result`: the endpoint's data (a model of
:mod:`cstar_cli.api.models`) and that call's metadata together. Paths are built here and nowhere
else. Methods raise :mod:`cstar_cli.errors` classes (see the transport) and never print.

Team-scoped routes need the key's team UUID: given to the constructor (a profile remembers it from
``cstar login``), or learned once, explicitly, by :meth:`CStarClient.resolve_team` (``GET /me``),
which the team-scoped methods call when it is not known yet.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, cast
from urllib.parse import quote

from typing_extensions import Unpack

import cstar_cli.api.models as m
import cstar_cli.api.streams as streams
from cstar_cli.api._transport import NotCStarAPIError, Result, Transport, TransportOptions, not_cstar_api
from cstar_cli.errors import CStarNotFoundError
from cstar_cli.locks import LoopSafeLock

__all__ = ["CStarClient"]


def _seg(ident: str) -> str:
    """One path segment: an ID as given, percent-encoded (a ``/`` in it cannot reach another route)."""
    return quote(ident, safe="")


class CStarClient:
    """The cStar API for one key at ``<base_url>/api/v1``.

    ``team_id`` (UUID) skips ``GET /me`` before team-scoped calls. ``options`` (``timeout`` s,
    ``max_retries``, ``max_retry_wait`` s, ``transport``: an ``httpx`` transport for tests, ``sleep``) go
    to the :class:`~cstar_cli.api._transport.Transport`. Safe to share between threads. Raises
    :class:`~cstar_cli.errors.CStarUsageError` for a missing or malformed key and a plain-http,
    non-loopback base URL.
    """

    def __init__(
        self, api_key: str, base_url: str, *, team_id: str | None = None, **options: Unpack[TransportOptions]
    ) -> None:
        self.transport = Transport(api_key, base_url, **options)
        self._team_id = team_id
        self._team_lock = LoopSafeLock()  # held across GET /me, also by the MCP server's bodies

    # lifecycle --------------------------------------------------------------------------------

    def close(self) -> None:
        """Close the connection pool."""
        self.transport.close()

    def __enter__(self) -> CStarClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def api_key(self) -> str:
        """The full key (never to be shown: see :func:`cstar_cli.protocol.keys.redact`)."""
        return self.transport.api_key

    @property
    def base_url(self) -> str:
        """The API's base URL, normalised, without ``/api/v1``."""
        return self.transport.base_url

    @property
    def is_test_mode(self) -> bool:
        """True for a ``sk_test_``/``pk_test_`` key (reference: "Test mode is real mode")."""
        return self.api_key.startswith(("sk_test_", "pk_test_"))

    # the team ---------------------------------------------------------------------------------

    @property
    def team_id(self) -> str | None:
        """The team's UUID when known (given, or learned by :meth:`resolve_team`); None otherwise."""
        return self._team_id

    def resolve_team(self) -> Result[m.ApiKeyContext] | None:
        """Learn the key's team with ``GET /me`` unless it is known; return that call's result, or None
        when no call was needed. Done once per client, also when several threads ask at once."""
        with self._team_lock:
            if self._team_id:
                return None
            return self.me()

    def _team(self, suffix: str) -> str:
        """``/teams/{teamId}/<suffix>``, learning the team first when needed."""
        if not self._team_id:
            self.resolve_team()
        return f"/teams/{self._team_id}/{suffix}"

    # Every route answers an object or a list in ``data``. A success with anything else (null, a
    # string) comes from a server that only looks like the cStar API: exit 9 with the --base-url
    # hint, as for an answer without the envelope, rather than an empty result or a KeyError later.

    def _not_cstar(self, result: Result[Any], detail: str) -> NotCStarAPIError:
        e = not_cstar_api(self.base_url, result.meta.status_code, detail)
        e.request_id = result.meta.request_id
        return e

    def _list(self, result: Result[Any]) -> Result[list[Any]]:
        if not isinstance(result.data, list):
            raise self._not_cstar(result, "data is not a list")
        return Result(result.data, result.meta)

    def _obj(self, result: Result[Any]) -> Result[dict[str, Any]]:
        if not isinstance(result.data, dict):
            raise self._not_cstar(result, "data is not an object")
        return Result(result.data, result.meta)

    def _fixed(self, method: str, path: str, **kwargs: Any) -> Result[Any]:
        """``transport.request`` for a route cstar builds itself, with no ID the caller gave: it exists
        in every cStar API of this version, so a 404 there means the base URL points at something
        else, and the :class:`CStarNotFoundError` says so in its hint."""
        try:
            return self.transport.request(method, path, **kwargs)
        except CStarNotFoundError as e:
            e.hint = (
                f"{self.base_url} has no {method} /api/v1{path}: check --base-url / CSTAR_BASE_URL points at a "
                "cStar API of this version (https://www.cstar.help, or a running `cstar emulator start`)."
            )
            raise

    # key introspection ------------------------------------------------------------------------

    def me(self) -> Result[m.ApiKeyContext]:
        """``GET /me`` (server contract, Key introspection); remembers the team. Raises
        :class:`~cstar_cli.api._transport.NotCStarAPIError` (exit 9) when ``data`` is not an object
        with a ``team`` object: whatever answered is not the cStar API."""
        result = self._obj(self._fixed("GET", "/me"))
        data = result.data
        if not isinstance(data.get("team"), dict):
            raise self._not_cstar(result, "data has no team object")
        self._team_id = self._team_id or data["team"].get("id")
        return Result(cast(m.ApiKeyContext, data), result.meta)

    # tickets, messages, customers, articles (reference: API Reference) ------------------------

    def list_tickets(
        self,
        *,
        status: str | None = None,
        priority: str | None = None,
        search: str | None = None,
        customer_id: str | None = None,
        page: int = 1,
        page_size: int = 20,
    ) -> Result[list[m.Ticket]]:
        """``GET /teams/{teamId}/tickets``: one page of tickets (``meta.pagination``: ``page``,
        ``pageSize``, ``total``, ``totalPages``)."""
        params = {
            "status": status,
            "priority": priority,
            "search": search,
            "customerId": customer_id,
            "page": page,
            "pageSize": page_size,
        }
        # A customerId filter can 404 for that customer: only an unfiltered list proves the route missing.
        send = self._fixed if customer_id is None else self.transport.request
        return self._list(send("GET", self._team("tickets"), params=params))

    def get_ticket(self, ticket_id: str) -> Result[m.Ticket]:
        """``GET /teams/{teamId}/tickets/{ticketId}``: the ticket, with ``messages`` when the server
        includes the thread."""
        return cast(
            Result[m.Ticket], self._obj(self.transport.request("GET", self._team(f"tickets/{_seg(ticket_id)}")))
        )

    def list_messages(self, ticket_id: str) -> Result[list[m.Message]]:
        """``GET /teams/{teamId}/tickets/{ticketId}/messages``: the thread, oldest first."""
        return self._list(self.transport.request("GET", self._team(f"tickets/{_seg(ticket_id)}/messages")))

    def create_ticket(
        self,
        *,
        title: str,
        priority: str | None = None,
        customer_id: str | None = None,
        customer_name: str | None = None,
        tags: list[str] | None = None,
        notes: str | None = None,
        idempotency_key: str | None = None,
    ) -> Result[m.Ticket]:
        """``POST /teams/{teamId}/tickets`` (fields left None are not sent); ``idempotency_key`` makes a
        retried call create one ticket (``meta.idempotent_replayed`` on a repeat)."""
        fields = {
            "title": title,
            "priority": priority,
            "customerId": customer_id,
            "customerName": customer_name,
            "tags": tags,
            "notes": notes,
        }
        body = {k: v for k, v in fields.items() if v is not None}
        # Not _fixed: a 404 here names the customerId the caller gave, not a missing route.
        result = self.transport.request("POST", self._team("tickets"), json=body, idempotency_key=idempotency_key)
        return cast(Result[m.Ticket], self._obj(result))

    def list_customers(
        self,
        *,
        status: str | None = None,
        sentiment: str | None = None,
        search: str | None = None,
        page: int = 1,
        page_size: int = 20,
    ) -> Result[list[m.Customer]]:
        """``GET /teams/{teamId}/customers``: one page of customers."""
        params = {"status": status, "sentiment": sentiment, "search": search, "page": page, "pageSize": page_size}
        return self._list(self._fixed("GET", self._team("customers"), params=params))

    def get_customer(self, customer_id: str) -> Result[m.Customer]:
        """``GET /teams/{teamId}/customers/{customerId}``."""
        result = self.transport.request("GET", self._team(f"customers/{_seg(customer_id)}"))
        return cast(Result[m.Customer], self._obj(result))

    def list_articles(
        self,
        *,
        category: str | None = None,
        status: str | None = None,
        is_public: bool | None = None,
        search: str | None = None,
        page: int = 1,
        page_size: int = 20,
    ) -> Result[list[m.Article]]:
        """``GET /teams/{teamId}/articles``: one page of articles (``is_public`` sent as ``true``/``false``)."""
        params = {
            "category": category,
            "status": status,
            "isPublic": None if is_public is None else str(is_public).lower(),
            "search": search,
            "page": page,
            "pageSize": page_size,
        }
        return self._list(self._fixed("GET", self._team("articles"), params=params))

    # webhooks ---------------------------------------------------------------------------------

    def trigger_test(self, event: str, data: dict[str, Any] | None = None) -> Result[m.TriggerTestResult]:
        """``POST /teams/{teamId}/webhooks/trigger-test`` (reference: Webhooks → trigger-test); ``data``
        (server contract, "Shaped triggers") replaces the synthetic sample's ``data``."""
        body: dict[str, Any] = {"event": event} if data is None else {"event": event, "data": data}
        result = self._fixed("POST", self._team("webhooks/trigger-test"), json=body)
        return cast(Result[m.TriggerTestResult], self._obj(result))

    def trigger_sample(self, event: str) -> Result[dict[str, Any]]:
        """``GET /teams/{teamId}/webhooks/trigger-test/sample?event=…`` (server contract, "Shaped
        triggers"): ``{"event", "data"}``, the synthetic ``data`` a trigger-test would send."""
        return self._obj(self._fixed("GET", self._team("webhooks/trigger-test/sample"), params={"event": event}))

    # event history (server contract, "Event history and resend") -------------------------------

    def list_events(
        self,
        *,
        type: str | None = None,
        failed: bool = False,
        limit: int | None = None,
        before: str | None = None,
        after: str | None = None,
    ) -> Result[list[m.EventSummary]]:
        """``GET /teams/{teamId}/events``: stored events newest first with their outcome per target
        (``meta.pagination``: ``limit``, ``hasMore``, ``nextCursor``). ``type`` is a filter pattern
        (``ticket.*``), ``failed`` keeps events whose latest outcome somewhere failed; ``after``
        (an ``evt_…`` id) lists the events newer than that one instead, oldest first. An unknown
        cursor is :class:`~cstar_cli.errors.CStarValidationError` (field ``before``/``after``)."""
        params = {
            "type": type,
            "failed": "true" if failed else None,
            "limit": limit,
            "before": before,
            "after": after,
        }
        return self._list(self._fixed("GET", self._team("events"), params=params))

    def get_event(self, event_id: str) -> Result[m.EventDetail]:
        """``GET /teams/{teamId}/events/{eventId}``: the event with its ``payload`` text and outcomes."""
        result = self.transport.request("GET", self._team(f"events/{_seg(event_id)}"))
        return cast(Result[m.EventDetail], self._obj(result))

    def resend_event(
        self,
        event_id: str,
        *,
        webhook_id: str | None = None,
        session_id: str | None = None,
        device_name: str | None = None,
    ) -> Result[m.ResentEvent]:
        """``POST /teams/{teamId}/events/{eventId}/resend``: to ``webhook_id``, ``session_id``, or the
        newest connected listen session of ``device_name``. Raises :class:`CStarNotFoundError` (404) for
        an unknown event or target and :class:`~cstar_cli.errors.CStarConflictError` (409) when no
        listener is connected or the webhook is paused."""
        fields = {"webhookId": webhook_id, "sessionId": session_id, "deviceName": device_name}
        body = {k: v for k, v in fields.items() if v is not None}
        result = self.transport.request("POST", self._team(f"events/{_seg(event_id)}/resend"), json=body)
        return cast(Result[m.ResentEvent], self._obj(result))

    # API keys (server contract, "API keys") ---------------------------------------------------

    def list_api_keys(self, *, page: int = 1, page_size: int = 100) -> Result[list[m.ApiKey]]:
        """``GET /teams/{teamId}/api-keys``: one page of the team's keys, newest first, redacted."""
        params = {"page": page, "pageSize": page_size}
        return self._list(self._fixed("GET", self._team("api-keys"), params=params))

    def iter_api_keys(self, *, page_size: int = 100, max_pages: int = 50) -> Iterator[Result[list[m.ApiKey]]]:
        """The pages of :meth:`list_api_keys` in order, until the last one (or ``max_pages``, so a runaway
        server cannot make a listing loop for ever)."""
        for page in range(1, max_pages + 1):
            result = self.list_api_keys(page=page, page_size=page_size)
            yield result
            if not result.meta.has_more or not result.data:
                return

    def create_api_key(self, name: str, *, type: str, mode: str | None = None) -> Result[m.CreatedApiKey]:
        """``POST /teams/{teamId}/api-keys`` ``{"name", "type", "mode"?}``: the new key, with the full
        ``key`` this once."""
        body = {"name": name, "type": type, **({"mode": mode} if mode is not None else {})}
        return cast(Result[m.CreatedApiKey], self._obj(self._fixed("POST", self._team("api-keys"), json=body)))

    def revoke_api_key(self, key_id: str) -> Result[m.RevokedApiKey]:
        """``DELETE /teams/{teamId}/api-keys/{keyId}``."""
        result = self.transport.request("DELETE", self._team(f"api-keys/{_seg(key_id)}"))
        return cast(Result[m.RevokedApiKey], self._obj(result))

    # CLI sessions (server contract, "Listening") ----------------------------------------------

    def create_cli_session(
        self, events: list[str], device_name: str, *, resume_key: str | None = None, resume: bool = False
    ) -> Result[m.CliSession]:
        """``POST /teams/{teamId}/cli/sessions`` ``{"events", "deviceName", "resumeKey"?, "resume"?}``:
        ``id`` (``cls_…``), ``websocketUrl``, ``secret``, ``events``, ``expiresAt``, and ``resume``
        (what a resuming session catches up, see :class:`~cstar_cli.api.models.CliSession`)."""
        body: dict[str, object] = {"events": events, "deviceName": device_name}
        if resume_key is not None:
            body["resumeKey"] = resume_key
            body["resume"] = resume
        return cast(Result[m.CliSession], self._obj(self._fixed("POST", self._team("cli/sessions"), json=body)))

    def list_cli_sessions(self) -> Result[list[m.CliSession]]:
        """``GET /teams/{teamId}/cli/sessions``: the live sessions of the key's team and mode, newest first."""
        return self._list(self._fixed("GET", self._team("cli/sessions")))

    def delete_cli_session(self, session_id: str, *, retries: int | None = None) -> Result[m.DeletedCliSession]:
        """``DELETE /teams/{teamId}/cli/sessions/{id}``; ``retries`` overrides the retry budget."""
        result = self.transport.request("DELETE", self._team(f"cli/sessions/{_seg(session_id)}"), retries=retries)
        return cast(Result[m.DeletedCliSession], self._obj(result))

    # request logs (server contract, "Request logs") -------------------------------------------

    def list_logs(
        self,
        *,
        method: str | None = None,
        status: str | None = None,
        path: str | None = None,
        limit: int | None = None,
        before: str | None = None,
    ) -> Result[list[m.LogEntry]]:
        """``GET /teams/{teamId}/logs``: entries newest first (``meta.pagination``: ``limit``,
        ``hasMore``, ``nextCursor``). ``status`` is a class (``4xx``) or a code; ``path`` a prefix."""
        params = {"method": method, "status": status, "path": path, "limit": limit, "before": before}
        return self._list(self._fixed("GET", self._team("logs"), params=params))

    def stream_logs(
        self,
        *,
        method: str | None = None,
        status: str | None = None,
        path: str | None = None,
        last_event_id: str | None = None,
        connect_attempts: int = 4,
    ) -> Iterator[streams.LogStreamElement]:
        """``GET /teams/{teamId}/logs/stream`` followed with reconnects: see :func:`cstar_cli.api.streams.tail`
        (elements, errors raised)."""
        return streams.tail(
            self.transport,
            self._team("logs/stream"),
            filters={"method": method, "status": status, "path": path},
            last_event_id=last_event_id,
            connect_attempts=connect_attempts,
        )
