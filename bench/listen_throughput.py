"""``cstar listen`` throughput, CPU and added latency on the local emulator, against baselines
measured in the same run. A script, not a test.

    .venv/bin/python bench/listen_throughput.py [--events 20000] [--runs 3] [--rates 100,500]
                                                [--latency-seconds 4] [--latency-runs 1] [--no-json-format]
                                                [--record-case]

Every delivery goes to one receiver process (``bench/fast_receiver.py``), which verifies each
signature and records each body's SHA-256 and arrival time; afterwards every run is checked
against the emulator's stored events: all arrived, in order, byte for byte, verified. Only one
measured thing runs at a time; each process (emulator, receiver, listen, baseline sender) is its own.

(a) Throughput, ``--runs`` interleaved rounds after a warm-up round (of ``--warmup-events``):
    - baseline: ``bench/post_loop.py``, a bare asyncio loop POSTing the same kind of events one at a
      time over one kept-alive connection, signed, into the same receiver;
    - ``cstar listen`` (and ``--format json``): the emulator emits ``--events`` at once
      (``POST /_emulator/burst``) and listen forwards them;
    - the emulator's own webhook delivery of a burst of the same size (a webhook on the receiver).
    Rate = (events − 1) / (last arrival − first arrival), the same definition for every case;
    listen's ratio is against the baseline of the same round, the webhook's against listen's.
    CPU per event: user+sys of the sending process during the run / events.
(b) Latency at each of ``--rates`` events/s for ``--latency-seconds``, ``--latency-runs`` rounds:
    events emitted one at a time (``emitted/s`` shows the rate achieved); once delivered straight by
    the emulator's webhook, once through ``cstar listen`` (not at the same time), interleaved. Latency = arrival at the receiver − the event's creation time as
    stored by the emulator (same clock, microseconds). Reported: p50/p99 of each path and the
    difference (what listen adds).

Exits 1 when a correctness check fails; targets are printed with a verdict, not enforced.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sqlite3
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (  # noqa: E402
    BENCH,
    PY,
    BenchReceiver,
    Listen,
    Machine,
    add_burst_arguments,
    add_webhook,
    burst,
    cpu_seconds,
    emit_paced,
    emulator,
    emulator_env,
    interleave,
    paired_ratios,
    quantile,
    run,
    spread,
    verdict,
)

LISTEN_TARGET = 0.8  # × the one-at-a-time asyncio loop
WEBHOOK_TARGET = 0.9  # × listen's rate from the same emulator
BASELINE_SECRET = "whsec_bench_baseline_loop"


@dataclass
class Extra:
    """What a throughput case saw besides its rate, one entry per kept round."""

    cpu_ms: list[float] = field(default_factory=list)  # sender's CPU ms per event
    emu_cpu_ms: list[float] = field(default_factory=list)  # emulator's CPU ms per event
    end_to_end: list[float] = field(default_factory=list)  # events / (burst request → last arrival)
    problems: list[str] = field(default_factory=list)


Got = list[tuple[str, str, bool, float]]  # the receiver's record: id, body SHA-256, verified, arrival


class Bench:
    """The processes of one run and what they delivered. The emulator holds its database file
    exclusively while it runs, so the stored events are read only before (the baseline's bodies)
    and after (:meth:`verify`: checks and creation times)."""

    def __init__(self, workdir: Path, args: argparse.Namespace) -> None:
        self.args = args
        self.emu = emulator(workdir / "emulator.db")
        try:
            self._start(workdir, args)
        except BaseException:
            self.emu.stop()
            raise

    def _start(self, workdir: Path, args: argparse.Namespace) -> None:
        self.http = httpx.Client(base_url=self.emu.base_url, timeout=120.0, trust_env=False)
        corpus_first = self.burst(args.events)  # the baseline's bodies: stored, sent to no one
        self.http.close()
        self.emu.stop()
        self.corpus = workdir / "corpus.jsonl"
        db = sqlite3.connect(f"file:{self.emu.db}?mode=ro", uri=True)
        try:
            first_seq = db.execute("SELECT seq FROM events WHERE id = ?", (corpus_first,)).fetchone()[0]
            rows = db.execute(
                "SELECT id, type, payload FROM events WHERE team_id = ? AND mode = 'test' AND seq >= ? "
                "ORDER BY seq LIMIT ?",
                (self.emu.team_id, first_seq, args.events),
            ).fetchall()
        finally:
            db.close()
        self.corpus.write_text("".join(json.dumps(list(r)) + "\n" for r in rows), encoding="utf-8")
        self.corpus_first = corpus_first
        self.emu.restart()
        self.http = httpx.Client(base_url=self.emu.base_url, timeout=120.0, trust_env=False)
        self.api = self.emu.client(timeout=30.0)
        self.rx = BenchReceiver()
        self.env = emulator_env(workdir / "config", self.emu)
        self.extra: dict[str, Extra] = {}
        self.to_check: list[tuple[str, Got, str, int]] = []  # name, record, first event id, count
        self.latencies: dict[str, list[float]] = {}

    def close(self) -> None:
        self.api.close()
        self.http.close()
        self.rx.close()
        self.emu.stop()

    # --- emulator helpers -------------------------------------------------------------------------

    def burst(self, count: int) -> str:
        """Emit ``count`` ticket.created events at once; returns the first one's id."""
        return burst(self.http, count)

    def webhook(self) -> tuple[str, str]:
        """A new webhook on the receiver for ticket.created: (id, secret)."""
        return add_webhook(self.api, self.rx.url)

    def verify(self) -> None:
        """After :meth:`close`: check every kept run against the stored events (all arrived, in
        order, byte for byte, verified) and compute latencies from their creation times."""
        db = sqlite3.connect(f"file:{self.emu.db}?mode=ro", uri=True)
        try:
            for name, got, first_id, count in self.to_check:
                first_seq = db.execute("SELECT seq FROM events WHERE id = ?", (first_id,)).fetchone()[0]
                rows = db.execute(
                    "SELECT id, payload, created FROM events WHERE team_id = ? AND mode = 'test' AND seq >= ? "
                    "ORDER BY seq LIMIT ?",
                    (self.emu.team_id, first_seq, count),
                ).fetchall()
                want = [(r[0], hashlib.sha256(r[1].encode("utf-8")).hexdigest(), r[2]) for r in rows]
                self._check(name, got, want, count)
                if "@" in name:
                    created = {w[0]: w[2] for w in want}
                    self.latencies.setdefault(name, []).extend(
                        (g[3] - created[g[0]]) * 1000 for g in got if g[0] in created
                    )
        finally:
            db.close()

    def _check(self, name: str, got: Got, want: list[tuple[str, str, float]], count: int) -> None:
        problems = self.extra.setdefault(name, Extra()).problems
        if len(got) != count:
            problems.append(f"{len(got)} of {count} arrived")
        if [g[0] for g in got] != [w[0] for w in want][: len(got)]:
            problems.append("out of order or unexpected events")
        elif [g[1] for g in got] != [w[1] for w in want][: len(got)]:
            problems.append("bodies differ from the stored payloads")
        if not all(g[2] for g in got):
            problems.append(f"{sum(not g[2] for g in got)} signatures did not verify")

    def _size(self, warm: bool) -> int:
        return int(min(self.args.events, self.args.warmup_events) if warm else self.args.events)

    @staticmethod
    def _timeout(count: int) -> float:
        return max(60.0, count / 100)

    @staticmethod
    def _rate(got: Got) -> float:
        if len(got) < 2 or got[-1][3] <= got[0][3]:
            return 0.0
        return (len(got) - 1) / (got[-1][3] - got[0][3])

    # --- throughput cases -------------------------------------------------------------------------

    def baseline(self, warm: bool) -> float:
        n = self._size(warm)
        self.rx.reset(BASELINE_SECRET)
        out = subprocess.run(
            [PY, str(BENCH / "post_loop.py"), "--url", self.rx.url, "--secret", BASELINE_SECRET]
            + ["--events", str(self.corpus), "--count", str(n)],
            capture_output=True,
            text=True,
            timeout=self._timeout(n),
        )
        self.rx.wait(n, 10.0)
        got = self.rx.report()
        if not warm:
            ex = self.extra.setdefault("baseline", Extra())
            if out.returncode == 0:
                ex.cpu_ms.append(json.loads(out.stdout)["cpu"] * 1000 / n)
            else:
                ex.problems.append(f"post_loop.py exited {out.returncode}: {out.stderr.strip()[-200:]}")
            self.to_check.append(("baseline", got, self.corpus_first, n))
        return self._rate(got)

    def _burst_case(self, name: str, warm: bool, sender_pid: int | None) -> float:
        n = self._size(warm)
        emu_pid = self.emu.process.pid
        cpu0, emu0 = cpu_seconds(sender_pid) if sender_pid else None, cpu_seconds(emu_pid)
        started = time.time()
        first = self.burst(n)
        complete = self.rx.wait(n, self._timeout(n))
        cpu1, emu1 = cpu_seconds(sender_pid) if sender_pid else None, cpu_seconds(emu_pid)
        got = self.rx.report()
        if not warm:
            ex = self.extra.setdefault(name, Extra())
            if cpu0 is not None and cpu1 is not None:
                ex.cpu_ms.append((cpu1 - cpu0) * 1000 / n)
            if emu0 is not None and emu1 is not None:
                ex.emu_cpu_ms.append((emu1 - emu0) * 1000 / n)
            if got:
                ex.end_to_end.append(len(got) / (got[-1][3] - started))
            if not complete:
                ex.problems.append("timed out")
            self.to_check.append((name, got, first, n))
        return self._rate(got)

    def listen(self, name: str, *flags: str) -> Any:
        def case(warm: bool) -> float:
            proc = Listen(self.rx.url, self.env, *flags)
            try:
                self.rx.reset(proc.secret)
                return self._burst_case(name, warm, proc.pid)
            finally:
                proc.stop()

        return case

    def webhook_case(self, warm: bool) -> float:
        hook_id, secret = self.webhook()
        try:
            self.rx.reset(secret)
            return self._burst_case("webhook", warm, None)
        finally:
            self.api.delete(f"/webhooks/{hook_id}").raise_for_status()

    # --- latency ----------------------------------------------------------------------------------

    def latency(self, path: str, rate: float, achieved: dict[str, list[float]]) -> None:
        name = f"{path} @{rate:g}/s"
        proc: Listen | None = None
        hook_id = ""
        if path == "listen":
            proc = Listen(self.rx.url, self.env)
            secret = proc.secret
        else:
            hook_id, secret = self.webhook()
        try:
            self.rx.reset(secret)
            self.burst(20)  # warm this path's connections
            self.rx.wait(20, 30.0)
            self.rx.reset(secret)
            count, first, got_rate = emit_paced(lambda: self.burst(1), rate, self.args.latency_seconds)
            if not self.rx.wait(count, self._timeout(count)):
                self.extra.setdefault(name, Extra()).problems.append("timed out")
            got = self.rx.report()
        finally:
            if proc is not None:
                proc.stop()
            else:
                self.api.delete(f"/webhooks/{hook_id}").raise_for_status()
        self.to_check.append((name, got, first, count))
        achieved.setdefault(name, []).append(got_rate)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_burst_arguments(parser)
    parser.add_argument("--no-json-format", action="store_true", help="skip the `listen --format json` case")
    parser.add_argument("--record-case", action="store_true", help="add a `listen --record FILE` case")
    args = parser.parse_args()
    if not 2 <= args.events <= 100_000 or args.runs < 1 or args.latency_runs < 0:
        parser.error("--events must be 2–100,000, --runs at least 1 and --latency-runs at least 0")
    rates = [float(x) for x in args.rates.split(",") if x.strip()]
    machine = Machine()
    with tempfile.TemporaryDirectory(prefix="cstar-bench-") as tmp:
        bench = Bench(Path(tmp), args)
        try:
            cases: list[tuple[str, Any]] = [
                ("baseline", bench.baseline),
                ("listen", bench.listen("listen")),
            ]
            if not args.no_json_format:
                cases.append(("listen --format json", bench.listen("listen --format json", "--format", "json")))
            if args.record_case:
                recording = str(Path(tmp) / "recording.jsonl")
                cases.append(("listen --record", bench.listen("listen --record", "--record", recording)))
            cases.append(("webhook", bench.webhook_case))
            print(f"throughput: {args.events:,}-event bursts, {args.runs} rounds + warm-up…", file=sys.stderr)
            rate = interleave(cases, args.runs)
            achieved: dict[str, list[float]] = {}
            for i in range(args.latency_runs):
                print(f"  latency round {i + 1}/{args.latency_runs}…", file=sys.stderr)
                for r in rates:
                    for path in ("direct", "listen"):
                        bench.latency(path, r, achieved)
        finally:
            bench.close()
        bench.verify()
    lat = bench.latencies

    labels = {
        "baseline": "asyncio POST loop (baseline)",
        "listen": "cstar listen",
        "listen --format json": "cstar listen --format json",
        "listen --record": "cstar listen --record FILE",
        "webhook": "emulator webhook delivery",
    }
    print(f"cstar listen throughput: {args.events:,}-event bursts, {args.runs} interleaved rounds after a warm-up")
    print("[p10–p90] across rounds; ratios are per-round pairs; CPU = user+sys ms per event")
    print(f"{'case':<30}{'events/s':>22}{'ratio':>26}{'sender CPU':>12}{'emulator CPU':>14}  verdict")
    failed = False
    for name, samples in rate.items():
        ex = bench.extra.get(name, Extra())
        s = spread(samples)
        if name == "baseline":
            ratio_text, target = "1 (baseline)", ""
        elif name == "webhook":
            q = spread(paired_ratios(samples, rate["listen"]))
            ratio_text, target = f"{q.fmt(digits=2)} × listen", verdict(q.median, WEBHOOK_TARGET, at_most=False)
        else:
            q = spread(paired_ratios(samples, rate["baseline"]))
            ratio_text, target = f"{q.fmt(digits=2)} × base", verdict(q.median, LISTEN_TARGET, at_most=False)
        cpu = f"{spread(ex.cpu_ms).median:.3f}" if ex.cpu_ms else "-"
        emu_cpu = f"{spread(ex.emu_cpu_ms).median:.3f}" if ex.emu_cpu_ms else "-"
        print(f"{labels[name]:<30}{s.fmt(digits=0):>22}{ratio_text:>26}{cpu:>12}{emu_cpu:>14}  {target}")
        if ex.end_to_end:
            print(f"{'':<4}burst request → last arrival: {spread(ex.end_to_end).fmt(digits=0)} events/s")
        if ex.problems:
            failed = True
            print(f"{'':<4}CHECK FAILED: {'; '.join(sorted(set(ex.problems)))}")
    checks = "all arrived, in order, byte-exact, signatures verified" if not failed else "see CHECK FAILED above"
    print(f"checks: {checks}")
    print()
    print(f"latency, ms from creation (emulator) to arrival (receiver); {args.latency_seconds:g} s per run, pooled")
    print(f"{'rate':>8}  {'path':<20}{'p50':>8}{'p99':>8}{'events':>8}{'emitted/s':>11}")
    for r in rates:
        rows = {}
        for path in ("direct", "listen"):
            name = f"{path} @{r:g}/s"
            values = lat.get(name, [])
            if not values:
                continue
            rows[path] = (quantile(values, 0.5), quantile(values, 0.99))
            label = "direct webhook" if path == "direct" else "cstar listen"
            print(
                f"{r:>6g}/s  {label:<20}{rows[path][0]:8.1f}{rows[path][1]:8.1f}{len(values):8d}"
                f"{spread(achieved[name]).median:11.0f}"
            )
            if bench.extra.get(name) and bench.extra[name].problems:
                failed = True
                print(f"{'':<10}CHECK FAILED: {'; '.join(sorted(set(bench.extra[name].problems)))}")
        if len(rows) == 2:
            d50, d99 = rows["listen"][0] - rows["direct"][0], rows["listen"][1] - rows["direct"][1]
            print(f"{'':>8}  {'added by listen':<20}{d50:+8.1f}{d99:+8.1f}")
    machine.print_report()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(run(main))
