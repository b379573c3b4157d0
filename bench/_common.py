"""What every bench script shares: interleaved rounds, medians with spread, paired ratios, the
machine's load, verdicts against targets, and out-of-process helpers (the emulator, the bench
receiver, ``cstar listen``).

A bench measures each case against a baseline *in the same run*: rounds go A, B, C, A, B, C, …
after one warm-up round that is not counted, so load that drifts during the run weighs on every
case alike. A case's ratio is the median over rounds of ``case / baseline`` from the same round; its
spread is the p10–p90 of those per-round ratios.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
BENCH = Path(__file__).resolve().parent
PY = sys.executable
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

__all__ = [
    "BENCH",
    "PY",
    "ROOT",
    "BenchReceiver",
    "Emulator",
    "Listen",
    "Machine",
    "Spread",
    "add_burst_arguments",
    "add_webhook",
    "burst",
    "cli_env",
    "cpu_seconds",
    "emit_paced",
    "emulator_env",
    "interleave",
    "paired_ratios",
    "quantile",
    "run",
    "spread",
    "verdict",
]


@dataclass(frozen=True)
class Spread:
    """The median of ``n`` samples with their 10th and 90th percentiles (same unit as the samples)."""

    median: float
    p10: float
    p90: float
    n: int

    def fmt(self, scale: float = 1.0, digits: int = 1) -> str:
        """``median [p10–p90]`` with each value multiplied by ``scale``."""
        m, lo, hi = (round(x * scale, digits) for x in (self.median, self.p10, self.p90))
        return f"{m:.{digits}f} [{lo:.{digits}f}–{hi:.{digits}f}]"


def spread(samples: Sequence[float]) -> Spread:
    """Median and p10/p90 (inclusive method, so they stay inside the samples) of at least one sample."""
    if not samples:
        raise ValueError("no samples")
    if len(samples) == 1:
        return Spread(samples[0], samples[0], samples[0], 1)
    deciles = statistics.quantiles(samples, n=10, method="inclusive")
    return Spread(statistics.median(samples), deciles[0], deciles[-1], len(samples))


def interleave(
    cases: Sequence[tuple[str, Callable[[bool], float]]], runs: int, *, warmup: int = 1, label: str = "round"
) -> dict[str, list[float]]:
    """Run ``cases`` round-robin (A, B, C, A, B, C, …): ``warmup`` rounds not kept, then ``runs``
    kept. Each case is called with ``warm`` (True during warm-up) and returns one sample. Returns
    the samples per case name, index i of every list from round i. Progress goes to stderr."""
    samples: dict[str, list[float]] = {name: [] for name, _ in cases}
    for i in range(warmup + runs):
        warm = i < warmup
        sys.stderr.write(f"  {label} {'warm-up' if warm else i - warmup + 1}/{runs}…\n")
        sys.stderr.flush()
        for name, case in cases:
            value = case(warm)
            if not warm:
                samples[name].append(value)
    return samples


def paired_ratios(samples: Sequence[float], base: Sequence[float]) -> list[float]:
    """``samples[i] / base[i]`` for every round i (both measured in the same round)."""
    return [a / b for a, b in zip(samples, base, strict=True)]


def quantile(values: Sequence[float], q: float) -> float:
    """The value at rank ``q`` (0–1) of at least one value (nearest rank, no interpolation)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def verdict(value: float, target: float, *, at_most: bool = True) -> str:
    """``ok`` or ``MISS`` for ``value`` against ``target`` (``at_most``: lower is better), with the target."""
    good = value <= target if at_most else value >= target
    return f"{'ok  ' if good else 'MISS'} (target {'≤' if at_most else '≥'} {target:g}×)"


class Machine:
    """The machine and its load: create before measuring, :meth:`report` after."""

    def __init__(self) -> None:
        self.cpus = os.cpu_count() or 1
        self.before = os.getloadavg()
        self.started = time.monotonic()

    def report(self) -> list[str]:
        """Lines describing the machine, the run's length and the load average before and after."""
        after = os.getloadavg()
        lines = [
            f"machine: {self.cpus} CPUs, {platform.machine()}, {platform.system()} {platform.release()}, "
            f"Python {platform.python_version()}; run took {time.monotonic() - self.started:.0f} s",
            "load average (1/5/15 min): before " + "/".join(f"{x:.2f}" for x in self.before)
            + ", after " + "/".join(f"{x:.2f}" for x in after),
        ]
        if max(self.before[0], after[0]) > self.cpus:
            lines.append(
                f"note: load above {self.cpus} (the CPU count): absolute figures are not meaningful; "
                "the ratios, measured interleaved in this run, still are."
            )
        return lines

    def print_report(self) -> None:
        """:meth:`report` on stdout after a blank line: the end of every bench's output."""
        print()
        for line in self.report():
            print(line)


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU seconds used so far by process ``pid`` (Linux ``/proc``; None elsewhere or
    once it has exited). Resolution: one clock tick, usually 10 ms."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name (field 2) may hold spaces; the fields after its closing parenthesis are fixed.
    fields = stat.rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cli_env(config_dir: Path, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment for a ``cstar`` child: this checkout on ``PYTHONPATH``, a private config
    directory, the file credential store (no keychain prompts), no colour, and no ``CSTAR_*`` from
    the caller's environment except those in ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CSTAR_")}
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    env["CSTAR_CONFIG_DIR"] = str(config_dir)
    env["CSTAR_CREDENTIAL_STORE"] = "file"
    env["NO_COLOR"] = "1"
    # A child must be able to write cstar's bytecode (in the warm-up round), as an installed copy has
    # it: with PYTHONDONTWRITEBYTECODE inherited, every sample would compile cstar's modules anew.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env.update(extra or {})
    return env


def emulator_env(config_dir: Path, emu: Emulator) -> dict[str, str]:
    """:func:`cli_env` with ``emu``'s ``sk_test`` key and base URL (``CSTAR_API_KEY``, ``CSTAR_BASE_URL``)."""
    return cli_env(config_dir, {"CSTAR_API_KEY": emu.keys["sk_test"], "CSTAR_BASE_URL": emu.base_url})


def add_burst_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of the benches that forward bursts and paced events (``--events``, ``--runs``,
    ``--warmup-events``, ``--rates``, ``--latency-seconds``, ``--latency-runs``)."""
    parser.add_argument("--events", type=int, default=20_000, help="events per burst (default 20,000)")
    parser.add_argument("--runs", type=int, default=3, help="interleaved rounds kept (default 3)")
    parser.add_argument("--warmup-events", type=int, default=2_000, help="events per case in the warm-up round")
    parser.add_argument("--rates", default="100,500", help="latency runs, events/s, comma-separated")
    parser.add_argument("--latency-seconds", type=float, default=4.0, help="length of each latency run (default 4)")
    parser.add_argument("--latency-runs", type=int, default=1, help="interleaved latency rounds (default 1)")


def burst(http: httpx.Client, count: int) -> str:
    """Have the emulator behind ``http`` (its base URL) emit ``count`` ticket.created events at once;
    returns the first one's id."""
    r = http.post("/_emulator/burst", json={"count": count, "event": "ticket.created"})
    r.raise_for_status()
    return str(r.json()["data"]["firstEventId"])


def add_webhook(api: httpx.Client, url: str) -> tuple[str, str]:
    """A new webhook on ``url`` for ticket.created, through ``api`` (:meth:`Emulator.client`): (id, secret)."""
    r = api.post("/webhooks", json={"name": "bench", "url": url, "events": ["ticket.created"]})
    r.raise_for_status()
    return r.json()["data"]["id"], r.json()["data"]["secret"]


def emit_paced(emit: Callable[[], str], rate: float, seconds: float) -> tuple[int, str, float]:
    """Call ``emit`` (one event; returns its id) at ``rate``/s for ``seconds`` (at least twice);
    returns (count, first event id, achieved rate per s)."""
    count = max(2, int(rate * seconds))
    first = ""
    start = time.perf_counter()
    for i in range(count):
        pause = start + i / rate - time.perf_counter()
        if pause > 0:
            time.sleep(pause)  # pacing the emitter, not waiting for a result
        event_id = emit()
        first = first or event_id
    return count, first, count / (time.perf_counter() - start)


def _stop(proc: subprocess.Popen[Any], timeout: float = 10.0) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


class BenchReceiver:
    """``bench/fast_receiver.py`` in a subprocess: it verifies every delivery's signature and
    records (event id, SHA-256 of the body, verified, arrival time) in arrival order.

    :meth:`reset` clears the record and sets the secret; :meth:`wait` blocks (in the receiver, one
    request) until ``count`` deliveries arrived or ``timeout`` s passed; :meth:`report` fetches the
    record. Raises RuntimeError when the receiver does not start within 20 s. ``argv`` starts another
    server that speaks the same (its first stdout line ``{"url": …}``).
    """

    def __init__(self, argv: Sequence[str] = (PY, str(BENCH / "fast_receiver.py"), "--port", "0")) -> None:
        self.proc = subprocess.Popen(
            list(argv),
            stdout=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            text=True,
        )
        line = _readline(self.proc.stdout, 20.0)
        if not line:
            _stop(self.proc)
            raise RuntimeError("bench receiver did not start")
        self.url: str = json.loads(line)["url"]
        self.pid = self.proc.pid
        self._http = httpx.Client(base_url=self.url, timeout=httpx.Timeout(30.0, read=None), trust_env=False)

    def reset(self, secret: str) -> None:
        """Forget every delivery and verify from now on with ``secret``."""
        self._http.post("/_bench/reset", json={"secret": secret}).raise_for_status()

    def wait(self, count: int, timeout: float) -> bool:
        """True once ``count`` deliveries arrived, False after ``timeout`` s."""
        r = self._http.get("/_bench/wait", params={"count": count, "timeout": timeout})
        r.raise_for_status()
        return bool(r.json()["complete"])

    def report(self) -> list[tuple[str, str, bool, float]]:
        """Every delivery since the last reset: (event id, body SHA-256 hex, verified, unix arrival s)."""
        r = self._http.get("/_bench/report")
        r.raise_for_status()
        return [(str(x[0]), str(x[1]), bool(x[2]), float(x[3])) for x in r.json()["deliveries"]]

    def close(self) -> None:
        self._http.close()
        _stop(self.proc)


def _readline(stream: IO[str] | None, timeout: float) -> str:
    """One line from a child's pipe, or "" after ``timeout`` s (a reader thread, so no hang)."""
    assert stream is not None
    box: list[str] = []
    reader = threading.Thread(target=lambda: box.append(stream.readline()), daemon=True)
    reader.start()
    reader.join(timeout)
    return box[0] if box else ""


class Listen:
    """``cstar listen --forward-to URL [ARGS]`` in a subprocess, stdout to a temporary file (as when
    piped to a log), started and ready (its ``Ready!`` line seen on stderr) before anything is
    measured. Raises RuntimeError when it is not ready within 30 s."""

    READY = "Ready! Your webhook signing secret is "

    def __init__(self, url: str, env: dict[str, str], *args: str) -> None:
        self._out = tempfile.TemporaryFile()  # noqa: SIM115 - the child writes it until stop()
        self.proc = subprocess.Popen(
            # --no-resume: each measured run starts with live events, not the previous round's leftovers.
            [PY, "-m", "cstar_cli", "listen", "--forward-to", url, "--no-resume", *args],
            stdout=self._out,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            text=True,
            env=env,
            cwd=ROOT,
        )
        self.pid = self.proc.pid
        self.secret = ""
        self.stderr: list[str] = []
        ready = threading.Event()
        # Drained all along: a child blocked on a full stderr pipe would stall its forwarding.
        self._drain = threading.Thread(target=self._read_stderr, args=(ready,), daemon=True)
        self._drain.start()
        if not ready.wait(30.0) or not self.secret:
            self.stop()
            raise RuntimeError("cstar listen was not ready:\n" + "".join(self.stderr[-20:]))

    def _read_stderr(self, ready: threading.Event) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.stderr.append(line)
            if line.startswith(self.READY) and not ready.is_set():
                self.secret = line[len(self.READY) :].split()[0]
                ready.set()
        ready.set()

    def stop(self) -> None:
        _stop(self.proc)
        self._drain.join(5)
        self._out.close()


def run(main: Callable[[], int]) -> int:
    """``main()``'s exit code; a process that would not start or answer, or a timeout, becomes one
    ``Error:`` line on stderr and exit 2 instead of a traceback."""
    try:
        return main()
    except (RuntimeError, OSError, ImportError, httpx.HTTPError, subprocess.TimeoutExpired) as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        sys.stderr.write(f"Error: {first}\nHint: the bench runs this checkout's cstar; check that its tests pass.\n")
        return 2


class Emulator:
    """``python -m cstar_cli emulator start --json --port 0 --db DB --rate-limit 0 [ARGS]`` in a
    subprocess, ready (its one ready line read). ``base_url``, ``team_id``, ``keys`` (``sk_test`` →
    key, …), ``db``, ``process``. Raises RuntimeError when it is not ready within 30 s."""

    def __init__(self, db: Path, extra_args: Sequence[str] = ()) -> None:
        self.db = Path(db)
        self.port = 0
        self._args = tuple(extra_args)
        self._launch()

    def _launch(self) -> None:
        self._stderr = tempfile.TemporaryFile()  # noqa: SIM115 - read back if it fails to start
        env = dict(os.environ)
        env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
        self.process = subprocess.Popen(
            [PY, "-m", "cstar_cli", "emulator", "start", "--json", "--port", str(self.port)]
            + ["--db", str(self.db), "--rate-limit", "0", *self._args],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            text=True,
            env=env,
            cwd=ROOT,
        )
        line = _readline(self.process.stdout, 30.0)
        try:
            ready = json.loads(line)
            self.base_url: str = ready["baseUrl"]
        except (ValueError, KeyError, TypeError):
            _stop(self.process)
            self._stderr.seek(0)
            tail = self._stderr.read().decode(errors="replace").strip().splitlines()[-1:]
            raise RuntimeError(f"the emulator did not start: {tail[0] if tail else 'no ready line'}") from None
        self.team_id: str = ready["teamId"]
        self.keys: dict[str, str] = ready["keys"]
        self.port = int(self.base_url.rsplit(":", 1)[1])

    def client(self, timeout: float = 30.0) -> httpx.Client:
        """An ``httpx.Client`` on ``/api/v1/teams/{teamId}`` with the ``sk_test`` key."""
        return httpx.Client(
            base_url=f"{self.base_url}/api/v1/teams/{self.team_id}",
            headers={"Authorization": f"Bearer {self.keys['sk_test']}"},
            timeout=timeout,
            trust_env=False,
        )

    def stop(self) -> None:
        """SIGTERM (a clean shutdown, which releases the database file) and wait."""
        _stop(self.process)
        if self.process.stdout is not None:
            self.process.stdout.close()
        self._stderr.close()

    def restart(self) -> None:
        """Start again on the same database and port."""
        self.stop()
        self._launch()


def emulator(db: Path, extra_args: Sequence[str] = ()) -> Emulator:
    """A started :class:`Emulator` on ``db``; call ``.stop()`` on it."""
    return Emulator(db, extra_args)
