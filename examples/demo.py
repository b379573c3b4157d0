"""``cstar listen`` end to end on the local emulator, in one command:

    .venv/bin/python examples/demo.py

1. starts the emulator on a free port with a throwaway database;
2. asks ``cstar listen --print-secret`` for the webhook signing secret;
3. starts the example receiver (``cstar_cli.receiver``), which verifies every signature;
4. runs ``cstar listen --forward-to localhost:<port>/webhooks --format json``;
5. fires ``cstar trigger ticket.created`` and creates a real ticket through the API;
6. waits until ``cstar listen`` itself reports both deliveries (its JSON lines, written once an
   event's delivery has its final outcome), stops it, prints what it and the receiver saw, and
   cleans everything up (also on Ctrl-C or failure).

Exits 0 when both events arrived with a valid signature, 1 otherwise, 130 on Ctrl-C. Your own login
is never touched: the CLI runs with a temporary config dir and the emulator's test key in
``CSTAR_API_KEY`` / ``CSTAR_BASE_URL``.
"""

from __future__ import annotations

import json
import os
import queue
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import IO, Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402

from cstar_cli.receiver import Delivery, Receiver  # noqa: E402

TIMEOUT = 20.0


def say(text: str) -> None:
    print(text, flush=True)


def cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "cstar_cli", *args]


def read_lines(stream: IO[str], into: queue.Queue[str]) -> None:
    for line in stream:
        into.put(line.rstrip("\n"))


def wait_for_line(lines: queue.Queue[str], prefix: str, what: str) -> str:
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        try:
            line = lines.get(timeout=0.2)
        except queue.Empty:
            continue
        if line.startswith(prefix):
            return line
    raise RuntimeError(f"timed out waiting for {what}")


def ticket_of_payload(payload: Any) -> str | None:
    """The ticket id in an event payload's ``data.ticket``, if any."""
    try:
        return str(payload["data"]["ticket"]["id"])
    except (KeyError, TypeError):
        return None


def wait_for_outcomes(lines: queue.Queue[str], wanted: dict[str, Any]) -> list[dict[str, Any]]:
    """``cstar listen``'s JSON lines until every ``wanted[name](line)`` matched one with a final
    delivery outcome; returns all lines read. Waiting on the relay's own report, not on the receiver,
    is what makes the summary count every delivery: the receiver has the request before the relay
    has the answer."""
    seen: list[dict[str, Any]] = []
    missing = dict(wanted)
    deadline = time.monotonic() + TIMEOUT
    while missing and time.monotonic() < deadline:
        try:
            line = lines.get(timeout=0.2)
        except queue.Empty:
            continue
        try:
            obj = json.loads(line)
        except ValueError:
            continue
        seen.append(obj)
        if obj.get("delivery") is None:
            continue
        for name, test in list(missing.items()):
            if test(obj):
                del missing[name]
    if missing:
        raise RuntimeError(f"timed out waiting for cstar listen to deliver {', '.join(missing)}")
    return seen


def stop(proc: subprocess.Popen[str] | None, sig: int = signal.SIGTERM) -> None:
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(sig)
    try:
        proc.wait(5)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def run(workdir: Path, procs: list[subprocess.Popen[str]]) -> int:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    env["CSTAR_CONFIG_DIR"] = str(workdir / "config")
    env["CSTAR_DATA_DIR"] = str(workdir / "data")
    for name in ("CSTAR_API_KEY", "CSTAR_BASE_URL", "CSTAR_PROFILE"):
        env.pop(name, None)

    say("1. Starting the emulator…")
    emulator = subprocess.Popen(
        cli("emulator", "start", "--json", "--port", "0", "--db", str(workdir / "emulator.db"), "--rate-limit", "0"),
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=env,
    )
    procs.append(emulator)
    assert emulator.stdout is not None
    info: dict[str, Any] = json.loads(emulator.stdout.readline() or "null") or {}
    if "baseUrl" not in info:
        raise RuntimeError("the emulator did not start")
    env["CSTAR_API_KEY"], env["CSTAR_BASE_URL"] = info["keys"]["sk_test"], info["baseUrl"]
    say(f"   {info['baseUrl']} (team {info['teamId']})")

    say("2. cstar listen --print-secret")
    secret = subprocess.run(
        cli("listen", "--print-secret"), capture_output=True, text=True, env=env, timeout=TIMEOUT, check=True
    ).stdout.strip()
    say(f"   {secret}")

    with Receiver(secret, path="/webhooks") as receiver:
        forward_to = f"localhost:{receiver.port}/webhooks"
        say(f"3. Example receiver verifying signatures at {receiver.url}")

        say(f"4. cstar listen --forward-to {forward_to} --format json")
        listen = subprocess.Popen(
            cli("listen", "--forward-to", forward_to, "--format", "json"),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        procs.append(listen)
        out: queue.Queue[str] = queue.Queue()
        err: queue.Queue[str] = queue.Queue()
        assert listen.stdout is not None and listen.stderr is not None
        for stream, lines in ((listen.stdout, out), (listen.stderr, err)):
            threading.Thread(target=read_lines, args=(stream, lines), daemon=True).start()
        say("   " + wait_for_line(err, "Ready!", "cstar listen to be ready"))

        say("5. cstar trigger ticket.created, and POST /tickets")
        trigger = subprocess.run(
            cli("trigger", "ticket.created", "--json"), capture_output=True, text=True, env=env, timeout=TIMEOUT
        )
        triggered = json.loads(trigger.stdout)["eventId"]
        say(f"   triggered {triggered}")
        ticket = httpx.post(
            f"{info['baseUrl']}/api/v1/teams/{info['teamId']}/tickets",
            headers={"Authorization": f"Bearer {info['keys']['sk_test']}"},
            json={"title": "The demo printer is on fire"},
            timeout=TIMEOUT,
        )
        ticket.raise_for_status()
        ticket_id = ticket.json()["data"]["id"]
        say(f"   created ticket {ticket_id}")

        say("6. Waiting for cstar listen to report both deliveries…")
        reported = wait_for_outcomes(
            out,
            {
                "the triggered event": lambda obj: obj.get("eventId") == triggered,
                "the ticket's event": lambda obj: ticket_of_payload(obj.get("payload")) == ticket_id,
            },
        )
        stop(listen, signal.SIGINT)
        summary = wait_for_line(err, "Stopped:", "cstar listen's summary")

    def ticket_of(d: Delivery) -> str | None:
        try:
            return ticket_of_payload(json.loads(d.body))
        except ValueError:
            return None

    for obj in reported:
        delivery = obj.get("delivery") or {}
        say(
            f"   listen: {obj.get('eventType')} [{obj.get('eventId')}] -> "
            f"[{delivery.get('status') or 'ERR'}] {delivery.get('url')} {delivery.get('durationMs')} ms"
        )
    say("   listen: " + summary)

    say("")
    say(f"{'EVENT TYPE':<16} {'EVENT ID':<30} {'ATTEMPT':<8} {'STATUS':<7} SIGNATURE")
    for d in receiver.received:
        verdict = "ok" if d.verified else "INVALID"
        say(f"{d.event_type or '-':<16} {d.event_id or '-':<30} {d.attempt or '-':<8} {d.status:<7} {verdict}")
    good = [d for d in receiver.received if d.verified and d.status == 200]
    got_trigger = any(d.event_id == triggered for d in good)
    got_ticket = any(d.event_type == "ticket.created" and ticket_of(d) == ticket_id for d in good)
    say("")
    counted = summary.startswith(f"Stopped: {len(good)} forwarded")
    if got_trigger and got_ticket and len(good) == len(receiver.received) and counted:
        say("Both events arrived with valid signatures.")
        return 0
    missing = [
        name for name, ok in (("the triggered event", got_trigger), ("the ticket's event", got_ticket)) if not ok
    ]
    if missing:
        say("FAILED: " + ", ".join(missing) + " missing")
    elif not counted:
        say(f"FAILED: cstar listen's summary does not count the {len(good)} deliveries")
    else:
        say("FAILED: a delivery did not verify")
    return 1


def main() -> int:
    workdir = Path(tempfile.mkdtemp(prefix="cstar-demo-"))
    procs: list[subprocess.Popen[str]] = []
    try:
        return run(workdir, procs)
    except KeyboardInterrupt:
        say("\nInterrupted.")
        return 130
    except (RuntimeError, OSError, subprocess.SubprocessError, httpx.HTTPError, ValueError, KeyError) as e:
        say(f"FAILED: {e}")
        return 1
    finally:
        for proc in reversed(procs):
            stop(proc)
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
