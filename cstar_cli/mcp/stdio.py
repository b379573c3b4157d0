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

As with the SDK's transport, while serving, fd 0 reads the null device and fd 1 points at stderr
(the protocol uses private duplicates), so a child process or a stray ``print`` can neither steal
the client's input nor corrupt the output; both are restored on exit. The private duplicates are
never closed: a worker thread may still be blocked reading one when serving ends.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
from collections.abc import AsyncIterator, Callable

import anyio
import anyio.to_thread
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream
from mcp.shared.message import SessionMessage

from cstar_cli.mcp.framing import MAX_LINE_BYTES, LineSplitter, Overflow, decode_line, overflow_reply
from cstar_cli.protocol.keys import scrub_secrets

__all__ = ["CHUNK_BYTES", "stdio_transport"]

logger = logging.getLogger("cstar.mcp")

#: How much of stdin is read at a time, in bytes.
CHUNK_BYTES = 64 * 1024

Outgoing = SessionMessage | str  # a message from the server, or a framing error already in JSON


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


async def read_messages(
    read: Callable[[], bytes],
    messages: MemoryObjectSendStream[SessionMessage | Exception],
    replies: MemoryObjectSendStream[Outgoing],
    limit: int = MAX_LINE_BYTES,
) -> None:
    """Read chunks with ``read()`` (in a worker thread; ``b""`` is the end) until the end; send each
    valid message to ``messages`` and each framing error's JSON to ``replies``. Closes both."""
    splitter = LineSplitter(limit)
    async with messages, replies:
        while True:
            chunk = await anyio.to_thread.run_sync(read, abandon_on_cancel=True)
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
                    await messages.send(SessionMessage(decoded.message))
            if not chunk:
                return


async def write_messages(write: Callable[[bytes], None], outgoing: MemoryObjectReceiveStream[Outgoing]) -> None:
    """Write each item of ``outgoing`` as one line with ``write`` (in a worker thread), secrets
    scrubbed (:func:`~cstar_cli.protocol.keys.scrub_secrets`), until every sender has closed."""
    async with outgoing:
        async for item in outgoing:
            text = item if isinstance(item, str) else item.message.model_dump_json(by_alias=True, exclude_unset=True)
            text = scrub_secrets(text)
            await anyio.to_thread.run_sync(write, (text + "\n").encode("utf-8", "replace"))


@contextlib.asynccontextmanager
async def stdio_transport(
    limit: int = MAX_LINE_BYTES,
) -> AsyncIterator[
    tuple[MemoryObjectReceiveStream[SessionMessage | Exception], MemoryObjectSendStream[SessionMessage]]
]:
    """Serve on the process's stdin/stdout: yields ``(read_stream, write_stream)`` for
    ``lowlevel.Server.run``. The read stream ends when stdin closes; leaving the block waits for
    the reader to reach the end of stdin and the writer to write everything sent to it."""
    in_fd, restore_stdin = _claim(0, _devnull)
    out_fd, restore_stdout = _claim(1, _stderr_copy)
    try:
        messages_in, messages_out = anyio.create_memory_object_stream[SessionMessage | Exception](0)
        outgoing_in, outgoing_out = anyio.create_memory_object_stream[Outgoing](0)
        async with anyio.create_task_group() as tg:
            tg.start_soon(read_messages, lambda: _read(in_fd), messages_in, outgoing_in.clone(), limit)
            tg.start_soon(write_messages, lambda data: _write_all(out_fd, data), outgoing_out)
            yield messages_out, outgoing_in
    finally:
        restore_stdout()
        restore_stdin()
