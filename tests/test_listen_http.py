"""The forwarder's HTTP/1.1 client against real loopback servers that answer in the less common ways
(chunked, close-delimited, interim 100, garbage, silence, TLS) — what the example receiver never does."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import ssl
import subprocess
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from cstar_cli.relay._http import HttpClient, HttpError

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]
OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"


async def read_request(reader: asyncio.StreamReader) -> tuple[bytes, bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":", 1)[1])
    return head, await reader.readexactly(length)


def run(
    handler: Handler, client_coro: Callable[[str], Awaitable[object]], *, tls: ssl.SSLContext | None = None
) -> object:
    async def main() -> object:
        writers: list[asyncio.StreamWriter] = []

        async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            writers.append(writer)
            await handler(reader, writer)

        server = await asyncio.start_server(serve, "127.0.0.1", 0, ssl=tls)
        port = server.sockets[0].getsockname()[1]
        try:
            return await asyncio.wait_for(client_coro(f"{'https' if tls else 'http'}://127.0.0.1:{port}/hook?x=1"), 10)
        finally:
            server.close()
            # A server's close leaves its connections open (until Python 3.13): close them here.
            for writer in writers:
                writer.close()
            for writer in writers:
                with contextlib.suppress(OSError, ssl.SSLError):
                    await writer.wait_closed()

    return asyncio.run(main())


@pytest.mark.e2e
def test_request_is_one_well_formed_message_and_connection_is_reused() -> None:
    seen: list[bytes] = []
    connections = 0

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal connections
        connections += 1
        for _ in range(3):
            head, body = await read_request(reader)
            seen.append(head + body)
            writer.write(OK)

    async def client(url: str) -> list[int]:
        http = HttpClient(url, timeout=5, user_agent="ua/1")
        try:
            headers = {"Content-Type": "application/json", "content-length": "999", "Connection": "close"}
            return [await http.post(headers, b'{"a":1}') for _ in range(3)]
        finally:
            await http.aclose()

    assert run(handler, client) == [200, 200, 200]
    assert connections == 1
    head = seen[0].decode()
    assert head.startswith("POST /hook?x=1 HTTP/1.1\r\n")
    assert "\r\nHost: 127.0.0.1:" in head and "\r\nUser-Agent: ua/1\r\n" in head
    assert head.lower().count("content-length") == 1 and "Content-Length: 7\r\n" in head
    assert "connection" not in head.lower().replace("content-length", "")
    assert head.endswith('\r\n\r\n{"a":1}')


@pytest.mark.e2e
def test_user_host_and_user_agent_win() -> None:
    seen: list[bytes] = []

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head, _ = await read_request(reader)
        seen.append(head)
        writer.write(OK)

    async def client(url: str) -> int:
        http = HttpClient(url, timeout=5, user_agent="ua/1")
        try:
            return await http.post({"host": "app.test", "User-Agent": "mine"}, b"{}")
        finally:
            await http.aclose()

    assert run(handler, client) == 200
    head = seen[0].decode()
    assert "\r\nhost: app.test\r\n" in head and head.lower().count("\r\nhost:") == 1
    assert "User-Agent: mine" in head and "ua/1" not in head


@pytest.mark.e2e
def test_chunked_and_interim_responses_keep_the_connection() -> None:
    connections = 0

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal connections
        connections += 1
        await read_request(reader)
        writer.write(
            b"HTTP/1.1 100 Continue\r\n\r\n"
            b"HTTP/1.1 202 Accepted\r\nTransfer-Encoding: chunked\r\n\r\n"
            b"5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nX-Trailer: 1\r\n\r\n"
        )
        await read_request(reader)
        writer.write(b"HTTP/1.1 204 No Content\r\n\r\n")
        await read_request(reader)
        writer.write(OK)

    async def client(url: str) -> list[int]:
        http = HttpClient(url, timeout=5)
        try:
            return [await http.post({}, b"x") for _ in range(3)]
        finally:
            await http.aclose()

    assert run(handler, client) == [202, 204, 200]
    assert connections == 1


@pytest.mark.e2e
def test_close_delimited_body_and_closed_idle_connection_reconnect() -> None:
    connections = 0

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal connections
        connections += 1
        await read_request(reader)
        if connections == 1:
            writer.write(b"HTTP/1.0 500 Oops\r\n\r\nbody until close")
        else:
            writer.write(OK)
            await writer.drain()
        writer.close()  # the second connection is closed while idle, after a keep-alive answer

    async def client(url: str) -> list[int]:
        http = HttpClient(url, timeout=5)
        try:
            first = await http.post({}, b"x")
            second = await http.post({}, b"x")
            # The receiver closes the idle connection: let the loop read its FIN before the next POST.
            while http._reader is None or not http._reader.at_eof():
                await asyncio.sleep(0.001)
            third = await http.post({}, b"x")
            return [first, second, third]
        finally:
            await http.aclose()

    assert run(handler, client) == [500, 200, 200]
    assert connections == 3


@pytest.mark.e2e
@pytest.mark.parametrize(
    ("answer", "reason"),
    [
        (b"", "connection closed without a response"),
        (b"SSH-2.0-OpenSSH\r\n\r\n", "invalid HTTP response"),
        (b"HTTP/1.1 abc\r\n\r\n", "invalid HTTP response"),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort", "connection closed without a response"),
    ],
)
def test_broken_answers_are_reported(answer: bytes, reason: str) -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(answer)
        await writer.drain()
        writer.close()

    async def client(url: str) -> str:
        http = HttpClient(url, timeout=5)
        try:
            await http.post({}, b"x")
        except HttpError as e:
            return e.reason
        finally:
            await http.aclose()
        return "no error"

    assert run(handler, client) == reason


@pytest.mark.e2e
def test_silence_times_out_and_the_next_attempt_reconnects() -> None:
    calls = 0

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal calls
        calls += 1
        await read_request(reader)
        if calls == 1:
            await reader.read()  # silent until the client gives up and hangs up
            writer.close()
            return
        writer.write(OK)

    async def client(url: str) -> tuple[str, int]:
        http = HttpClient(url, timeout=0.2)
        try:
            try:
                await http.post({}, b"x")
            except HttpError as e:
                reason = e.reason
            return reason, await http.post({}, b"x")
        finally:
            await http.aclose()

    assert run(handler, client) == ("timed out after 0.2 s", 200)


@pytest.fixture(scope="module")
def self_signed(tmp_path_factory: pytest.TempPathFactory) -> ssl.SSLContext:
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed")
    d: Path = tmp_path_factory.mktemp("tls")
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1"]
        + ["-keyout", str(d / "key.pem"), "-out", str(d / "cert.pem")],
        check=True,
        capture_output=True,
        timeout=60,
    )
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(d / "cert.pem", d / "key.pem")
    return ctx


@pytest.mark.e2e
@pytest.mark.parametrize("verify", [True, False])
def test_https_verifies_unless_told_not_to(self_signed: ssl.SSLContext, verify: bool) -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await read_request(reader)
        except (asyncio.IncompleteReadError, ConnectionError, ssl.SSLError):
            return
        writer.write(OK)

    async def client(url: str) -> object:
        http = HttpClient(url, timeout=5, verify=verify)
        try:
            return await http.post({}, b"x")
        except HttpError as e:
            return e.reason
        finally:
            await http.aclose()

    result = run(handler, client, tls=self_signed)
    if verify:
        assert isinstance(result, str) and result.startswith("TLS: ") and "--skip-verify" in result
    else:
        assert result == 200


def test_refused() -> None:
    async def client() -> str:
        http = HttpClient("http://127.0.0.1:9/", timeout=5)
        try:
            await http.post({}, b"x")
        except HttpError as e:
            return e.reason
        return "no error"

    assert asyncio.run(client()) == "connection refused"
