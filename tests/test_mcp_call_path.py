"""The stdio transport's two ways of moving bytes: on the event loop for pipes and sockets (no worker
thread per chunk or per line), in a worker thread for anything else (a regular file, a terminal).
Both answer every request; the loop's way leaves a shared pipe blocking again when serving ends,
stops at a reader that went away, and reads a long stream in bounded chunks."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import anyio
import pytest

from cstar_cli.mcp import stdio
from tests.support.cli import ROOT, cstar_env

pytestmark = pytest.mark.timeout(60)

INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}},
}
REQUESTS = b"".join(
    (json.dumps(m) + "\n").encode()
    for m in (
        INITIALIZE,
        {"jsonrpc": "2.0", "method": "notifications/initialized"},
        {"jsonrpc": "2.0", "id": 2, "method": "ping"},
        {"jsonrpc": "2.0", "id": 3, "method": "tools/list"},
        {"jsonrpc": "2.0", "id": 4, "method": "tools/call", "params": {"name": "cstar_list_events", "arguments": {}}},
    )
)


def _env() -> dict[str, str]:
    return cstar_env({"CSTAR_API_KEY": "sk_test_" + "q" * 28, "CSTAR_BASE_URL": "http://127.0.0.1:9"})


def _replies(out: bytes) -> dict[Any, Any]:
    return {r["id"]: r for r in map(json.loads, out.decode().splitlines())}


def _check(replies: dict[Any, Any]) -> None:
    assert sorted(replies) == [1, 2, 3, 4]
    assert replies[2]["result"] == {}
    assert len(replies[3]["result"]["tools"]) == 13
    assert replies[4]["result"]["isError"] is False


def test_files_on_stdin_and_stdout_are_served_by_worker_threads(tmp_path: Path) -> None:
    (tmp_path / "in.jsonl").write_bytes(REQUESTS)
    with (tmp_path / "in.jsonl").open("rb") as stdin, (tmp_path / "out.jsonl").open("wb") as stdout:
        proc = subprocess.run(
            [sys.executable, "-m", "cstar_cli", "mcp-server"],
            stdin=stdin,
            stdout=stdout,
            stderr=subprocess.PIPE,
            env=_env(),
            cwd=ROOT,
            timeout=30,
            check=False,
        )
    assert proc.returncode == 0, proc.stderr.decode()
    _check(_replies((tmp_path / "out.jsonl").read_bytes()))


def test_pipes_are_served_on_the_loop_and_left_blocking_as_they_were() -> None:
    # The test keeps its own copies of the server's pipe ends: the blocking mode belongs to the open
    # pipe, shared with every process holding it, so it must be put back when serving ends.
    in_r, in_w = os.pipe()
    out_r, out_w = os.pipe()
    try:
        proc = subprocess.Popen(
            [sys.executable, "-m", "cstar_cli", "mcp-server"],
            stdin=in_r,
            stdout=out_w,
            stderr=subprocess.PIPE,
            env=_env(),
            cwd=ROOT,
        )
        os.write(in_w, REQUESTS)
        os.close(in_w)
        in_w = -1
        assert proc.wait(30) == 0, proc.stderr.read().decode() if proc.stderr else ""
        assert os.get_blocking(in_r) and os.get_blocking(out_w)
        os.close(out_w)
        out_w = -1
        with os.fdopen(out_r, "rb") as out:
            out_r = -1
            _check(_replies(out.read()))
    finally:
        for fd in (in_r, in_w, out_r, out_w):
            if fd >= 0:
                os.close(fd)
        if proc.stderr:
            proc.stderr.close()


def test_the_loop_reader_gives_bounded_chunks_then_the_end() -> None:
    async def main() -> list[bytes]:
        r, w = os.pipe()
        try:
            os.set_blocking(w, False)
            data = b"x" * (stdio.CHUNK_BYTES * 3 + 5)
            chunks: list[bytes] = []
            async with stdio._chunk_reader(r) as read:
                assert read.__name__ == "read_on_loop"
                view = memoryview(data)
                while view:  # the pipe holds less than the data: write as the reader drains it
                    with contextlib.suppress(BlockingIOError):
                        view = view[os.write(w, view) :]
                    chunks.append(await read())
                os.close(w)
                w = -1
                while chunk := await read():
                    chunks.append(chunk)
            assert os.get_blocking(r)
            assert b"".join(chunks) == data
            return chunks
        finally:
            os.close(r)
            if w >= 0:
                os.close(w)

    chunks = anyio.run(main)
    assert max(map(len, chunks)) <= stdio.CHUNK_BYTES


def test_the_loop_writer_stops_at_a_reader_that_went_away() -> None:
    async def main() -> None:
        r, w = os.pipe()
        try:
            async with stdio._line_writer(w) as write:
                assert write.__name__ == "write_on_loop"
                await write(b'{"jsonrpc":"2.0","id":1,"result":{}}\n')
                assert os.read(r, 100).endswith(b"}\n")
                os.close(r)
                r = -1
                with pytest.raises(BrokenPipeError):
                    for _ in range(100):  # the loop may notice the closed end on this write or the next
                        await write(b"x" * 1000 + b"\n")
            assert os.get_blocking(w)
        finally:
            os.close(w)
            if r >= 0:
                os.close(r)

    anyio.run(main)
