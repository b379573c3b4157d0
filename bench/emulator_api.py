"""The emulator's `GET /tickets` rate with 100,000 tickets against 100 tickets, interleaved. A script,
not a test. (Its webhook delivery rate is in bench/listen_throughput.py, next to listen's.)

    .venv/bin/python bench/emulator_api.py [--runs 15] [--requests 50] [--tickets 100000] [--small 100]

Two emulators (``cstar emulator start``, each on its own temporary database): each is started once
to create its schema and seed data, stopped, filled up to ``--small`` or ``--tickets`` test-mode
tickets by inserting straight into its SQLite file (one transaction, bounded: seconds for 100,000),
and started again. Each round then sends ``--requests`` sequential ``GET /tickets?page=1&pageSize=20``
over one kept-alive ``httpx.Client`` to the small one, then to the large one (after a warm-up round);
a sample is that block's requests per second. Prints medians [p10–p90], the per-round ratio large /
small with a verdict against the target, and the machine's load.
"""

from __future__ import annotations

import argparse
import json
import secrets
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import Emulator, Machine, emulator, interleave, paired_ratios, run, spread, verdict  # noqa: E402

TARGET = 0.8  # req/s at --tickets ≥ 0.8 × at --small
STATUSES = ("new", "open", "pending", "resolved", "closed")
PRIORITIES = ("low", "normal", "high", "urgent")


def fill(db: Path, team_id: str, total: int) -> int:
    """Insert test-mode tickets into the (stopped) emulator's file until ``team_id`` has ``total``;
    returns how many were inserted."""
    conn = sqlite3.connect(db)
    try:
        have = conn.execute("SELECT COUNT(*) FROM tickets WHERE team_id = ? AND mode = 'test'", (team_id,)).fetchone()
        missing = max(0, total - have[0])
        base = time.time() - missing
        rows = []
        for i in range(missing):
            stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(base + i)) + ".000Z"
            rows.append(
                (
                    "tkt_" + secrets.token_hex(16),
                    team_id,
                    "test",
                    f"Bench ticket {i}",
                    STATUSES[i % len(STATUSES)],
                    PRIORITIES[i % len(PRIORITIES)],
                    json.dumps(["bench"]),
                    json.dumps({}),
                    stamp,
                    stamp,
                )
            )
        with conn:
            conn.executemany(
                "INSERT INTO tickets (id, team_id, mode, title, status, priority, tags, metadata, created_at, "
                "updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                rows,
            )
        return int(missing)
    finally:
        conn.close()


def seeded(db: Path, tickets: int) -> Emulator:
    """An emulator on ``db`` holding ``tickets`` test-mode tickets, started."""
    emu = emulator(db)
    team_id = emu.team_id
    emu.stop()
    started = time.monotonic()
    added = fill(db, team_id, tickets)
    print(f"  {db.name}: {added:,} tickets inserted in {time.monotonic() - started:.1f} s", file=sys.stderr)
    emu.restart()
    return emu


def block(http: httpx.Client, requests: int) -> float:
    """Requests per second of ``requests`` sequential GET /tickets."""
    started = time.perf_counter()
    for _ in range(requests):
        r = http.get("/tickets", params={"page": 1, "pageSize": 20})
        if r.status_code != 200:
            raise SystemExit(f"GET /tickets answered {r.status_code}")
    return requests / (time.perf_counter() - started)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15, help="interleaved rounds kept (default 15)")
    parser.add_argument("--requests", type=int, default=50, help="requests per block (default 50)")
    parser.add_argument("--tickets", type=int, default=100_000, help="tickets in the large emulator")
    parser.add_argument("--small", type=int, default=100, help="tickets in the small emulator")
    args = parser.parse_args()
    if args.runs < 1 or args.requests < 1 or not 1 <= args.small <= args.tickets <= 1_000_000:
        parser.error("--runs, --requests ≥ 1 and 1 ≤ --small ≤ --tickets ≤ 1,000,000")
    machine = Machine()
    small_name, large_name = f"{args.small:,} tickets", f"{args.tickets:,} tickets"
    with tempfile.TemporaryDirectory(prefix="cstar-bench-") as tmp:
        small = seeded(Path(tmp) / "small.db", args.small)
        try:
            large = seeded(Path(tmp) / "large.db", args.tickets)
            try:
                with small.client(timeout=60.0) as s_http, large.client(timeout=60.0) as l_http:
                    samples = interleave(
                        [
                            (small_name, lambda warm: block(s_http, args.requests)),
                            (large_name, lambda warm: block(l_http, args.requests)),
                        ],
                        args.runs,
                    )
                    total = l_http.get("/tickets", params={"pageSize": 1}).json()["meta"]["pagination"]["total"]
            finally:
                large.stop()
        finally:
            small.stop()

    print(
        f"emulator GET /tickets?page=1&pageSize=20, {args.requests} sequential requests per block, "
        f"{args.runs} interleaved rounds after a warm-up; [p10–p90]"
    )
    print(f"{'':<20}{'req/s':>22}{'× ' + small_name:>26}  verdict")
    r = spread(paired_ratios(samples[large_name], samples[small_name]))
    print(f"{small_name:<20}{spread(samples[small_name]).fmt(digits=0):>22}{'1 (baseline)':>26}")
    print(
        f"{large_name:<20}{spread(samples[large_name]).fmt(digits=0):>22}{r.fmt(digits=2):>26}  "
        f"{verdict(r.median, TARGET, at_most=False)}"
    )
    print(f"(the large emulator reported total = {total:,})")
    machine.print_report()
    return 0


if __name__ == "__main__":
    sys.exit(run(main))
