"""The stdio transport of ``cstar mcp-server``: the SDK's ``stdio_server`` contract (a stream of
:class:`SessionMessage` in, one out) with :mod:`cstar_cli.mcp.framing` in front of the SDK.

Differences from the SDK's reader, which reads whole lines of any size and drops what it cannot
parse: stdin is read in chunks of :data:`CHUNK_BYTES`, no more than
:data:`~cstar_cli.mcp.framing.MAX_LINE_BYTES` of one line is ever held, and every line that is not
a valid message is answered here with the JSON-RPC error it calls for; only valid messages reach
the SDK. Output is the SDK's: one compact JSON message per line, written whole and at once, after
:func:`~cstar_cli.protocol.keys.scrub_secrets`: the last gate every answer passes (results, errors,
framing replies alike), so nothing shaped like an API key or a ``whsec_`` secret leaves whole. (On
JSON text the replacement is safe: it swaps letters, digits and ``_`` for the same and ``…``.)
The one part left out of the scrub is a message's JSON-RPC ``id``: it is the client's own value,
and an answer whose ``id`` was rewritten (a client may use a key-shaped string as one) could never
be matched to its request. It is set aside, the rest scrubbed, and put back as it was.

As with the SDK's transport, while serving, fd 0 reads the null device and fd 1 points at stderr
(the protocol uses private duplicates), so a child process or a stray ``print`` can neither steal
the client's input nor corrupt the output; both are restored on exit. The private duplicates are
never closed: a worker thread may still be blocked reading one when serving ends.

Where stdin and stdout are pipes or sockets (how MCP clients start servers), the event loop reads
and writes them itself (asyncio's pipe transports, non-blocking), so a message costs no hop to a
worker thread and back on its way in or out; the read side stops reading while
:data:`CHUNK_BYTES` × 2 are waiting to be split, and the write side finishes each line before
taking the next. Their blocking mode is put back when serving ends (and by :func:`restore_blocking`
before an abrupt exit), since the pipe may be shared with the process that started the server.
A terminal, a regular file, the null device, or a stdout that is stderr's pipe is read or written
by a worker thread, blocking, as before.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import stat
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, Protocol

import anyio
import anyio.to_thread
import pydantic_core
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream
from mcp.shared.message import SessionMessage

from cstar_cli.mcp.framing import MAX_LINE_BYTES, LineSplitter, Overflow, decode_line, overflow_reply
from cstar_cli.protocol.keys import scrub_secrets

__all__ = ["CHUNK_BYTES", "Hooks", "read_messages", "restore_blocking", "scrubbed_line", "stdio_transport", "write_messages"]

logger = logging.getLogger("cstar.mcp")

#: How much of stdin is read at a time, in bytes.
CHUNK_BYTES = 64 * 1024

Outgoing = SessionMessage | str  # a message from the server, or a framing error already in JSON

ReadChunk = Callable[[], Awaitable[bytes]]  # the next chunk of stdin; b"" at its end
WriteLine = Callable[[bytes], Awaitable[None]]  # write one whole line to stdout

# fd → its blocking mode before an asyncio transport made it non-blocking (see restore_blocking).
_made_nonblocking: dict[int, bool] = {}


def _claim(fd: int, open_diversion: Callable[[], int]) -> tuple[int, Callable[[], None]]:
    """A private duplicate of ``fd`` to serve on, with ``fd`` itself pointed at ``open_diversion()``;
    and the function that points ``fd`` back. Falls back to serving ``fd`` itself (nothing to
    restore) where descriptors cannot be duplicated or moved (e.g. Windows)."""
    if sys.platform == "win32":  # pragma: no cover - the console handles need more care than dup2
        return fd, lambda: None
    import fcntl

    try:
        private = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 3)
    except OSError:
        return fd, lambda: None
    try:
        diversion = open_diversion()
    except OSError:
        return private, lambda: None
    try:
        os.dup2(diversion, fd)
    except OSError:
        return private, lambda: None
    finally:
        os.close(diversion)

    def restore() -> None:
        with contextlib.suppress(OSError):
            os.dup2(private, fd)

    return private, restore


def _devnull() -> int:
    return os.open(os.devnull, os.O_RDONLY)


def _stderr_copy() -> int:
    try:
        return os.dup(2)
    except OSError:
        return os.open(os.devnull, os.O_WRONLY)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _read(fd: int) -> bytes:
    try:
        return os.read(fd, CHUNK_BYTES)
    except OSError as e:
        # A stdin that fails to read (EIO after the terminal went away, EBADF) ends the input.
        logger.warning("reading stdin failed (%s); treating it as closed", e.strerror or e)
        return b""


def restore_blocking() -> None:
    """Put back the blocking mode of every descriptor the transport made non-blocking. Called when
    serving ends, and before ``os._exit``: a pipe's mode is shared by every process holding it."""
    for fd in list(_made_nonblocking):
        _restore_blocking(fd)


def _restore_blocking(fd: int) -> None:
    blocking = _made_nonblocking.pop(fd, None)
    if blocking is not None:
        with contextlib.suppress(OSError):
            os.set_blocking(fd, blocking)


def _event_loop_can_serve(fd: int) -> asyncio.AbstractEventLoop | None:
    """The running asyncio loop when it can read or write ``fd`` without a thread (a pipe or a
    socket, on a Unix loop), else None."""
    if sys.platform == "win32":  # pragma: no cover - the proactor loop has no pipe transports for fds
        return None
    try:
        loop = asyncio.get_running_loop()
        mode = os.fstat(fd).st_mode
    except (RuntimeError, OSError):  # another async backend; a closed descriptor
        return None
    return loop if stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode) else None


def _same_file(fd: int, other: int) -> bool:
    try:
        a, b = os.fstat(fd), os.fstat(other)
    except OSError:
        return False
    return (a.st_dev, a.st_ino) == (b.st_dev, b.st_ino)


class _WriteFlow(asyncio.Protocol):
    """Flow control of a write-only pipe transport: :meth:`drain` waits until everything written has
    gone (the transport's high-water mark is 0), or raises ``BrokenPipeError`` once the reader is gone."""

    def __init__(self) -> None:
        self._flushed: asyncio.Future[None] | None = None
        self._lost: BaseException | None = None
        self._transport: asyncio.BaseTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport

    def pause_writing(self) -> None:
        if self._flushed is None:
            self._flushed = asyncio.get_running_loop().create_future()

    def resume_writing(self) -> None:
        self._wake()

    def connection_lost(self, exc: Exception | None) -> None:
        self._lost = exc or BrokenPipeError("stdout was closed")
        self._wake()

    def _wake(self) -> None:
        if self._flushed is not None and not self._flushed.done():
            self._flushed.set_result(None)
        self._flushed = None

    async def drain(self) -> None:
        if self._flushed is not None:
            await asyncio.shield(self._flushed)
        if self._lost is not None or (self._transport is not None and self._transport.is_closing()):
            raise BrokenPipeError("stdout was closed")


@contextlib.asynccontextmanager
async def _chunk_reader(fd: int) -> AsyncIterator[ReadChunk]:
    """Yields the function that reads the next chunk of ``fd`` (at most :data:`CHUNK_BYTES`; ``b""``
    at the end or after a read error): on the event loop for a pipe or socket, else in a worker thread."""
    loop = _event_loop_can_serve(fd)
    transport: asyncio.BaseTransport | None = None
    # Reading pauses while 2 × CHUNK_BYTES wait in the reader: memory stays bounded whatever comes.
    reader = asyncio.StreamReader(limit=CHUNK_BYTES)
    if loop is not None:
        blocking = os.get_blocking(fd)
        try:
            # The transport owns the file object and closes it; closefd=False keeps the descriptor open.
            pipe = open(fd, "rb", buffering=0, closefd=False)  # noqa: SIM115
            transport, _ = await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), pipe)
            _made_nonblocking.setdefault(fd, blocking)
        except (OSError, ValueError) as e:
            logger.debug("reading stdin in a worker thread (%s)", e)

    async def read_on_loop() -> bytes:
        try:
            return await reader.read(CHUNK_BYTES)
        except OSError as e:
            logger.warning("reading stdin failed (%s); treating it as closed", e.strerror or e)
            return b""

    async def read_in_thread() -> bytes:
        return await anyio.to_thread.run_sync(_read, fd, abandon_on_cancel=True)

    try:
        yield read_on_loop if transport is not None else read_in_thread
    finally:
        if transport is not None:
            transport.close()
            _restore_blocking(fd)


@contextlib.asynccontextmanager
async def _line_writer(fd: int) -> AsyncIterator[WriteLine]:
    """Yields the function that writes one line to ``fd`` whole before returning: on the event loop
    for a pipe or socket (not stderr's: making it non-blocking would make stderr so too), else in a
    worker thread. Raises ``BrokenPipeError`` once the reader is gone."""
    loop = _event_loop_can_serve(fd)
    transport: asyncio.WriteTransport | None = None
    flow = _WriteFlow()
    if loop is not None and not _same_file(fd, 2):
        blocking = os.get_blocking(fd)
        try:
            pipe = open(fd, "wb", buffering=0, closefd=False)  # noqa: SIM115 - owned by the transport, as above
            transport, _ = await loop.connect_write_pipe(lambda: flow, pipe)
            _made_nonblocking.setdefault(fd, blocking)
            transport.set_write_buffer_limits(high=0)  # drain() waits for the whole line to be written
        except (OSError, ValueError) as e:
            logger.debug("writing stdout in a worker thread (%s)", e)
            transport = None

    async def write_on_loop(data: bytes) -> None:
        assert transport is not None
        if transport.is_closing():
            raise BrokenPipeError("stdout was closed")
        transport.write(data)
        await flow.drain()

    async def write_in_thread(data: bytes) -> None:
        await anyio.to_thread.run_sync(_write_all, fd, data)

    try:
        yield write_on_loop if transport is not None else write_in_thread
    finally:
        if transport is not None:
            transport.close()
            _restore_blocking(fd)


async def read_messages(
    read: ReadChunk,
    messages: MemoryObjectSendStream[SessionMessage | Exception],
    replies: MemoryObjectSendStream[Outgoing],
    limit: int = MAX_LINE_BYTES,
    hooks: Hooks | None = None,
) -> None:
    """Read chunks with ``await read()`` (``b""`` is the end) until the end; send each valid message
    to ``messages`` and each framing error's JSON to ``replies``. Closes both (at the end, after
    ``hooks.at_end()``). Each message is shown to ``hooks.incoming`` before it is sent on."""
    splitter = LineSplitter(limit)
    async with messages, replies:
        while True:
            chunk = await read()
            for item in splitter.feed(chunk) if chunk else splitter.end():
                if isinstance(item, Overflow):
                    logger.warning("discarded a message longer than %d bytes", item.limit)
                    await replies.send(overflow_reply(item.limit))
                    continue
                decoded = decode_line(item)
                if decoded.reply is not None:
                    # Scrubbed before the cut: a secret cut in two is no longer recognised.
                    logger.info("answered a malformed message: %s", scrub_secrets(decoded.reply)[:200])
                    await replies.send(decoded.reply)
                if decoded.message is not None:
                    message = SessionMessage(decoded.message)
                    if hooks is not None:
                        hooks.incoming(message)
                    await messages.send(message)
            if not chunk:
                if hooks is not None:
                    await hooks.at_end()
                return


def _put_id_back(id_json: str, rest: str) -> str:
    """The JSON object ``rest`` (``{…}``, without its ``id``) scrubbed, with ``"id": id_json`` put
    back first after ``jsonrpc`` when that leads it, else first."""
    envelope = '{"jsonrpc":"2.0"'
    head = envelope if rest.startswith(envelope) else "{"
    tail = rest[len(head) :].lstrip(",")
    if tail == "}":
        return f'{head}{"," if head != "{" else ""}"id":{id_json}}}'
    return f'{head}{"," if head != "{" else ""}"id":{id_json},{scrub_secrets(tail)}'


def _scrub_parsed(value: Any) -> str:
    """A framing answer (one error object, or a batch's array of them) as compact JSON, scrubbed but
    for each ``id``."""
    if isinstance(value, list):
        return "[" + ",".join(_scrub_parsed(v) for v in value) + "]"
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    if not isinstance(value, dict) or "id" not in value:
        return scrub_secrets(text)
    rest = json.dumps({k: v for k, v in value.items() if k != "id"}, ensure_ascii=False, separators=(",", ":"))
    return _put_id_back(json.dumps(value["id"], ensure_ascii=False), rest)


def scrubbed_line(item: Outgoing) -> str:
    """``item`` as one JSON text (no newline) with every secret scrubbed
    (:func:`~cstar_cli.protocol.keys.scrub_secrets`) except in its JSON-RPC ``id``, which stays as
    the client sent it (``null`` stays ``null``)."""
    if isinstance(item, str):
        try:
            return _scrub_parsed(json.loads(item))
        except ValueError:
            return scrub_secrets(item)
    message = item.message
    if "id" not in message.model_fields_set:
        return scrub_secrets(message.model_dump_json(by_alias=True, exclude_unset=True))
    rest = message.model_dump_json(by_alias=True, exclude_unset=True, exclude={"id"})
    return _put_id_back(pydantic_core.to_json(getattr(message, "id", None)).decode(), rest)


async def write_messages(
    write: WriteLine, outgoing: MemoryObjectReceiveStream[Outgoing], hooks: Hooks | None = None
) -> None:
    """Write each item of ``outgoing`` as one line with ``await write(line)``, secrets scrubbed
    (:func:`scrubbed_line`: all but the JSON-RPC ``id``), until every sender has closed; each
    message written is then shown to ``hooks.outgoing``."""
    async with outgoing:
        async for item in outgoing:
            await write((scrubbed_line(item) + "\n").encode("utf-8", "replace"))
            if hooks is not None and isinstance(item, SessionMessage):
                hooks.outgoing(item)


class Hooks(Protocol):
    """What :func:`stdio_transport`'s reader and writer tell their owner, on the loop, in order."""

    def incoming(self, message: SessionMessage) -> None:
        """A valid message read, before the server gets it."""

    def outgoing(self, message: SessionMessage) -> None:
        """A message of the server's, once written."""

    async def at_end(self) -> None:
        """Stdin ended; the server sees the end of its input once this returns."""


@contextlib.asynccontextmanager
async def stdio_transport(
    limit: int = MAX_LINE_BYTES,
    hooks: Hooks | None = None,
) -> AsyncIterator[
    tuple[MemoryObjectReceiveStream[SessionMessage | Exception], MemoryObjectSendStream[SessionMessage]]
]:
    """Serve on the process's stdin/stdout: yields ``(read_stream, write_stream)`` for
    ``lowlevel.Server.run``. The read stream ends when stdin closes (after ``hooks.at_end()``);
    leaving the block waits for the reader to reach the end of stdin and the writer to write
    everything sent to it. ``hooks`` sees every message read and written (:class:`Hooks`)."""
    in_fd, restore_stdin = _claim(0, _devnull)
    out_fd, restore_stdout = _claim(1, _stderr_copy)
    try:
        messages_in, messages_out = anyio.create_memory_object_stream[SessionMessage | Exception](0)
        outgoing_in, outgoing_out = anyio.create_memory_object_stream[Outgoing](0)
        async with _chunk_reader(in_fd) as read, _line_writer(out_fd) as write, anyio.create_task_group() as tg:
            tg.start_soon(read_messages, read, messages_in, outgoing_in.clone(), limit, hooks)
            tg.start_soon(write_messages, write, outgoing_out, hooks)
            yield messages_out, outgoing_in
    finally:
        restore_blocking()
        restore_stdout()
        restore_stdin()
