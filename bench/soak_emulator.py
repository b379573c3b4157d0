"""Crash soak of the emulator: ticket creates under load, the server killed with SIGKILL at random
moments and restarted on the same database. A script, not a test.

    .venv/bin/python bench/soak_emulator.py [--tickets 10000] [--restarts 10] [--threads 4]
                                            [--max-seconds 300] [--seed N]

``--threads`` clients create tickets, each with its own ``Idempotency-Key`` (also stored in the
ticket's metadata), and retry the same key on any connection error, 5xx or 409
``idempotency_key_in_use`` until they get an answer. Meanwhile the emulator (``cstar emulator start``
on 127.0.0.1, a temporary database, ``--rate-limit 0``) is killed ``--restarts`` times, each time once
a random share of the creates was acknowledged, and started again on the same port and file.

Afterwards the database is read directly and checked:

- duplicates: keys with more than one ticket (must be 0);
- orphans: tickets without their ``ticket.created`` event, and events without their ticket (0);
- lost: acknowledged creates whose ticket is missing, or whose ticket has another id (0).

Prints a summary; exits 1 on any violation, 2 when the emulator could not be run. Loopback only.
``--max-seconds`` bounds the run: no new creates start after it (the summary says so).
"""

from __future__ import annotations

import argparse
import json
import random
import sqlite3
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.support.emulator import EmulatorProcess, start_emulator  # noqa: E402

RETRY_PAUSE = 0.02
#: Statuses worth retrying with the same key: the emulator stores no 5xx, and a 409 in_use means
#: the first attempt (its connection dropped) is still running.
RETRYABLE = frozenset({409, 500, 502, 503, 504})


@dataclass
class Tally:
    """What the clients saw, shared between threads (guard with ``lock``)."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    next_index: int = 0
    acked: dict[str, str] = field(default_factory=dict)  # key -> ticket id answered
    connection_errors: int = 0
    retried_statuses: int = 0
    replays: int = 0
    unexpected: list[str] = field(default_factory=list)


def client_loop(base_url: str, headers: dict[str, str], run: str, total: int, deadline: float, tally: Tally) -> None:
    """Create tickets until ``total`` were handed out or ``deadline`` (monotonic) passed."""
    with httpx.Client(base_url=base_url, headers=headers, timeout=10.0, trust_env=False) as http:
        while time.monotonic() < deadline:
            with tally.lock:
                if tally.next_index >= total:
                    return
                index = tally.next_index
                tally.next_index += 1
            key = f"{run}-{index}"
            body = {"title": f"soak {index}", "metadata": {"soakKey": key}}
            while True:
                try:
                    resp = http.post("/tickets", json=body, headers={"Idempotency-Key": key})
                except httpx.TransportError:
                    with tally.lock:
                        tally.connection_errors += 1
                    time.sleep(RETRY_PAUSE)
                    continue
                if resp.status_code in RETRYABLE and (
                    resp.status_code != 409 or resp.json()["error"]["code"] == "idempotency_key_in_use"
                ):
                    with tally.lock:
                        tally.retried_statuses += 1
                    time.sleep(RETRY_PAUSE)
                    continue
                with tally.lock:
                    if resp.status_code == 201:
                        tally.acked[key] = resp.json()["data"]["id"]
                        tally.replays += resp.headers.get("Idempotent-Replayed") == "true"
                    else:
                        tally.unexpected.append(f"{key}: HTTP {resp.status_code} {resp.text[:200]}")
                break


def kill_at_random_moments(
    emu: EmulatorProcess, tally: Tally, total: int, restarts: int, deadline: float, rng: random.Random
) -> list[float]:
    """Kill -9 and restart ``restarts`` times, each once a random share of ``total`` was acked.
    Returns the seconds each restart took (kill to ready)."""
    marks = sorted(rng.uniform(0.05, 0.95) * total for _ in range(restarts))
    downtimes: list[float] = []
    for mark in marks:
        while time.monotonic() < deadline:
            with tally.lock:
                if len(tally.acked) >= mark or tally.next_index >= total:
                    break
            time.sleep(0.002)
        else:
            break
        time.sleep(rng.uniform(0, 0.03))  # somewhere between two acknowledgements
        started = time.monotonic()
        emu.kill()
        emu.restart()
        downtimes.append(time.monotonic() - started)
    return downtimes


def check(db_path: Path, run: str, acked: dict[str, str]) -> dict[str, int]:
    """Read the stopped emulator's database and count violations."""
    conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    try:
        tickets: dict[str, list[str]] = {}
        ticket_ids: set[str] = set()
        for tid, metadata in conn.execute("SELECT id, metadata FROM tickets"):
            key = json.loads(metadata).get("soakKey", "")
            if key.startswith(run + "-"):
                tickets.setdefault(key, []).append(tid)
                ticket_ids.add(tid)
        created_events: set[str] = set()
        for (payload,) in conn.execute("SELECT payload FROM events WHERE type = 'ticket.created'"):
            ticket = json.loads(payload)["data"]["ticket"]
            if str(ticket.get("metadata", {}).get("soakKey", "")).startswith(run + "-"):
                created_events.add(ticket["id"])
    finally:
        conn.close()
    return {
        "tickets": len(ticket_ids),
        "duplicates": sum(len(ids) - 1 for ids in tickets.values()),
        "tickets_without_event": len(ticket_ids - created_events),
        "events_without_ticket": len(created_events - ticket_ids),
        "lost": sum(1 for key in acked if key not in tickets),
        "other_id": sum(1 for key, tid in acked.items() if key in tickets and tid not in tickets[key]),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tickets", type=int, default=10_000, help="ticket creates in all (default 10000)")
    parser.add_argument("--restarts", type=int, default=10, help="kill -9 and restart this often (default 10)")
    parser.add_argument("--threads", type=int, default=4, help="concurrent clients (default 4)")
    parser.add_argument("--max-seconds", type=float, default=300.0, help="start no creates after this (300)")
    parser.add_argument("--seed", type=int, default=None, help="random seed for the kill moments")
    args = parser.parse_args()
    seed = args.seed if args.seed is not None else random.randrange(2**32)
    rng = random.Random(seed)
    run = f"soak{seed}"

    with tempfile.TemporaryDirectory(prefix="cstar-soak-") as tmp:
        db_path = Path(tmp) / "emulator.db"
        try:
            emu = start_emulator(db_path)
        except RuntimeError as e:
            print(f"soak: {e}", file=sys.stderr)
            return 2
        tally = Tally()
        started = time.monotonic()
        deadline = started + args.max_seconds
        base_url = emu.team_url()
        headers = {"Authorization": f"Bearer {emu.keys['sk_test']}"}
        workers = [
            threading.Thread(
                target=client_loop, args=(base_url, headers, run, args.tickets, deadline, tally), daemon=True
            )
            for _ in range(args.threads)
        ]
        try:
            for w in workers:
                w.start()
            downtimes = kill_at_random_moments(emu, tally, args.tickets, args.restarts, deadline, rng)
            for w in workers:
                w.join()
        finally:
            emu.stop()
        elapsed = time.monotonic() - started
        result = check(db_path, run, tally.acked)

    violations = (
        result["duplicates"]
        + result["tickets_without_event"]
        + result["events_without_ticket"]
        + result["lost"]
        + result["other_id"]
        + len(tally.unexpected)
    )
    stopped_early = tally.next_index < args.tickets
    print(f"soak: seed {seed}, {args.threads} clients, {elapsed:.1f} s{' (time bound hit)' if stopped_early else ''}")
    print(f"  creates acknowledged  {len(tally.acked):>7} of {args.tickets}  ({len(tally.acked) / elapsed:.0f}/s)")
    print(f"  tickets in database   {result['tickets']:>7}")
    print(f"  kill -9 + restart     {len(downtimes):>7}  (restart {max(downtimes, default=0) * 1000:.0f} ms at most)")
    print(f"  connection errors     {tally.connection_errors:>7}  retried with the same key")
    print(f"  5xx / in-use retries  {tally.retried_statuses:>7}")
    print(f"  idempotent replays    {tally.replays:>7}  (acknowledged only after a retry)")
    print(f"  duplicates            {result['duplicates']:>7}")
    print(f"  orphan tickets        {result['tickets_without_event']:>7}  (no ticket.created)")
    print(f"  orphan events         {result['events_without_ticket']:>7}  (ticket.created, no ticket)")
    print(f"  lost                  {result['lost'] + result['other_id']:>7}  (acknowledged, missing or another id)")
    for line in tally.unexpected[:10]:
        print(f"  unexpected answer: {line}")
    print("soak: FAILED" if violations else "soak: OK")
    return 1 if violations else 0


if __name__ == "__main__":
    sys.exit(main())
