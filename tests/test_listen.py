"""``cstar listen`` end to end over loopback: the emulator, a real ``cstar listen`` subprocess and the
example receiver verifying every signature.

Every wait is bounded; nothing asserts a duration except the generous Ctrl-C bound.
"""

from __future__ import annotations

import json
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from cstar_cli.receiver import Delivery, Receiver
from tests.support.cli import close_pipes, cstar, cstar_env, cstar_subprocess, reap_at_teardown
from tests.support.emulator import start_emulator, start_emulator_thread

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(60)]

READY_RE = re.compile(r"Ready! Your webhook signing secret is (whsec_\w+) \(\^C to quit\)")
#: The local time that starts each human event and delivery line (docs/listen.md).
STAMP_RE = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d)  ")


class Listen:
    """A running ``python -m cstar_cli listen ARGS``; stdout and stderr are collected line by line,
    stdout lines without their leading timestamp (kept in ``stamps``, one per stdout line: "" when
    the line had none)."""

    def __init__(self, emu: Any, *args: str, key: str | None = None) -> None:
        self.key = key or emu.keys["sk_test"]
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "cstar_cli", "listen", *args],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=cstar_env({"CSTAR_API_KEY": self.key, "CSTAR_BASE_URL": emu.base_url}),
        )
        self.out: list[str] = []
        self.err: list[str] = []
        self.stamps: list[str] = []
        self._cond = threading.Condition()
        self._readers = [
            threading.Thread(target=self._pump, args=(self.proc.stdout, self.out), daemon=True),
            threading.Thread(target=self._pump, args=(self.proc.stderr, self.err), daemon=True),
        ]
        for t in self._readers:
            t.start()
        reap_at_teardown(self.proc, *self._readers)

    def _pump(self, stream: Any, lines: list[str]) -> None:
        for line in stream:
            text = line.rstrip("\n")
            with self._cond:
                if lines is self.out:
                    m = STAMP_RE.match(text)
                    self.stamps.append(m.group(1) if m else "")
                    text = text[m.end() :] if m else text
                lines.append(text)
                self._cond.notify_all()

    def wait(self, lines: list[str], test: Callable[[str], bool], timeout: float = 20) -> str:
        """The first line of ``lines`` passing ``test``, waiting up to ``timeout`` s for it."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for line in lines:
                    if test(line):
                        return line
                left = deadline - time.monotonic()
                if left <= 0 or (self.proc.poll() is not None and not any(t.is_alive() for t in self._readers)):
                    raise AssertionError(f"no such line; stdout={self.out[-5:]} stderr={self.err[-10:]}")
                self._cond.wait(min(left, 0.2))

    def ready(self) -> str:
        """Wait for the ready line; return the signing secret it shows."""
        line = self.wait(self.err, READY_RE.search)
        match = READY_RE.search(line)
        assert match is not None
        return match.group(1)

    def finish(self, sig: int | None = signal.SIGINT, timeout: float = 15) -> int:
        """Signal (or just wait for) the process; return its exit code. Checks the output holds no
        traceback and never the API key."""
        if sig is not None and self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            code = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise
        finally:
            for t in self._readers:
                t.join(5)
            close_pipes(self.proc)
        text = "\n".join(self.out + self.err)
        assert "Traceback" not in text, text
        assert self.key not in text
        return code

    def json_lines(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.out]


@pytest.fixture(scope="module")
def emu(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    proc = start_emulator_thread(tmp_path_factory.mktemp("listen-emulator") / "emulator.db")
    yield proc
    proc.stop()


@pytest.fixture
def api(emu: Any) -> Iterator[httpx.Client]:
    with httpx.Client(
        base_url=emu.base_url, headers={"Authorization": f"Bearer {emu.keys['sk_test']}"}, timeout=15
    ) as client:
        yield client


def control(emu: Any, name: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
    r = httpx.post(f"{emu.base_url}/_emulator/{name}", json=body or {}, timeout=15)
    r.raise_for_status()
    return r.json()["data"]


def burst(emu: Any, count: int) -> dict[str, Any]:
    return control(emu, "burst", {"count": count, "event": "ticket.created"})


def secret_for(emu: Any, key: str | None = None) -> str:
    r = cstar_subprocess(
        "listen", "--print-secret", env={"CSTAR_API_KEY": key or emu.keys["sk_test"], "CSTAR_BASE_URL": emu.base_url}
    )
    assert r.code == 0, r.stderr
    return r.stdout.strip()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def deliver_sentinel(emu: Any, listen: Listen) -> str:
    """Emit one more event and wait until the listener has delivered it: deliveries keep event order,
    so anything still on its way (a repeat, a replay) has arrived by then. Returns its id."""
    sentinel = burst(emu, 1)["firstEventId"]
    listen.wait(listen.out, lambda s: s.startswith("<-- [200]") and sentinel in s, timeout=30)
    return sentinel


def wait_connected(emu: Any, timeout: float = 20) -> None:
    """Until the emulator holds a listen socket (it registers it as it sends the welcome)."""
    deadline = time.monotonic() + timeout
    headers = {"Authorization": f"Bearer {emu.keys['sk_test']}"}
    url = f"{emu.base_url}/api/v1/teams/{emu.team_id}/cli/sessions"
    while not any(s["connected"] for s in httpx.get(url, headers=headers, timeout=10).json()["data"]):
        assert time.monotonic() < deadline, "the listener never connected"
        time.sleep(0.02)


def event_ids(rx: Receiver) -> list[str]:
    return [d.event_id or "" for d in rx.received if d.status == 200]


def assert_exactly_once(rx: Receiver, expected: int) -> None:
    ids = event_ids(rx)
    assert len(ids) == expected, f"{len(ids)} delivered, {len(set(ids))} distinct, {expected} expected"
    assert len(set(ids)) == expected
    assert all(d.verified for d in rx.received)


# --- happy path ---------------------------------------------------------------------------------


def test_print_secret_is_stable_and_only_the_secret(emu: Any) -> None:
    first, second = secret_for(emu), secret_for(emu)
    assert first == second and re.fullmatch(r"whsec_\w+", first)
    r = cstar_subprocess(
        "listen", "--print-secret", "--json", env={"CSTAR_API_KEY": emu.keys["sk_test"], "CSTAR_BASE_URL": emu.base_url}
    )
    assert r.code == 0 and json.loads(r.stdout) == {"secret": first}
    assert emu.keys["sk_test"] not in r.stdout + r.stderr


def test_forwards_exact_bytes_signed_with_the_session_secret(emu: Any, api: httpx.Client) -> None:
    secret = secret_for(emu)
    with Receiver(secret, path="/webhooks") as rx, Receiver("unused") as direct:
        # The same events, delivered by the emulator straight to a registered webhook, are the
        # reference for what the payload bytes must be.
        hook = api.post(
            f"/api/v1/teams/{emu.team_id}/webhooks",
            json={"name": "direct", "url": direct.url, "events": ["ticket.created"]},
        )
        assert hook.status_code == 201, hook.text
        direct.secret = hook.json()["data"]["secret"]
        try:
            listen = Listen(emu, "--forward-to", rx.url.replace("127.0.0.1", "localhost") + "?src=listen")
            assert listen.ready() == secret
            listen.wait(listen.err, lambda s: s.startswith("Forwarding all events to http://localhost:"))
            env = {"CSTAR_API_KEY": emu.keys["sk_test"], "CSTAR_BASE_URL": emu.base_url}
            triggered = json.loads(cstar("trigger", "ticket.created", "--json", env=env).stdout)
            ticket = api.post(f"/api/v1/teams/{emu.team_id}/tickets", json={"title": "Printer on fire 🔥"})
            assert ticket.status_code == 201, ticket.text
            assert rx.wait_for(2) and direct.wait_for(2)
            assert all(d.verified and d.status == 200 for d in direct.received)
            # Stop only once listen has read the second answer: a Ctrl-C before that leaves it unacked.
            listen.wait(listen.out, lambda _: sum(line.startswith("<--") for line in listen.out) >= 2)
            assert listen.finish() == 130
        finally:
            api.delete(f"/api/v1/teams/{emu.team_id}/webhooks/{hook.json()['data']['id']}")
    by_id: dict[str, Delivery] = {d.event_id or "": d for d in direct.received}
    assert [d.event_id for d in rx.received][0] == triggered["eventId"]
    for d in rx.received:
        assert d.verified and d.path == "/webhooks?src=listen"
        assert d.body == by_id[d.event_id or ""].body
        payload = json.loads(d.body)
        assert payload["id"] == d.event_id and payload["type"] == d.event_type == "ticket.created"
        assert (d.header("X-Webhook-ID") or "").startswith("cls_")
        assert (d.header("x-cstar-request-id") or "").startswith("req_")
        assert d.attempt == 1
    assert json.loads(rx.received[1].body)["data"]["ticket"]["title"] == "Printer on fire 🔥"
    assert rx.received[1].header("x-cstar-request-id") == ticket.headers["x-cstar-request-id"]
    assert listen.out[0] == f"--> ticket.created [{triggered['eventId']}]"
    assert re.fullmatch(
        rf"<-- \[200\] POST http://localhost:\d+/webhooks\?src=listen \[{triggered['eventId']}\] \d+ ms", listen.out[1]
    )
    assert listen.err[-1] == "Stopped: 2 forwarded, 0 failed."


def test_order_is_kept_over_a_burst(emu: Any) -> None:
    with Receiver(secret_for(emu)) as rx:
        listen = Listen(emu, "--forward-to", rx.url, "--events", "ticket.*")
        listen.ready()
        sent = burst(emu, 200)
        assert rx.wait_for(200)
        listen.wait(listen.out, lambda s: sent["lastEventId"] in s and s.startswith("<--"))
        assert listen.finish() == 130
    ids = event_ids(rx)
    assert_exactly_once(rx, 200)
    assert ids[0] == sent["firstEventId"] and ids[-1] == sent["lastEventId"]
    assert ids == [line.split("[")[1].rstrip("]") for line in listen.out if line.startswith("-->")]
    acks = httpx.get(f"{emu.base_url}/_emulator/deliveries", params={"kind": "cli", "limit": 100_000}).json()["data"]
    acked = [a for a in acks if a.get("eventId") in set(ids)]
    assert [a["eventId"] for a in acked] == ids
    assert {a["status"] for a in acked} == {200}


def test_json_lines(emu: Any) -> None:
    with Receiver(secret_for(emu)) as rx:
        listen = Listen(emu, "--forward-to", str(rx.port), "--format", "json")
        listen.ready()
        sent = burst(emu, 3)
        listen.wait(listen.out, lambda s: sent["lastEventId"] in s)
        assert listen.finish() == 130
    lines = listen.json_lines()
    assert [x["eventId"] for x in lines] == event_ids(rx)
    first = lines[0]
    assert set(first) == {"type", "eventId", "eventType", "receivedAt", "requestId", "payload", "delivery"}
    assert first["type"] == "event" and first["eventType"] == "ticket.created"
    assert first["payload"] == json.loads(rx.received[0].body)
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", first["receivedAt"])
    assert set(first["delivery"]) == {"url", "status", "durationMs", "attempts", "error"}
    assert first["delivery"]["url"] == f"http://localhost:{rx.port}/"
    assert (first["delivery"]["status"], first["delivery"]["attempts"], first["delivery"]["error"]) == (200, 1, None)


def test_without_forward_to_events_are_printed_with_payload(emu: Any) -> None:
    listen = Listen(emu, "--json", "--events", "customer.created")
    listen.ready()
    listen.wait(listen.err, lambda s: s.startswith("Listening for customer.created events"))
    env = {"CSTAR_API_KEY": emu.keys["sk_test"], "CSTAR_BASE_URL": emu.base_url}
    cstar("trigger", "ticket.created", env=env)  # filtered out by the session
    customer = json.loads(cstar("trigger", "customer.created", "--json", env=env).stdout)
    listen.wait(listen.out, lambda s: customer["eventId"] in s)
    assert listen.finish() == 130
    (line,) = listen.json_lines()
    assert line["eventId"] == customer["eventId"] and line["delivery"] is None
    assert line["payload"]["type"] == "customer.created" and "customer" in line["payload"]["data"]
    assert listen.err[-1] == "Stopped: 1 event received."


# --- a misbehaving receiver ---------------------------------------------------------------------


def test_receiver_500_then_200(emu: Any) -> None:
    with Receiver(secret_for(emu), fail_first=1) as rx:
        listen = Listen(emu, "--forward-to", rx.url)
        listen.ready()
        (evt,) = [burst(emu, 1)["firstEventId"]]
        listen.wait(listen.out, lambda s: s.startswith("<-- [200]"))
        assert listen.finish() == 130
    assert [(d.status, d.attempt, d.event_id) for d in rx.received] == [(500, 1, evt), (200, 2, evt)]
    assert rx.received[0].body == rx.received[1].body and all(d.verified for d in rx.received)
    assert re.fullmatch(
        rf"<-- \[500\] POST http://127\.0\.0\.1:\d+/ \[{evt}\] \d+ ms, retrying in 0\.5 s \(attempt 2/4\)",
        listen.out[1],
    )
    assert listen.err[-1] == "Stopped: 1 forwarded, 0 failed."


def test_receiver_down_then_up_and_final_failure_does_not_stop_the_listener(emu: Any) -> None:
    port = free_port()
    secret = secret_for(emu)
    listen = Listen(emu, "--forward-to", f"localhost:{port}/hooks")
    listen.ready()
    lost = burst(emu, 1)["firstEventId"]
    listen.wait(listen.out, lambda s: s.endswith("gave up after 4 attempts"), timeout=30)
    late = burst(emu, 1)["firstEventId"]
    listen.wait(listen.out, lambda s: f"[{late}] connection refused, retrying" in s)
    with Receiver(secret, port=port, path="/hooks") as rx:
        listen.wait(listen.out, lambda s: s.startswith("<-- [200]") and late in s, timeout=30)
        after = burst(emu, 1)["firstEventId"]
        listen.wait(listen.out, lambda s: s.startswith("<-- [200]") and after in s)
        assert listen.finish() == 130
    assert [(d.event_id, d.attempt) for d in rx.received][-1] == (after, 1)
    assert rx.received[0].event_id == late and (rx.received[0].attempt or 0) >= 2
    refused = [s for s in listen.out if lost in s and s.startswith("<--")]
    assert refused[:3] == [
        f"<-- [ERR] POST http://localhost:{port}/hooks [{lost}] connection refused, retrying in {pause} s (attempt {n}/4)"
        for pause, n in (("0.5", 2), ("1", 3), ("2", 4))
    ]
    assert (
        refused[3]
        == f"<-- [ERR] POST http://localhost:{port}/hooks [{lost}] connection refused, gave up after 4 attempts"
    )
    acks = httpx.get(f"{emu.base_url}/_emulator/deliveries", params={"kind": "cli", "eventId": lost}).json()["data"]
    assert len(acks) == 1 and acks[0]["status"] is None and "refused" in acks[0]["error"]
    assert listen.err[-1] == "Stopped: 2 forwarded, 1 failed."


# --- connection trouble ----------------------------------------------------------------------------


@pytest.mark.parametrize("code", [1011, 1006, 1001])
def test_dropped_websocket_mid_stream_loses_and_repeats_nothing(emu: Any, code: int) -> None:
    with Receiver(secret_for(emu)) as rx:
        listen = Listen(emu, "--forward-to", rx.url)
        listen.ready()
        burst(emu, 1500)
        assert rx.wait_for(100)
        assert control(emu, "drop-websockets", {"code": code})["closed"] == 1
        listen.wait(listen.err, lambda s: s.startswith("Reconnected, "))
        burst(emu, 100)
        assert rx.wait_for(1600)
        deliver_sentinel(emu, listen)
        assert listen.finish() == 130
    assert_exactly_once(rx, 1601)
    assert any(s.startswith("Connection lost: ") and s.endswith("Reconnecting…") for s in listen.err)
    assert "Stopped: 1601 forwarded, 0 failed" in listen.err[-1]


def test_events_during_a_drop_before_any_ack_are_replayed(tmp_path: Path) -> None:
    # Nothing acked yet, so there is no last acked id: the welcome frame's lastEventId is the resume point.
    emu = start_emulator(tmp_path / "emulator.db")
    try:
        with Receiver(secret_for(emu)) as rx:
            listen = Listen(emu, "--forward-to", rx.url)
            listen.ready()
            wait_connected(emu)
            emu.kill()
            listen.wait(listen.err, lambda s: s.startswith("Connection lost: "))
            emu.restart()
            burst(emu, 50)  # while the listener is still backing off
            listen.wait(listen.err, lambda s: s.startswith("Reconnected, "), timeout=30)
            assert rx.wait_for(50, timeout=30)
            deliver_sentinel(emu, listen)
            assert listen.finish() == 130
        assert_exactly_once(rx, 51)
    finally:
        emu.stop()


def test_emulator_killed_and_restarted_loses_and_repeats_nothing(tmp_path: Path) -> None:
    emu = start_emulator(tmp_path / "emulator.db")
    try:
        with Receiver(secret_for(emu)) as rx:
            listen = Listen(emu, "--forward-to", rx.url)
            listen.ready()
            burst(emu, 1500)
            assert rx.wait_for(100)
            emu.kill()
            listen.wait(listen.err, lambda s: s.startswith("Connection lost: "))
            emu.restart()
            listen.wait(listen.err, lambda s: s.startswith("Reconnected, "), timeout=30)
            burst(emu, 100)
            assert rx.wait_for(1600, timeout=30)
            deliver_sentinel(emu, listen)
            assert listen.finish() == 130
        assert_exactly_once(rx, 1601)
    finally:
        emu.stop()


def test_expired_session_is_renewed_and_resumed(emu: Any) -> None:
    secret = secret_for(emu)
    with Receiver(secret) as rx:
        listen = Listen(emu, "--forward-to", rx.url)
        listen.ready()
        burst(emu, 1)
        assert rx.wait_for(1)
        control(emu, "expire-sessions")
        control(emu, "drop-websockets", {"code": 1011})
        missed = burst(emu, 5)  # emitted while the listener has no session
        listen.wait(listen.err, lambda s: s.startswith("The session had expired; listening on a new one (cls_"))
        listen.wait(listen.err, lambda s: s.startswith("Reconnected, "))
        assert rx.wait_for(6)
        later = burst(emu, 1)["firstEventId"]
        listen.wait(listen.out, lambda s: later in s and s.startswith("<-- [200]"))
        assert listen.finish() == 130
    assert_exactly_once(rx, 7)
    assert missed["lastEventId"] in event_ids(rx)
    assert len({d.header("X-Webhook-ID") for d in rx.received}) == 2  # the old and the new session


def test_revoked_key_exits_3_with_the_reason(emu: Any, api: httpx.Client) -> None:
    created = api.post(f"/api/v1/teams/{emu.team_id}/api-keys", json={"name": "listen-revoke", "type": "secret"})
    assert created.status_code == 201, created.text
    key = created.json()["data"]
    listen = Listen(emu, "--forward-to", "3000", key=key["key"])
    listen.ready()
    assert api.delete(f"/api/v1/teams/{emu.team_id}/api-keys/{key['id']}").status_code == 200
    assert listen.finish(sig=None) == 3
    assert listen.err[-2].startswith("Error: The API key was rejected while listening: it is invalid or was revoked")
    assert listen.err[-1].startswith("Hint: ") and "cstar login" in listen.err[-1]
    assert listen.err[-3] == "Stopped: 0 forwarded, 0 failed."


# --- stopping and failing to start --------------------------------------------------------------


@pytest.mark.parametrize(("sig", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 0)])
def test_signal_stops_promptly_with_a_summary(emu: Any, sig: int, code: int) -> None:
    # The receiver never answers, so a delivery is in flight when the signal arrives.
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen()
    try:
        # --no-resume: the previous case left its event unacknowledged, which would come first.
        listen = Listen(emu, "--forward-to", str(silent.getsockname()[1]), "--no-resume")
        listen.ready()
        evt = burst(emu, 1)["firstEventId"]
        listen.wait(listen.out, lambda s: evt in s)
        started = time.monotonic()
        assert listen.finish(sig) == code
        assert time.monotonic() - started < 5
    finally:
        silent.close()
    assert listen.err[-1] == "Stopped: 0 forwarded, 0 failed."


def test_server_down_is_exit_9() -> None:
    r = cstar_subprocess(
        "listen",
        "--forward-to",
        "3000",
        env={"CSTAR_API_KEY": "sk_test_" + "b" * 24, "CSTAR_BASE_URL": f"http://127.0.0.1:{free_port()}"},
    )
    assert r.code == 9
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 2 and lines[0].startswith("Error: ") and lines[1].startswith("Hint: ")
    assert "Traceback" not in r.stderr and "b" * 24 not in r.stderr + r.stdout


def test_invalid_key_is_exit_3(emu: Any) -> None:
    r = cstar_subprocess("listen", env={"CSTAR_API_KEY": "sk_test_" + "c" * 24, "CSTAR_BASE_URL": emu.base_url})
    assert r.code == 3
    assert r.stderr.startswith("Error: ") and "Hint: " in r.stderr and "Traceback" not in r.stderr
    assert "c" * 24 not in r.stderr + r.stdout
