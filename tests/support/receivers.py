"""A loopback HTTP server standing in for a user's webhook receiver: records every POST (the client's
port, one per connection, its headers and exact body) and answers with given statuses in turn."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import NamedTuple

__all__ = ["Post", "RecordingReceiver"]


class Post(NamedTuple):
    """One POST as the receiver got it."""

    port: int
    headers: dict[str, str]
    body: bytes


class RecordingReceiver:
    """Serves ``http://127.0.0.1:{port}/hook`` in a thread until :meth:`close`. Answers ``statuses``
    in turn, then 200, each with an empty body. ``keep_alive`` speaks HTTP/1.1 (connections stay open
    between requests); otherwise HTTP/1.0, one connection per request."""

    def __init__(self, statuses: Iterable[int] = (), *, keep_alive: bool = False) -> None:
        self.statuses = list(statuses)
        self.requests: list[Post] = []
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1" if keep_alive else "HTTP/1.0"

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                with receiver._lock:
                    receiver.requests.append(Post(self.client_address[1], dict(self.headers.items()), body))
                    status = receiver.statuses.pop(0) if receiver.statuses else 200
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}/hook"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    def wait_for(self, n: int, timeout: float = 15) -> list[Post]:
        """The first ``n`` or more POSTs, once they arrived; AssertionError after ``timeout`` s."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if len(self.requests) >= n:
                    return list(self.requests)
            time.sleep(0.02)
        raise AssertionError(f"expected {n} deliveries, got {len(self.requests)}")

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
