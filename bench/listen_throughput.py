"""``cstar listen`` throughput and added latency, on the local emulator. A script, not a test.

    .venv/bin/python bench/listen_throughput.py [--events 5000] [--rate 100] [--seconds 10]

(a) Throughput: the emulator emits ``--events`` events at once (``POST /_emulator/burst``); a real
    ``cstar listen`` subprocess forwards them, one at a time and in order, to the example receiver,
    which verifies every signature. Events/s from the burst request to the last arrival, checked for
    count, order and signatures; once with the human lines and once with ``--format json``.
(b) Latency: events emitted one by one at ``--rate`` per second for ``--seconds``; each reaches one
    receiver through ``cstar listen`` and another straight from the emulator's own webhook delivery
    (a webhook registered with ``POST /webhooks``). Latency is arrival time minus the payload's
    ``created_at`` (millisecond resolution, the same for both paths); p50/p99 per path and the ratio.

Targets on a 2-core machine: at least 1,000 events/s in order; p99 of the listen path within 10 ms of
emission at 100 events/s.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from cstar_cli.receiver import Receiver  # noqa: E402

TARGET_RATE = 1000.0
TARGET_P99_MS = 10.0


class Emulator:
    """``cstar emulator start`` on a free port and a temporary database."""

    def __init__(self, workdir: Path) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "cstar_cli", "emulator", "start", "--json", "--port", "0"]
            + ["--db", str(workdir / "emulator.db"), "--rate-limit", "0"],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            env=_env(workdir),
        )
        assert self.proc.stdout is not None
        info = json.loads(self.proc.stdout.readline())
        self.base_url: str = info["baseUrl"]
        self.team_id: str = info["teamId"]
        self.key: str = info["keys"]["sk_test"]
        self.http = httpx.Client(base_url=self.base_url, headers={"Authorization": f"Bearer {self.key}"}, timeout=30)

    def burst(self, count: int) -> dict[str, Any]:
        r = self.http.post("/_emulator/burst", json={"count": count, "event": "ticket.created"})
        r.raise_for_status()
        return r.json()["data"]

    def stop(self) -> None:
        self.http.close()
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def _env(workdir: Path, extra: dict[str, str] | None = None) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    env["CSTAR_CONFIG_DIR"] = str(workdir / "config")
    env["CSTAR_DATA_DIR"] = str(workdir / "data")
    env.update(extra or {})
    return env


def _listen(emu: Emulator, workdir: Path, url: str, *args: str) -> tuple[subprocess.Popen[str], str]:
    """Start ``cstar listen --forward-to URL ARGS`` (stdout to a file); wait for its ready line."""
    env = _env(workdir, {"CSTAR_API_KEY": emu.key, "CSTAR_BASE_URL": emu.base_url})
    out = open(workdir / f"listen-{time.monotonic_ns()}.out", "w")  # noqa: SIM115 - handed to the child
    proc = subprocess.Popen(
        [sys.executable, "-m", "cstar_cli", "listen", "--forward-to", url, *args],
        stdout=out,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    out.close()
    assert proc.stderr is not None
    while True:
        line = proc.stderr.readline()
        if not line:
            raise RuntimeError(f"cstar listen exited with {proc.wait()}")
        if line.startswith("Ready! Your webhook signing secret is "):
            return proc, line.split(" is ", 1)[1].split()[0]


def _stop(proc: subprocess.Popen[str]) -> None:
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()


def _secret(emu: Emulator, workdir: Path) -> str:
    env = _env(workdir, {"CSTAR_API_KEY": emu.key, "CSTAR_BASE_URL": emu.base_url})
    r = subprocess.run(
        [sys.executable, "-m", "cstar_cli", "listen", "--print-secret"], capture_output=True, text=True, env=env
    )
    return r.stdout.strip()


def throughput(emu: Emulator, workdir: Path, events: int, *args: str) -> dict[str, Any]:
    with Receiver(_secret(emu, workdir)) as rx:
        proc, _ = _listen(emu, workdir, rx.url, *args)
        try:
            started = time.time()
            sent = emu.burst(events)
            complete = rx.wait_for(events, timeout=max(60.0, events / 100))
            elapsed = rx.received[-1].received_at - started
        finally:
            _stop(proc)
    ids = [d.event_id for d in rx.received]
    in_order = ids[0] == sent["firstEventId"] and ids[-1] == sent["lastEventId"] and len(set(ids)) == len(ids)
    return {
        "events": len(ids),
        "seconds": elapsed,
        "rate": len(ids) / elapsed,
        "ok": complete and in_order and all(d.verified and d.status == 200 for d in rx.received),
    }


def _created(body: bytes) -> float:
    stamp = json.loads(body)["created_at"]
    return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()


def _percentiles(values: list[float]) -> tuple[float, float]:
    q = statistics.quantiles(values, n=100, method="inclusive")
    return q[49], q[98]


def latency(emu: Emulator, workdir: Path, rate: float, seconds: float) -> dict[str, Any]:
    count = int(rate * seconds)
    with Receiver(_secret(emu, workdir)) as via_listen, Receiver("set-below") as direct:
        hook = emu.http.post(
            f"/api/v1/teams/{emu.team_id}/webhooks",
            json={"name": "bench-direct", "url": direct.url, "events": ["ticket.created"]},
        )
        hook.raise_for_status()
        direct.secret = hook.json()["data"]["secret"]
        proc, _ = _listen(emu, workdir, via_listen.url)
        try:
            emu.burst(20)  # warm both paths' connections
            via_listen.wait_for(20, 30)
            direct.wait_for(20, 30)
            via_listen.received.clear()
            direct.received.clear()
            start = time.perf_counter()
            for i in range(count):
                pause = start + i / rate - time.perf_counter()
                if pause > 0:
                    time.sleep(pause)
                emu.burst(1)
            ok = via_listen.wait_for(count, 60) and direct.wait_for(count, 60)
        finally:
            _stop(proc)
            emu.http.delete(f"/api/v1/teams/{emu.team_id}/webhooks/{hook.json()['data']['id']}")
    result: dict[str, Any] = {"events": count, "ok": ok}
    for name, rx in (("listen", via_listen), ("direct", direct)):
        ms = [(d.received_at - _created(d.body)) * 1000 for d in rx.received if d.status == 200]
        result[name] = _percentiles(ms)
        result["ok"] = result["ok"] and all(d.verified for d in rx.received)
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=5000, help="events in the throughput burst")
    parser.add_argument("--rate", type=float, default=100.0, help="events/s in the latency run")
    parser.add_argument("--seconds", type=float, default=10.0, help="length of the latency run")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="cstar-bench-") as tmp:
        workdir = Path(tmp)
        emu = Emulator(workdir)
        try:
            human = throughput(emu, workdir, args.events)
            as_json = throughput(emu, workdir, args.events, "--format", "json")
            lat = latency(emu, workdir, args.rate, args.seconds)
        finally:
            emu.stop()
    print(f"cstar listen, {os.cpu_count()} CPUs, Python {sys.version.split()[0]}")
    print()
    print(f"(a) throughput, burst of {args.events}     events/s   vs target {TARGET_RATE:.0f}/s   checks")
    for name, r in (("human lines", human), ("--format json", as_json)):
        check = "in order, verified" if r["ok"] else "FAILED (missing, out of order or unverified)"
        print(f"    {name:<34} {r['rate']:8.0f}   {r['rate'] / TARGET_RATE:8.2f}x   {check}")
    print()
    lp50, lp99 = lat["listen"]
    dp50, dp99 = lat["direct"]
    print(f"(b) latency at {args.rate:.0f} events/s, {lat['events']} events   p50 ms    p99 ms")
    print(f"    via cstar listen                    {lp50:7.1f}   {lp99:7.1f}   (target p99 <= {TARGET_P99_MS:.0f})")
    print(f"    direct webhook from the emulator    {dp50:7.1f}   {dp99:7.1f}")
    print(f"    ratio listen / direct               {lp50 / dp50:7.2f}x  {lp99 / dp99:7.2f}x")
    print(f"    listen minus direct                 {lp50 - dp50:+7.1f}   {lp99 - dp99:+7.1f}")
    if not lat["ok"]:
        print("    FAILED: missing or unverified deliveries")
    ok = human["ok"] and as_json["ok"] and lat["ok"]
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
