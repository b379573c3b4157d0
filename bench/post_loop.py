"""The relay's baseline: a bare asyncio loop that POSTs events one at a time over one kept-alive
connection, each signed like a real delivery. Run as its own process by bench/listen_throughput.py.

    python bench/post_loop.py --url http://127.0.0.1:PORT/ --secret S --events FILE [--count N]

Reads the first ``N`` events (default all) of ``FILE``, one JSON array ``[id, type, payload]`` a line
(payloads as the emulator stored them), before the clock starts, then sends each with the headers of
:func:`cstar_cli.protocol.webhook.delivery_headers` (signed at send time, like ``cstar listen``), waiting for
each full response before the next request: the fastest a one-at-a-time sender can go into that
receiver. Prints ``{"sent", "ok", "seconds", "cpu"}`` (``cpu``: this process's user+sys seconds while
sending) on stdout. Exits 1 on a connection error or a non-200 answer.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cstar_cli.protocol.webhook import delivery_headers  # noqa: E402


def load(path: Path, count: int | None) -> list[tuple[str, str, bytes]]:
    """(event id, type, payload bytes) of the first ``count`` (None: all) events of ``path``."""
    events: list[tuple[str, str, bytes]] = []
    with path.open(encoding="utf-8") as f:
        for line in f:
            if count is not None and len(events) >= count:
                break
            event_id, event_type, payload = json.loads(line)
            events.append((event_id, event_type, payload.encode("utf-8")))
    return events


async def send_all(url: str, secret: str, events: list[tuple[str, str, bytes]]) -> int:
    """POST every event in order, one at a time; returns how many got a 200."""
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    path = parts.path or "/"
    reader, writer = await asyncio.open_connection(host, port)
    ok = 0
    try:
        for event_id, event_type, body in events:
            headers = delivery_headers(
                body, secret, event_id=event_id, event_type=event_type, webhook_id="cli", request_id=None
            )
            head = f"POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Length: {len(body)}\r\n"
            head += "".join(f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n"
            writer.write(head.encode("latin-1") + body)
            status_head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in status_head.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            await reader.readexactly(length)
            if status_head.startswith(b"HTTP/1.1 200"):
                ok += 1
    finally:
        writer.close()
    return ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True)
    parser.add_argument("--secret", required=True)
    parser.add_argument("--events", type=Path, required=True)
    parser.add_argument("--count", type=int, default=None)
    args = parser.parse_args()
    events = load(args.events, args.count)
    cpu0, t0 = os.times(), time.perf_counter()
    try:
        ok = asyncio.run(send_all(args.url, args.secret, events))
    except (OSError, asyncio.IncompleteReadError) as e:
        sys.stderr.write(f"Error: sending to {args.url} failed: {e}\n")
        return 1
    elapsed, cpu1 = time.perf_counter() - t0, os.times()
    cpu = (cpu1.user - cpu0.user) + (cpu1.system - cpu0.system)
    print(json.dumps({"sent": len(events), "ok": ok, "seconds": elapsed, "cpu": cpu}))
    return 0 if ok == len(events) else 1


if __name__ == "__main__":
    sys.exit(main())
