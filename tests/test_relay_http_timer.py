"""The forwarder's HTTP client bounds every attempt with one shared timer (``HttpClient._arm``):
an attempt that follows a quick one still times out at its own deadline, a timer left from an
earlier attempt never cancels a later one, and a client used again from a new event loop works."""

from __future__ import annotations

import asyncio
import http.server
import threading

import pytest

from cstar_cli.protocol.http1 import HttpClient, HttpError

pytestmark = pytest.mark.timeout(30)


async def _receiver(answer: list[bool]) -> asyncio.Server:
    """Answers each POST 200 while ``answer`` pops True, and never answers once it pops False."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = next(
                    int(v.split(b":")[1]) for v in head.split(b"\r\n") if v.lower().startswith(b"content-length")
                )
                await reader.readexactly(length)
                if not answer.pop(0):
                    await reader.read()  # hold the request unanswered until the client goes
                    return
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    return await asyncio.start_server(handle, "127.0.0.1", 0)


def test_an_attempt_after_quick_ones_times_out_at_its_own_deadline() -> None:
    async def main() -> tuple[list[int], str]:
        server = await _receiver([True, True, False])
        port = server.sockets[0].getsockname()[1]
        client = HttpClient(f"http://127.0.0.1:{port}/", timeout=0.3)
        try:
            statuses = [await client.post({}, b"{}"), await client.post({}, b"{}")]
            with pytest.raises(HttpError) as caught:
                await client.post({}, b"{}")
            return statuses, caught.value.reason
        finally:
            await client.aclose()
            server.close()

    statuses, reason = asyncio.run(main())
    assert statuses == [200, 200]
    assert reason == "timed out after 0.3 s"


def test_a_left_over_timer_cancels_nothing_later() -> None:
    """Slow answers after a quick attempt (whose timer outlives it) are waited for, not cut short:
    the timer only cancels the attempt in flight once that attempt's own deadline passed."""

    async def main() -> list[int]:
        answers: list[bool] = [True] * 30
        server = await _receiver(answers)
        port = server.sockets[0].getsockname()[1]
        client = HttpClient(f"http://127.0.0.1:{port}/", timeout=5.0)
        try:
            return [await client.post({}, b"{}") for _ in range(30)]
        finally:
            await client.aclose()
            server.close()

    assert asyncio.run(main()) == [200] * 30


def test_the_client_works_from_a_new_event_loop() -> None:
    """Closed (its timer too) and used again from another event loop, the client arms a new timer there."""

    class Ok(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            self.rfile.read(int(self.headers["Content-Length"]))
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Ok)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    client = HttpClient(f"http://127.0.0.1:{server.server_address[1]}/", timeout=5.0)

    async def once() -> int:
        try:
            return await client.post({}, b"{}")
        finally:
            await client.aclose()

    try:
        assert asyncio.run(once()) == 200
        assert asyncio.run(once()) == 200
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
