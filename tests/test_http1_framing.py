"""Property tests for :mod:`cstar_cli.protocol.http1`'s response framing, against a real loopback
server that answers in odd ways: the answer split into arbitrary reads, Content-Length or chunked
(with extensions and trailers) or close-delimited bodies, interim 1xx answers first, HTTP/1.0,
``Connection: close``, a connection cut short, garbage. Whatever the server does, ``post`` returns
the final status or raises :class:`HttpError` with one of the documented reasons, never anything
else, and a kept-alive connection is reused only when the answer said it may be."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cstar_cli.protocol.http1 import MAX_HEAD, HttpClient, HttpError, check_header

pytestmark = pytest.mark.e2e

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@dataclass(frozen=True)
class Answer:
    """One response as the server writes it: ``parts`` (written one by one, each drained, so the
    client sees them in separate reads), whether the server then closes, and what the client must
    conclude: ``status`` or ``reason``, and whether the connection may be reused."""

    parts: tuple[bytes, ...]
    close_after: bool
    status: int | None
    reason: str | None
    reusable: bool


def _split(data: bytes, cuts: list[int]) -> tuple[bytes, ...]:
    points = sorted({c % (len(data) + 1) for c in cuts} | {0, len(data)})
    return tuple(data[a:b] for a, b in zip(points, points[1:], strict=False) if b > a)


@st.composite
def answers(draw: st.DrawFn) -> Answer:
    status = draw(st.sampled_from([200, 201, 202, 204, 301, 400, 404, 500, 503]))
    body = draw(st.binary(max_size=300))
    interims = [b"HTTP/1.1 100 Continue\r\n\r\n", b"HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n"]
    interim = draw(st.lists(st.sampled_from(interims), max_size=2))
    framing = draw(st.sampled_from(["length", "chunked", "close", "http10"]))
    close_header = draw(st.booleans()) and framing in ("length", "chunked")
    extra = b"Connection: close\r\n" if close_header else b""
    if status == 204:  # never a body, so no framing either
        body, framing = b"", "length"
    if framing == "length":
        head = f"HTTP/1.1 {status} X\r\nContent-Length: {len(body)}\r\n".encode() + extra + b"\r\n"
        wire = head + body
        head_len = len(head)
    elif framing == "chunked":
        sizes = draw(st.lists(st.integers(1, 64), max_size=6))
        chunks, rest = b"", body
        for size in sizes:
            piece, rest = rest[:size], rest[size:]
            if piece:
                chunks += f"{len(piece):x};ext=1\r\n".encode() + piece + b"\r\n"
        if rest:
            chunks += f"{len(rest):X}\r\n".encode() + rest + b"\r\n"
        trailer = b"X-Trailer: 1\r\n" if draw(st.booleans()) else b""
        head = f"HTTP/1.1 {status} X\r\nTransfer-Encoding: chunked\r\n".encode() + extra + b"\r\n"
        wire = head + chunks + b"0\r\n" + trailer + b"\r\n"
        head_len = len(head)
    elif framing == "close":
        head = f"HTTP/1.1 {status} X\r\n\r\n".encode()
        wire, head_len = head + body, len(head)
    else:
        head = f"HTTP/1.0 {status} X\r\nContent-Length: {len(body)}\r\n\r\n".encode()
        wire, head_len = head + body, len(head)
    head_len += sum(map(len, interim))
    wire = b"".join(interim) + wire
    cuts = draw(st.lists(st.integers(0, 10_000), max_size=8))
    delimited_by_close = framing == "close"
    reusable = framing in ("length", "chunked") and not close_header
    truncate = draw(st.booleans()) and draw(st.booleans())
    if truncate and len(wire) > 1:
        cut = draw(st.integers(1, len(wire) - 1))
        if delimited_by_close and cut >= head_len:
            # A close-delimited body has no wrong length: what arrived before the close is the body.
            return Answer(_split(wire[:cut], cuts), True, status, None, False)
        return Answer(_split(wire[:cut], cuts), True, None, "connection closed without a response", False)
    return Answer(_split(wire, cuts), delimited_by_close or not reusable, status, None, reusable)


async def _read_request(reader: asyncio.StreamReader) -> bytes:
    head = await reader.readuntil(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":", 1)[1])
    return head + await reader.readexactly(length)


async def _exchange(script: list[Answer]) -> tuple[list[int | str], int]:
    """POST once per answer in ``script``; returns each outcome (status or reason) and how many
    connections the server saw."""
    queue = list(script)
    connections = 0
    writers: list[asyncio.StreamWriter] = []

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal connections
        connections += 1
        writers.append(writer)
        with contextlib.suppress(asyncio.IncompleteReadError, ConnectionError):
            while queue:
                await _read_request(reader)
                answer = queue.pop(0)
                for part in answer.parts:
                    writer.write(part)
                    await writer.drain()
                    await asyncio.sleep(0)
                if answer.close_after:
                    break
        writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    client = HttpClient(f"http://127.0.0.1:{port}/hook", timeout=5)
    outcomes: list[int | str] = []
    try:
        for _ in script:
            try:
                outcomes.append(await client.post({"X-Event-ID": "evt_1"}, b'{"a":1}'))
            except HttpError as e:
                outcomes.append(e.reason)
    finally:
        await client.aclose()
        server.close()
        for writer in writers:
            writer.close()
    return outcomes, connections


@SETTINGS
@given(st.lists(answers(), min_size=1, max_size=4))
def test_any_framing_gives_the_status_or_a_documented_reason(script: list[Answer]) -> None:
    outcomes, connections = asyncio.run(_exchange(script))
    assert outcomes == [a.status if a.reason is None else a.reason for a in script]
    # A new connection for the first answer and after each one that may not be reused.
    assert connections == 1 + sum(not a.reusable for a in script[:-1])


@SETTINGS
@given(
    st.binary(min_size=1, max_size=200).filter(lambda b: not b.startswith(b"HTTP/")),
    st.lists(st.integers(0, 500), max_size=4),
)
def test_garbage_is_an_invalid_response(garbage: bytes, cuts: list[int]) -> None:
    answer = Answer(_split(garbage + b"\r\n\r\n", cuts), True, None, "invalid HTTP response", False)
    outcomes, _ = asyncio.run(_exchange([answer]))
    assert outcomes[0] in ("invalid HTTP response", "connection closed without a response")


def test_an_endless_head_is_refused() -> None:
    head = b"HTTP/1.1 200 OK\r\n" + b"X-Filler: " + b"a" * (MAX_HEAD + 10) + b"\r\n\r\n"
    answer = Answer(_split(head, list(range(0, len(head), 4096))), True, None, "invalid HTTP response", False)
    assert asyncio.run(_exchange([answer]))[0] == ["invalid HTTP response"]


_NAME = st.text(st.characters(codec="utf-8"), min_size=1, max_size=12)
_VALUE = st.text(st.characters(codec="utf-8"), max_size=12)


@SETTINGS
@given(_NAME, _VALUE)
def test_a_header_that_could_split_the_request_is_refused_before_sending(name: str, value: str) -> None:
    async def main() -> object:
        sent: list[bytes] = []

        async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            with contextlib.suppress(asyncio.IncompleteReadError, ConnectionError):
                sent.append(await _read_request(reader))
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
                await writer.drain()
            writer.close()

        server = await asyncio.start_server(serve, "127.0.0.1", 0)
        client = HttpClient(f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}/", timeout=5)
        try:
            return await client.post({name: value}, b"{}")
        except HttpError as e:
            return e
        finally:
            await client.aclose()
            server.close()

    result = asyncio.run(main())
    framing = ("content-length", "transfer-encoding", "connection")
    bad = check_header(name, value) is not None and name.lower() not in framing
    if bad:
        assert isinstance(result, HttpError) and result.reason.startswith("invalid request: ")
        if len(value) >= 8 and value not in name:
            assert value not in result.reason  # a value may be a secret: never echoed
    else:
        assert result == 200
        assert not any(c in name + value for c in "\r\n\x00")


def test_bytes_after_a_complete_answer_keep_it_but_not_the_connection() -> None:
    junk = Answer((b"HTTP/1.1 204 No Content\r\n\r\n0\r\n\r\n",), True, 204, None, False)
    then = Answer((b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",), False, 200, None, True)
    assert asyncio.run(_exchange([junk, then])) == ([204, 200], 2)
