"""An example webhook receiver that verifies cStar signatures, on the standard library alone.

Run it next to ``cstar listen``::

    python -m cstar_cli.receiver --port 3000 --secret whsec_… [--path /webhooks] [--fail-first N] [--status 200]
    cstar listen --forward-to localhost:3000/webhooks

It logs one line per request on stdout (status, event type, event id, attempt, whether the
signature verified) and answers 401 when the ``X-Signature`` does not verify
(:func:`cstar_cli.protocol.webhook.verify_signature`, the reference's "Signature verification"), 404 for another
path, 500 for the first ``--fail-first`` verified deliveries, and ``--status`` otherwise.

Tests and benchmarks use it in-process as the real local HTTP server::

    with Receiver(secret) as rx:          # serves on 127.0.0.1, a free port, in a thread
        ...                               # forward to rx.url
        rx.wait_for(3, timeout=10)
        assert all(d.verified for d in rx.received)
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TextIO

from cstar_cli.protocol.keys import scrub_secrets
from cstar_cli.protocol.webhook import DEFAULT_TOLERANCE, verify_signature

__all__ = ["Delivery", "Receiver", "main", "run_receiver"]


@dataclass(frozen=True)
class Delivery:
    """One request as the receiver saw it: ``headers`` keep the sender's spelling (a name sent twice
    keeps its last value; :attr:`header_count` tells duplicates apart), ``body`` the exact bytes,
    ``verified`` whether the signature checked out, ``status`` what was answered, ``received_at``
    when the body had been read (unix seconds), ``peer`` the client's ``host:port`` (one per
    connection, so a kept-alive connection shows one peer)."""

    method: str
    path: str
    headers: dict[str, str]
    header_names: tuple[str, ...]
    body: bytes
    verified: bool
    status: int
    received_at: float
    peer: str

    def header(self, name: str) -> str | None:
        """A header's value, case-insensitively."""
        low = name.lower()
        for k, v in self.headers.items():
            if k.lower() == low:
                return v
        return None

    def header_count(self, name: str) -> int:
        """How many times the header ``name`` was sent (case-insensitive)."""
        return sum(1 for k in self.header_names if k.lower() == name.lower())

    @property
    def event_id(self) -> str | None:
        return self.header("X-Event-ID")

    @property
    def event_type(self) -> str | None:
        return self.header("X-Event-Type")

    @property
    def attempt(self) -> int | None:
        value = self.header("X-Delivery-Attempt")
        return int(value) if value and value.isdigit() else None


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: the relay reuses one connection
    # Headers and body go out in separate writes; without this, Nagle's algorithm meeting the client's
    # delayed ACK stalls every response by up to 40 ms.
    disable_nagle_algorithm = True
    server: _Server

    def log_message(self, format: str, *args: object) -> None:
        pass

    def _answer(self, status: int, text: str) -> None:
        body = text.encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        received_at = time.time()
        self.server.receiver._handle(self, body, received_at)

    def do_GET(self) -> None:
        self._answer(405, "POST webhook deliveries here.\n")


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    receiver: Receiver


class Receiver:
    """A signature-verifying webhook endpoint on ``host:port`` (port 0: a free one).

    ``path`` restricts deliveries to one path (None: any); the first ``fail_first`` verified deliveries
    get 500, the later ones ``status``; a signature that does not verify gets 401. ``log`` gets one line per request
    (None: silent). Every request is appended to :attr:`received` in arrival order.

    Raises ValueError for an empty ``secret`` (every delivery would be refused), a ``path`` not
    starting with ``/`` (no request path could ever match it), a ``port`` outside 0-65535, a
    ``status`` outside 200-599 and a negative ``fail_first``; OSError when the port cannot be bound.
    """

    def __init__(
        self,
        secret: str,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        path: str | None = None,
        fail_first: int = 0,
        status: int = 200,
        tolerance: int = DEFAULT_TOLERANCE,
        log: TextIO | None = None,
    ) -> None:
        problem = check_options(secret, path, port=port, status=status, fail_first=fail_first)
        if problem is not None:
            raise ValueError(problem[0])
        self.secret = secret
        self.path = path
        self.fail_first = fail_first
        self.status = status
        self.tolerance = tolerance
        self.log = log
        self.received: list[Delivery] = []
        self._cond = threading.Condition()
        self._server = _Server((host, port), _Handler)
        self._server.receiver = self
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        """Where to forward: ``http://<host>:<port><path or />``."""
        host = self._server.server_address[0]
        if isinstance(host, bytes):  # typeshed allows it for AF_UNIX; an IP server has str
            host = host.decode()
        return f"http://{host}:{self.port}{self.path or '/'}"

    def _handle(self, handler: _Handler, body: bytes, received_at: float) -> None:
        path = handler.path.split("?", 1)[0]
        names = tuple(handler.headers.keys())
        headers = dict(handler.headers.items())
        verified = verify_signature(body, handler.headers.get("X-Signature"), self.secret, self.tolerance)
        with self._cond:
            if self.path is not None and path != self.path:
                status, text = 404, f"Not found: deliveries go to {self.path}\n"
            elif not verified:
                status, text = 401, "Invalid signature\n"
            elif self.fail_first > 0:
                self.fail_first -= 1
                status, text = 500, "Failing on purpose (--fail-first)\n"
            else:
                status, text = self.status, "ok\n"
            peer = "{}:{}".format(*handler.client_address[:2])
            delivery = Delivery(
                handler.command, handler.path, headers, names, body, verified, status, received_at, peer
            )
            self.received.append(delivery)
            self._cond.notify_all()
        handler._answer(status, text)
        if self.log is not None:
            self.log.write(
                f"[{status}] {delivery.event_type or '-'} {delivery.event_id or '-'} attempt {delivery.attempt or '-'} "
                f"signature {'verified' if verified else 'INVALID'}\n"
            )
            self.log.flush()

    def wait_for(self, count: int, timeout: float = 10.0) -> bool:
        """Block until at least ``count`` requests arrived (True) or ``timeout`` s passed (False)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while len(self.received) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(left)
        return True

    def start(self) -> Receiver:
        """Serve in a daemon thread; returns self."""
        self._thread = threading.Thread(target=self.serve_forever, name="receiver", daemon=True)
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        """Serve in this thread until :meth:`stop` (from another thread) or Ctrl-C."""
        # A short poll interval lets stop() return in ~50 ms instead of the default 0.5 s.
        self._server.serve_forever(poll_interval=0.05)

    def stop(self) -> None:
        """Stop serving and free the port."""
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join(5)
            self._thread = None
        self._server.server_close()

    def __enter__(self) -> Receiver:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def check_options(
    secret: str, path: str | None, *, port: int = 0, status: int = 200, fail_first: int = 0
) -> tuple[str, str] | None:
    """(message, hint) for a ``secret``, ``path``, ``port`` (0-65535), ``status`` (200-599: a 1xx is
    no final answer in HTTP) or ``fail_first`` (0 or more) the receiver cannot work with, else None."""
    if not 0 <= port <= 65535:
        return (f"--port {port} is not a TCP port.", "Use a port from 1 to 65535, or 0 for any free one.")
    if not 200 <= status <= 599:
        return (
            f"--status {status} is not a final HTTP status.",
            "Use a status from 200 to 599, e.g. --status 500 to make every delivery fail.",
        )
    if fail_first < 0:
        return (f"--fail-first {fail_first} is negative.", "Use 0 or more, e.g. --fail-first 2.")
    if not secret.strip():
        return (
            "--secret is empty: every signature would be refused.",
            'Pass the listen session\'s secret: --secret "$(cstar listen --print-secret)".',
        )
    if path is not None and not path.startswith("/"):
        return (
            f"--path {path!r} does not start with '/': no request could match it.",
            f"Use an absolute path, e.g. --path /{path.strip() or 'webhooks'}.",
        )
    return None


def _note(text: str) -> None:
    """One message to stderr, with anything shaped like a key or signing secret redacted."""
    sys.stderr.write(scrub_secrets(text) + "\n")
    sys.stderr.flush()


def run_receiver(
    secret: str,
    *,
    host: str = "127.0.0.1",
    port: int = 3000,
    path: str | None = None,
    fail_first: int = 0,
    status: int = 200,
    log: TextIO | None = sys.stdout,
) -> None:
    """Serve in the foreground until Ctrl-C (the ``python -m cstar_cli.receiver`` command)."""
    rx = Receiver(secret, host=host, port=port, path=path, fail_first=fail_first, status=status, log=log)
    _note(f"Receiving webhooks at {rx.url} (^C to quit)")
    try:
        rx.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        rx.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m cstar_cli.receiver", description="Example webhook receiver that verifies cStar signatures."
    )
    parser.add_argument("--secret", required=True, help="The signing secret (cstar listen --print-secret).")
    parser.add_argument("--port", type=int, default=3000, help="Port to listen on (default 3000; 0 = any free one).")
    parser.add_argument("--host", default="127.0.0.1", help="Address to bind (default 127.0.0.1).")
    parser.add_argument("--path", default=None, help="Only accept deliveries on this path (default: any).")
    parser.add_argument(
        "--fail-first", type=int, default=0, metavar="N", help="Answer 500 to the first N verified deliveries."
    )
    parser.add_argument("--status", type=int, default=200, help="Status for verified deliveries (default 200).")
    args = parser.parse_args(argv)
    problem = check_options(args.secret, args.path, port=args.port, status=args.status, fail_first=args.fail_first)
    if problem is not None:
        # Exit 2, like argparse's own usage errors and the CLI's bad flags.
        _note(f"Error: {problem[0]}\nHint: {problem[1]}")
        return 2
    try:
        run_receiver(
            args.secret,
            host=args.host,
            port=args.port,
            path=args.path,
            fail_first=args.fail_first,
            status=args.status,
        )
    except OSError as e:
        _note(f"Error: cannot listen on {args.host}:{args.port}: {e.strerror or e}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
