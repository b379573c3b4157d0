"""A fast, signature-verifying webhook receiver for the benchmarks, run as its own process.

    python bench/fast_receiver.py [--port 0] [--host 127.0.0.1]

Prints one line ``{"url": "http://127.0.0.1:PORT/"}`` on stdout once it listens, then serves until
SIGTERM or SIGINT. Every POST outside ``/_bench/`` is a delivery: its ``X-Signature`` is checked with
:func:`cstar_cli.protocol.webhook.verify_signature` (200 when it verifies, 401 otherwise) and it is recorded
as (``X-Event-ID``, SHA-256 hex of the exact body bytes, verified, unix arrival time in seconds) in
arrival order. Controls, for the bench process:

- ``POST /_bench/reset {"secret": S}``: forget every delivery; verify with ``S`` from now on;
- ``GET /_bench/wait?count=N&timeout=T``: answers ``{"complete": bool, "count": n}`` once ``N``
  deliveries arrived or after ``T`` seconds (at most 600);
- ``GET /_bench/report``: ``{"deliveries": [[id, sha256, verified, arrival], …]}``.

Why not the example receiver (``python -m cstar_cli.receiver``): it answers on a thread per
connection through ``http.server``, a few thousand requests per second at best on 2 cores, and a
receiver slower than the sender caps every sender at the same rate, so ratios against it would
hide the relay's own cost. This one is an ``asyncio.Protocol`` that parses only what a delivery
needs (request line, headers, ``Content-Length`` body; keep-alive, no chunked bodies: 411).
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import signal
import socket
import sys
import time
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cstar_cli.protocol.webhook import verify_signature  # noqa: E402

MAX_HEAD = 64 * 1024
MAX_BODY = 32 * 1024 * 1024


def _response(status: int, reason: str, body: bytes, content_type: str = "text/plain") -> bytes:
    head = f"HTTP/1.1 {status} {reason}\r\nContent-Type: {content_type}\r\nContent-Length: {len(body)}\r\n\r\n"
    return head.encode("latin-1") + body


OK = _response(200, "OK", b"ok\n")
UNAUTHORIZED = _response(401, "Unauthorized", b"Invalid signature\n")


class State:
    """The deliveries since the last reset, and the pending ``wait`` requests."""

    def __init__(self) -> None:
        self.secret = ""
        self.deliveries: list[tuple[str, str, bool, float]] = []
        self.waiters: list[tuple[int, asyncio.Future[None]]] = []

    def add(self, record: tuple[str, str, bool, float]) -> None:
        self.deliveries.append(record)
        if self.waiters:
            n = len(self.deliveries)
            for count, fut in list(self.waiters):
                if n >= count and not fut.done():
                    fut.set_result(None)


class Connection(asyncio.Protocol):
    """One client connection: requests are answered in the order they came (HTTP/1.1 keep-alive)."""

    def __init__(self, state: State) -> None:
        self.state = state
        self.buf = bytearray()
        self.transport: asyncio.Transport | None = None
        self.busy = False  # a control answer is pending; later requests wait behind it

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        sock = transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def data_received(self, data: bytes) -> None:
        self.buf += data
        self._parse()

    def _parse(self) -> None:
        assert self.transport is not None
        while not self.busy:
            end = self.buf.find(b"\r\n\r\n")
            if end < 0:
                if len(self.buf) > MAX_HEAD:
                    self._fail(431, "Request Header Fields Too Large")
                return
            lines = bytes(self.buf[:end]).decode("latin-1").split("\r\n")
            parts = lines[0].split(" ")
            if len(parts) != 3:
                self._fail(400, "Bad Request")
                return
            headers: dict[str, str] = {}
            for line in lines[1:]:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
            if "chunked" in headers.get("transfer-encoding", "").lower():
                self._fail(411, "Length Required")
                return
            try:
                length = int(headers.get("content-length") or 0)
            except ValueError:
                length = -1
            if not 0 <= length <= MAX_BODY:
                self._fail(400, "Bad Request")
                return
            if len(self.buf) < end + 4 + length:
                return
            body = bytes(self.buf[end + 4 : end + 4 + length])
            arrived = time.time()
            del self.buf[: end + 4 + length]
            self._handle(parts[0], parts[1], headers, body, arrived)

    def _fail(self, status: int, reason: str) -> None:
        assert self.transport is not None
        self.transport.write(_response(status, reason, reason.encode() + b"\n"))
        self.transport.close()

    def _handle(self, method: str, target: str, headers: dict[str, str], body: bytes, arrived: float) -> None:
        assert self.transport is not None
        url = urlsplit(target)
        if not url.path.startswith("/_bench/"):
            if method != "POST":
                self.transport.write(_response(405, "Method Not Allowed", b"POST deliveries here.\n"))
                return
            state = self.state
            verified = verify_signature(body, headers.get("x-signature"), state.secret)
            state.add((headers.get("x-event-id", ""), hashlib.sha256(body).hexdigest(), verified, arrived))
            self.transport.write(OK if verified else UNAUTHORIZED)
            return
        query = parse_qs(url.query)
        if url.path == "/_bench/reset" and method == "POST":
            self.state.secret = str(json.loads(body or b"{}").get("secret") or "")
            self.state.deliveries = []
            self._json({"ok": True})
        elif url.path == "/_bench/report" and method == "GET":
            self._json({"deliveries": self.state.deliveries})
        elif url.path == "/_bench/wait" and method == "GET":
            count = int(query.get("count", ["0"])[0])
            timeout = min(600.0, float(query.get("timeout", ["10"])[0]))
            if len(self.state.deliveries) >= count:
                self._json({"complete": True, "count": len(self.state.deliveries)})
            else:
                self.busy = True
                asyncio.get_running_loop().create_task(self._wait(count, timeout))
        else:
            self.transport.write(_response(404, "Not Found", b"unknown control\n"))

    async def _wait(self, count: int, timeout: float) -> None:
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        entry = (count, fut)
        self.state.waiters.append(entry)
        try:
            await asyncio.wait_for(fut, timeout)
        except asyncio.TimeoutError:
            pass
        finally:
            self.state.waiters.remove(entry)
        n = len(self.state.deliveries)
        self._json({"complete": n >= count, "count": n})
        self.busy = False
        self._parse()

    def _json(self, data: object) -> None:
        assert self.transport is not None
        self.transport.write(_response(200, "OK", json.dumps(data).encode(), "application/json"))


async def serve(host: str, port: int) -> None:
    state = State()
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: Connection(state), host, port)
    bound = server.sockets[0].getsockname()[1]
    sys.stdout.write(json.dumps({"url": f"http://{host}:{bound}/"}) + "\n")
    sys.stdout.flush()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    async with server:
        await stop.wait()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    try:
        asyncio.run(serve(args.host, args.port))
    except OSError as e:
        sys.stderr.write(f"Error: cannot listen on {args.host}:{args.port}: {e.strerror or e}\n")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
