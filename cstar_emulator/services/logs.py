"""Request logs (server contract: "Request logs").

Every ``/api/v1`` request is recorded once it has answered, failures included; the log stream's own
request is not. Lists page newest first with a ``before`` cursor; streams replay after an entry
and then follow new ones, filtered the same way (:class:`LogFilter`).
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass

from cstar_cli.protocol.keys import key_mode
from cstar_emulator.db import Database, Scope
from cstar_emulator.envelope import ApiError
from cstar_emulator.hub import Hub
from cstar_emulator.models import Resource
from cstar_emulator.repositories.request_logs import LoggedRequest, LogQuery, RequestLogs
from cstar_emulator.repositories.teams import Teams

__all__ = ["RETAIN_SECONDS", "LogFilter", "RequestLog"]

_STATUS_RE = re.compile(r"^[1-5](?:xx|\d\d)$")
_METHOD_RE = re.compile(r"^[A-Za-z]{3,7}$")
RETAIN_SECONDS = 7 * 24 * 3600


@dataclass(frozen=True)
class LogFilter:
    """``method`` (any case), ``status`` (``4xx`` or exact ``404``) and ``path`` prefix. A prefix
    matches the full path or the path after ``/api/v1`` or after ``/api/v1/teams/{teamId}``, so
    ``/tickets`` finds ``/api/v1/teams/…/tickets/tkt_…``."""

    method: str | None = None
    status: str | None = None
    path: str | None = None

    @classmethod
    def parse(cls, method: str | None, status: str | None, path: str | None) -> LogFilter:
        """The filter of these query values (empty: no condition); 400 with ``field`` naming a bad one."""
        method = method or None
        status = (status or "").lower() or None
        path = path or None
        if method is not None and not _METHOD_RE.match(method):
            raise ApiError.invalid("method", f"method must be an HTTP method such as GET or POST (got {method!r}).")
        if status is not None and not _STATUS_RE.match(status):
            raise ApiError.invalid(
                "status", f"status must be a class such as 4xx or a code such as 404 (got {status!r})."
            )
        if path is not None and not path.startswith("/"):
            raise ApiError.invalid("path", "path must start with '/'.")
        return cls(method.upper() if method else None, status, path)

    def _prefixes(self, team_id: str) -> tuple[str, ...]:
        assert self.path is not None
        return (self.path, "/api/v1" + self.path, f"/api/v1/teams/{team_id}" + self.path)

    def query(self, team_id: str) -> LogQuery:
        """This filter as a repository query, for the logs of ``team_id``."""
        status_range = None
        if self.status:
            low = int(self.status[0]) * 100 if self.status.endswith("xx") else int(self.status)
            status_range = (low, low + 99) if self.status.endswith("xx") else (low, low)
        return LogQuery(self.method, status_range, self._prefixes(team_id) if self.path else None)

    def match(self, entry: Resource, team_id: str) -> bool:
        """Whether ``entry`` passes this filter (the stream's in-memory twin of :meth:`query`)."""
        if self.method and entry["method"] != self.method:
            return False
        if self.status:
            code = str(entry["status"])
            if self.status.endswith("xx") and code[0] != self.status[0]:
                return False
            if not self.status.endswith("xx") and code != self.status:
                return False
        return not self.path or entry["path"].startswith(self._prefixes(team_id))


class RequestLog:
    """The stored request log plus live fan-out to open streams through ``hub``."""

    def __init__(self, db: Database, logs: RequestLogs, teams: Teams, hub: Hub[LoggedRequest]) -> None:
        self.db = db
        self.logs = logs
        self.teams = teams
        self.hub = hub

    def record(self, scope: Scope | None, entry: Resource, created: float) -> None:
        """Store ``entry`` (the contract's shape) under ``scope`` (None: no team could be told) and
        hand it to the streams of that scope."""
        seq = self.logs.insert(scope, entry, created)
        if scope is not None and seq is not None:
            self.hub.publish(scope, LoggedRequest(seq, entry))

    def scope_without_key(self, team_id: str | None, token: str) -> Scope | None:
        """Where to file a request without a usable key: the team in its path (``team_id``, if it
        exists) and the mode the would-be key ``token`` claims (test when it claims none)."""
        if team_id is None or not self.teams.exists(team_id):
            return None
        return Scope(team_id, key_mode(token) or "test")

    def page(
        self, scope: Scope, filt: LogFilter, limit: int, before: str | None
    ) -> tuple[list[Resource], bool, str | None]:
        """Up to ``limit`` entries, newest first, older than the entry ``before`` (a ``req_…`` id; 400
        ``before`` when ``scope`` has none); whether more exist, and the cursor to the next page."""
        before_seq = None
        if before:
            before_seq = self.logs.seq_of(scope, before)
            if before_seq is None:
                raise ApiError.invalid("before", f"No request log entry {before!r}.")
        entries, has_more = self.logs.page(scope, filt.query(scope.team_id), limit, before_seq)
        return entries, has_more, (entries[-1]["id"] if has_more and entries else None)

    def seq_of(self, scope: Scope, request_id: str) -> int | None:
        """The sequence number of a logged request of ``scope``, or None."""
        return self.logs.seq_of(scope, request_id)

    def after(self, scope: Scope, seq: int, limit: int = 500) -> list[LoggedRequest]:
        """Up to ``limit`` entries with a sequence number above ``seq``, oldest first."""
        return self.logs.after(scope, seq, limit)

    def prune(self, now: float | None = None) -> None:
        """Drop entries older than 7 days."""
        self.logs.delete_before((time.time() if now is None else now) - RETAIN_SECONDS)
