"""``cstar listen`` side by side with smee-client (the probot/smee.io relay), same source, same
receiver, interleaved rounds. A script, not a test.

    .venv/bin/python bench/listen_vs_smee.py [--events 20000] [--runs 3] [--warmup-events 2000]
                                             [--rates 100,500] [--latency-seconds 4] [--latency-runs 1]
                                             [--cache ~/.cache/cstar-bench/smee] [--smee-src DIR]

Setup (before anything is measured; the only time it uses the network): into ``--cache`` it installs
smee-client (pinned, from npm, with the machine's Node ≥ 20.18) and the smee.io server from a
checkout of github.com/probot/smee.io (``--smee-src``, a work tree or a bare git directory; its
production dependencies come from npm). Two changes to that server copy, both outside what is
measured: it listens on 127.0.0.1 instead of 0.0.0.0, and its two web-UI bundles (built by webpack,
only served to browsers) are empty files. While measuring, every connection is to 127.0.0.1 and the
Node processes run with the proxy variables removed.

The paths, each forwarding to one receiver process (``bench/fast_receiver.py``, plus a count of the
TCP connections it accepts and a copy of each body):

- ``cstar listen``: the emulator emits a burst (``POST /_emulator/burst``), listen forwards it;
- ``smee-client live``: the emulator delivers the same kind of burst to a webhook whose URL is the
  local smee server's channel; the server relays each over Server-Sent Events to smee-client, which
  POSTs it to the receiver. Its rate is bounded by the emulator's webhook delivery (the source);
- ``smee-client pre-filled``: the same, but smee-client is paused (SIGSTOP) while the emulator fills
  the channel, then resumed: its rate and CPU are smee-client's own, not the source's. The fill's
  rate (emulator webhook → smee server, nothing downstream running) is the source rate.

Rate = (events − 1) / (last arrival − first arrival) at the receiver. CPU per event: user+sys of the
forwarding process (``/proc``) during the run / events. Latency at each of ``--rates``: events
emitted one at a time, arrival − the event's creation time stored by the emulator, through the direct
webhook (the source alone), listen and smee-client live, interleaved.

Checks, against the emulator's stored events after it stopped: every event arrived (else
``CHECK FAILED``, exit 1), in order, byte for byte, signature verified. For cstar listen all four are
its contract and any miss is a CHECK FAILED; smee-client re-serialises each JSON body and forwards
concurrently, so for it order, bytes and signatures are reported (with parsed-JSON equality), not
failed.
"""

from __future__ import annotations

import argparse
import bisect
import hashlib
import json
import os
import secrets
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (  # noqa: E402
    PY,
    BenchReceiver,
    Listen,
    Machine,
    _stop,
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

SMEE_CLIENT_VERSION = "5.0.0"
SMEE_SERVER_COMMIT = "922d925bc241c2e40a1ec86da631b3dbbdd329cb"  # probot/smee.io, checked with this script
RATE_TARGET = 1.2  # cstar listen ≥ 1.2× smee-client's rate (pre-filled) on the same burst
CPU_TARGET = 0.3  # cstar listen's CPU per event ≤ 0.3× smee-client's
SERVER_FILES = ("index.js", "lib", "package.json", "package-lock.json", "public")

Got = list[tuple[str, str, bool, float]]  # the receiver's record: id, body SHA-256, verified, arrival


# --- the receiver: fast_receiver.py plus connection counts and bodies ---------------------------------


def serve_receiver() -> int:
    """``bench/fast_receiver.py``'s server with two additions for this bench: it counts the TCP
    connections it accepts (``GET /_bench/connections`` → ``{"opened", "peak"}`` since ``POST
    /_bench/connections/reset``) and keeps each delivery's body (``GET /_bench/bodies`` → list of
    str, cleared by ``/_bench/reset``)."""
    import asyncio

    import fast_receiver

    # Only connections accepted since the last count reset are counted (a previous sender's
    # connections may still be closing), in "generation" ``counts["gen"]``.
    counts = {"gen": 0, "opened": 0, "open": 0, "peak": 0}
    bodies: list[str] = []

    class Counting(fast_receiver.Connection):
        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            super().connection_made(transport)
            self.gen = counts["gen"]
            counts["opened"] += 1
            counts["open"] += 1
            counts["peak"] = max(counts["peak"], counts["open"])

        def connection_lost(self, exc: Exception | None) -> None:
            if self.gen == counts["gen"]:
                counts["open"] -= 1
            super().connection_lost(exc)

        def _handle(self, method: str, target: str, headers: dict[str, str], body: bytes, arrived: float) -> None:
            if target == "/_bench/connections/reset":
                counts.update(gen=counts["gen"] + 1, opened=0, open=0, peak=0)
                self._json({"ok": True})
            elif target == "/_bench/connections":
                self._json({"opened": counts["opened"], "peak": counts["peak"]})
            elif target == "/_bench/bodies":
                self._json(bodies)
            else:
                if target == "/_bench/reset":
                    bodies.clear()
                elif not target.startswith("/_bench/") and method == "POST":
                    bodies.append(body.decode("utf-8", "replace"))
                super()._handle(method, target, headers, body, arrived)

    fast_receiver.Connection = Counting  # type: ignore[misc]
    sys.argv = [sys.argv[0], "--port", "0"]
    return fast_receiver.main()


class Receiver(BenchReceiver):
    """:class:`BenchReceiver` on :func:`serve_receiver` (this script in ``--serve-receiver`` mode)."""

    def __init__(self) -> None:  # noqa: D107 - same contract as BenchReceiver
        super().__init__([PY, str(Path(__file__).resolve()), "--serve-receiver"])

    def reset_connections(self) -> None:
        self._http.post("/_bench/connections/reset").raise_for_status()

    def connections(self) -> tuple[int, int]:
        """(TCP connections accepted, most open at once) since :meth:`reset_connections`."""
        data = self._http.get("/_bench/connections").json()
        return int(data["opened"]), int(data["peak"])

    def bodies(self) -> list[str]:
        return [str(b) for b in self._http.get("/_bench/bodies").json()]


# --- setup ----------------------------------------------------------------------------------------


def _npm(args: list[str], cwd: Path) -> None:
    out = subprocess.run(["npm", *args, "--no-audit", "--no-fund"], cwd=cwd, capture_output=True, text=True)
    if out.returncode != 0:
        tail = (out.stderr.strip().splitlines() or ["no output"])[-1]
        raise RuntimeError(f"npm {' '.join(args)} failed in {cwd}: {tail}")


def _node_major() -> tuple[int, int]:
    if shutil.which("node") is None or shutil.which("npm") is None:
        raise RuntimeError("node and npm are needed for smee-client (Node ≥ 20.18)")
    version = subprocess.run(["node", "--version"], capture_output=True, text=True).stdout.strip().lstrip("v")
    major, minor = (int(x) for x in version.split(".")[:2])
    if (major, minor) < (20, 18):
        raise RuntimeError(f"smee-client {SMEE_CLIENT_VERSION} needs Node ≥ 20.18, found {version}")
    return major, minor


def setup(cache: Path, smee_src: Path | None) -> tuple[Path, Path]:
    """Install (once) smee-client and the smee.io server under ``cache``; returns (the client's
    ``bin/smee.js``, the server's directory). Raises RuntimeError when Node, npm or the server's
    source is missing or an install fails."""
    _node_major()
    client_dir, server_dir = cache / "client", cache / "server"
    smee_js = client_dir / "node_modules" / "smee-client" / "bin" / "smee.js"
    pkg = client_dir / "node_modules" / "smee-client" / "package.json"
    if not pkg.exists() or json.loads(pkg.read_text())["version"] != SMEE_CLIENT_VERSION:
        client_dir.mkdir(parents=True, exist_ok=True)
        (client_dir / "package.json").write_text('{"private": true}\n')
        sys.stderr.write(f"setup: npm install smee-client@{SMEE_CLIENT_VERSION} into {client_dir}\n")
        _npm(["install", f"smee-client@{SMEE_CLIENT_VERSION}"], client_dir)
    server_js = server_dir / "lib" / "server.js"
    bound_locally = server_js.exists() and "host: '127.0.0.1'" in server_js.read_text()
    if not bound_locally or not (server_dir / "node_modules" / "fastify").exists():
        src = smee_src
        if src is None:
            raise RuntimeError(
                "the smee.io server's source is needed once: pass --smee-src DIR, a checkout of "
                f"https://github.com/probot/smee.io (tested at {SMEE_SERVER_COMMIT[:12]})"
            )
        if server_dir.exists():
            shutil.rmtree(server_dir)
        server_dir.mkdir(parents=True)
        sys.stderr.write(f"setup: smee.io server from {src} into {server_dir} (npm ci --omit=dev)\n")
        if (src / "index.js").exists():  # a work tree
            for name in SERVER_FILES:
                (shutil.copytree if (src / name).is_dir() else shutil.copy2)(src / name, server_dir / name)
        else:  # a bare git directory
            ref = SMEE_SERVER_COMMIT if _has_commit(src) else "HEAD"
            archive = subprocess.run(["git", "--git-dir", str(src), "archive", ref, *SERVER_FILES], capture_output=True)
            if archive.returncode != 0:
                raise RuntimeError(f"git archive failed in {src}: {archive.stderr.decode().strip()[-200:]}")
            subprocess.run(["tar", "x", "-C", str(server_dir)], input=archive.stdout, check=True)
        text = server_js.read_text()
        if "host: '0.0.0.0'" not in text:
            raise RuntimeError(f"{server_js}: expected `host: '0.0.0.0'` to bind it to 127.0.0.1 instead")
        server_js.write_text(text.replace("host: '0.0.0.0'", "host: '127.0.0.1'"))
        for asset in ("main.min.js", "main.min.css"):  # the browser UI's webpack output, never requested here
            (server_dir / "public" / asset).touch()
        _npm(["ci", "--omit=dev"], server_dir)
    return smee_js, server_dir


def _has_commit(git_dir: Path) -> bool:
    probe = ["git", "--git-dir", str(git_dir), "cat-file", "-e", SMEE_SERVER_COMMIT + "^{commit}"]
    return subprocess.run(probe, capture_output=True).returncode == 0


def node_env() -> dict[str, str]:
    """The environment for the Node processes: no proxy (smee-client honours HTTP(S)_PROXY), no
    .env-driven Redis or Sentry, production mode off (the server then needs no gzipped assets)."""
    drop = {"http_proxy", "https_proxy", "all_proxy", "redis_url", "sentry_dsn", "node_env", "force_https"}
    env = {k: v for k, v in os.environ.items() if k.lower() not in drop}
    env["NO_PROXY"] = env["no_proxy"] = "127.0.0.1,localhost"
    return env


# --- the Node processes ---------------------------------------------------------------------------


class SmeeServer:
    """The smee.io server (``node index.js``) on a free port, its per-request log lines counted:
    :attr:`completed` is the number of requests it has answered. Raises RuntimeError when it is not
    listening within 30 s."""

    def __init__(self, server_dir: Path) -> None:
        import socket

        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        env = node_env()
        env["PORT"] = str(self.port)
        self.proc = subprocess.Popen(
            ["node", "index.js"],
            cwd=server_dir,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.pid = self.proc.pid
        self.url = f"http://127.0.0.1:{self.port}"
        self.completed = 0
        self._cond = threading.Condition()
        self._lines: list[str] = []
        self._ready = threading.Event()
        # Drained all along: the server's logger writes synchronously and would block on a full pipe.
        self._drain = threading.Thread(target=self._read, args=(self.proc.stdout,), daemon=True)
        self._drain.start()
        if not self._ready.wait(30.0):
            self.stop()
            raise RuntimeError("the smee server did not start:\n" + "".join(self._lines[-5:]))

    def _read(self, stream: IO[str] | None) -> None:
        assert stream is not None
        for line in stream:
            if '"request completed"' in line:
                with self._cond:
                    self.completed += 1
                    self._cond.notify_all()
            elif not self._ready.is_set():
                self._lines.append(line)
                if "Server listening at" in line:
                    self._ready.set()
        self._ready.set()

    def wait_completed(self, count: int, timeout: float) -> bool:
        """True once :attr:`completed` reached ``count``, False after ``timeout`` s."""
        with self._cond:
            return self._cond.wait_for(lambda: self.completed >= count, timeout)

    def stop(self) -> None:
        _stop(self.proc)
        self._drain.join(5)


class SmeeClient:
    """smee-client's own CLI (``node bin/smee.js -u CHANNEL -t TARGET``), stdout (its per-event
    ``POST … - 200`` lines) to a temporary file, ready once it logged ``Forwarding``. Raises
    RuntimeError when it is not ready within 30 s."""

    def __init__(self, smee_js: Path, channel: str, target: str) -> None:
        self._out = tempfile.NamedTemporaryFile(prefix="smee-client-", suffix=".log")  # noqa: SIM115
        self.proc = subprocess.Popen(
            ["node", str(smee_js), "-u", channel, "-t", target],
            stdout=self._out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=node_env(),
        )
        self.pid = self.proc.pid
        deadline = time.monotonic() + 30.0
        while b"Forwarding " not in Path(self._out.name).read_bytes():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                tail = Path(self._out.name).read_bytes().decode(errors="replace")[-300:]
                self.stop()
                raise RuntimeError(f"smee-client was not ready: {tail.strip()}")
            time.sleep(0.05)  # polling its log for the ready line, with a deadline

    def pause(self) -> None:
        os.kill(self.pid, signal.SIGSTOP)

    def resume(self) -> None:
        os.kill(self.pid, signal.SIGCONT)

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.kill(self.pid, signal.SIGCONT)  # a stopped process would not act on SIGTERM
        _stop(self.proc)
        self._out.close()


# --- the bench ------------------------------------------------------------------------------------


@dataclass
class Extra:
    """What a case saw besides its rate, one entry per kept round."""

    cpu_ms: list[float] = field(default_factory=list)  # forwarding process, CPU ms per event
    server_cpu_ms: list[float] = field(default_factory=list)  # smee server, CPU ms per event
    emu_cpu_ms: list[float] = field(default_factory=list)  # emulator, CPU ms per event
    opened: list[int] = field(default_factory=list)  # TCP connections the receiver accepted
    peak: list[int] = field(default_factory=list)  # most receiver connections open at once
    source_rate: list[float] = field(default_factory=list)  # pre-filled: the fill's events/s
    end_to_end: list[float] = field(default_factory=list)  # events / (burst request → last arrival)
    problems: list[str] = field(default_factory=list)  # lost events and timeouts: CHECK FAILED
    findings: list[str] = field(default_factory=list)  # order / bytes / signatures, reported


@dataclass
class Run:
    name: str
    got: Got
    bodies: list[str]
    first_id: str
    count: int


class Bench:
    """The processes of one run (emulator, receiver, smee server; listen and smee-client per case)."""

    def __init__(self, workdir: Path, args: argparse.Namespace, smee_js: Path, server_dir: Path) -> None:
        self.args = args
        self.smee_js = smee_js
        self.emu = emulator(workdir / "emulator.db")
        self.http = httpx.Client(base_url=self.emu.base_url, timeout=120.0, trust_env=False)
        self.api = self.emu.client(timeout=30.0)
        self.rx = Receiver()
        self.smee = SmeeServer(server_dir)
        self.env = emulator_env(workdir / "config", self.emu)
        self.extra: dict[str, Extra] = {}
        self.runs: list[Run] = []
        self.latencies: dict[str, list[float]] = {}
        self.achieved: dict[str, list[float]] = {}

    def close(self) -> None:
        self.api.close()
        self.http.close()
        self.rx.close()
        self.smee.stop()
        self.emu.stop()

    def burst(self, count: int) -> str:
        """Emit ``count`` ticket.created events at once; returns the first one's id."""
        return burst(self.http, count)

    def webhook(self, url: str) -> tuple[str, str]:
        """A new webhook on ``url`` for ticket.created: (id, secret)."""
        return add_webhook(self.api, url)

    def channel(self) -> str:
        return f"{self.smee.url}/bench{secrets.token_hex(6)}"

    def _size(self, warm: bool) -> int:
        return int(min(self.args.events, self.args.warmup_events) if warm else self.args.events)

    @staticmethod
    def _timeout(count: int) -> float:
        return max(60.0, count / 50)

    @staticmethod
    def _rate(got: Got) -> float:
        if len(got) < 2 or got[-1][3] <= got[0][3]:
            return 0.0
        return (len(got) - 1) / (got[-1][3] - got[0][3])

    def _measure(
        self, name: str, warm: bool, sender: int, emit: Any, *, fill: Any = None, resume: Any = None
    ) -> float:
        """One burst through an already started sender (pid ``sender``): ``emit(n)`` starts it and
        returns the first event id. Pre-filled case: ``fill(n)`` waits until the source delivered
        the burst and returns its rate, then ``resume()`` starts the measured forwarding."""
        n = self._size(warm)
        pids = {"sender": sender, "server": self.smee.pid, "emu": self.emu.process.pid}
        started = time.time()
        source_rate = None
        if fill is None:
            cpu0 = {k: cpu_seconds(p) for k, p in pids.items()}
            first = emit(n)
        else:
            first = emit(n)
            source_rate = fill(n)
            cpu0 = {k: cpu_seconds(p) for k, p in pids.items()}
            started = time.time()
            resume()
        complete = self.rx.wait(n, self._timeout(n))
        cpu1 = {k: cpu_seconds(p) for k, p in pids.items()}
        got = self.rx.report()
        opened, peak = self.rx.connections()
        if not warm:
            ex = self.extra.setdefault(name, Extra())
            per = {k: (cpu1[k] - cpu0[k]) * 1000 / n for k in pids if cpu0[k] is not None and cpu1[k] is not None}
            if "sender" in per:
                ex.cpu_ms.append(per["sender"])
            if name.startswith("smee") and "server" in per:
                ex.server_cpu_ms.append(per["server"])
            if fill is None and "emu" in per:
                ex.emu_cpu_ms.append(per["emu"])
            ex.opened.append(opened)
            ex.peak.append(peak)
            if source_rate is not None:
                ex.source_rate.append(source_rate)
            if got:
                ex.end_to_end.append(len(got) / max(1e-9, got[-1][3] - started))
            if not complete:
                ex.problems.append(f"timed out after {self._timeout(n):.0f} s")
            self.runs.append(Run(name, got, self.rx.bodies(), first, n))
        return self._rate(got)

    def listen_case(self, warm: bool) -> float:
        self.rx.reset_connections()
        proc = Listen(self.rx.url, self.env)
        try:
            self.rx.reset(proc.secret)
            return self._measure("cstar listen", warm, proc.pid, self.burst)
        finally:
            proc.stop()

    def smee_case(self, prefilled: bool) -> Any:
        name = "smee-client pre-filled" if prefilled else "smee-client live"

        def case(warm: bool) -> float:
            channel = self.channel()
            self.rx.reset_connections()
            client = SmeeClient(self.smee_js, channel, self.rx.url)
            hook_id, secret = self.webhook(channel)
            base = self.smee.completed

            def fill(n: int) -> float:
                t0 = time.time()
                if not self.smee.wait_completed(base + n, self._timeout(n)):
                    raise RuntimeError(f"the emulator did not deliver {n} events to the smee server in time")
                return n / (time.time() - t0)

            def emit(n: int) -> str:
                if prefilled:
                    client.pause()
                return self.burst(n)

            try:
                self.rx.reset(secret)
                return self._measure(name, warm, client.pid, emit, fill=fill if prefilled else None, resume=client.resume)
            finally:
                client.stop()
                self.api.delete(f"/webhooks/{hook_id}").raise_for_status()

        return case

    # --- latency ----------------------------------------------------------------------------------

    def latency(self, path: str, rate: float) -> None:
        name = f"{path} @{rate:g}/s"
        listen: Listen | None = None
        client: SmeeClient | None = None
        hook_id = ""
        if path == "cstar listen":
            listen = Listen(self.rx.url, self.env)
            secret = listen.secret
        elif path == "smee-client":
            channel = self.channel()
            client = SmeeClient(self.smee_js, channel, self.rx.url)
            hook_id, secret = self.webhook(channel)
        else:
            hook_id, secret = self.webhook(self.rx.url)
        try:
            self.rx.reset(secret)
            self.burst(20)  # warm this path's connections
            self.rx.wait(20, 60.0)
            self.rx.reset(secret)
            count, first, got_rate = emit_paced(lambda: self.burst(1), rate, self.args.latency_seconds)
            if not self.rx.wait(count, self._timeout(count)):
                self.extra.setdefault(name, Extra()).problems.append("timed out")
            got = self.rx.report()
            self.runs.append(Run(name, got, self.rx.bodies(), first, count))
        finally:
            if listen is not None:
                listen.stop()
            if client is not None:
                client.stop()
            if hook_id:
                self.api.delete(f"/webhooks/{hook_id}").raise_for_status()
        self.achieved.setdefault(name, []).append(got_rate)

    # --- checks -----------------------------------------------------------------------------------

    def verify(self) -> None:
        """After :meth:`close`: check every kept run against the stored events and compute latencies."""
        db = sqlite3.connect(f"file:{self.emu.db}?mode=ro", uri=True)
        try:
            for r in self.runs:
                first_seq = db.execute("SELECT seq FROM events WHERE id = ?", (r.first_id,)).fetchone()[0]
                rows = db.execute(
                    "SELECT id, payload, created FROM events WHERE team_id = ? AND mode = 'test' AND seq >= ? "
                    "ORDER BY seq LIMIT ?",
                    (self.emu.team_id, first_seq, r.count),
                ).fetchall()
                self._check(r, {row[0]: (i, row[1]) for i, row in enumerate(rows)})
                if "@" in r.name:
                    created = {row[0]: row[2] for row in rows}
                    self.latencies.setdefault(r.name, []).extend(
                        (g[3] - created[g[0]]) * 1000 for g in r.got if g[0] in created
                    )
        finally:
            db.close()

    def _check(self, r: Run, want: dict[str, tuple[int, str]]) -> None:
        ex = self.extra.setdefault(r.name, Extra())
        ids = [g[0] for g in r.got]
        known = [i for i in ids if i in want]
        lost = len(want.keys() - set(ids))
        if lost or len(known) != len(ids):
            ex.problems.append(f"{lost} of {r.count} lost, {len(ids) - len(known)} unexpected")
        if len(set(ids)) != len(ids):
            ex.findings.append(f"{len(ids) - len(set(ids))} duplicates")
        displaced = len(known) - _longest_increasing([want[i][0] for i in known])
        exact = parsed = 0
        sample = ""
        for g, body in zip(r.got, r.bodies, strict=False):
            stored = want.get(g[0], (0, None))[1]
            if stored is None:
                continue
            if g[1] == hashlib.sha256(stored.encode("utf-8")).hexdigest():
                exact += 1
            elif json.loads(body) == json.loads(stored):
                parsed += 1
                sample = sample or _first_difference(stored, body)
        unverified = sum(not g[2] for g in r.got)
        strict = r.name.startswith("cstar") or r.name.startswith("direct")
        notes = []
        if displaced:
            notes.append(f"{displaced} of {len(known)} out of order (moved to restore it)")
        if exact != len(known):
            other = len(known) - exact - parsed
            notes.append(f"{exact} byte-exact, {parsed} equal as parsed JSON only, {other} differ")
            if sample:
                notes.append(f"first change: {sample}")
        if unverified:
            notes.append(f"{unverified} signatures did not verify")
        if notes:
            k = sum(1 for other in self.runs[: self.runs.index(r) + 1] if other.name == r.name)
            (ex.problems if strict else ex.findings).append(f"round {k}: " + ", ".join(notes))


def _longest_increasing(seq: list[int]) -> int:
    tails: list[int] = []
    for x in seq:
        k = bisect.bisect_left(tails, x)
        tails[k : k + 1] = [x]
    return len(tails)


def _first_difference(a: str, b: str) -> str:
    i = next((k for k, (x, y) in enumerate(zip(a, b, strict=False)) if x != y), min(len(a), len(b)))
    return f"stored …{a[max(0, i - 12):i + 18]!r}… forwarded …{b[max(0, i - 12):i + 18]!r}…"


def _med(values: list[float] | list[int], digits: int = 3) -> str:
    return f"{spread([float(v) for v in values]).median:.{digits}f}" if values else "-"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_burst_arguments(parser)
    parser.add_argument("--cache", type=Path, default=Path.home() / ".cache" / "cstar-bench" / "smee")
    parser.add_argument("--smee-src", type=Path, help="a checkout of github.com/probot/smee.io (first run only)")
    parser.add_argument("--serve-receiver", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_receiver:
        return serve_receiver()
    if not 2 <= args.events <= 100_000 or args.runs < 1 or args.latency_runs < 0:
        parser.error("--events must be 2–100,000, --runs at least 1 and --latency-runs at least 0")
    rates = [float(x) for x in args.rates.split(",") if x.strip()]
    smee_js, server_dir = setup(args.cache.expanduser(), args.smee_src)
    machine = Machine()
    with tempfile.TemporaryDirectory(prefix="cstar-bench-") as tmp:
        bench = Bench(Path(tmp), args, smee_js, server_dir)
        try:
            cases = [
                ("cstar listen", bench.listen_case),
                ("smee-client pre-filled", bench.smee_case(prefilled=True)),
                ("smee-client live", bench.smee_case(prefilled=False)),
            ]
            print(f"throughput: {args.events:,}-event bursts, {args.runs} rounds + warm-up…", file=sys.stderr)
            rate = interleave(cases, args.runs)
            for i in range(args.latency_runs):
                print(f"  latency round {i + 1}/{args.latency_runs}…", file=sys.stderr)
                for r in rates:
                    for path in ("direct webhook", "cstar listen", "smee-client"):
                        bench.latency(path, r)
        finally:
            bench.close()
        bench.verify()
    return report(args, bench, rate, rates, machine)


def report(args: argparse.Namespace, bench: Bench, rate: dict[str, list[float]], rates: list[float], machine: Machine) -> int:
    ex = bench.extra
    failed = any(e.problems for e in ex.values())
    print(f"cstar listen vs smee-client {SMEE_CLIENT_VERSION}: {args.events:,}-event bursts, {args.runs} interleaved rounds")
    print("median [p10–p90] across rounds; ratios are per-round pairs; CPU = user+sys ms per event")
    print(f"{'case':<24}{'events/s':>22}{'fwd CPU':>9}{'smee srv':>10}{'emulator':>10}{'TCP conns':>11}{'peak':>6}")
    for name, samples in rate.items():
        e = ex.get(name, Extra())
        print(
            f"{name:<24}{spread(samples).fmt(digits=0):>22}{_med(e.cpu_ms):>9}{_med(e.server_cpu_ms):>10}"
            f"{_med(e.emu_cpu_ms):>10}{_med(e.opened, 0):>11}{_med(e.peak, 0):>6}"
        )
        if e.source_rate:
            print(f"{'':<4}source alone (emulator webhook → smee server, client paused): "
                  f"{spread(e.source_rate).fmt(digits=0)} events/s")
        elif e.end_to_end:
            print(f"{'':<4}burst request → last arrival: {spread(e.end_to_end).fmt(digits=0)} events/s")
    print()
    cstar = rate["cstar listen"]
    for smee in ("smee-client pre-filled", "smee-client live"):
        q = spread(paired_ratios(cstar, rate[smee]))
        line = f"rate, cstar listen / {smee}: {q.fmt(digits=2)}×"
        if smee.endswith("pre-filled"):
            line += "  " + verdict(q.median, RATE_TARGET, at_most=False)
        print(line)
    for smee in ("smee-client pre-filled", "smee-client live"):
        a, b = ex["cstar listen"].cpu_ms, ex[smee].cpu_ms
        if len(a) == len(b) and a and all(x > 0 for x in b):
            q = spread(paired_ratios(a, b))
            line = f"CPU/event, cstar listen / {smee}: {q.fmt(digits=2)}×"
            if smee.endswith("pre-filled"):
                line += "  " + verdict(q.median, CPU_TARGET)
            print(line)
    print("per round (rate ratio vs pre-filled, vs live): " + ", ".join(
        f"{a / b:.2f}/{a / c:.2f}" for a, b, c in zip(cstar, rate["smee-client pre-filled"], rate["smee-client live"], strict=True)
    ))
    print()
    print("checks (all kept runs; lost events fail the run, for cstar listen also order/bytes/signatures):")
    for name in [*rate, *(f"{p} @{r:g}/s" for r in rates for p in ("direct webhook", "cstar listen", "smee-client"))]:
        e = ex.get(name)
        if e is None:
            continue
        if e.problems:
            print(f"  {name}: CHECK FAILED: {'; '.join(e.problems)}")
        elif e.findings:
            print(f"  {name}: all arrived; {'; '.join(e.findings)}")
        else:
            print(f"  {name}: all arrived, in order, byte-exact, signatures verified")
    if args.latency_runs:
        print()
        print(f"latency, ms from creation (emulator) to arrival (receiver); {args.latency_seconds:g} s per run, pooled")
        print(f"{'rate':>8}  {'path':<18}{'p50':>8}{'p99':>9}{'events':>8}{'emitted/s':>11}")
        for r in rates:
            for path in ("direct webhook", "cstar listen", "smee-client"):
                name = f"{path} @{r:g}/s"
                values = bench.latencies.get(name, [])
                if values:
                    print(
                        f"{r:>6g}/s  {path:<18}{quantile(values, 0.5):8.1f}{quantile(values, 0.99):9.1f}"
                        f"{len(values):8d}{spread(bench.achieved[name]).median:11.0f}"
                    )
    machine.print_report()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(run(main))
